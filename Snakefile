# Stance pipeline: articles -> sentences -> labels -> classifiers, tracked in MLflow.
# Rules live in workflow/rules; all logic lives in the `stance` package under src/.

import sys
from pathlib import Path

from snakemake.utils import min_version

from stance.config import validate_config
from stance.errors import StanceError

min_version("9.0")


configfile: "config/config.yaml"


# Validated by the package against the same JSON schema, with one message naming every bad key.
try:
    validate_config(
        config, Path("config/config.yaml"), Path("workflow/schemas/config.schema.yaml")
    )
except StanceError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


include: "workflow/rules/common.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/train.smk"


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
