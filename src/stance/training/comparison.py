"""The comparison table and figure: every model's headline scores side by side, best f_avg first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stance.io import atomic_open, new_figure, plain_frame, save_png, spreadsheet_frame

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
    rows = [
        {
            "model": s["model"],
            "kind": s["kind"],
            "features": "+".join(s["features"]),
            "cv_scheme": s["cv"]["scheme"],
            "n_folds": s["cv"]["n_folds"],
            "n_sentences": s["data"]["n_sentences"],
            **{c: s["metrics"].get(c) for c in COMPARISON_COLUMNS[6:-1]},
            "run_id": (run_ids or {}).get(s["model"], ""),
        }
        for s in summaries
    ]
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


def with_ci(row: Mapping[str, Any], name: str) -> str:
    """A score with its interval, '0.512 [0.401, 0.622]' ('-': no score)."""
    value, low, high = row.get(name), row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if value is None or pd.isna(value):
        return "-"
    if low is None or pd.isna(low):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def describe_comparison(table: pd.DataFrame, summaries: Iterable[Mapping[str, Any]]) -> str:
    """A short markdown description: the models, label version, scheme and best model's scores."""
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
        f"Best f_avg: **{best['model']}**, f_avg {with_ci(best, 'f_avg')}, "
        f"macro-F1 {with_ci(best, 'macro_f1')}.",
    ]
    b = next((r for r in rows if r.get("kind") == "majority"), None)
    if b is not None:
        lines.append(
            f"Majority baseline ({b['model']}): f_avg {with_ci(b, 'f_avg')}, "
            f"macro-F1 {with_ci(b, 'macro_f1')}."
        )
    lines += [
        "",
        f"| model | f_avg [{level}% CI] | macro-F1 [{level}% CI] |",
        "| --- | --- | --- |",
        *(f"| {r['model']} | {with_ci(r, 'f_avg')} | {with_ci(r, 'macro_f1')} |" for r in rows),
        "",
        "The whole table is the artifact `comparison.json` (Artifacts tab); each model is a "
        "child run of this one.",
    ]
    return "\n".join(lines)


def plot_comparison(table: pd.DataFrame, path: Path | str, ci_level: float = 0.95) -> None:
    """Every model's f_avg and macro-F1 with intervals, the best on top, the baseline dashed."""
    rows = table.reset_index(drop=True)
    n = len(rows)
    baseline = rows[rows["kind"] == "majority"]
    fig, axes = new_figure(1, 2, figsize=(8.4, 1.4 + 0.42 * n), dpi=100, sharey=True)
    y = list(range(n))[::-1]  # the first row (best f_avg) at the top
    for ax, name, label in zip(axes, ("f_avg", "macro_f1"), ("f_avg", "macro-F1"), strict=True):
        value = pd.to_numeric(rows[name], errors="coerce")
        # No interval logged: a dot without a bar.
        low = (value - pd.to_numeric(rows[f"{name}_ci_low"], errors="coerce")).clip(lower=0)
        high = (pd.to_numeric(rows[f"{name}_ci_high"], errors="coerce") - value).clip(lower=0)
        low, high = low.fillna(0.0), high.fillna(0.0)
        colors = ["0.55" if k == "majority" else "C0" for k in rows["kind"]]
        for i in range(n):
            ax.errorbar(
                value[i], y[i], xerr=[[low[i]], [high[i]]], fmt="o", color=colors[i],
                ecolor=colors[i], capsize=3,
            )  # fmt: skip
            ax.annotate(
                f"{value[i]:.2f}", (value[i], y[i]), textcoords="offset points", xytext=(0, 6),
                ha="center", fontsize=7,
            )  # fmt: skip
        if not baseline.empty:
            ax.axvline(
                float(baseline[name].iloc[0]), color="0.35", linestyle="--", linewidth=1,
                label=f"majority baseline ({baseline['model'].iloc[0]})",
            )  # fmt: skip
            ax.legend(loc="lower right", fontsize=7)
        ax.set_xlim(-0.03, 1.0)  # a score or baseline of 0 stays visible
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel(f"{label} ({round(ci_level * 100)}% bootstrap CI)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, rows["model"])
    scheme = rows["cv_scheme"].iloc[0] if n else ""
    sentences = rows["n_sentences"].iloc[0] if n else 0
    fig.suptitle(f"All models, {sentences} labeled sentences ({scheme})", fontsize=9)
    fig.tight_layout()
    save_png(fig, path)
