from stance.speakers.steps import speaker_model_entries

SPEAKERS_DIR = "results/speakers"
# The evaluation settings that shape the scores (as the stance models' folds and CIs).
SPEAKER_EVALUATION = {
    k: v for k, v in config["evaluation"].items() if k not in ("n_jobs", "fit_memory_mb")
}


rule speakers:
    """Speaker attribution: out-of-fold evaluation grouped by article (with and without the leak
    guard), the final speaker model, and the predicted speaker of every corpus sentence."""
    input:
        sentences="results/sentences.parquet",
        data="results/labeled_dataset",
        mapping=config["speakers"]["mapping"],
        schema=config["labels"]["schema"],
        # Paragraph starts come from the article files' line breaks.
        articles=expand(f"{SEEDS}/{{article}}.txt", article=ARTICLES),
        # As the models job: a damaged store stops the workflow before any model is trained.
        store=ancient("results/mlflow/store.json"),
    output:
        predicted=f"{SPEAKERS_DIR}/predicted.parquet",
        oof=f"{SPEAKERS_DIR}/oof_predictions.csv",
        metrics=f"{SPEAKERS_DIR}/metrics.json",
        metrics_table=report(
            f"{SPEAKERS_DIR}/metrics.tsv",
            caption="../report/speaker_metrics.rst",
            category="Speakers",
        ),
        per_speaker=report(
            f"{SPEAKERS_DIR}/per_speaker.tsv",
            caption="../report/speaker_per_speaker.rst",
            category="Speakers",
        ),
        confusion=report(
            f"{SPEAKERS_DIR}/confusion.tsv",
            caption="../report/speaker_confusion.rst",
            category="Speakers",
        ),
        model=f"{SPEAKERS_DIR}/model.skops",
    params:
        speakers=config["speakers"],
        evaluation=SPEAKER_EVALUATION,
        seed=config["seed"],
        code=code_digest("speakers", "training"),
        # The result is kept here with what it was made from: a change of stance labels only
        # restores it instead of evaluating again (training/result_cache.py).
        cache_dir="results/cache/speakers",
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "logs/speakers/speakers.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule speaker_stance:
    """The stance models that read the speaker, out of fold with hand vs predicted speakers."""
    input:
        data="results/labeled_dataset",
        oof=f"{SPEAKERS_DIR}/oof_predictions.csv",
    output:
        report(
            f"{SPEAKERS_DIR}/stance_with_predicted_speakers.tsv",
            caption="../report/speaker_stance.rst",
            category="Speakers",
        ),
    params:
        # Only the models that read the speaker: another model's change re-runs nothing here.
        models=lambda wildcards: speaker_model_entries(config),
        evaluation=SPEAKER_EVALUATION,
        seed=config["seed"],
        code=code_digest("speakers/stance_eval.py", "training"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "logs/speakers/speaker_stance.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule log_speakers:
    """Log the speaker stage to MLflow: params, out-of-fold metrics, tables, the speaker model."""
    input:
        store="results/mlflow/store.json",
        data="results/labeled_dataset",
        mapping=config["speakers"]["mapping"],
        metrics=f"{SPEAKERS_DIR}/metrics.json",
        metrics_table=f"{SPEAKERS_DIR}/metrics.tsv",
        per_speaker=f"{SPEAKERS_DIR}/per_speaker.tsv",
        confusion=f"{SPEAKERS_DIR}/confusion.tsv",
        oof=f"{SPEAKERS_DIR}/oof_predictions.csv",
        stance=f"{SPEAKERS_DIR}/stance_with_predicted_speakers.tsv",
        model=f"{SPEAKERS_DIR}/model.skops",
    output:
        f"{SPEAKERS_DIR}/mlflow_run.json",
    params:
        code=code_digest("tracking/speakers.py", "speakers/steps.py"),
    resources:
        # SQLite takes one writer at a time: the profile sets mlflow_writes to 1.
        mlflow_writes=1,
        mem_mb=2000,
        runtime=20,
    log:
        "logs/mlflow/speakers.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)
