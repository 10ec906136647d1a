"""Reliability: what happens when a process is killed, files go missing or the store breaks."""

from __future__ import annotations

import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import ROOT, copy_project, make_dataset, run_snakemake

from stance.errors import StanceError

# --------------------------------------------------------------------------------------------
# Tracking: runs left RUNNING by a killed process, missing or broken model files, a damaged
# store, bad model entries in the config.
# --------------------------------------------------------------------------------------------

EXPERIMENT = "reliability"

# The child process that stands for a workflow job killed with `kill -9` while logging:
# it logs a model through the project's code and stops when the model itself is about to be
# logged (params, metrics, data set and artifacts are in), so the parent can SIGKILL it there.
CRASHING_LOGGER = """
import sys, time
from pathlib import Path
import stance.tracking.runs as runs
from stance.training.artifacts import ARTIFACT_FILES, load_final_model, read_summary
from stance.training.data import load_training_data

uri, experiment, folder, data, signal_file = sys.argv[1:6]
folder = Path(folder)

def stall(*args, **kwargs):
    Path(signal_file).write_text("logged all but the run's end")
    time.sleep(600)

# Killed at the last step: params, model and metrics are in the store, the run is RUNNING.
runs._finish = stall
summary = read_summary(folder)
summary["metrics"]["f_avg"] = 0.999  # the best score, were it ever chosen
runs.log_evaluation_run(
    uri, experiment, summary, load_final_model(folder),
    [folder / name for name in ARTIFACT_FILES], load_training_data(data), root=folder,
)
"""


def _client(uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=uri)


@pytest.fixture(scope="module")
def store(tmp_path_factory, config):
    """A store with one finished run of model 'word' and the files it was logged from."""
    from stance.tracking.runs import log_evaluation_run
    from stance.training.artifacts import ARTIFACT_FILES, write_evaluation
    from stance.training.data import from_dataset
    from stance.training.evaluate import evaluate
    from stance.training.models import spec_from_entry
    from stance.training.settings import EvalSettings

    tmp = tmp_path_factory.mktemp("reliability")
    folder = tmp / "store"
    folder.mkdir()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    dataset = tmp / "labeled_dataset"
    make_dataset(4, 10).save_to_disk(str(dataset))
    data = from_dataset(make_dataset(4, 10), str(dataset))
    settings = replace(EvalSettings.from_config(config), n_bootstrap=100)
    ev = evaluate(data, spec_from_entry({"name": "word", "kind": "tfidf_word"}), settings)
    write_evaluation(ev, tmp / "word")
    info = log_evaluation_run(
        uri, EXPERIMENT, ev.summary, ev.final_model,
        [tmp / "word" / f for f in ARTIFACT_FILES], data, root=tmp,
    )  # fmt: skip
    return {"uri": uri, "tmp": tmp, "folder": folder, "dataset": dataset, "data": data,
            "run_id": info["run_id"], "experiment_id": info["experiment_id"]}  # fmt: skip


