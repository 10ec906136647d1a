"""Shared fixtures: the project root, its config, temporary copies of the project."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT, copy_project

from stance.environment import configure

# The package's own environment (offline, no telemetry), as every command and job sets it.
configure()


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def config() -> dict:
    from stance.config import load_config

    return load_config(ROOT / "config" / "config.yaml")


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")
