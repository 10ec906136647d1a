"""The Snakemake adapter of the workflow steps: job logs and errors, without Snakemake."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from stance.cli.jobs import StepFailed, run_job


def models_job(tmp_path: Path, data: Path) -> SimpleNamespace:
    return SimpleNamespace(
        rule="train_model",
        input=SimpleNamespace(data=str(data)),
        output=SimpleNamespace(confusion=str(tmp_path / "majority" / "confusion_matrix.png")),
        params=SimpleNamespace(code="c"),
        wildcards=SimpleNamespace(model="majority"),
        threads=1,
        log=[str(tmp_path / "logs" / "models.log")],
        config={"models": [{"name": "majority", "kind": "majority"}]},
    )


def test_a_user_mistake_is_one_line_in_the_log_and_no_traceback(tmp_path: Path, capsys):
    job = models_job(tmp_path, tmp_path / "missing_dataset")
    with pytest.raises(StepFailed) as failed:
        run_job(job)
    log = (tmp_path / "logs" / "models.log").read_text(encoding="utf-8")
    assert log.startswith("error: ") and "missing_dataset" in log
    err = capsys.readouterr().err
    assert "Traceback" not in log and "Traceback" not in err
    # Printed once: Snakemake prints the StepFailed message too, so it only points at the error.
    assert err.count("missing_dataset") == 1
    assert "missing_dataset" not in str(failed.value)
    assert str(failed.value) == (
        f"rule train_model stopped on bad input: the error is printed above and in {job.log[0]}"
    )


def test_a_crash_leaves_its_traceback_in_the_log(tmp_path: Path, capsys):
    # A config without its mlflow section never reaches a step (the schema fills it in): a
    # crash, not a user mistake.
    job = SimpleNamespace(
        rule="tracking_store",
        output=[str(tmp_path / "store.json")],
        log=[str(tmp_path / "logs" / "store.log")],
        config={},
    )
    with pytest.raises(StepFailed, match=r"KeyError.*logs/store\.log"):
        run_job(job)
    log = (tmp_path / "logs" / "store.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and "KeyError" in log
    assert "KeyError" in capsys.readouterr().err  # and on the terminal


def test_an_unknown_rule_is_named():
    with pytest.raises(StepFailed, match="no step for rule 'nope'"):
        run_job(SimpleNamespace(rule="nope", log=[]))


def test_the_completed_configuration_is_remembered_and_a_changed_one_checked_again(
    tmp_path: Path, monkeypatch
):
    import shutil

    import yaml

    from stance.cli.jobs import check_workflow
    from stance.errors import StanceError

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "workflow/schemas", tmp_path / "workflow/schemas")
    raw = yaml.safe_load((root / "config/config.yaml").read_text(encoding="utf-8"))
    raw["models"] = [{"name": "majority", "kind": "majority"}]
    del raw["evaluation"]["n_jobs"]  # a default the schema fills in

    text = yaml.safe_dump(raw)
    first = yaml.safe_load(text)
    check_workflow(first, tmp_path)
    remembered = list((tmp_path / ".snakemake/stance").glob("config-*.json"))
    assert len(remembered) == 1 and "n_jobs" in first["evaluation"]

    # Same configuration: completed from what was remembered, without validating again.
    monkeypatch.setattr("stance.config.validate_config", lambda *a, **k: 1 / 0)
    again = yaml.safe_load(text)
    check_workflow(again, tmp_path)
    assert again == first
    monkeypatch.undo()

    # A changed (bad) value is validated, whatever was remembered before.
    bad = yaml.safe_load(text)
    bad["seed"] = "seven"
    with pytest.raises(StanceError, match="seed"):
        check_workflow(bad, tmp_path)


def test_f_avg_classes_outside_the_label_schema_stop_the_workflow_before_any_job(tmp_path: Path):
    import shutil

    import yaml

    from stance.cli.jobs import check_workflow
    from stance.errors import StanceError

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "workflow/schemas", tmp_path / "workflow/schemas")
    shutil.copytree(root / "labels", tmp_path / "labels", ignore=shutil.ignore_patterns("*.csv"))
    raw = yaml.safe_load((root / "config/config.yaml").read_text(encoding="utf-8"))
    raw["models"] = [{"name": "majority", "kind": "majority"}]
    check_workflow(yaml.safe_load(yaml.safe_dump(raw)), tmp_path)  # the project's own: fine
    # A new topic's schema with other stance values, the config left as it was.
    schema = tmp_path / "labels/schema.yaml"
    text = schema.read_text(encoding="utf-8")
    schema.write_text(text.replace("name: favor", "name: pro"), encoding="utf-8")
    with pytest.raises(StanceError, match=r"f_avg_classes lists favor, not a stance value of"):
        check_workflow(yaml.safe_load(yaml.safe_dump(raw)), tmp_path)


def test_run_step_hands_the_names_of_a_run_block_to_the_step(tmp_path: Path):
    from stance.cli.jobs import run_step

    shard = tmp_path / "a.txt"
    shard.write_text("The envoy met Taliban officials. Talks resume next week.\n", encoding="utf-8")
    from stance.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml")
    output = SimpleNamespace(
        sentences=str(tmp_path / "s.parquet"), chrome=str(tmp_path / "c.tsv"),
        articles=str(tmp_path / "a.tsv"),
    )  # fmt: skip
    params = SimpleNamespace(cache=str(tmp_path / "cache.json"))
    log = [str(tmp_path / "split.log")]
    wildcards = SimpleNamespace(shard="3")
    run_step("split_shard", [str(shard)], output, params, wildcards, 1, log, config)
    import pandas as pd

    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 2
    assert "shard-3" in (tmp_path / "split.log").read_text(encoding="utf-8")
