"""Shared fixtures: the project root, its config, temporary copies of the project."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT, copy_project

from stance.environment import configure
from stance.logs import log_to_stderr

# The package's own environment (offline, no telemetry) and its messages on stderr, as every
# command and job sets them.
configure()
log_to_stderr()


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


# Modules whose tests share an expensive module-scoped fixture (a project built by snakemake,
# a logged encoder model): with the suite spread over workers (pytest-xdist, --dist loadgroup),
# each of these runs on one worker, so its fixture is built once.
SHARED_FIXTURE_MODULES = {
    "test_workflow_train.py",
    "test_workflow.py",
    "test_embeddings.py",
    "test_cli_train.py",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SHARED_FIXTURE_MODULES:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
