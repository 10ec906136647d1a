"""The speaker stage and `stance predict --speakers-only` without any hand-labeled speaker."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import ROOT, make_dataset

from stance.errors import StanceError
from stance.speakers.stage import (
    OOF_COLUMNS,
    SpeakerOutputs,
    attribute_shard,
    fit_speaker_model,
    load_speaker_labels,
    predict_shard,
    read_speaker_model,
    run_speaker_stage,
    write_stance_with_predicted,
)

OUTPUTS = SpeakerOutputs(**{n: f"results/speakers/{f}" for n, f in (
    ("oof", "oof_predictions.csv"), ("metrics", "metrics.json"),
    ("metrics_table", "metrics.tsv"), ("per_speaker", "per_speaker.tsv"),
    ("confusion", "confusion.tsv"))})  # fmt: skip
LABELED, SENTENCES = "results/labeled_dataset", "results/sentences.parquet"
MODEL = "results/speakers/model.skops"
ATTRIBUTED, NAMES = "results/speakers/attributed.parquet", "results/speakers/names.parquet"


def write_project(root: Path, method: str = "rules", speakers: bool = True) -> dict:
    """A project with the real config and mapping, a corpus and a labeled data set with no row
    (or, ``speakers`` False, labels without a speaker column); returns the loaded config."""
    from stance.config import load_config
    from stance.labels.dataset import save_dataset

    for item in ("config", "workflow/schemas", "labels"):
        shutil.copytree(ROOT / item, root / item, ignore=shutil.ignore_patterns("*.csv"))
    config = yaml.safe_load((root / "config/config.yaml").read_text())
    config["evaluation"]["n_bootstrap"] = 100
    config["mlflow"] = {"tracking_uri": None, "experiment": "unlabeled-speakers"}
    config["speakers"]["method"] = method
    (root / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    corpus = make_dataset(2, 5).to_pandas()
    corpus["start"], corpus["end"] = 0, corpus["text"].str.len()
    corpus["paragraph_start"] = corpus["position"] == 0
    (root / "results/speakers").mkdir(parents=True)
    corpus.drop(columns=["speaker", "stance", "n_annotators"]).to_parquet(root / SENTENCES)
    labeled = make_dataset(2, 5).remove_columns("speaker") if not speakers else make_dataset(0)
    save_dataset(labeled, root / LABELED)  # as the label stage saves it
    return load_config(root / "config/config.yaml")


def test_rules_need_no_label_and_every_output_says_what_was_skipped(
    tmp_path: Path, monkeypatch, capsys
):
    from stance.cli.main import main
    from stance.speakers.logged import log_speaker_stage

    root = tmp_path / "project"
    config = write_project(root)
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    attribute_shard(SENTENCES, config, root, ATTRIBUTED, NAMES)
    fit_speaker_model(SENTENCES, LABELED, config, root, MODEL)
    assert read_speaker_model(MODEL) is None
    assert "no labeled sentence" in Path(MODEL).read_text(encoding="utf-8")
    summary = run_speaker_stage([NAMES], SENTENCES, LABELED, config, root, OUTPUTS)
    err = capsys.readouterr().err
    assert err.count("note: results/labeled_dataset has no labeled sentence") == 2
    written = json.loads(Path(OUTPUTS.metrics).read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(summary))
    assert written["evaluation"] == "skipped" and "no labeled sentence" in written["skipped"]
    assert written["scores"] == {} and written["n_sentences"] == 0
    assert list(pd.read_csv(OUTPUTS.oof).columns) == OOF_COLUMNS
    for table in (OUTPUTS.oof, OUTPUTS.metrics_table, OUTPUTS.per_speaker):
        assert pd.read_csv(table, sep=None, engine="python").empty
    # The rules decide every sentence, with no model input at all.
    predicted = predict_shard(ATTRIBUTED, None, config, "results/speakers/predicted.parquet")
    assert len(predicted) == 10 and set(predicted["source"]) == {"rules"}
    stance = write_stance_with_predicted(LABELED, OUTPUTS.oof, config["models"], config,
                                         "results/speakers/stance.tsv")  # fmt: skip
    assert stance.empty and "no stance model is scored" in capsys.readouterr().err
    log_speaker_stage(OUTPUTS.metrics, MODEL, [OUTPUTS.oof], LABELED, config, root,
                      "results/speakers/mlflow_run.json")  # fmt: skip
    with sqlite3.connect(root / "mlflow.db") as db:
        tags = dict(db.execute("select key, value from tags").fetchall())
    assert "no labeled sentence" in tags["stance.no_speaker_model"]
    # That run serves no method that needs a model: `stance predict` says why.
    hybrid = yaml.safe_load(Path("config/config.yaml").read_text())
    hybrid["speakers"]["method"] = "hybrid"
    Path("config/config.yaml").write_text(yaml.safe_dump(hybrid))
    capsys.readouterr()
    assert main(["predict", "--speakers-only", "--text", "The Taliban said so."]) == 2
    err = capsys.readouterr().err
    assert "the newest speaker run" in err and "has no labeled sentence" in err


def test_labels_without_a_speaker_column_skip_the_model_too(tmp_path: Path):
    write_project(tmp_path, speakers=False)
    labels = load_speaker_labels(tmp_path / LABELED, "rules")
    assert "no 'speaker' column" in labels.skipped and labels.speakers.empty
    assert len(labels.data.frame) == 10  # the stance labels are still there


@pytest.mark.parametrize("method", ["learned", "hybrid"])
def test_the_speaker_model_without_labels_is_a_clear_error(tmp_path: Path, monkeypatch, method):
    root = tmp_path / "project"
    config = write_project(root, method)
    monkeypatch.chdir(root)
    for run in (
        lambda: fit_speaker_model(SENTENCES, LABELED, config, root, MODEL),
        lambda: run_speaker_stage([NAMES], SENTENCES, LABELED, config, root, OUTPUTS),
    ):
        with pytest.raises(StanceError, match=r"label speakers .* or set speakers\.method: rules"):
            run()
    # A model file from a run with method rules does not serve a model method.
    rules = {**config, "speakers": {**config["speakers"], "method": "rules"}}
    attribute_shard(SENTENCES, config, root, ATTRIBUTED, NAMES)
    fit_speaker_model(SENTENCES, LABELED, rules, root, MODEL)
    with pytest.raises(StanceError, match=f"method is '{method}' but there is no speaker model"):
        predict_shard(ATTRIBUTED, MODEL, config, "results/speakers/predicted.parquet")


def test_predict_speakers_only_needs_no_stance_model_nor_store(tmp_path: Path, monkeypatch,
                                                               capsys):  # fmt: skip
    from stance.cli.main import main

    root = tmp_path / "project"
    write_project(root)
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    article = root / "new.txt"
    text = "“Foreign troops must leave now,” the Taliban said.\n\nSnow fell in Kabul.\n"
    article.write_text(text, encoding="utf-8")
    assert main(["predict", "--speakers-only", "--articles", str(article), "--out", "s.csv"]) == 0
    rows = pd.read_csv("s.csv")
    assert rows["speaker"].tolist() == ["taliban", "author"]
    assert "stance" not in rows.columns and "Taliban" in rows["speaker_evidence"][0]
    assert not (root / "mlflow.db").exists()
    pd.DataFrame({"text": ["Russia said it was time to go."]}).to_csv("t.csv", index=False)
    assert main(["predict", "--speakers-only", "--table", "t.csv", "--out", "t-out.csv"]) == 0
    assert pd.read_csv("t-out.csv")["speaker"].tolist() == ["russia"]
    capsys.readouterr()
    # A stance-model option, a method that needs a model nobody logged, no mapping: errors.
    assert main(["predict", "--speakers-only", "--text", "x", "--speaker", "nato"]) == 2
    assert "leave out --speaker" in capsys.readouterr().err
    config = yaml.safe_load(Path("config/config.yaml").read_text())
    config["speakers"]["method"] = "hybrid"
    Path("config/config.yaml").write_text(yaml.safe_dump(config))
    assert main(["predict", "--speakers-only", "--text", "The Taliban said so."]) == 2
    assert "no speaker model is logged" in capsys.readouterr().err
    config["speakers"] = {**config["speakers"], "method": "rules", "mapping": "missing.yaml"}
    Path("config/config.yaml").write_text(yaml.safe_dump(config))
    assert main(["predict", "--speakers-only", "--text", "The Taliban said so."]) == 2
    assert "missing.yaml: speaker mapping not found" in capsys.readouterr().err
