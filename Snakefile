# Stance pipeline: articles -> sentences -> labels -> classifiers, tracked in MLflow.
# Rules live in workflow/rules; all logic lives in the `stance` package under src/.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/split.smk"


rule all:
    input:
        "results/sentences.parquet",
        "results/chrome_report.tsv",
        "results/articles.tsv",
