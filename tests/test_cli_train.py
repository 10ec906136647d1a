"""The training commands and workflow steps in-process: train, runs, predict, and the steps
tracking_store and models (train, log, compare), with a project folder and MLflow store in a
temporary directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import make_dataset, schema_values

from stance.cli.main import main
from stance.config import load_config
from stance.errors import StanceError
from stance.training.data import from_dataset
from stance.training.run import train_configured_model

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "cli-test"


def labeled_frame(ds) -> pd.DataFrame:
    """The synthetic data set as a plain table: class ids turned into names."""
    df = ds.to_pandas()
    for col in ("stance", "speaker"):
        df[col] = [ds.features[col].int2str(int(v)) for v in df[col]]
    return df


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project folder with the real config (fewer bootstrap resamples) and a saved data set."""
    root = tmp_path_factory.mktemp("cli") / "project"
    for item in ("config", "workflow/schemas", "labels"):
        shutil.copytree(ROOT / item, root / item, ignore=shutil.ignore_patterns("*.csv"))
    config = yaml.safe_load((root / "config/config.yaml").read_text())
    config["evaluation"]["n_bootstrap"] = 200
    config["mlflow"] = {"tracking_uri": None, "experiment": EXPERIMENT}
    (root / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    ds = make_dataset(4, 10)
    ds.save_to_disk(str(root / "results/labeled_dataset"))
    df = labeled_frame(ds).rename(columns={"article_id": "group"})
    columns = ["sentence_id", "group", "text", "speaker", "stance"]
    df[columns].to_csv(root / "table.csv", index=False)
    df[["text", "stance"]].to_json(root / "table.jsonl", orient="records", lines=True)
    test_articles = df["group"] == df["group"].iloc[-1]
    df[~test_articles].to_parquet(root / "train.parquet")
    df[test_articles].to_parquet(root / "test.parquet")
    return root


@pytest.fixture
def run(project: Path, monkeypatch, capsys):
    """Run a stance command in the project; return (exit code, stdout, stderr)."""
    monkeypatch.chdir(project)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("STANCE_WORKFLOW_RUN", raising=False)

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_train_on_a_grouped_csv_matches_the_workflow_step(run, project: Path):
    code, out, err = run("train", "table.csv", "--model", "word_lr", "--no-log", "--out", "t1")
    assert code == 0, err
    assert "word_lr: f_avg" in out and "leave one article out, 4 folds" in out
    table = pd.read_csv(project / "t1/comparison.tsv", sep="\t")
    assert list(table["model"]) == ["word_lr"]
    train_configured_model(
        "results/labeled_dataset", config_with("word_lr"), "word_lr", "results/models/word_lr", 1
    )
    from_table = json.loads((project / "t1/word_lr/metrics.json").read_text())
    from_step = json.loads((project / "results/models/word_lr/metrics.json").read_text())
    assert from_table["metrics"] == from_step["metrics"]
    assert from_table["cv"] == from_step["cv"]


def test_train_without_groups_warns_and_skips_speaker_models(run, project: Path):
    code, out, err = run("train", "table.jsonl", "--no-log", "--out", "t2")
    assert code == 0, err
    assert "note: skipping word_speaker_lr: table.jsonl has no 'speaker' column" in err
    assert err.count("no group (article) column") == 1
    assert "stratified K-fold over sentences" in out
    assert not (project / "t2/word_speaker_lr").exists()
    assert (project / "t2/majority/confusion_matrix.png").is_file()


@pytest.fixture(scope="module")
def logged(project: Path):
    """`stance train --test` with MLflow logging into the project's default store."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        code = main(["train", "train.parquet", "--test", "test.parquet", "--model", "majority",
                     "--model", "word_speaker_lr", "--out", "t3"])  # fmt: skip
    assert code == 0
    return project


def test_train_with_a_test_table_logs_runs(logged: Path):
    import mlflow

    table = pd.read_csv(logged / "t3/comparison.tsv", sep="\t")
    assert set(table["cv_scheme"]) == {"holdout"} and table["run_id"].notna().all()
    c = mlflow.MlflowClient(tracking_uri=f"sqlite:///{logged / 'mlflow.db'}")
    run = c.get_run(table.set_index("model").loc["word_speaker_lr", "run_id"])
    assert run.data.params["test_source"] == "test.parquet"
    assert run.data.tags["source"] == "stance train"
    parent = c.get_run(run.data.tags["mlflow.parentRunId"])
    assert "**2 models**" in parent.data.tags["mlflow.note.content"]
    mlflow.set_tracking_uri(f"sqlite:///{logged / 'mlflow.db'}")  # load_table's search
    logged_table = c.load_table(run.info.experiment_id, "comparison.json", [parent.info.run_id])
    assert sorted(logged_table["model"]) == ["majority", "word_speaker_lr"]
    contexts = sorted(
        {t.key: t.value for t in i.tags}["mlflow.data.context"] for i in run.inputs.dataset_inputs
    )
    assert contexts == ["evaluation", "training"]
    test_rows = len(pd.read_parquet(logged / "test.parquet"))
    assert len(pd.read_csv(logged / "t3/word_speaker_lr/oof_predictions.csv")) == test_rows


def test_runs_lists_the_logged_models(run, logged: Path):
    code, out, err = run("runs")
    assert code == 0, err
    assert "word_speaker_lr" in out and "majority" in out and "f_avg [95% CI]" in out
    code, out, _ = run("runs", "--model", "majority", "--tsv")
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[1].split("\t")[1] == "majority"
    code, _, err = run("runs", "--filter", "nonsense ~ 1")
    assert code == 2 and err.startswith("error: cannot search runs")


def test_predict_text_table_and_articles(run, logged: Path):
    stances = schema_values("stance")
    code, out, err = run("predict", "--text", "All foreign troops must withdraw now. It rained.")
    assert code == 0, err
    # Default: the speaker is predicted first (docs/speakers.md), so every model can be fed and
    # the best f_avg wins.
    assert "model 'word_speaker_lr'" in err
    rows = pd.read_csv(pd.io.common.StringIO(out))
    assert len(rows) == 2 and set(rows["stance"]) <= set(stances)
    assert [c for c in rows.columns if c.startswith("proba_")] == [f"proba_{s}" for s in stances]
    assert rows["speaker"].tolist() == ["author", "author"]
    assert rows["speaker_evidence"].str.contains("narration").all()
    code, out, err = run("predict", "--model", "majority", "--text", "Leave now.")
    assert code == 0 and "model 'majority'" in err
    pd.DataFrame({"text": ["bring the soldiers home"], "speaker": [schema_values("speaker")[0]]}
                 ).to_csv(logged / "in.csv", index=False)  # fmt: skip
    code, out, err = run("predict", "--table", "in.csv", "--out", "pred.csv")
    assert code == 0, err
    assert "model 'word_speaker_lr'" in err  # best f_avg, and the table has a speaker column
    assert pd.read_csv(logged / "pred.csv")["stance"].tolist() == [stances[0]]
    article = logged / "005_new.txt"
    article.write_text("NATO ministers met. They said the troops must stay.\n", encoding="utf-8")
    code, out, err = run("predict", "--articles", str(article), "--model", "majority")
    assert code == 0, err
    assert pd.read_csv(pd.io.common.StringIO(out))["article_id"].eq("005_new").all()
    code, out, err = run("predict", "--unlabeled")
    assert code == 2 and "results/unlabeled.csv: file not found; run snakemake" in err
    code, out, err = run("predict", "--text", "a", "--unlabeled")
    assert code == 2 and "exactly one input" in err


def project_config() -> dict:
    return load_config("config/config.yaml")


def config_with(*names: str, **params: dict) -> dict:
    """The project config with only these models (and these params for some of them)."""
    config = project_config()
    entries = [dict(m) for m in config["models"] if m["name"] in names]
    for entry in entries:
        if entry["name"] in params:
            entry["params"] = {**entry.get("params", {}), **params[entry["name"]]}
    return {**config, "models": entries}


def models_step(config: dict, train: tuple[str, ...] | None = None) -> None:
    """What the workflow's train_model (for ``train``; default every model), log_model and
    compare_models jobs do, one after the other."""
    from stance.tracking.workflow import compare_logged_models, log_model_folder

    names = [m["name"] for m in config["models"]]
    data = "results/labeled_dataset"
    for name in names if train is None else train:
        train_configured_model(data, config, name, f"results/models/{name}", 1)
    for name in names:
        log_model_folder(f"results/models/{name}", data, config, Path.cwd())
    compare_logged_models(
        [f"results/models/{n}" for n in names],
        config,
        Path.cwd(),
        "results/metrics/comparison.tsv",
        "results/metrics/comparison.png",
    )


def test_workflow_steps_train_log_and_compare(run, project: Path, monkeypatch, caplog):
    import logging

    from stance.tracking.workflow import open_store

    caplog.set_level(logging.INFO, logger="stance")
    config = config_with("majority", "word_lr")
    open_store(config, project, "results/mlflow/store.json")
    assert json.loads((project / "results/mlflow/store.json").read_text())["experiment_id"]
    monkeypatch.setenv("STANCE_WORKFLOW_RUN", "g-9")
    models_step(config)
    markers = {
        m: json.loads((project / f"results/models/{m}/mlflow_run.json").read_text())
        for m in ("majority", "word_lr")
    }
    assert {m["group"] for m in markers.values()} == {"g-9"}
    table = pd.read_csv(project / "results/metrics/comparison.tsv", sep="\t")
    assert dict(zip(table["model"], table["run_id"], strict=True)) == {
        m: marker["run_id"] for m, marker in markers.items()
    }
    assert (project / "results/metrics/comparison.png").stat().st_size > 0
    import mlflow

    parent = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}").get_run(
        markers["word_lr"]["parent_run_id"]
    )
    assert "Best f_avg: **" in parent.data.tags["mlflow.note.content"]
    caplog.clear()

    # One changed hyperparameter: the workflow trains that model alone; logging every model
    # logs it alone again and reuses the stored run of the other.
    monkeypatch.setenv("STANCE_WORKFLOW_RUN", "g-10")
    models_step(config_with("majority", "word_lr", word_lr={"C": 0.5}), train=("word_lr",))
    out = caplog.text
    assert "word_lr: f_avg" in out and "majority: f_avg" not in out
    assert f"majority: run {markers['majority']['run_id']} " in out  # reused, not logged again
    again = json.loads((project / "results/models/word_lr/mlflow_run.json").read_text())
    assert again["run_id"] != markers["word_lr"]["run_id"] and again["group"] == "g-10"
    summary = json.loads((project / "results/models/word_lr/metrics.json").read_text())
    assert summary["params"]["C"] == 0.5
    # The parent run of this workflow run holds the comparison: its models' group is g-10.
    parent = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}").get_run(
        again["parent_run_id"]
    )
    assert "Best f_avg: **" in parent.data.tags["mlflow.note.content"]

    # Trained again with the same result: the stored run is reused.
    caplog.clear()
    models_step(config_with("majority"))
    out = caplog.text
    assert "majority: f_avg" in out and f"majority: run {markers['majority']['run_id']} " in out


def test_user_mistakes_give_one_line_messages(run, project: Path):
    stances = schema_values("stance")
    pd.DataFrame({"text": ["a", "b", "c"], "stance": [stances[0]] * 3, "group": ["x", "y", "z"]}
                 ).to_csv(project / "one.csv", index=False)  # fmt: skip
    code, _, err = run("train", "one.csv", "--no-log", "--out", "t4")
    assert code == 2 and "\nerror: every labeled sentence (3) has stance" in err
    assert "Traceback" not in err
    code, _, err = run("train", "missing.csv", "--no-log")
    assert code == 2 and "missing.csv: file not found" in err
    code, _, err = run("train", "table.csv", "--model", "nope", "--no-log")
    assert code == 2 and "no model 'nope'" in err
    with pytest.raises(StanceError, match="labeled data set not found"):
        train_configured_model("nowhere", config_with("majority"), "majority", "x", 1)


def test_edge_cases_reach_the_cli_as_messages(project: Path, run):
    one_article = from_dataset(make_dataset(1, 9), "x").dataset
    one_article.save_to_disk(str(project / "results/one_article"))
    with pytest.raises(StanceError, match="at least 2 articles"):
        train_configured_model("results/one_article", config_with("word_lr"), "word_lr", "x", 1)
