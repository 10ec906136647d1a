from stance.training.extras import speaker_model_entries

SPEAKERS_DIR = "results/speakers"


rule attribute_shard:
    """The attribution rules over one shard's sentences: each sentence's rule speaker, evidence
    and features, and which articles name each name of the mapping. Reads no label: a changed
    label leaves it as it is."""
    input:
        sentences="results/split/shard-{shard}.parquet",
        mapping=config["speakers"]["mapping"],
        schema=config["labels"]["schema"],
    output:
        attributed=f"{SPEAKERS_DIR}/attributed/shard-{{shard}}.parquet",
        names=f"{SPEAKERS_DIR}/attributed/shard-{{shard}}.names.parquet",
    params:
        code=code_digest(
            "speakers/attribution.py", "speakers/rules.py", "speakers/mapping.py",
            "speakers/cues.py",
        ),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "logs/speakers/attribute-{shard}.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule speaker_model:
    """The final speaker model, fit on every label over the rules' output on the labeled
    articles: an article nobody labeled leaves it as it is."""
    input:
        sentences="results/labeled/sentences.parquet",
        data="results/labeled_dataset",
        mapping=config["speakers"]["mapping"],
        schema=config["labels"]["schema"],
    output:
        f"{SPEAKERS_DIR}/model.skops",
    params:
        model=config["speakers"]["model"],
        seed=config["seed"],
        code=code_digest("speakers", "training"),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "logs/speakers/speaker_model.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule speakers:
    """Speaker attribution evaluated out of fold on the labeled articles, grouped by article
    (with and without the leak guard, which reads the names of the whole corpus)."""
    input:
        names=expand(f"{SPEAKERS_DIR}/attributed/shard-{{shard}}.names.parquet", shard=SHARDS),
        sentences="results/labeled/sentences.parquet",
        data="results/labeled_dataset",
        mapping=config["speakers"]["mapping"],
        schema=config["labels"]["schema"],
    output:
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
    params:
        speakers=config["speakers"],
        evaluation=EVALUATION,
        seed=config["seed"],
        code=code_digest("speakers", "training"),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "logs/speakers/speakers.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule predict_speakers:
    """The speaker of every sentence of one shard: the rules' output, and the speaker model
    where speakers.method lets it decide (method rules reads no model, hence no label)."""
    input:
        attributed=f"{SPEAKERS_DIR}/attributed/shard-{{shard}}.parquet",
        # The rules read no label: with method rules a label change predicts nothing again.
        **(
            {} if config["speakers"]["method"] == "rules"
            else {"model": f"{SPEAKERS_DIR}/model.skops"}
        ),
    output:
        f"{SPEAKERS_DIR}/predicted/shard-{{shard}}.parquet",
    params:
        method=config["speakers"]["method"],
        code=code_digest("speakers/learned.py", "speakers/stage.py"),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "logs/speakers/predict-{shard}.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule gather_speakers:
    """Join the per-shard speaker predictions."""
    input:
        shards=expand(f"{SPEAKERS_DIR}/predicted/shard-{{shard}}.parquet", shard=SHARDS),
    output:
        f"{SPEAKERS_DIR}/predicted.parquet",
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        "logs/speakers/gather.log",
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
        models=speaker_model_entries(config["models"]),
        evaluation=EVALUATION,
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
        code=code_digest("tracking/runs.py", "speakers/logged.py"),
    resources:
        # SQLite takes one writer at a time: the profile sets mlflow_writes to 1.
        mlflow_writes=1,
        mem_mb=2000,
        runtime=20,
    log:
        "logs/mlflow/speakers.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)
