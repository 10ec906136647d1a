"""The error type for user mistakes (a message, never a traceback), and user files read with it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class StanceError(Exception):
    """A problem with the user's input or configuration, with a message that says how to fix it."""


def read_bytes(path: Path | str) -> bytes:
    """The bytes of a file the user named; a missing or unreadable one is a StanceError."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise StanceError(f"{path}: file not found; check the path") from None
    except OSError as exc:
        raise StanceError(
            f"{path}: cannot be read ({exc.strerror}); check the path and your read permission"
        ) from None


def decode_utf8(data: bytes, source: Path | str, fix: str, bom: bool = False) -> str:
    """UTF-8 ``data`` (less a BOM with ``bom``), else a StanceError with line, byte and ``fix``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise StanceError(
            f"{source}: line {line}: byte {exc.start} (0x{data[exc.start]:02x}) is not valid "
            f"UTF-8; {fix}"
        ) from None
    return text.removeprefix("\ufeff") if bom else text


def json_lines(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) of every non-blank line of JSON Lines; only "\\n" ends a line (splitlines
    would also cut at U+2028 or a form feed, which a JSON string may hold as they are)."""
    return ((n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip())


def parse_json(text: str, path: Path | str, fix: str, line: int | None = None) -> Any:
    """``text`` as JSON (line ``line`` of ``path``, else all of it); else a StanceError naming
    the line and column, then ``fix``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"line {line or exc.lineno} column {exc.colno}"
        raise StanceError(f"{path} {at}: not valid JSON ({exc.msg}); {fix}") from None
    except RecursionError:
        at = f" line {line}" if line else ""
        raise StanceError(
            f"{path}{at}: JSON nested too deeply to read (thousands of levels); {fix}"
        ) from None
