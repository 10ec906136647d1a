"""MLflow tracking against a real SQLite store in a temporary folder (no mocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import make_dataset

from stance.errors import StanceError
from stance.tracking.model_io import load_logged_model
from stance.tracking.queries import runs_table, search_model_runs, select_run
from stance.tracking.runs import config_hash, git_state, log_evaluation_run
from stance.tracking.store import init_store, project_root, resolve_tracking_uri, retry_locked
from stance.training.artifacts import ARTIFACT_FILES, write_evaluation
from stance.training.data import from_dataset
from stance.training.evaluate import evaluate
from stance.training.models import spec_from_entry
from stance.training.settings import EvalSettings

MODELS = [
    {"name": "majority", "kind": "majority"},
    {"name": "svm", "kind": "tfidf_word_char", "params": {"classifier": "linear_svm", "C": 0.5}},
]


@pytest.fixture(scope="module")
def logged(tmp_path_factory, config):
    """Two models evaluated on synthetic labels and logged as one group to a new store."""
    tmp = tmp_path_factory.mktemp("tracking")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    data = from_dataset(make_dataset(4, 10), str(tmp / "labeled_dataset"))
    settings = replace(EvalSettings.from_config(config), n_bootstrap=200)
    experiment_id = init_store(uri, "test-experiment")
    assert init_store(uri, "test-experiment") == experiment_id  # idempotent
    infos, evs = {}, {}
    for entry in MODELS:
        ev = evaluate(data, spec_from_entry(entry), settings)
        write_evaluation(ev, tmp / entry["name"])
        infos[entry["name"]] = log_evaluation_run(
            uri, "test-experiment", ev.summary, ev.final_model,
            [tmp / entry["name"] / f for f in ARTIFACT_FILES], data,
            config=config, root=tmp, group="group-1",
        )  # fmt: skip
        evs[entry["name"]] = ev
    return {"uri": uri, "tmp": tmp, "infos": infos, "evs": evs, "data": data,
            "experiment_id": experiment_id}  # fmt: skip


def client(uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=uri)


def test_runs_hold_params_metrics_tags_and_dataset(logged):
    c = client(logged["uri"])
    for name, info in logged["infos"].items():
        run = c.get_run(info["run_id"])
        ev = logged["evs"][name]
        params = run.data.params
        assert params["model"] == name
        assert params["kind"] == ev.summary["kind"]
        assert params["cv_scheme"] == "leave_one_group_out" and params["cv_folds"] == "4"
        assert params["seed"] == str(ev.summary["settings"]["seed"])
        # The evaluation's bounds, as configured (the config's values or null).
        for bound in ("learning_curve_max_train", "stratified_max_sentences"):
            assert params[bound] == json.dumps(ev.summary["settings"][bound])
        assert params["features"] == "text"
        assert params["classes"] == ",".join(logged["data"].classes)
        for key, value in ev.summary["params"].items():
            assert params[f"hp.{key}"] == (value if isinstance(value, str) else json.dumps(value))
        assert run.data.metrics == pytest.approx(ev.metrics)
        # The logged model carries the same metrics, each logged once (linked to the model).
        (output,) = run.outputs.model_outputs
        on_model = {m.key: m.value for m in c.get_logged_model(output.model_id).metrics}
        assert on_model == pytest.approx(ev.metrics)
        history = c.get_metric_history(info["run_id"], "f_avg")
        assert len(history) == 1
        tags = run.data.tags
        assert tags["stance.role"] == "model" and tags["stance.workflow_run"] == "group-1"
        assert tags["mlflow.parentRunId"] == info["parent_run_id"]
        assert len(tags["config_hash"]) == 16
        assert tags["labels_sha256"] == logged["data"].digest()
        assert tags["git_commit"] == "" and tags["git_dirty"] == ""  # tmp is not a repository
        (inp,) = run.inputs.dataset_inputs
        assert inp.dataset.digest == tags["dataset_digest"]
        assert inp.dataset.source_type and inp.dataset.name == "labeled_sentences"
        assert {t.key: t.value for t in inp.tags}["mlflow.data.context"] == "training"
    metric_names = [set(c.get_run(i["run_id"]).data.metrics) for i in logged["infos"].values()]
    assert metric_names[0] == metric_names[1]


def test_runs_of_one_group_share_one_parent(logged):
    parents = {info["parent_run_id"] for info in logged["infos"].values()}
    assert len(parents) == 1
    parent = client(logged["uri"]).get_run(parents.pop())
    assert parent.data.tags["stance.role"] == "group"
    assert parent.info.status == "FINISHED"


def test_artifacts_and_model_are_logged(logged):
    c = client(logged["uri"])
    run_id = logged["infos"]["svm"]["run_id"]
    names = {a.path for a in c.list_artifacts(run_id)}
    assert set(ARTIFACT_FILES) <= names
    model = load_logged_model(logged["uri"], run_id)
    x = logged["data"].frame[["text"]]
    expected = logged["evs"]["svm"].final_model
    assert list(model.predict(x)) == list(expected.predict(x))
    np.testing.assert_allclose(model.predict_proba(x), expected.predict_proba(x))


def test_logged_model_has_signature_example_and_pinned_requirements(logged):
    import mlflow
    import yaml

    mlflow.set_tracking_uri(logged["uri"])
    run_id = logged["infos"]["majority"]["run_id"]
    local = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=f"runs:/{run_id}/model", dst_path=str(logged["tmp"] / "dl")))  # fmt: skip
    meta = yaml.safe_load((local / "MLmodel").read_text())
    assert "signature" in meta and "text" in meta["signature"]["inputs"]
    assert meta["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert meta["metadata"]["classes"] == logged["data"].classes
    reqs = (local / "requirements.txt").read_text()
    assert "scikit-learn==" in reqs and "skops==" in reqs
    assert any(p.name.startswith("input_example") for p in local.iterdir())


def test_runs_table_and_selection(logged):
    uri = logged["uri"]
    table = runs_table(uri, "test-experiment")
    assert list(table["model"]) == ["svm", "majority"]  # newest first, parent runs left out
    assert table["f_avg [95% CI]"].str.match(r"^\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$").all()
    assert (table["data"] == table["data"].iloc[0]).all() and table["data"].iloc[0]
    only = runs_table(uri, "test-experiment", model="majority")
    assert list(only["model"]) == ["majority"]
    good = runs_table(uri, "test-experiment", filter_string="metrics.f_avg > 0.5")
    assert list(good["model"]) == ["svm"]
    best = select_run(uri, "test-experiment")
    assert best["model"] == "svm" and best["classes"] == logged["data"].classes
    assert select_run(uri, "test-experiment", model="majority")["model"] == "majority"
    with pytest.raises(StanceError, match="no run 'nope'"):
        select_run(uri, "test-experiment", run_id="nope")
    with pytest.raises(StanceError, match="holds no model"):
        select_run(uri, "test-experiment",
                            run_id=logged["infos"]["svm"]["parent_run_id"])  # fmt: skip
    with pytest.raises(StanceError, match="no experiment 'other'"):
        runs_table(uri, "other")
    with pytest.raises(StanceError, match="cannot search runs with filter"):
        runs_table(uri, "test-experiment", filter_string="nonsense ~ 1")
    missing = logged["tmp"] / "none" / "mlflow.db"
    with pytest.raises(StanceError, match=r"no MLflow store at .* nothing has been logged"):
        runs_table(f"sqlite:///{missing}", "test-experiment")
    assert not missing.parent.exists()


def test_tracking_uri_precedence(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = {"mlflow": {"tracking_uri": None, "experiment": "e"}}
    assert resolve_tracking_uri(cfg, tmp_path) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg["mlflow"]["tracking_uri"] = "sqlite:////elsewhere/x.db"
    assert resolve_tracking_uri(cfg, tmp_path) == "sqlite:////elsewhere/x.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri(cfg, tmp_path) == "http://127.0.0.1:5000"
    assert project_root(tmp_path / "config" / "config.yaml") == tmp_path.resolve()


def test_telemetry_is_off_before_mlflow_is_imported():
    # A clean process whose environment asks for telemetry the way that does not work (=1):
    # importing the package changes nothing, the first mlflow import forces it off.
    code = (
        "import os, sys; import stance.tracking.runs, stance.tracking.queries, "
        "stance.labels.dataset, stance.training.data, stance.cli.main; "
        "assert 'mlflow' not in sys.modules and 'datasets' not in sys.modules; "
        "assert os.environ['DO_NOT_TRACK'] == '1'; "
        "assert 'MLFLOW_DISABLE_TELEMETRY' not in os.environ; "
        "from stance.tracking.store import import_mlflow; import_mlflow(); "
        "assert os.environ['MLFLOW_DISABLE_TELEMETRY'] == 'true'; "
        "assert os.environ['DO_NOT_TRACK'] == 'true'; print('ok')"
    )
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "HF_", "DO_NOT_TRACK"))}  # fmt: skip
    env["DO_NOT_TRACK"] = "1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "ok", out.stderr


def test_only_tracking_imports_mlflow():
    src = Path(__file__).resolve().parents[1] / "src" / "stance"
    importers = sorted(
        p.relative_to(src).parts[0]
        for p in src.rglob("*.py")
        if "import mlflow" in p.read_text(encoding="utf-8")
        or "from mlflow" in p.read_text(encoding="utf-8")
    )
    assert importers and set(importers) == {"tracking"}


def test_retry_waits_out_a_locked_database():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "done"

    assert retry_locked(flaky) == "done" and len(calls) == 3
    with pytest.raises(ValueError, match="other"):
        retry_locked(lambda: (_ for _ in ()).throw(ValueError("other")))


def test_git_state_names_the_commit_and_whether_tracked_files_changed(tmp_path: Path):
    import git

    repo = git.Repo.init(tmp_path)
    (tmp_path / "a.txt").write_text("one\n")
    repo.index.add(["a.txt"])
    author = git.Actor("t", "t@example.org")
    first = repo.index.commit("first", author=author, committer=author).hexsha
    (tmp_path / "sub").mkdir()
    assert git_state(tmp_path / "sub") == (first, "false")
    (tmp_path / "untracked.txt").write_text("x\n")  # untracked files do not count
    assert git_state(tmp_path) == (first, "false")
    (tmp_path / "a.txt").write_text("two\n")
    assert git_state(tmp_path) == (first, "true")
    repo.index.add(["a.txt"])
    second = repo.index.commit("second", author=author, committer=author).hexsha
    assert git_state(tmp_path) == (second, "false") and second != first
    assert git_state(tmp_path.parent / "not-a-repository") == ("", "")


def test_config_hash_changes_with_the_config():
    a = config_hash({"seed": 1, "models": [{"name": "x"}]})
    assert a == config_hash({"models": [{"name": "x"}], "seed": 1})
    assert a != config_hash({"seed": 2, "models": [{"name": "x"}]})


def test_agreement_of_the_label_version_is_logged_with_the_run(logged, config):
    agreement = logged["tmp"] / "agreement.json"
    report = {
        "status": "ok", "annotators": ["ann", "bob"], "doubly_labeled": 10,
        "measure": "cohen_kappa", "disagreements": 4,
        "fields": {"speaker": {"value": 32 / 37}, "stance": {"value": 6 / 11}},
    }  # fmt: skip
    agreement.write_text(json.dumps(report), encoding="utf-8")
    ev = logged["evs"]["majority"]
    info = log_evaluation_run(
        logged["uri"], "test-experiment", ev.summary, ev.final_model,
        [logged["tmp"] / "majority" / f for f in ARTIFACT_FILES], logged["data"],
        config=config, root=logged["tmp"], group="group-2", agreement=agreement,
    )  # fmt: skip
    run = client(logged["uri"]).get_run(info["run_id"])
    assert run.data.metrics["agreement_speaker"] == pytest.approx(32 / 37)
    assert run.data.metrics["agreement_stance"] == pytest.approx(6 / 11)
    assert run.data.metrics["agreement_doubly_labeled"] == 10
    assert run.data.metrics["agreement_disagreements"] == 4
    assert run.data.tags["agreement_measure"] == "cohen_kappa"
    assert run.data.tags["annotators"] == "ann,bob"
    names = {a.path for a in client(logged["uri"]).list_artifacts(info["run_id"])}
    assert "agreement.json" in names


def test_an_identical_result_is_not_logged_twice(logged, config):
    ev = logged["evs"]["majority"]

    def log(cfg):
        return log_evaluation_run(
            logged["uri"], "test-experiment", ev.summary, ev.final_model,
            [logged["tmp"] / "majority" / f for f in ARTIFACT_FILES], logged["data"],
            config=cfg, root=logged["tmp"], group="group-3", reuse_identical=True,
        )  # fmt: skip

    before = len(search_model_runs(logged["uri"], "test-experiment"))
    same = log(config)
    assert same["reused"] and same["run_id"] == logged["infos"]["majority"]["run_id"]
    assert len(search_model_runs(logged["uri"], "test-experiment")) == before
    # Another model's entry changed: the config hash differs, the result does not.
    other = {**config, "models": [*config["models"], {"name": "extra", "kind": "majority"}]}
    assert log(other)["run_id"] == same["run_id"]
    changed_result = {**ev.summary, "settings": {**ev.summary["settings"], "seed": 1}}
    changed = log_evaluation_run(
        logged["uri"], "test-experiment", changed_result, ev.final_model,
        [logged["tmp"] / "majority" / f for f in ARTIFACT_FILES], logged["data"],
        config=config, root=logged["tmp"], group="group-3", reuse_identical=True,
    )  # fmt: skip
    assert not changed["reused"] and changed["run_id"] != same["run_id"]
