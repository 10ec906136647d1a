"""The findings figures: stance shares per speaker and per month, with their intervals (PNG)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stance.io import new_figure, save_png

if TYPE_CHECKING:
    from stance.findings.stage import FindingsResult

# One colour per stance position in the label scheme (favor, against, none, ...).
COLOURS = ["#1b7837", "#c51b7d", "#7f7f7f", "#2166ac", "#e08214"]


def _bars(table: pd.DataFrame, classes: Sequence[str], width: float) -> Iterator[tuple]:
    """Per stance: name, colour, offset (side by side within ``width``), share, error bars."""
    step = width / len(classes)
    for k, c in enumerate(classes):
        share = table[c].to_numpy(float)
        # No interval (uncorrected shares): no bar.
        low = np.nan_to_num(np.clip(share - table[f"{c}_low"].to_numpy(float), 0, None))
        high = np.nan_to_num(np.clip(table[f"{c}_high"].to_numpy(float) - share, 0, None))
        offset = (k - (len(classes) - 1) / 2) * step
        yield c, COLOURS[k % len(COLOURS)], offset, share, np.vstack([low, high])


def figure_title(result: FindingsResult) -> str:
    """The model, the estimator, the design labels that carried it and its assumption."""
    m = result.model
    level = round(result.settings["ci_level"] * 100)
    table = result.sentences
    if (table["stance_source"] == "label").all():
        how = "every sentence hand-labeled: exact shares"
    else:
        design = int(table["sampled"].sum())
        how = (
            f"{level}% intervals: difference estimator (PPI++), {design} labels of random samples"
            "\n(labels/samples/); assumes they were drawn at random; none where uncorrected"
        )
    return f"stance model {m.name} (out-of-fold f_avg {m.summary['metrics']['f_avg']:.2f})\n{how}"


def _empty(message: str, title: str, path: Path | str) -> None:
    fig, ax = new_figure(figsize=(6.4, 2.0), dpi=100)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_title(title, fontsize=9)
    save_png(fig, path)


def plot_speaker_shares(
    table: pd.DataFrame, classes: Sequence[str], title: str, path: Path | str
) -> list[str]:
    """Each speaker's stance shares with intervals (open circles: raw counts); the speakers."""
    if table.empty:
        _empty("no sentence has a speaker", title, path)
        return []
    n = len(table)
    fig, ax = new_figure(figsize=(7.2, 1.8 + 0.55 * n), dpi=100)
    y = np.arange(n)
    for c, colour, offset, share, err in _bars(table, classes, 0.8):
        ax.errorbar(share, y + offset, xerr=err, fmt="o", color=colour, capsize=3, label=c)
        ax.plot(table[f"raw_{c}"].to_numpy(float), y + offset, "o", mfc="none", color=colour,
                alpha=0.6)  # fmt: skip
    labels = [
        f"{r.speaker}\n{r.sentences} sent., {r.articles} art., {r.labeled} labeled"
        + (f"\nwide: {r.wide}" if r.wide else "")
        for r in table.itertuples()
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("share of the speaker's sentences (filled: estimate; open: raw count)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1 - 0.3 / n),
              ncols=len(classes))  # fmt: skip
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_png(fig, path)
    return table["speaker"].tolist()


def plot_over_time(
    table: pd.DataFrame, classes: Sequence[str], title: str, path: Path | str
) -> list[str]:
    """Each month's stance shares with intervals (all speakers together); the months drawn."""
    if table.empty:
        why = "no article has a date (seeds/articles.csv, or a date line in its page chrome)"
        _empty(f"{why}:\nno shares over time", title, path)
        return []
    table = table.sort_values("month")  # a pooled "other ..." row sorts after the months
    # A line joins consecutive months only: not when some are pooled into "other".
    joined = len(table) > 1 and table["month"].str.fullmatch(r"\d{4}-\d{2}").all()
    x = np.arange(len(table))
    fig, ax = new_figure(figsize=(max(5.0, 1.2 + 0.6 * len(table)), 3.8), dpi=100)
    for c, colour, offset, share, err in _bars(table, classes, 0.3):
        ax.errorbar(x + offset, share, yerr=err, fmt="o-" if joined else "o", capsize=3,
                    color=colour, label=c)  # fmt: skip
    ticks = [f"{r.month}\n{r.sentences} sent., {r.articles} art." for r in table.itertuples()]
    ax.set_xticks(x, ticks, fontsize=8)
    ax.set_xlim(-0.5, len(table) - 0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("share of the month's sentences")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_png(fig, path)
    return table["month"].tolist()
