"""Where an export may write: never the project's own folders, never over files it did not write."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from stance.errors import StanceError
from stance.io import write_json

# A file an export writes, with the test that an existing file's text is an earlier one of it.
Output = tuple[Path, Callable[[str], bool]]


def protected_folders(config: Mapping, config_path: Path | str) -> dict[str, Path]:
    """The folders no export writes into: the hand labels, the articles and the configuration."""
    return {
        "labels folder (labels.dir)": Path(config["labels"]["dir"]),
        "articles folder (seeds_dir)": Path(config["seeds_dir"]),
        "configuration folder": Path(config_path).parent,
    }


def check_protected(path: Path, protected: Mapping[str, Path], option: str) -> None:
    """Refuse a path inside (or equal to) a protected folder, even with --force."""
    where = path.resolve()
    for what, folder in protected.items():
        if where.is_relative_to(folder.resolve()):
            raise StanceError(
                f"{path}: inside {folder}/, the {what}, which `stance export` never writes to "
                f"(not even with --force); nothing was written: give {option} a path outside it, "
                "e.g. under results/"
            )


def check_parent(path: Path) -> None:
    """Refuse a path one of whose parents is a file (missing folders are created)."""
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise StanceError(
            f"{path}: {parent} is a file, not a folder; nothing was written: give a "
            "path in a folder"
        )


# The folder of `stance export --dataset`: a manifest there lists the files the export wrote, and
# only those are ever replaced or deleted, so a folder that gained a .git/ or a LICENSE keeps them.
MANIFEST = ".stance-export.json"
COMMAND = "stance export --dataset"


def _earlier(out: Path, known: Collection[str], marker: str) -> set[str] | None:
    """The files an earlier export wrote in ``out``: its manifest's, or (an export from before
    manifests, whose README.md carries ``marker``) the known ones there; None when none."""
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise StanceError(
                f'{manifest}: not a manifest of `{COMMAND}` (JSON with a "files" list); '
                "nothing was written: export to a new folder, or delete the manifest if no "
                "file there is from an export"
            ) from None
        # Only names the export writes: a manifest edited by hand never makes it delete more.
        return {f for f in files if f in known} if isinstance(files, list) else set()
    readme = out / "README.md"
    if readme.is_file() and marker in readme.read_text(encoding="utf-8", errors="replace"):
        return {f for f in known if (out / f).is_file()}
    return None


def _taken(out: Path, name: str) -> bool:
    """Whether something sits where ``name`` goes (a file, or a file where its folder goes)."""
    path = out / name
    if path.exists() or path.is_symlink():
        return True
    parent = path.parent
    return parent != out and (parent.exists() or parent.is_symlink()) and not parent.is_dir()


def earlier_files(
    out: Path,
    writing: Collection[str],
    known: Collection[str],
    marker: str,
    *,
    force: bool,
    protected: Mapping[str, Path],
) -> set[str]:
    """The files in ``out`` that the export may replace or delete. Refused: a protected place,
    a folder of other files without a manifest (unless ``force``: the data set goes beside
    them) and, even with ``force``, another file where one of ``writing`` goes."""
    check_protected(out, protected, "--dataset")
    check_parent(out)
    if not out.exists():
        return set()
    if not out.is_dir():
        raise StanceError(f"{out} is a file; nothing was written: give --dataset a folder")
    ours = _earlier(out, known, marker)
    if ours is None:
        if any(out.iterdir()) and not force:
            raise StanceError(
                f"{out} exists and is not a data set written by `{COMMAND}` (no {MANIFEST} "
                "there); nothing was written: give a new or empty folder, or add --force to "
                "write the data set beside its files (none of them is replaced or deleted)"
            )
        ours = set()
    clashes = sorted(f for f in writing if f not in ours and _taken(out, f))
    if clashes:
        raise StanceError(
            f"{out}: {', '.join(clashes)} already there and not written by `{COMMAND}`, which "
            "never replaces such files (not even with --force); nothing was written: move them "
            "away, or export to another folder"
        )
    return ours


def _write_manifest(out: Path, files: set[str]) -> None:
    write_json(out / MANIFEST, {"written_by": COMMAND, "files": sorted(files)}, indent=1)


def move_in(tmp: Path, out: Path, ours: set[str]) -> None:
    """Put the files written in ``tmp`` into ``out`` (each replaced atomically) and delete the
    earlier export's files not written again. The manifest names every file of the export there
    at each step, so an interrupted export leaves no file of its own unaccounted for."""
    new = {p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file()}
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, new | ours)
    for name in sorted(new):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / name, out / name)
    for name in sorted(ours - new):
        (out / name).unlink(missing_ok=True)
    _write_manifest(out, new)
