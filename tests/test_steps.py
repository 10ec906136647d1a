"""The Snakemake adapter of the workflow steps: job logs and errors, without Snakemake."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from stance.cli.steps import run_job


def models_job(tmp_path: Path, data: Path) -> SimpleNamespace:
    return SimpleNamespace(
        rule="models",
        input=SimpleNamespace(data=str(data), agreement=None),
        output=SimpleNamespace(
            comparison=str(tmp_path / "comparison.tsv"), figure=str(tmp_path / "comparison.png")
        ),
        params=SimpleNamespace(models_dir=str(tmp_path), cache_dir=str(tmp_path), code="c"),
        threads=1,
        log=[str(tmp_path / "logs" / "models.log")],
        config={"models": [{"name": "majority", "kind": "majority"}]},
    )


def test_a_user_mistake_is_one_line_in_the_log_and_no_traceback(tmp_path: Path, capsys):
    job = models_job(tmp_path, tmp_path / "missing_dataset")
    with pytest.raises(SystemExit) as exit_info:
        run_job(job)
    assert exit_info.value.code == 1
    log = (tmp_path / "logs" / "models.log").read_text(encoding="utf-8")
    assert log.startswith("error: ") and "missing_dataset" in log
    assert "Traceback" not in log and "Traceback" not in capsys.readouterr().err


def test_a_crash_leaves_its_traceback_in_the_log(tmp_path: Path, capsys):
    # A config without its mlflow section never reaches a step (the schema fills it in): a
    # crash, not a user mistake.
    job = SimpleNamespace(
        rule="tracking_store",
        output=[str(tmp_path / "store.json")],
        log=[str(tmp_path / "logs" / "store.log")],
        config={},
    )
    with pytest.raises(SystemExit) as exit_info:
        run_job(job)
    assert exit_info.value.code == 1
    log = (tmp_path / "logs" / "store.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and "KeyError" in log
    assert "KeyError" in capsys.readouterr().err  # and on the terminal


def test_an_unknown_rule_is_named():
    with pytest.raises(SystemExit, match="no step for rule 'nope'"):
        run_job(SimpleNamespace(rule="nope", log=[]))


def test_the_completed_configuration_is_remembered_and_a_changed_one_checked_again(
    tmp_path: Path, monkeypatch
):
    import shutil

    import yaml

    from stance.cli.checks import check_workflow
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
