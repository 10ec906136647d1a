import glob

from stance.labels.files import labeled_articles

LABELS_DIR = config["labels"]["dir"]
# Every CSV in the label folder (adjudication.csv included), listed when the workflow is read:
# adding or removing a label file changes the inputs and so re-runs the stage.
LABEL_FILES = sorted(glob.glob(f"{LABELS_DIR}/*.csv"))
# The articles the labels name (a name outside the corpus is the label stage's error to report).
_NAMED = labeled_articles(LABEL_FILES)
LABELED_ARTICLES = sorted(_NAMED & set(ARTICLES))
# No label row at all (a new topic): the stance models and the findings wait for labels (rule
# all); the label stage still runs, and reports a label file it cannot read.
HAS_LABELS = bool(_NAMED)
if not HAS_LABELS:
    logger.warning(
        f"note: no hand labels in {LABELS_DIR}/ yet: snakemake builds the sentence table, the "
        "labeling queue and the speakers; the stance models and the findings follow once "
        "sentences are labeled (stance label --annotator NAME, docs/labels.md)"
    )


rule labeled_sentences:
    """The sentences of the articles that the hand labels name, split as split_shard splits
    them: the label stage reads these, so an article nobody labeled re-trains nothing."""
    input:
        [f"{SEEDS}/{a}.txt" for a in LABELED_ARTICLES],
    output:
        sentences="results/labeled/sentences.parquet",
    params:
        cache="results/cache/split/labeled.json",
        split=config["split"],
        code=code_digest("corpus"),
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        "logs/labeled_sentences.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule labels:
    """Validate the hand labels, resolve final labels and build the labeled data set."""
    input:
        sentences="results/labeled/sentences.parquet",
        labels=LABEL_FILES,
        schema=config["labels"]["schema"],
    output:
        dataset=directory("results/labeled_dataset"),
        summary=report(
            "results/label_summary.tsv", caption="../report/label_summary.rst", category="Labels"
        ),
        agreement=report(
            "results/agreement.json", caption="../report/agreement.rst", category="Labels"
        ),
        disagreements=report(
            "results/disagreements.csv", caption="../report/disagreements.rst", category="Labels"
        ),
    params:
        # Re-resolve the final labels when the tie rule or the label code changes (the label
        # folder's files are inputs).
        annotator_priority=config["labels"]["annotator_priority"],
        code=code_digest("labels"),
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        "logs/labels.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule label_queue:
    """The labeling queue (every sentence without a final label), labels per article, and the
    labeling design of the recorded samples (labels/samples/), checked against the corpus."""
    input:
        sentences="results/sentences.parquet",
        data="results/labeled_dataset",
        samples=sorted(glob.glob(f"{LABELS_DIR}/samples/*.json")),
        schema=config["labels"]["schema"],
    output:
        unlabeled="results/unlabeled.csv",
        by_article=report(
            "results/label_summary_by_article.tsv",
            caption="../report/label_summary_by_article.rst",
            category="Labels",
        ),
    params:
        code=code_digest("labels"),
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        "logs/label_queue.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)
