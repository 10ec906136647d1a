"""The workflow's MLflow steps: the store before any job, one model's run, the comparison."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stance.io import write_json
from stance.tracking.runs import close_abandoned_runs, log_evaluation_run
from stance.tracking.store import WORKFLOW_RUN_ENV, init_store, resolve_tracking_uri
from stance.tracking.summary import log_group_summary, summary_group

logger = logging.getLogger(__name__)


def _store(config: Mapping[str, Any], root: Path | str) -> tuple[str, str]:
    return resolve_tracking_uri(config, root), config["mlflow"]["experiment"]


def open_store(config: Mapping[str, Any], root: Path | str, out: Path | str) -> None:
    """Open (or create) the store, mark FAILED the runs a crash left unfinished, record it."""
    uri, experiment = _store(config, root)
    experiment_id = init_store(uri, experiment)
    for run in close_abandoned_runs(uri, experiment_id):
        name = run.data.tags.get("model", run.info.run_name)
        logger.warning(
            f"run {run.info.run_id} ({name}) in {uri} was left unfinished by a killed or "
            "crashed process; marked FAILED (it is never used for predictions)"
        )
    write_json(out, {"tracking_uri": uri, "experiment": experiment, "experiment_id": experiment_id})
    logger.info(f"MLflow store {uri}: experiment {experiment!r} (id {experiment_id})")


def log_model_folder(
    folder: Path | str,
    data: Path | str,
    config: Mapping[str, Any],
    root: Path | str,
    *,
    agreement: Path | str | None = None,
) -> None:
    """Log one model's result folder (or reuse a run with its result); write mlflow_run.json."""
    from stance.training.artifacts import ARTIFACT_FILES, load_final_model, read_summary
    from stance.training.data import load_training_data

    folder = Path(folder)
    uri, experiment = _store(config, root)
    summary = read_summary(folder)
    info = log_evaluation_run(
        uri, experiment, summary, load_final_model(folder),
        [folder / name for name in ARTIFACT_FILES], load_training_data(data), config=config,
        root=root, source="snakemake", agreement=agreement, reuse_identical=True,
    )  # fmt: skip
    write_json(folder / "mlflow_run.json", {"model": summary["model"], **info})
    logger.info(
        f"{summary['model']}: run {info['run_id']} in {uri} already holds this result "
        "(same labels, params, settings and metrics); nothing new logged"
        if info["reused"]
        else f"{summary['model']}: logged run {info['run_id']} to {uri} "
        f"(experiment {experiment!r}, workflow run {info['group']})"
    )


def compare_logged_models(
    folders: Sequence[Path | str],
    config: Mapping[str, Any],
    root: Path | str,
    out_table: Path | str,
    out_figure: Path | str,
) -> None:
    """The models' comparison table and figure; both on the workflow run's parent run."""
    from stance.training.artifacts import read_summary
    from stance.training.comparison import (
        comparison_table,
        describe_comparison,
        plot_comparison,
        read_comparison,
        write_comparison,
    )

    markers = [json.loads((Path(f) / "mlflow_run.json").read_text("utf-8")) for f in folders]
    summaries = [read_summary(f) for f in folders]
    table = comparison_table(summaries, {m["model"]: m["run_id"] for m in markers})
    write_comparison(table, out_table)
    plot_comparison(read_comparison(out_table), out_figure, config["evaluation"]["ci_level"])
    shown = ["model", "f_avg", "f_avg_ci_low", "f_avg_ci_high", "macro_f1", "accuracy"]
    logger.info(table[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    uri, experiment = _store(config, root)
    group = summary_group(markers, os.environ.get(WORKFLOW_RUN_ENV))
    parent = log_group_summary(uri, experiment, group, table, describe_comparison(table, summaries))
    logger.info(
        f"comparison and description on parent run {parent} (workflow run {group}) in {uri}"
    )
