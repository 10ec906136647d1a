"""Provenance of a run: git commit and state, config hash, workflow-run IDs."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def git_state(root: Path | str) -> tuple[str, str]:
    """(commit checked out in root's repository, 'true'/'false': tracked files differ from it);
    both '' outside a repository. GIT_OPTIONAL_LOCKS=0 (stance.environment) keeps the user's
    own git commands unblocked."""
    try:
        import git

        repo = git.Repo(Path(root), search_parent_directories=True)
        commit = repo.head.commit.hexsha
        dirty = repo.is_dirty(index=True, working_tree=True, untracked_files=False)
    except Exception:  # not a repository, no commit yet, no git executable, unreadable .git
        return "", ""
    return commit, "true" if dirty else "false"


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the configuration (canonical JSON), first 16 hex digits."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def new_group_id() -> str:
    """An ID for the runs logged by one command or workflow run: UTC time plus a random part."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def safe_group(text: str) -> str:
    """A group ID usable inside an MLflow filter string."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "-", text)[:100]
