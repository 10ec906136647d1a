"""Where an export may write: never the project's own folders, never over files it did not write."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from stance.errors import StanceError

# A file an export writes, with the test that an existing file's text is an earlier one of it.
Output = tuple[Path, Callable[[str], bool]]


def protected_folders(config: Mapping, config_path: Path | str) -> dict[str, Path]:
    """The folders no export writes into, by what they hold: the hand labels, the articles and
    the configuration."""
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
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StanceError(
                    f"{path}: {parent} is a file, not a folder; nothing was written: give a "
                    "path in a folder"
                )
            return


def is_own_file(path: Path, is_ours: Callable[[str], bool]) -> bool:
    """Whether a file's text is one that an export wrote (``is_ours``)."""
    try:
        return is_ours(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
