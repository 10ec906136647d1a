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


def _git_dir(root: Path) -> Path | None:
    for base in (root, *root.parents):
        dot = base / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():  # a worktree: "gitdir: <path>"
            text = dot.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                return (base / text.split(":", 1)[1].strip()).resolve()
    return None


def git_commit(root: Path | str) -> str:
    """The commit checked out in root's repository, read from .git (no git process), or ''."""
    gdir = _git_dir(Path(root).resolve())
    if gdir is None:
        return ""
    try:
        head = (gdir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        common = gdir
        if (gdir / "commondir").is_file():
            common = (gdir / (gdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for base in (gdir, common):
            if (base / ref).is_file():
                return (base / ref).read_text(encoding="utf-8").strip()
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    except OSError:
        return ""
    return ""


def git_dirty(root: Path | str) -> str:
    """'true' when tracked files differ from the commit, 'false', or '' when unknown.

    Runs a read-only ``git status`` that takes no lock on the repository.
    """
    import subprocess

    root = Path(root)
    if _git_dir(root.resolve()) is None:
        return ""
    try:
        proc = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if proc.returncode != 0:
        return ""
    return "true" if proc.stdout.strip() else "false"


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
