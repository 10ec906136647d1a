import glob

LABELS_DIR = config["labels"]["dir"]
# Every CSV in the label folder (adjudication.csv included), listed when the workflow is read:
# adding or removing a label file changes the inputs and so re-runs the stage.
LABEL_FILES = sorted(glob.glob(f"{LABELS_DIR}/*.csv"))


rule labels:
    """Validate the hand labels, resolve final labels and build the labeled data set."""
    input:
        sentences="results/sentences.parquet",
        labels=LABEL_FILES,
        # The recorded samples (labels/samples/): the stage checks and reports the design.
        samples=sorted(glob.glob(f"{LABELS_DIR}/samples/*.json")),
        schema=config["labels"]["schema"],
    output:
        dataset=directory("results/labeled_dataset"),
        unlabeled="results/unlabeled.csv",
        summary=report(
            "results/label_summary.tsv", caption="../report/label_summary.rst", category="Labels"
        ),
        by_article=report(
            "results/label_summary_by_article.tsv",
            caption="../report/label_summary_by_article.rst",
            category="Labels",
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
