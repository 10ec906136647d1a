"""The error type for user mistakes (a message, never a traceback), and user files read with it."""

from __future__ import annotations

from pathlib import Path


class StanceError(Exception):
    """A problem with the user's input or configuration, with a message that says how to fix it."""


def read_bytes(path: Path | str) -> bytes:
    """The bytes of a file the user named; a missing or unreadable one is a StanceError."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise StanceError(f"{path}: file not found; check the path") from None
    except OSError as exc:
        raise StanceError(f"{path}: cannot be read ({exc.strerror}); check the path") from None


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
