"""A model's result folder: metrics.json, predictions, report, plots, final model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from stance.errors import StanceError
from stance.io import atomic_open, new_figure, save_png, spreadsheet_frame, write_json
from stance.training.evaluate import Evaluation
from stance.training.model_files import load_model, save_model

# Files a model's result folder holds (results/models/<name>/).
METRICS_FILE = "metrics.json"
OOF_FILE = "oof_predictions.csv"
REPORT_FILE = "classification_report.txt"
CONFUSION_FILE = "confusion_matrix.png"
CURVE_FILE = "learning_curve.png"
CURVE_TABLE = "learning_curve.tsv"
MODEL_FILE = "model.skops"
ARTIFACT_FILES = (METRICS_FILE, OOF_FILE, REPORT_FILE, CONFUSION_FILE, CURVE_FILE, CURVE_TABLE)


def write_evaluation(ev: Evaluation, outdir: Path | str) -> dict[str, Path]:
    """Write a model's results: metrics.json, OOF CSV, report, plots, curve table, model."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {name: outdir / name for name in (*ARTIFACT_FILES, MODEL_FILE)}
    write_json(paths[METRICS_FILE], ev.summary)
    with atomic_open(paths[OOF_FILE], newline="", encoding="utf-8") as fh:
        spreadsheet_frame(ev.oof).to_csv(fh, index=False, lineterminator="\n")
    with atomic_open(paths[REPORT_FILE], encoding="utf-8") as fh:
        fh.write(ev.report)
    with atomic_open(paths[CURVE_TABLE], newline="", encoding="utf-8") as fh:
        ev.curve.to_csv(fh, sep="\t", index=False, lineterminator="\n", float_format="%.6f")
    plot_confusion(ev, paths[CONFUSION_FILE])
    plot_curve(ev, paths[CURVE_FILE])
    save_model(ev.final_model, paths[MODEL_FILE])
    return paths


def read_summary(path: Path | str) -> dict[str, Any]:
    """The metrics.json of a model's result folder."""
    path = Path(path) / METRICS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StanceError(f"{path}: not found; run `snakemake` to train it") from None


def load_final_model(model_dir: Path | str) -> Pipeline:
    """The final model of a result folder; a type outside the allowlist is refused (model_files)."""
    return load_model(Path(model_dir) / MODEL_FILE)


def plot_confusion(ev: Evaluation, path: Path) -> None:
    s, cm = ev.summary, ev.confusion
    classes = s["classes"]
    fig, ax = new_figure(figsize=(4.8, 4.2), dpi=100)
    ax.imshow(cm, cmap="Blues")
    for (i, j), count in np.ndenumerate(cm):
        color = "white" if count > cm.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color)
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
    s, curve = ev.summary, ev.curve
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
