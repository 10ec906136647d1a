"""The comparison table: every model's headline scores side by side, best f_avg first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stance.io import atomic_open, spreadsheet_frame

COMPARISON_COLUMNS = [
    "model", "kind", "features", "cv_scheme", "n_folds", "n_sentences",
    "f_avg", "f_avg_ci_low", "f_avg_ci_high",
    "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high",
    "accuracy", "cohen_kappa", "stratified_f_avg", "stratified_macro_f1", "run_id",
]  # fmt: skip


def comparison_table(
    summaries: Iterable[Mapping[str, Any]], run_ids: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per model, best f_avg first (ties by name): the headline metrics side by side."""
    rows = []
    for s in summaries:
        m = s["metrics"]
        rows.append(
            {
                "model": s["model"],
                "kind": s["kind"],
                "features": "+".join(s["features"]),
                "cv_scheme": s["cv"]["scheme"],
                "n_folds": s["cv"]["n_folds"],
                "n_sentences": s["data"]["n_sentences"],
                **{c: m.get(c) for c in COMPARISON_COLUMNS[6:-1]},
                "run_id": (run_ids or {}).get(s["model"], ""),
            }
        )
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    return table.sort_values(["f_avg", "model"], ascending=[False, True], kind="stable")


def write_comparison(table: pd.DataFrame, path: Path | str) -> None:
    """The comparison table as TSV (scores with 4 decimals)."""
    with atomic_open(path, newline="", encoding="utf-8") as fh:
        spreadsheet_frame(table).to_csv(
            fh, sep="\t", index=False, lineterminator="\n", float_format="%.4f"
        )
