"""The Snakemake adapter of the workflow steps: job logs and errors, without Snakemake."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from stance.cli.steps import run_job


def compare_job(tmp_path: Path, metrics: Path) -> SimpleNamespace:
    return SimpleNamespace(
        rule="compare_models",
        input=SimpleNamespace(metrics=[str(metrics)], runs=[]),
        output=[str(tmp_path / "comparison.tsv")],
        log=[str(tmp_path / "logs" / "compare.log")],
        config={},
    )


def test_a_user_mistake_is_one_line_in_the_log_and_no_traceback(tmp_path: Path, capsys):
    job = compare_job(tmp_path, tmp_path / "missing" / "metrics.json")
    with pytest.raises(SystemExit) as exit_info:
        run_job(job)
    assert exit_info.value.code == 1
    log = (tmp_path / "logs" / "compare.log").read_text(encoding="utf-8")
    assert log.startswith("error: ") and "metrics.json: not found" in log
    assert "Traceback" not in log and "Traceback" not in capsys.readouterr().err


def test_a_crash_leaves_its_traceback_in_the_log(tmp_path: Path, capsys):
    broken = tmp_path / "metrics.json"
    broken.write_text("{not json", encoding="utf-8")  # not a user file: a crash, not a mistake
    with pytest.raises(SystemExit) as exit_info:
        run_job(compare_job(tmp_path, broken))
    assert exit_info.value.code == 1
    log = (tmp_path / "logs" / "compare.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and "JSONDecodeError" in log
    assert "JSONDecodeError" in capsys.readouterr().err  # and on the terminal


def test_an_unknown_rule_is_named():
    with pytest.raises(SystemExit, match="no step for rule 'nope'"):
        run_job(SimpleNamespace(rule="nope", log=[]))
