"""A real `mlflow server` on 127.0.0.1: training logs to it over HTTP, `stance runs` reads it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 240  # seconds: a new server builds its SQLite schema first


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"mlflow server did not answer in {START_TIMEOUT} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    port = free_port()
    log = tmp / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp / 'server.db'}",
             "--artifacts-destination", str(tmp / "artifacts")],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
        )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/health", proc, log)
        yield {"uri": f"http://127.0.0.1:{port}", "tmp": tmp}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            # A throwaway server: its graceful shutdown (seconds) is not what is tested.
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def stance(*args: str, uri: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}
    return subprocess.run(
        [sys.executable, "-m", "stance", *args, "--config", str(ROOT / "config" / "config.yaml")],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_training_logs_to_the_server_and_runs_lists_them(server, tmp_path: Path):
    table = tmp_path / "labeled.csv"
    rows = ["text,stance,group"]
    for g in range(3):
        rows += [
            f"Article {g}: the Taliban demanded that foreign troops leave.,favor,a{g}",
            f"Article {g}: NATO warned that leaving would risk the gains.,against,a{g}",
            f"Article {g}: talks resumed in Doha on Monday.,none,a{g}",
            f"Article {g}: officials met again in Kabul.,none,a{g}",
        ]
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    trained = stance(
        "train",
        str(table),
        "--model",
        "majority",
        "--model",
        "word_lr",
        "--out",
        str(tmp_path / "out"),
        uri=server["uri"],
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    listed = stance("runs", "--tsv", uri=server["uri"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    models = {line.split("\t")[1] for line in lines[1:]}
    assert models == {"majority", "word_lr"}
    # Artifacts went through the server into its artifact store, not into the client's folder.
    assert any((server["tmp"] / "artifacts").rglob("MLmodel"))
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()


def test_a_server_that_is_down_gives_a_clear_error(tmp_path: Path):
    uri = f"http://127.0.0.1:{free_port()}"
    listed = stance("runs", uri=uri, cwd=tmp_path)
    assert listed.returncode == 2
    assert uri in listed.stderr and "Traceback" not in listed.stderr