@pytest.fixture
def project(store, tmp_path: Path, monkeypatch) -> Path:
    """A project folder whose config names the test experiment; the store comes from the env."""
    (tmp_path / "config").mkdir()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["mlflow"] = {"tracking_uri": None, "experiment": EXPERIMENT}
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copytree(ROOT / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    return tmp_path


def kill_while_logging(store) -> str:
    """Start logging model 'word' again in a child process and SIGKILL it mid-log; the run ID."""
    signal_file = store["tmp"] / "child-is-logging"
    signal_file.unlink(missing_ok=True)
    experiments = [store["experiment_id"]]
    before = {r.info.run_id for r in _client(store["uri"]).search_runs(experiments)}
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_LOGGER, store["uri"], EXPERIMENT,
         str(store["tmp"] / "word"), str(store["dataset"]), str(signal_file)],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not signal_file.exists():
            assert child.poll() is None, "the logging child ended before it was killed"
            assert time.monotonic() < deadline, "the logging child never reached the model"
            time.sleep(0.2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    after = _client(store["uri"]).search_runs(experiments, filter_string="tags.model = 'word'")
    (crashed,) = [r for r in after if r.info.run_id not in before]
    return crashed.info.run_id


def test_run_left_running_by_kill_9_is_skipped_and_marked_failed_by_the_workflow(
    store, project: Path, capsys
):
    from stance.annotate.session import logged_model_probabilities
    from stance.cli.main import main
    from stance.config import load_config
    from stance.tracking.queries import select_run
    from stance.tracking.workflow import open_store

    uri = store["uri"]
    crashed = kill_while_logging(store)
    run = _client(uri).get_run(crashed)
    assert run.info.status == "RUNNING" and run.data.metrics["f_avg"] == 0.999  # half-logged

    # Selection and the commands see finished runs only.
    assert select_run(uri, EXPERIMENT)["run_id"] == store["run_id"]
    assert select_run(uri, EXPERIMENT, model="word")["run_id"] == store["run_id"]
    with pytest.raises(StanceError, match=f"run {crashed} .* is RUNNING: its logging did not"):
        select_run(uri, EXPERIMENT, run_id=crashed)
    capsys.readouterr()
    assert main(["predict", "--text", "Bring the soldiers home."]) == 0
    out, err = capsys.readouterr()
    assert f"(run {store['run_id']})" in err and len(pd.read_csv(pd.io.common.StringIO(out))) == 1
    assert main(["runs", "--tsv"]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), sep="\t")
    assert list(table["run_id"]) == [store["run_id"]] and list(table["status"]) == ["FINISHED"]
    assert main(["runs", "--all", "--tsv"]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), sep="\t")
    assert dict(zip(table["run_id"], table["status"], strict=True)) == {
        crashed: "RUNNING", store["run_id"]: "FINISHED"}  # fmt: skip
    probabilities = logged_model_probabilities(uri, EXPERIMENT)(
        pd.DataFrame({"sentence_id": ["s1"], "text": ["Bring the soldiers home."]})
    )
    assert probabilities is not None and len(probabilities) == 1
    assert f"run {store['run_id']}" in capsys.readouterr().err

    # The next workflow run (its tracking_store step) marks the abandoned run FAILED.
    open_store(load_config("config/config.yaml"), project, "store.json")
    out = capsys.readouterr().err  # a workflow step logs (to its job's log and stderr)
    assert f"run {crashed} (word)" in out and "marked FAILED" in out
    run = _client(uri).get_run(crashed)
    assert run.info.status == "FAILED"
    assert "never finished" in run.data.tags["mlflow.note.content"]
    assert "never finished" in run.data.tags["stance.abandoned"]
    assert _client(uri).get_run(store["run_id"]).info.status == "FINISHED"
    assert main(["runs", "--all", "--tsv"]) == 0
    assert "\tFAILED\t" in capsys.readouterr().out


def test_a_logging_error_marks_the_run_failed(store):
    from stance.tracking.runs import log_evaluation_run
    from stance.training.artifacts import load_final_model, read_summary

    folder = store["tmp"] / "word"
    with pytest.raises(StanceError, match="logging model 'word' failed"):
        log_evaluation_run(
            store["uri"], EXPERIMENT, read_summary(folder), load_final_model(folder),
            [folder / "no-such-file.txt"], store["data"], root=store["tmp"], group="broken",
        )  # fmt: skip
    (run,) = _client(store["uri"]).search_runs(
        [store["experiment_id"]],
        filter_string="tags.`stance.workflow_run` = 'broken' and tags.model = 'word'",
    )
    assert run.info.status == "FAILED"


def _model_folder(store, run_id: str) -> Path:
    """The folder of the model logged in run_id (MLflow 3 keeps it under models/<model id>)."""
    (output,) = _client(store["uri"]).get_run(run_id).outputs.model_outputs
    folder = store["folder"] / "mlartifacts" / "models" / output.model_id / "artifacts"
    assert (folder / "MLmodel").is_file()
    return folder


def _delete_model_folder(folder: Path) -> None:
    shutil.rmtree(folder)


def _delete_mlmodel(folder: Path) -> None:
    (folder / "MLmodel").unlink()


def _truncate_model_file(folder: Path) -> None:
    path = folder / "model.skops"
    path.write_bytes(path.read_bytes()[:200])


