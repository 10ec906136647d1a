"""Snakemake adapter: hand this job (inputs, outputs, params, resolved config, log) to stance."""

from stance.cli.steps import run_job

run_job(snakemake)  # noqa: F821 (the object Snakemake defines for a script)
