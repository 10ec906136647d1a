# Models whose optional extra is not installed are left out, with one note (training/extras.py).
MODELS = {
    entry["name"]: entry
    for entry in runnable_entries(config["models"], lambda m: logger.warning(f"note: {m}"))
}
MODEL_DIR = "results/models/{model}"

# The fits of one model run in this many threads (evaluation.n_jobs); snakemake gives a
# train_model job that many cores (fewer when --cores is lower).
TRAIN_THREADS = config["evaluation"]["n_jobs"]


wildcard_constraints:
    model="|".join(MODELS) or "(?!)",


rule tracking_store:
    """Create the MLflow store and experiment once, before any job logs to it; check the store
    and mark FAILED the runs a crashed earlier run left unfinished.

    A new SQLite store breaks when several processes create it at once: every job that logs
    depends on this one, and all hold the `mlflow_writes` resource (1 in the profile).
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


MODEL_FILES = [
    "metrics.json",
    "oof_predictions.csv",
    "classification_report.txt",
    "learning_curve.tsv",
    "model.skops",
]


rule train_model:
    """Train and evaluate one configured model: grouped CV, stratified K-fold, learning curve,
    bootstrap CIs, and the final model on all labels."""
    input:
        data="results/labeled_dataset",
    output:
        [f"{MODEL_DIR}/{f}" for f in MODEL_FILES],
        confusion=report(
            f"{MODEL_DIR}/confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category="Models",
            subcategory="Confusion matrices",
            labels={"model": "{model}", "figure": "confusion matrix"},
        ),
        curve=report(
            f"{MODEL_DIR}/learning_curve.png",
            caption="../report/learning_curve.rst",
            category="Models",
            subcategory="Learning curves",
            labels={"model": "{model}", "figure": "learning curve"},
        ),
    params:
        # A changed entry, evaluation setting, seed or training code re-trains this model only.
        entry=lambda wildcards: MODELS[wildcards.model],
        evaluation=EVALUATION,
        seed=config["seed"],
        code=code_digest("training"),
    threads: TRAIN_THREADS
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/models/{model}.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule log_model:
    """Log one model's result to MLflow; a stored run with the same result is reused, not
    logged again."""
    input:
        [f"{MODEL_DIR}/{f}" for f in MODEL_FILES],
        f"{MODEL_DIR}/confusion_matrix.png",
        f"{MODEL_DIR}/learning_curve.png",
        data="results/labeled_dataset",
        # The store is created and checked first; a re-created store logs every model again.
        store="results/mlflow/store.json",
        # The label version's inter-annotator agreement travels with its results.
        agreement="results/agreement.json",
    output:
        f"{MODEL_DIR}/mlflow_run.json",
    params:
        # What shapes a logged run; reading runs back (queries) does not re-log anything.
        code=code_digest("tracking/runs.py", "tracking/model_io.py"),
    resources:
        # SQLite takes one writer at a time: the profile sets mlflow_writes to 1.
        mlflow_writes=1,
        mem_mb=2000,
        runtime=20,
    log:
        "logs/mlflow/{model}.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule compare_models:
    """Compare the configured models: table, figure, and both table and a description on the
    workflow run's parent run in MLflow."""
    input:
        metrics=expand(f"{MODEL_DIR}/metrics.json", model=MODELS),
        runs=expand(f"{MODEL_DIR}/mlflow_run.json", model=MODELS),
    output:
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
        ci_level=config["evaluation"]["ci_level"],
        code=code_digest("training/comparison.py", "tracking/runs.py", "tracking/summary.py"),
    resources:
        mlflow_writes=1,
        mem_mb=2000,
        runtime=20,
    log:
        "logs/mlflow/compare_models.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)
