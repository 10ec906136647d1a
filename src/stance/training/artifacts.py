"""A model's result folder: metrics.json, predictions, report, plots, final model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from stance.errors import StanceError
from stance.io import atomic_open, spreadsheet_frame, write_json
from stance.training.evaluate import Evaluation
from stance.training.model_files import load_model, save_model
from stance.training.plots import plot_confusion, plot_curve

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
    """The final model that ``write_evaluation`` saved; a file naming a type outside the
    project's allowlist is refused, not loaded (stance.training.model_files)."""
    return load_model(Path(model_dir) / MODEL_FILE)
