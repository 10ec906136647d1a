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

from stance.cli import steps
from stance.cli.main import main
from stance.config import load_config
from stance.errors import StanceError
from stance.training.data import from_dataset

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
    steps.train_models(
        "results/labeled_dataset", config_with("word_lr"), models_dir="results/models",
        cache_dir="results/cache/train", threads=1, code="c1",
    )  # fmt: skip
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


def models_step(config: dict, out: str = "results/metrics/comparison.tsv", **kw) -> None:
    steps.models("results/labeled_dataset", config, Path.cwd(), models_dir="results/models",
                 cache_dir="results/cache/train", agreement=None, comparison=out,
                 figure=out.replace(".tsv", ".png"), threads=1,
                 code=kw.get("code", "c1"))  # fmt: skip


def test_workflow_steps_train_log_and_compare(run, project: Path, monkeypatch, capsys):
    config = config_with("majority", "word_lr")
    steps.tracking_store(config, project, "results/mlflow/store.json")
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
    capsys.readouterr()

    # One changed hyperparameter: that model alone is trained and logged again.
    monkeypatch.setenv("STANCE_WORKFLOW_RUN", "g-10")
    models_step(config_with("majority", "word_lr", word_lr={"C": 0.5}))
    out = capsys.readouterr().err  # a workflow step logs (to its job's log and stderr)
    assert "majority: same config, labels and code as its cached result; not re-trained" in out
    assert "word_lr: f_avg" in out and "majority: f_avg" not in out
    assert f"majority: run {markers['majority']['run_id']} " in out  # reused, not logged again
    again = json.loads((project / "results/models/word_lr/mlflow_run.json").read_text())
    assert again["run_id"] != markers["word_lr"]["run_id"] and again["group"] == "g-10"
    summary = json.loads((project / "results/models/word_lr/metrics.json").read_text())
    assert summary["params"]["C"] == 0.5

    # Other training code: every model is trained again (and its identical result reused).
    models_step(config_with("majority"), code="c2")
    out = capsys.readouterr().err
    assert "majority: f_avg" in out and f"majority: run {markers['majority']['run_id']} " in out


def test_a_changed_data_set_is_trained_again_not_restored_from_the_cache(run, project: Path):
    config = config_with("majority")
    cache = {"cache_dir": "results/cache/m2", "threads": 1, "code": "c1"}
    steps.train_models("results/labeled_dataset", config, models_dir="results/m2", **cache)
    first = json.loads((project / "results/m2/majority/metrics.json").read_text())
    make_dataset(4, 11).save_to_disk(str(project / "results/other_dataset"))
    steps.train_models("results/other_dataset", config, models_dir="results/m2", **cache)
    second = json.loads((project / "results/m2/majority/metrics.json").read_text())
    assert first["data"]["sha256"] != second["data"]["sha256"]
    assert second["data"]["n_sentences"] == 44 and first["data"]["n_sentences"] == 40


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
        steps.train_models("nowhere", config_with("majority"), models_dir="x", cache_dir="y",
                           threads=1, code="c1")  # fmt: skip


def test_edge_cases_reach_the_cli_as_messages(project: Path, run):
    one_article = from_dataset(make_dataset(1, 9), "x").dataset
    one_article.save_to_disk(str(project / "results/one_article"))
    with pytest.raises(StanceError, match="at least 2 articles"):
        steps.train_models("results/one_article", config_with("word_lr"), models_dir="x",
                           cache_dir="y", threads=1, code="c1")  # fmt: skip
