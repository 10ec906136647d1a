from snakemake.io import report as report_file  # `report` starts a directive at a line start

# Models whose optional extra is not installed are left out, with one note (training/extras.py).
MODELS = {
    entry["name"]: entry
    for entry in runnable_entries(config["models"], lambda m: logger.warning(f"note: {m}"))
}
MODEL_DIR = "results/models/{model}"

# The fits of one model run in this many threads (evaluation.n_jobs); snakemake gives the
# models job that many cores (fewer when --cores is lower). The thread count does not change
# results, so neither it nor the memory setting of the fits is a param that re-runs models.
TRAIN_THREADS = config["evaluation"]["n_jobs"]
EVALUATION = {
    k: v for k, v in config["evaluation"].items() if k not in ("n_jobs", "fit_memory_mb")
}


wildcard_constraints:
    model="|".join(MODELS) or "(?!)",


rule tracking_store:
    """Create the MLflow store and experiment once, before any job logs to it; check the store
    and mark FAILED the runs a crashed earlier run left unfinished.

    A new SQLite store breaks when several processes create it at once; the models job, which
    logs, depends on this one, and both hold the `mlflow_writes` resource (1 in the profile).
    The models job waits for it before training, so a damaged store stops the workflow before
    any model is trained.
    """
    output:
        "results/mlflow/store.json",
    params:
        # A new store or experiment (config or MLFLOW_TRACKING_URI) logs every model there again.
        tracking_uri=config["mlflow"]["tracking_uri"] or "",
        tracking_uri_env=os.environ.get("MLFLOW_TRACKING_URI", ""),
        experiment=config["mlflow"]["experiment"],
    resources:
        mlflow_writes=1,
        mem_mb=2000,
        runtime=10,
    log:
        "logs/mlflow/tracking_store.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


def model_outputs(name):
    """The result folder of one model, as outputs of rule models."""
    folder = MODEL_DIR.format(model=name)
    return [f"{folder}/{f}" for f in MODEL_FILES] + [
        report_file(
            f"{folder}/confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category="Models",
            subcategory="Confusion matrices",
            labels={"model": name, "figure": "confusion matrix"},
        ),
        report_file(
            f"{folder}/learning_curve.png",
            caption="../report/learning_curve.rst",
            category="Models",
            subcategory="Learning curves",
            labels={"model": name, "figure": "learning curve"},
        ),
    ]


MODEL_FILES = [
    "metrics.json",
    "oof_predictions.csv",
    "classification_report.txt",
    "learning_curve.tsv",
    "model.skops",
    "mlflow_run.json",
]


rule models:
    """Train every configured model whose result changed (grouped CV, stratified K-fold,
    learning curve, bootstrap CIs, final model on all labels), log every model to MLflow (a
    stored run with the same result is reused, not logged again) and compare them: table,
    figure, and both table and a description on the workflow run's parent run.

    One process for all models: per-process imports and opening the store cost more than the
    seed models themselves. A model's result is cached under results/cache/train/ with what
    made it (config entry, evaluation settings, seed, labels, training code), so a changed
    hyperparameter re-trains and logs that model only.
    """
    input:
        data="results/labeled_dataset",
        # The store is created and checked first: a damaged one stops the workflow before any
        # training. A re-created store re-runs this job: the models are logged there again,
        # their results come from the cache.
        store="results/mlflow/store.json",
        # The label version's inter-annotator agreement travels with its results.
        agreement="results/agreement.json",
    output:
        [path for name in MODELS for path in model_outputs(name)],
        comparison=report(
            "results/metrics/comparison.tsv",
            caption="../report/comparison.rst",
            category="Models",
            subcategory="Comparison",
        ),
        figure=report(
            "results/metrics/comparison.png",
            caption="../report/model_scores.rst",
            category="Models",
            subcategory="Comparison",
        ),
    params:
        # Re-run when a model entry, the evaluation settings, the seed or the code change; the
        # result cache then re-trains only the models whose own entry changed.
        models=list(MODELS.values()),
        evaluation=EVALUATION,
        seed=config["seed"],
        code=code_digest("training"),
        # What shapes a logged run; reading runs back (queries) does not re-log anything.
        log_code=code_digest(
            "tracking/runs.py", "tracking/model_io.py", "tracking/provenance.py",
            "tracking/summary.py",
        ),
        models_dir="results/models",
        cache_dir="results/cache/train",
    threads: TRAIN_THREADS
    resources:
        # SQLite takes one writer at a time: the profile sets mlflow_writes to 1.
        mlflow_writes=1,
        mem_mb=4000,
        runtime=120,
    log:
        "logs/models.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)
