# Models whose optional extra is not installed are left out, with one note (training/extras.py).
MODELS = {
    entry["name"]: entry
    for entry in runnable_entries(config["models"], lambda m: logger.warning(f"note: {m}"))
}
MODEL_DIR = "results/models/{model}"

# The fits of one model run in this many threads (evaluation.n_jobs); snakemake gives each
# train_model job that many cores (fewer when --cores is lower). The thread count does not change
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

    A new SQLite store breaks when several processes create it at once; every log_run job
    depends on this one, and all of them hold the `mlflow_writes` resource (1 in the profile).
    Every train_model job waits for it too, so a damaged store stops the workflow before any
    model is trained.
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
    script:
        STEP


rule train_model:
    """Evaluate one configured model (grouped CV, stratified K-fold, learning curve, bootstrap
    CIs) and fit its final model on all labels."""
    input:
        data="results/labeled_dataset",
        # The store is opened and checked first: a damaged one stops the workflow before any
        # training. ancient(): re-creating the store re-logs the models but does not re-train.
        store=ancient("results/mlflow/store.json"),
    output:
        metrics=f"{MODEL_DIR}/metrics.json",
        oof=f"{MODEL_DIR}/oof_predictions.csv",
        text_report=f"{MODEL_DIR}/classification_report.txt",
        curve_table=f"{MODEL_DIR}/learning_curve.tsv",
        model=f"{MODEL_DIR}/model.skops",
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
        # Re-run a model when its config entry, the evaluation settings, the seed or the
        # training code change; other models stay as they are.
        model=lambda wildcards: MODELS[wildcards.model],
        evaluation=EVALUATION,
        seed=config["seed"],
        code=code_digest("training"),
    threads: TRAIN_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "logs/train/{model}.log",
    script:
        STEP


rule log_run:
    """Log one trained model to MLflow: params, metrics, data set, tags, artifacts, model."""
    input:
        store="results/mlflow/store.json",
        data="results/labeled_dataset",
        # The label version's inter-annotator agreement travels with its results.
        agreement="results/agreement.json",
        metrics=f"{MODEL_DIR}/metrics.json",
        oof=f"{MODEL_DIR}/oof_predictions.csv",
        text_report=f"{MODEL_DIR}/classification_report.txt",
        curve_table=f"{MODEL_DIR}/learning_curve.tsv",
        model=f"{MODEL_DIR}/model.skops",
        confusion=f"{MODEL_DIR}/confusion_matrix.png",
        curve=f"{MODEL_DIR}/learning_curve.png",
    output:
        f"{MODEL_DIR}/mlflow_run.json",
    params:
        # What shapes a logged run; reading runs back (queries) does not re-log anything.
        code=code_digest(
            "tracking/runs.py", "tracking/model_io.py", "tracking/provenance.py",
            "training/model_files.py",
        ),
    resources:
        # SQLite takes one writer at a time: the profile sets mlflow_writes to 1.
        mlflow_writes=1,
        mem_mb=2000,
        runtime=20,
    log:
        "logs/mlflow/{model}.log",
    script:
        STEP


rule compare_models:
    """The headline metrics of every configured model side by side, best f_avg first."""
    input:
        metrics=expand(f"{MODEL_DIR}/metrics.json", model=MODELS),
        runs=expand(f"{MODEL_DIR}/mlflow_run.json", model=MODELS),
    output:
        report(
            "results/metrics/comparison.tsv",
            caption="../report/comparison.rst",
            category="Models",
            subcategory="Comparison",
        ),
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        "logs/train/compare_models.log",
    script:
        STEP
