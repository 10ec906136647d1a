from stance.findings.predict import findings_model_inputs
from stance.labels.design import manifest_files

FINDINGS_DIR = "results/findings"
FINDINGS_MODELS_DIR = "results/models"
try:
    # The configured findings.model's files, or (null) the comparison and every model's files.
    # Models whose optional extra is missing are not trained (MODELS, train.smk).
    FINDINGS_MODEL = findings_model_inputs(
        {**config, "models": list(MODELS.values())}, FINDINGS_MODELS_DIR
    )
except StanceError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


rule predict_stance:
    """The chosen stance model's stance and class probabilities for every sentence of one
    shard; the model reads the sentence's predicted speaker. A cluster runs the shards side by
    side."""
    input:
        sentences="results/split/shard-{shard}.parquet",
        speakers=f"{SPEAKERS_DIR}/predicted/shard-{{shard}}.parquet",
        **FINDINGS_MODEL,
    output:
        f"{FINDINGS_DIR}/stance/shard-{{shard}}.parquet",
    params:
        model=config["findings"]["model"],
        models_dir=FINDINGS_MODELS_DIR,
        code=code_digest("findings/predict.py", "training"),
    resources:
        mem_mb=4000,
        runtime=60,
        # The sentence encoder runs on the CPU (training/encoders.py): no GPU unless asked for
        # with --set-resources predict_stance:gpu=1 (docs/findings.md).
        gpu=0,
    log:
        "logs/findings/predict-{shard}.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule findings:
    """Every corpus sentence with a speaker and a stance (a hand label over the model's
    prediction, rule predict_stance); stance shares per speaker, outlet, month and their pairs, estimated from the
    probability samples of hand labels plus predictions with design-based intervals; figures
    and what the numbers can carry."""
    input:
        sentences="results/sentences.parquet",
        articles="results/articles.tsv",
        speakers=f"{SPEAKERS_DIR}/predicted.parquet",
        speaker_metrics=f"{SPEAKERS_DIR}/metrics.json",
        speaker_oof=f"{SPEAKERS_DIR}/oof_predictions.csv",
        stances=expand(f"{FINDINGS_DIR}/stance/shard-{{shard}}.parquet", shard=SHARDS),
        data="results/labeled_dataset",
        # The labeling design: which labels are a probability sample, of what frame.
        samples=[str(p) for p in manifest_files(LABELS_DIR)],
        schema=config["labels"]["schema"],
        **FINDINGS_MODEL,
    output:
        sentences=f"{FINDINGS_DIR}/sentences.parquet",
        by_speaker=report(
            f"{FINDINGS_DIR}/stance_by_speaker.tsv",
            caption="../report/findings_by_speaker.rst",
            category="Findings",
        ),
        by_outlet=report(
            f"{FINDINGS_DIR}/stance_by_outlet.tsv",
            caption="../report/findings_by_group.rst",
            category="Findings",
            labels={"table": "by outlet"},
        ),
        by_month=report(
            f"{FINDINGS_DIR}/stance_by_month.tsv",
            caption="../report/findings_by_group.rst",
            category="Findings",
            labels={"table": "by month"},
        ),
        by_speaker_month=f"{FINDINGS_DIR}/stance_by_speaker_month.tsv",
        by_speaker_outlet=f"{FINDINGS_DIR}/stance_by_speaker_outlet.tsv",
        change=report(
            f"{FINDINGS_DIR}/stance_change.tsv",
            caption="../report/findings_change.rst",
            category="Findings",
        ),
        design=report(
            f"{FINDINGS_DIR}/labeling_design.tsv",
            caption="../report/findings_design.rst",
            category="Findings",
        ),
        speaker_figure=report(
            f"{FINDINGS_DIR}/stance_by_speaker.png",
            caption="../report/findings_speaker_figure.rst",
            category="Findings",
        ),
        time_figure=report(
            f"{FINDINGS_DIR}/stance_over_time.png",
            caption="../report/findings_time_figure.rst",
            category="Findings",
        ),
        statement_md=f"{FINDINGS_DIR}/statement.md",
        statement_html=report(
            f"{FINDINGS_DIR}/statement.html",
            caption="../report/findings_statement.rst",
            category="Findings",
        ),
    params:
        findings=config["findings"],
        seed=config["seed"],
        models_dir=FINDINGS_MODELS_DIR,
        code=code_digest("findings"),
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        "logs/findings.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)