def _garble_mlmodel(folder: Path) -> None:
    (folder / "MLmodel").write_text("flavors: [unclosed\n")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_delete_model_folder, "its model files are missing: no MLmodel in .*models/m-"),
        (_delete_mlmodel, "its model files are missing: no MLmodel in"),
        (_truncate_model_file, r"its model file .*model\.skops is unreadable \(BadZipFile"),
        (_garble_mlmodel, "MLmodel is unreadable"),
    ],
    ids=["model-folder-deleted", "MLmodel-deleted", "model-file-truncated", "MLmodel-garbled"],
)
def test_missing_or_broken_model_files_give_a_message_naming_the_run(store, damage, expected):
    from stance.tracking.model_io import load_logged_model

    uri, run_id = store["uri"], store["run_id"]
    folder = _model_folder(store, run_id)
    backup = store["tmp"] / "model-backup"
    shutil.rmtree(backup, ignore_errors=True)
    shutil.copytree(folder, backup)
    try:
        damage(folder)
        with pytest.raises(StanceError) as caught:
            load_logged_model(uri, run_id)
        message = str(caught.value)
        assert message.startswith(f"run {run_id} (model 'word'): ")
        assert re.search(expected, message), message
        assert "snakemake --forcerun models" in message and "--run-id" in message
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(backup, folder)
    assert load_logged_model(uri, run_id) is not None


def test_moved_store_gives_a_message_about_its_old_artifact_paths(store):
    from stance.tracking.model_io import load_logged_model
    from stance.tracking.store import init_store

    old = store["folder"]
    new = old.parent / "moved" / "store"
    new.parent.mkdir(exist_ok=True)
    old.rename(new)
    try:
        moved_uri = f"sqlite:///{new / 'mlflow.db'}"
        with pytest.raises(StanceError) as caught:
            load_logged_model(moved_uri, store["run_id"])
        message = str(caught.value)
        assert message.startswith(f"run {store['run_id']} (model 'word'): its model files")
        assert f"recorded under {old / 'mlartifacts'}" in message and "was moved" in message
        assert f"`ln -s {new} {old}`" in message and f"mv {new / 'mlflow.db'}" in message
        # Logging into the moved store would write to the old place: refused, same advice.
        with pytest.raises(StanceError, match="was moved"):
            init_store(moved_uri, EXPERIMENT)
    finally:
        new.rename(old)


def test_relogging_replaces_a_run_whose_model_files_are_gone(store):
    from stance.tracking.model_io import load_logged_model
    from stance.tracking.runs import log_evaluation_run
    from stance.training.artifacts import ARTIFACT_FILES, load_final_model, read_summary

    folder = store["tmp"] / "word"
    summary = {**read_summary(folder), "model": "word_relog"}  # a model of its own
    args = (store["uri"], EXPERIMENT, summary, load_final_model(folder),
            [folder / f for f in ARTIFACT_FILES], store["data"])  # fmt: skip
    first = log_evaluation_run(*args, root=store["tmp"], group="relog")
    assert log_evaluation_run(*args, root=store["tmp"], reuse_identical=True)["reused"]
    shutil.rmtree(_model_folder(store, first["run_id"]))
    again = log_evaluation_run(*args, root=store["tmp"], reuse_identical=True)
    assert not again["reused"] and again["run_id"] != first["run_id"]
    assert load_logged_model(store["uri"], again["run_id"]) is not None


def _not_a_database(path: Path) -> None:
    path.write_bytes(b"these are not the bytes of a database\n" * 200)


def _corrupt_pages(path: Path) -> None:
    """A real SQLite file whose pages after the first are overwritten (a torn copy, a bad disk)."""
    db = sqlite3.connect(path)
    db.execute("create table runs (id text, note text)")
    db.executemany("insert into runs values (?, ?)", [(str(i), "x" * 500) for i in range(200)])
    db.commit()
    db.close()
    data = bytearray(path.read_bytes())
    for page in range(4096, len(data), 4096):
        data[page : page + 100] = b"\xff" * 100
    path.write_bytes(bytes(data))


def _schema_from_another_mlflow(path: Path, template: Path) -> None:
    shutil.copy(template, path)
    db = sqlite3.connect(path)
    db.execute("update alembic_version set version_num = 'ffffffffffff'")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("not-a-database", "is not an SQLite database"),
        ("corrupt-pages", r"is damaged \(SQLite: database disk image is malformed\)"),
        ("unreadable-schema", r"cannot be read by MLflow \(Detected out-of-date database schema"),
    ],
)
def test_init_store_names_a_damaged_store_file_and_how_to_recover(store, tmp_path, damage, problem):
    from stance.tracking.store import init_store

    path = tmp_path / "mlflow.db"
    if damage == "not-a-database":
        _not_a_database(path)
    elif damage == "corrupt-pages":
        _corrupt_pages(path)
    else:
        _schema_from_another_mlflow(path, store["folder"] / "mlflow.db")
    with pytest.raises(StanceError) as caught:
        init_store(f"sqlite:///{path}", EXPERIMENT)
    message = str(caught.value)
    assert message.startswith(f"MLflow store {path} ")
    assert re.search(problem, message), message
    assert f"`mv {path} {path}.broken`" in message and "restore a backup" in message
    if damage == "unreadable-schema":
        assert "mlflow db upgrade" in message


