"""Digests of the package's own code: results are remade when the code that made them changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def code_digest(*subpackages: str) -> str:
    """SHA-256 (16 hex digits) of every Python file of the named subpackages, in path order."""
    h = hashlib.sha256()
    for name in subpackages:
        folder = PACKAGE_DIR / name
        if not folder.is_dir():
            raise ValueError(f"no subpackage {name!r} in {PACKAGE_DIR}")
        for path in sorted(folder.rglob("*.py")):
            h.update(path.relative_to(PACKAGE_DIR).as_posix().encode("utf-8") + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()[:16]
