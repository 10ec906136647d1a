"""Atomic file writes (never half a file), spreadsheet-safe cells, Markdown tables, answers
remembered in a file, and matplotlib figures without pyplot's global state, saved atomically."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield a new folder beside ``path``; on success it replaces the folder ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # 48 random bits: no name clash to retry on (mkdir, like O_EXCL below, would refuse one).
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}"
    tmp.mkdir()  # the mode of an ordinary new folder (0777 less the umask)
    old = path.with_name(f".{path.name}.old")
    try:
        if path.is_dir():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        yield tmp
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically, with
    the mode an ordinary write would give it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # Unlike tempfile.mkstemp (always 0600): the mode of an ordinary new file (0666 less umask).
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            with contextlib.suppress(FileNotFoundError):  # a new file keeps its new mode
                os.fchmod(fh.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: Path | str, **kwargs: Any) -> Iterator[IO]:
    """A temporary text file that atomically replaces ``path`` when it is closed cleanly."""
    with atomic_path(path) as tmp, open(tmp, "w", **kwargs) as fh:
        yield fh


def write_json(path: Path | str, data: Any, indent: int | None = 2) -> None:
    """Write ``data`` as UTF-8 JSON with a final newline, atomically."""
    with atomic_open(path, encoding="utf-8") as fh:
        json.dump(data, fh, indent=indent, ensure_ascii=False)
        fh.write("\n")


def remembered(path: Path | str, key: str, compute: Callable[[], T]) -> T:
    """``compute()``, or the answer the JSON file ``path`` holds for the same ``key``. One answer
    per file; one JSON would not give back exactly (a date, number keys) is not remembered."""
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(record, dict) and record.get("key") == key and "value" in record:
            return record["value"]
    value = compute()
    with contextlib.suppress(TypeError, ValueError):  # not JSON: not remembered
        if json.loads(json.dumps(value)) == value:
            write_json(path, {"key": key, "value": value}, indent=None)
    return value


# Cells that a spreadsheet would read as a formula (or that hide one behind a tab or CR).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """A cell of a CSV/TSV meant for people: a text a spreadsheet would run as a formula gets
    one more leading single quote (OWASP, CSV injection); :func:`plain_cell` undoes it."""
    if isinstance(value, str) and value.lstrip("'").startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def plain_cell(value: Any) -> Any:
    """The original text of a cell written by :func:`spreadsheet_cell`."""
    return value[1:] if isinstance(value, str) and spreadsheet_cell(value[1:]) == value else value


def _map_text(table: Any, cell: Any) -> Any:
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = table.rename(columns=cell)
    for col in out.columns:
        if is_object_dtype(out[col].dtype) or is_string_dtype(out[col].dtype):
            out[col] = out[col].map(cell)
    return out


def spreadsheet_frame(table: Any) -> Any:
    """A copy of a pandas DataFrame with every text cell made safe by :func:`spreadsheet_cell`."""
    return _map_text(table, spreadsheet_cell)


def plain_frame(table: Any) -> Any:
    """A copy of a DataFrame read from a CSV written with :func:`spreadsheet_frame`, restored."""
    return _map_text(table, plain_cell)


def write_tsv(
    path: Path | str, header: list[str], rows: list[list], for_people: bool = False
) -> None:
    """Write a tab-separated table atomically; ``for_people`` makes its cells spreadsheet-safe."""
    import csv

    with atomic_open(path, newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([spreadsheet_cell(cell) for cell in row] if for_people else row)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; a ``|`` in a cell is escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def new_figure(
    nrows: int = 1, ncols: int = 1, figsize: Any = None, dpi: float | None = None, **kwargs: Any
) -> tuple[Any, Any]:
    """A figure and its axes (``Figure.subplots``); arguments as ``pyplot.subplots``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_png(fig: Any, path: Path | str) -> None:
    """Write ``fig`` as a PNG without a software stamp (same figure, same bytes)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
