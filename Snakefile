# Stance pipeline: articles -> sentences -> labels -> classifiers, tracked in MLflow.
# Rules live in workflow/rules; all logic lives in the `stance` package under src/.

import sys
from pathlib import Path

from snakemake.utils import min_version

from stance.cli.jobs import check_workflow
from stance.config import load_yaml
from stance.environment import collect_garbage_less_often, configure
from stance.errors import StanceError
from stance.stopping import stop_jobs_on_signals

min_version("9.0")

# Offline, quiet, no telemetry: for this process and, through the environment, every job.
configure()
# The jobs run in this process (stance.cli.jobs): fewer garbage collections while they run, and
# none at its exit (stance.environment).
collect_garbage_less_often()


# Snakemake's own message for a YAML syntax error names neither the file nor the line: read the
# config file first, so a broken one stops here with both.
try:
    if Path("config/config.yaml").exists():  # if not, Snakemake says so (or uses --configfile)
        load_yaml("config/config.yaml")
except StanceError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


configfile: "config/config.yaml"


# The configuration Snakemake resolved (config file, --configfile, --config), the model entries
# and a local MLflow store are checked before any job, each problem named with what to do; rule
# tracking_store then checks that MLflow can read the store before any model is trained.
try:
    check_workflow(config, Path.cwd())
except StanceError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


report: "workflow/report/workflow.rst"


# Ctrl-C or SIGTERM also stops the jobs running in threads of this process (stance.stopping).
onstart:
    stop_jobs_on_signals()


include: "workflow/rules/common.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/speakers.smk"
include: "workflow/rules/findings.smk"


# Small and quick: run where snakemake runs, never queued on a cluster.
localrules:
    all,
    gather_sentences,
    article_table,
    tracking_store,


# What needs hand labels: with none yet (HAS_LABELS, labels.smk), the rest is built.
STANCE_TARGETS = [
    "results/metrics/comparison.tsv",
    "results/metrics/comparison.png",
    *expand("results/models/{model}/mlflow_run.json", model=MODELS),
    "results/findings/sentences.parquet",
    "results/findings/stance_by_speaker.tsv",
    "results/findings/statement.html",
]


rule all:
    input:
        "results/sentences.parquet",
        "results/chrome_report.tsv",
        "results/articles.tsv",
        "results/labeled_dataset",
        "results/unlabeled.csv",
        "results/label_summary.tsv",
        "results/label_summary_by_article.tsv",
        "results/agreement.json",
        "results/disagreements.csv",
        "results/speakers/predicted.parquet",
        "results/speakers/oof_predictions.csv",
        "results/speakers/stance_with_predicted_speakers.tsv",
        "results/speakers/mlflow_run.json",
        STANCE_TARGETS if HAS_LABELS else [],
