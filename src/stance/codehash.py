"""Digests of the package's own code: results are remade when the code that made them changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def code_digest(*parts: str) -> str:
    """SHA-256 (16 hex digits) of the Python files of the named subpackages (``"training"``) and
    modules (``"tracking/runs.py"``) and the YAML data files beside them (speakers/cues.yaml)."""
    h = hashlib.sha256()
    for name in parts:
        target = PACKAGE_DIR / name
        if target.is_dir():
            files = sorted([*target.rglob("*.py"), *target.rglob("*.yaml")])
        elif target.is_file() and target.suffix == ".py":
            files = [target, *sorted(target.parent.glob("*.yaml"))]
        else:
            raise ValueError(f"no subpackage or module {name!r} in {PACKAGE_DIR}")
        for path in files:
            h.update(path.relative_to(PACKAGE_DIR).as_posix().encode("utf-8") + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()[:16]
