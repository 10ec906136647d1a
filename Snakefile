# Stance pipeline: articles -> sentences -> labels -> classifiers, tracked in MLflow.
# Rules live in workflow/rules; all logic lives in the `stance` package under src/.

import sys
from pathlib import Path

from snakemake.utils import min_version

from stance.config import load_yaml, validate_config
from stance.environment import configure
from stance.errors import StanceError
from stance.tracking.store import check_store_file
from stance.training.models import model_specs

min_version("9.0")

# Offline, quiet, no telemetry: for this process and, through the environment, every job.
configure()


# Snakemake's own message for a YAML syntax error names neither the file nor the line: read the
# config file first, so a broken one stops here with both.
try:
    if Path("config/config.yaml").exists():  # if not, Snakemake says so (or uses --configfile)
        load_yaml("config/config.yaml")
except StanceError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


configfile: "config/config.yaml"


# The configuration Snakemake resolved (config file, --configfile, --config) is validated by the
# package against the same JSON schema, with one message naming every bad key; the schema fills
# in defaults. The model entries (kind, hyperparameter names and values) are checked here too,
# before any job, and so is a local SQLite MLflow store (not a database, or corrupt); rule
# tracking_store checks that MLflow can read it before any model is trained.
try:
    validate_config(
        config, Path("config/config.yaml"), Path("workflow/schemas/config.schema.yaml")
    )
    model_specs(config)
    check_store_file(config, Path.cwd())
except StanceError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/train.smk"


# Small and quick: run where snakemake runs, never queued on a cluster.
localrules:
    all,
    gather_sentences,
    tracking_store,
    compare_models,


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
        "results/metrics/comparison.tsv",
        expand("results/models/{model}/mlflow_run.json", model=MODELS),
