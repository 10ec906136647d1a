"""The report's comparing figures: all models with their intervals, learning-curve bands."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import make_dataset

from stance.training.comparison import (
    comparison_table,
    plot_comparison,
    read_comparison,
    write_comparison,
)
from stance.training.data import from_dataset
from stance.training.evaluate import evaluate
from stance.training.models import spec_from_entry
from stance.training.settings import EvalSettings

MODELS = [
    {"name": "majority", "kind": "majority"},
    {"name": "word_lr", "kind": "tfidf_word"},
    {"name": "=word_char", "kind": "tfidf_word_char"},  # a name a spreadsheet would run
]


@pytest.fixture(scope="module")
def evaluations(config):
    settings = replace(EvalSettings.from_config(config), n_bootstrap=200)
    data = from_dataset(make_dataset(n_articles=4, per_article=12), "synthetic")
    return [evaluate(data, spec_from_entry(entry), settings) for entry in MODELS]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_learning_curve_points_carry_bootstrap_intervals(evaluations):
    for ev in evaluations:
        curve = ev.curve
        for name in ("macro_f1", "f_avg"):
            low, high = curve[f"{name}_ci_low"], curve[f"{name}_ci_high"]
            assert (low <= high).all() and (low >= 0).all() and (high <= 1).all()
            # The last share is the primary CV: its band is the headline interval.
            assert curve[f"{name}_ci_low"].iloc[-1] == ev.metrics[f"{name}_ci_low"]
            assert curve[f"{name}_ci_high"].iloc[-1] == ev.metrics[f"{name}_ci_high"]
    learned = evaluations[1].curve
    assert (learned["macro_f1_ci_high"] > learned["macro_f1_ci_low"]).any()  # a real band


def test_comparison_figure_through_the_workflow_step(evaluations, tmp_path: Path):
    table = comparison_table([ev.summary for ev in evaluations])
    write_comparison(table, tmp_path / "comparison.tsv")
    back = read_comparison(tmp_path / "comparison.tsv")
    assert list(back["model"]) == list(table["model"])  # "=word_char" kept as it is
    np.testing.assert_allclose(back["f_avg"], table["f_avg"], atol=1e-4)
    plot_comparison(back, tmp_path / "all.png", 0.95)  # as the workflow draws it
    width, height = png_size(tmp_path / "all.png")
    plot_comparison(table.head(1), tmp_path / "one.png")
    assert png_size(tmp_path / "one.png")[0] == width
    assert png_size(tmp_path / "one.png")[1] < height  # one row per model


def test_comparison_figure_without_a_majority_model_or_intervals(evaluations, tmp_path: Path):
    table = comparison_table([ev.summary for ev in evaluations[1:]])
    table["f_avg_ci_low"] = pd.NA  # a table from runs without intervals
    table["f_avg_ci_high"] = pd.NA
    plot_comparison(table, tmp_path / "no_baseline.png")
    png_size(tmp_path / "no_baseline.png")
