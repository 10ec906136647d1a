"""The comparison table: every model's headline scores side by side, best f_avg first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stance.io import atomic_open, plain_frame, spreadsheet_frame

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


def read_comparison(path: Path | str) -> pd.DataFrame:
    """A comparison table written by write_comparison, with its cells as they were."""
    return plain_frame(pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""]))


def _with_ci(row: Mapping[str, Any], name: str) -> str:
    value, low, high = row.get(name), row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if value is None or pd.isna(value):
        return "-"
    if low is None or pd.isna(low):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def describe_comparison(table: pd.DataFrame, summaries: Iterable[Mapping[str, Any]]) -> str:
    """A short markdown description of a comparison: the models, the label version (digest and
    size of the labeled data), the evaluation scheme and the best model with its intervals."""
    summaries = list(summaries)
    rows = table.to_dict("records")
    if not rows:
        return "No models compared."
    versions = sorted({s["data"]["sha256"][:12] for s in summaries})
    first = summaries[0]
    data, cv = first["data"], first["cv"]
    level = round(first["settings"]["ci_level"] * 100)
    articles = f" from {data['n_articles']} articles" if data.get("n_articles") else ""
    best = rows[0]
    lines = [
        f"**{len(rows)} models** evaluated on **{data['n_sentences']} labeled sentences**"
        f"{articles}, label version `{'`, `'.join(versions)}` (first 12 hex digits of the "
        "labeled data's SHA-256, tag `labels_sha256` of each model run).",
        "",
        f"Evaluation: {cv['description']}; {level}% bootstrap intervals.",
        "",
        f"Best f_avg: **{best['model']}**, f_avg {_with_ci(best, 'f_avg')}, "
        f"macro-F1 {_with_ci(best, 'macro_f1')}.",
    ]
    baseline = [r for r in rows if r.get("kind") == "majority"]
    if baseline:
        b = baseline[0]
        lines.append(
            f"Majority baseline ({b['model']}): f_avg {_with_ci(b, 'f_avg')}, "
            f"macro-F1 {_with_ci(b, 'macro_f1')}."
        )
    lines += [
        "",
        f"| model | f_avg [{level}% CI] | macro-F1 [{level}% CI] |",
        "| --- | --- | --- |",
        *(f"| {r['model']} | {_with_ci(r, 'f_avg')} | {_with_ci(r, 'macro_f1')} |" for r in rows),
        "",
        "The whole table is the artifact `comparison.json` (Artifacts tab); each model is a "
        "child run of this one.",
    ]
    return "\n".join(lines)
