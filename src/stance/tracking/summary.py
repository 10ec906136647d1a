"""The parent run of a group of runs: the comparison table and a description people read first."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from stance.tracking.runs import NOTE_TAG, group_parent
from stance.tracking.store import find_experiment_id, retry_locked, store_errors, tracking_client

# The parent run's table artifact (shown as a table in the run's Artifacts tab of the MLflow UI).
COMPARISON_ARTIFACT = "comparison.json"
# Shown first in the UI's table (the rest follow in their order).
FIRST_COLUMNS = (
    "model", "f_avg", "f_avg_ci_low", "f_avg_ci_high", "macro_f1", "macro_f1_ci_low",
    "macro_f1_ci_high",
)  # fmt: skip


def _json_safe(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the UI shows it: the model and its headline scores with their intervals
    first, scores to 4 decimals (as comparison.tsv), missing ones as None (JSON null)."""
    first = [c for c in FIRST_COLUMNS if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first]]
    out = table.reset_index(drop=True).round(4)
    return out.astype(object).where(out.notna(), None)


def _replace_table(client: Any, run_id: str, table: pd.DataFrame) -> None:
    """The table artifact, replaced where it exists (MLflow's log_table appends rows)."""
    if COMPARISON_ARTIFACT not in {f.path for f in retry_locked(client.list_artifacts, run_id)}:
        # log_table also tags the run, which makes the UI show the file as a table.
        retry_locked(client.log_table, run_id, data=table, artifact_file=COMPARISON_ARTIFACT)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / COMPARISON_ARTIFACT
        # log_table's own format (pandas "split" orientation), so the UI reads it the same way.
        table.to_json(path, orient="split", index=False, date_format="iso")
        retry_locked(client.log_artifact, run_id, str(path))


def log_group_summary(
    uri: str,
    experiment: str,
    group: str,
    comparison: pd.DataFrame,
    description: str,
    *,
    group_label: str = "workflow run",
) -> str:
    """Put (replace) the comparison table and a description on the parent run of ``group``."""
    experiment_id = find_experiment_id(uri, experiment)
    client = tracking_client(uri)
    with store_errors(uri, f"writing the summary of {group_label} {group}"):
        # The group's models made it already; created here only if it was deleted since.
        parent = group_parent(client, experiment_id, group, group_label)
        _replace_table(client, parent, _json_safe(comparison))
        retry_locked(client.set_tag, parent, NOTE_TAG, description)
    return parent


def summary_group(markers: list[dict[str, Any]], current: str | None) -> str:
    """The group whose parent run gets the summary of these logged models (mlflow_run.json
    markers): the current workflow run's if it logged any, else the one that logged the most."""
    groups = [m["group"] for m in markers if m.get("group")]
    if current and current in groups:
        return current
    return max(sorted(set(groups)), key=groups.count)
