"""The figures of the evaluation (PNG): a model's confusion matrix and learning curve, and all
models' scores side by side."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stance.figures import new_figure, save_png
from stance.training.evaluate import Evaluation


def plot_confusion(ev: Evaluation, path: Path) -> None:
    s = ev.summary
    classes = s["classes"]
    cm = ev.confusion
    fig, ax = new_figure(figsize=(4.8, 4.2), dpi=100)
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            dark = cm[i, j] > cm.max() / 2
            ax.text(
                j, i, str(cm[i, j]), ha="center", va="center", color="white" if dark else "black"
            )
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted stance")
    ax.set_ylabel("labeled stance")
    m = s["metrics"]
    ax.set_title(
        f"{s['model']}: {s['cv']['description']}\n"
        f"f_avg {m['f_avg']:.2f}, macro-F1 {m['macro_f1']:.2f}",
        fontsize=9,
    )
    fig.tight_layout()
    save_png(fig, path)


def plot_curve(ev: Evaluation, path: Path) -> None:
    s = ev.summary
    curve = ev.curve
    fig, ax = new_figure(figsize=(5.2, 3.8), dpi=100)
    level = round(s["settings"]["ci_level"] * 100)
    x = curve["train_sentences"]
    for name, label, marker, style in (
        ("macro_f1", "macro-F1", "o", "-"),
        ("f_avg", "f_avg", "s", "--"),
    ):
        (line,) = ax.plot(x, curve[name], marker=marker, linestyle=style, label=label)
        ax.fill_between(
            x, curve[f"{name}_ci_low"], curve[f"{name}_ci_high"],
            color=line.get_color(), alpha=0.18, linewidth=0,
            label=f"{label} {level}% bootstrap CI",
        )  # fmt: skip
    ax.set_xlabel("labeled sentences in the training part (mean over folds)")
    ax.set_ylabel("score on held-out articles")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(f"{s['model']}: learning curve, {s['cv']['description']}", fontsize=9)
    fig.tight_layout()
    save_png(fig, path)


def plot_comparison(table: pd.DataFrame, path: Path | str, ci_level: float = 0.95) -> None:
    """Every model's f_avg and macro-F1 with their intervals, best f_avg at the top; the
    majority baseline (a model of kind ``majority``) drawn as a dashed line in both panels."""
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
