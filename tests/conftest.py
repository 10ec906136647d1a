"""Shared fixtures: the project root, its config, and temporary copies of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a copy of the project needs to run the workflow; generated outputs are left behind.
PROJECT_ITEMS = ["Snakefile", "workflow", "config", "profiles", "seeds", "labels"]

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def config() -> dict:
    from stance.config import load_config

    return load_config(ROOT / "config" / "config.yaml")


def copy_project(dest: Path, items: list[str] = PROJECT_ITEMS) -> Path:
    """Copy the project's workflow files to dest, without results or caches."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in items:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / item)
    return dest


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def run_snakemake(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real snakemake of this environment in a project folder."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)  # the copy uses its own store
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc
