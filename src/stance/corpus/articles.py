"""The article corpus: which files are articles, their IDs, their decoded text, shards."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from stance.errors import StanceError, decode_utf8, read_bytes

ARTICLE_SUFFIX = ".txt"
# The metadata table beside the articles (stance.corpus.metadata); not an article.
METADATA_FILE = "articles.csv"
# Article IDs become file names, wildcards and parts of sentence IDs: keep them shell-safe.
ARTICLE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
# The longest ID given to a new article: file names (<id>.txt, the split cache) and sentence IDs
# stay far below the file system's 255-byte name limit.
MAX_ID_LENGTH = 100


@dataclass(frozen=True)
class Discovery:
    """Articles found in a folder, and the files that were skipped with a warning."""

    article_ids: list[str]
    warnings: list[str]


def safe_article_id(stem: str) -> str:
    """Suggest a safe article ID for an arbitrary file stem, at most MAX_ID_LENGTH characters."""
    candidate = _UNSAFE_CHARS.sub("_", stem).strip("._-")
    return bounded_id(candidate or "article", stem)


def id_changes(stem: str) -> list[str]:
    """Why safe_article_id(stem) differs from stem (none when it does not)."""
    reasons: list[str] = []
    if not ARTICLE_ID_PATTERN.fullmatch(stem):
        reasons.append(
            "an ID holds only letters, digits, '.', '_' and '-' and starts with a letter or digit"
        )
    if len(_UNSAFE_CHARS.sub("_", stem).strip("._-")) > MAX_ID_LENGTH:
        reasons.append(
            f"an ID is at most {MAX_ID_LENGTH} characters: cut, ending in a hash of the whole ID"
        )
    return reasons


def bounded_id(article_id: str, original: str | None = None) -> str:
    """article_id cut to MAX_ID_LENGTH characters, ending in a short hash of ``original`` (the
    whole ID by default), so that two long IDs that start alike stay apart."""
    if len(article_id) <= MAX_ID_LENGTH:
        return article_id
    full = article_id if original is None else original
    digest = hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{article_id[: MAX_ID_LENGTH - 9].rstrip('._-')}_{digest}"


def _unreadable(path: Path) -> str | None:
    """Why the ``*.txt`` entry path cannot be read as an article, or None if it can."""
    if path.is_symlink() and not path.exists():
        target = os.readlink(path)
        return (
            f"a symbolic link to {target}, which does not exist; point the link at the article "
            f"(ln -sfn TARGET {path}) or delete it"
        )
    if path.is_dir():
        return (
            "a folder, not a file; rename it so that its name does not end in "
            f"{ARTICLE_SUFFIX}, or move it out of the article folder"
        )
    if not path.is_file():
        return (
            "not a regular file (a pipe, socket or device); replace it with the article saved "
            "as a plain text file, or delete it"
        )
    if not os.access(path, os.R_OK):
        return f"cannot be read (no read permission); give read access (chmod a+r {path})"
    return None


def discover(seeds_dir: Path | str) -> Discovery:
    """The articles in seeds_dir: every ``*.txt`` file. Hidden files, sub-folders and the
    metadata table are ignored, any other file is skipped with a warning; a ``.txt`` entry that
    is no safe ID or no readable file is an error, so it is never dropped silently."""
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise StanceError(f"{seeds_dir}: article folder not found; create it and put *.txt in it")
    ids: list[str] = []
    warnings: list[str] = []
    bad_names: list[str] = []
    unreadable: list[str] = []
    for path in sorted(seeds_dir.iterdir()):
        if path.name.startswith(".") or path.name == METADATA_FILE:
            continue
        if path.suffix != ARTICLE_SUFFIX:
            if path.is_dir():
                continue
            if path.suffix.lower() == ARTICLE_SUFFIX:
                hint = f"rename it to {path.with_suffix(ARTICLE_SUFFIX).name}"
            else:
                hint = f"convert it to plain UTF-8 text saved as {path.stem}{ARTICLE_SUFFIX}"
            warnings.append(
                f"{path}: skipped, not an article (only *{ARTICLE_SUFFIX} files are read); "
                f"to include it, {hint}"
            )
            continue
        problem = _unreadable(path)
        if problem is not None:
            unreadable.append(f"  {path}: {problem}")
            continue
        if not ARTICLE_ID_PATTERN.fullmatch(path.stem):
            bad_names.append(
                f"  {path}: the name may hold only letters, digits, '.', '_' and '-' and must "
                f"start with a letter or digit; rename it, e.g. to "
                f"{seeds_dir / (safe_article_id(path.stem) + ARTICLE_SUFFIX)}"
            )
            continue
        target = path.resolve()
        if path.is_symlink() and not target.is_relative_to(seeds_dir.resolve()):
            warnings.append(
                f"{path}: a symbolic link to {target}, outside the article folder {seeds_dir}; "
                "it is read as an article, but the corpus is no longer self-contained: copy "
                "the file into the folder instead (cp --remove-destination TARGET LINK)"
            )
        ids.append(path.stem)
    messages: list[str] = []
    if unreadable:
        messages.append(
            "article files that cannot be read (no article of their shard would be split):\n"
            + "\n".join(unreadable)
        )
    if bad_names:
        messages.append("article file names that cannot be used as IDs:\n" + "\n".join(bad_names))
    if messages:
        raise StanceError("\n".join(messages))
    return Discovery(ids, warnings)


def decode_article(data: bytes, source: Path | str) -> str:
    """An article's bytes decoded as UTF-8, every character kept (a BOM too), so that offsets
    into the text are offsets into the file decoded as UTF-8."""
    if not data.strip():
        raise StanceError(
            f"{source}: the file is empty; put the article text in it or delete the file"
        )
    nul = data.find(b"\x00")  # anywhere in the file: a NUL would reach the sentence table
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise StanceError(
            f"{source}: looks like a binary file, not plain text (line {line}: byte {nul} is a "
            "NUL byte, 0x00); save the article as UTF-8 text (delete the stray byte) or remove "
            "the file from the article folder"
        )
    fix = "re-save it as UTF-8 (for example: iconv -f WINDOWS-1252 -t UTF-8 in.txt > out.txt)"
    return decode_utf8(data, source, fix)


def read_article(path: Path | str) -> str:
    """Read one article file and return its text decoded as UTF-8."""
    return decode_article(read_bytes(path), path)


def content_key(text: str) -> str:
    """A hash of an article's text that ignores a BOM, line-break style and outer whitespace."""
    canonical = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").strip()
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def shard_of(article_id: str, shards: int) -> int:
    """The fixed shard of an article: a hash of its ID, so adding articles moves no other."""
    digest = hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def assign_shards(article_ids: list[str], shards: int) -> dict[int, list[str]]:
    """Non-empty shards and their articles, in article-ID order."""
    assigned: dict[int, list[str]] = {}
    for article_id in sorted(article_ids):
        assigned.setdefault(shard_of(article_id, shards), []).append(article_id)
    return dict(sorted(assigned.items()))