def _small_project(tmp_path: Path) -> Path:
    project = copy_project(tmp_path / "project")
    config = yaml.safe_load((project / "config/config.yaml").read_text())
    config["models"] = [m for m in config["models"] if m["name"] in ("majority", "word_lr")]
    config["evaluation"]["n_bootstrap"] = 100
    (project / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def _trained(project: Path) -> list[Path]:
    return sorted(project.glob("results/models/*/metrics.json"))


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (_not_a_database, "is not an SQLite database"),
        (_corrupt_pages, "is damaged (SQLite: database disk image is malformed)"),
    ],
    ids=["not-a-database", "corrupt-pages"],
)
def test_damaged_store_stops_snakemake_before_any_job(tmp_path: Path, damage, problem):
    project = _small_project(tmp_path)
    damage(project / "mlflow.db")
    proc = run_snakemake(project, "--cores", "2", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    db = (project / "mlflow.db").resolve()
    assert f"error: MLflow store {db} {problem}" in out
    assert f"`mv {db} {db}.broken`" in out and "Traceback" not in out
    assert not (project / "results").exists()


@pytest.mark.e2e
def test_store_mlflow_cannot_read_stops_the_workflow_before_any_model_is_trained(store, tmp_path):
    from test_workflow_train import write_synthetic_labels

    project = _small_project(tmp_path)
    run_snakemake(project, "results/sentences.parquet", "--cores", "2")
    write_synthetic_labels(project)
    run_snakemake(project, "results/labeled_dataset", "--cores", "2")
    _schema_from_another_mlflow(project / "mlflow.db", store["folder"] / "mlflow.db")
    proc = run_snakemake(project, "--cores", "2", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    db = (project / "mlflow.db").resolve()
    assert f"error: MLflow store {db} cannot be read by MLflow (Detected out-of-date" in out
    assert f"`mv {db} {db}.broken`" in out and "Traceback" not in out
    assert _trained(project) == [], "a model was trained although the store cannot be read"


BAD_MODELS = {
    "unknown-kind": ({"name": "mystery", "kind": "tfidf_wrod"}, "unknown kind 'tfidf_wrod'"),
    "misspelt-hyperparameter": (
        {"name": "word_typo", "kind": "tfidf_word", "params": {"Cc": 10.0}},
        "unknown hyperparameter(s) Cc",
    ),
    "bad-value": (
        {"name": "word_bad_value", "kind": "tfidf_word", "params": {"class_weight": "balancd"}},
        "The 'class_weight' parameter of LogisticRegression",
    ),
}


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("bad", "how"),
    [
        ("unknown-kind", "config-file"),
        ("misspelt-hyperparameter", "config-file-dry-run"),
        ("misspelt-hyperparameter", "--configfile"),
        ("unknown-kind", "--config"),
        ("bad-value", "config-file"),
    ],
)
def test_bad_model_entry_stops_snakemake_when_the_workflow_is_read(tmp_path: Path, bad, how):
    entry, expected = BAD_MODELS[bad]
    project = _small_project(tmp_path)
    config = yaml.safe_load((project / "config/config.yaml").read_text())
    args = ["--cores", "2"]
    if how.startswith("config-file"):
        config["models"].append(entry)
        (project / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        if how.endswith("dry-run"):
            args = ["-n"]
    elif how == "--configfile":
        (project / "extra.yaml").write_text(yaml.safe_dump({"models": [entry]}))
        args += ["--configfile", "extra.yaml"]
    else:
        args += ["--config", f"models=[{entry!r}]".replace("'", '"')]
    proc = run_snakemake(project, *args, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "error: config models[" in out and f"{entry['name']!r}" in out and expected in out
    assert "Traceback" not in out and "Building DAG" not in out
    assert not (project / "results").exists() and not (project / "mlflow.db").exists()
