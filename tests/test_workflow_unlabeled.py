"""End to end: the speaker stage of the real workflow on a copy of the project with no label."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from helpers import copy_project, run_snakemake

pytestmark = pytest.mark.e2e


def test_the_speaker_stage_runs_with_no_label_and_the_rules_predict(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    for labels in (project / "labels").glob("*.csv"):
        labels.unlink()
    targets = ["results/speakers/predicted.parquet", "results/speakers/mlflow_run.json"]
    proc = run_snakemake(project, "-c2", *targets)
    output = proc.stdout + proc.stderr
    out = project / "results/speakers"
    shards = sorted((project / "results/split").glob("shard-*.parquet"))
    sentences = pd.concat([pd.read_parquet(p, columns=["sentence_id"]) for p in shards])
    predicted = pd.read_parquet(out / "predicted.parquet")
    assert sorted(predicted["sentence_id"]) == sorted(sentences["sentence_id"])
    assert set(predicted["source"]) == {"rules"} and predicted["evidence"].str.len().gt(0).all()
    # Each job that skipped something says so once, and its outputs say what and why.
    note = "note: results/labeled_dataset has no labeled sentence"
    for log in ("speaker_model", "speakers", "speaker_stance"):
        assert (project / f"logs/speakers/{log}.log").read_text().count(note) == 1
    assert note in output
    assert (out / "model.skops").read_text().startswith("no speaker model: ")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluation"] == "skipped" and metrics["scores"] == {}
    oof = pd.read_csv(out / "oof_predictions.csv")
    assert oof.empty and list(oof.columns[:5]) == [
        "sentence_id", "article_id", "text", "speaker", "predicted_speaker",
    ]  # fmt: skip
    with sqlite3.connect(project / "mlflow.db") as db:
        (why,) = db.execute(
            "select value from tags where key = 'stance.no_speaker_model'"
        ).fetchone()
    assert "no labeled sentence" in why
    # The whole workflow builds what needs no label, and says what waits for labels.
    proc = run_snakemake(project, "-c2")
    assert "note: no hand labels in labels/ yet" in proc.stdout + proc.stderr
    assert (project / "results/unlabeled.csv").is_file()
    assert not (project / "results/models").exists() and not (project / "results/findings").exists()
    # The first label brings the stance models and the findings into the plan.
    first = pd.read_csv(project / "results/unlabeled.csv", keep_default_na=False).iloc[0]
    pd.DataFrame(
        [[first["sentence_id"], first["text"], "taliban", "favor", "ann", ""]],
        columns=["sentence_id", "text", "speaker", "stance", "annotator", "note"],
    ).to_csv(project / "labels/ann.csv", index=False)
    plan = run_snakemake(project, "-n", "--quiet", "rules")
    planned = plan.stdout + plan.stderr
    assert "no hand labels" not in planned
    assert "train_model" in planned and "findings" in planned
