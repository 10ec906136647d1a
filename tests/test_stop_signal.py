"""Ctrl-C and SIGTERM stop snakemake while a long job runs in its process, leaving no output of
that job behind (benchmarks/stop_signal.py measures how fast on a large corpus)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from stop_signal import JOB_LOG, project_with_corpus, stop_during_attribution

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_attribution_job_and_leaves_no_output(tmp_path: Path, signum: int):
    # 2,000 synthetic articles in one shard: the speaker rules need several seconds for them,
    # the signal comes half a second after the job started.
    project = tmp_path / "project"
    project_with_corpus(project, 2000)
    result = stop_during_attribution(project, signum, wait=300, delay=0.5)
    assert result["returncode"] != 0, result["log_tail"]
    assert result["stopped_after_s"] < 60, result
    assert result["outputs_left"] == [], result
    log = (project / JOB_LOG).read_text(encoding="utf-8")
    assert "stopped on request" in log
    assert "Traceback" not in log
