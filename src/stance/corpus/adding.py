"""Adding articles to the corpus: every source checked first, then texts and metadata written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stance.corpus.articles import (
    ARTICLE_SUFFIX,
    MAX_ID_LENGTH,
    content_key,
    discover,
    id_changes,
    read_article,
)
from stance.corpus.metadata import METADATA_COLUMNS, metadata_path, read_metadata, write_metadata
from stance.corpus.sources import Article, Reading, read_source
from stance.errors import StanceError
from stance.io import atomic_path
from stance.locking import DEFAULT_WAIT_S, folder_lock


@dataclass
class Added:
    """What an add wrote: (source, article ID, metadata row) per article, and warnings."""

    articles: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What is to be written: (article ID, text bytes) per article, the table with the new rows.
    planned: list[tuple[str, bytes]] = field(default_factory=list, repr=False)
    table: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    table_path: Path = Path()


def add_sources(
    paths: list[Path | str], seeds_dir: Path | str, lock_wait_s: float = DEFAULT_WAIT_S
) -> Added:
    """Add the articles of text files, saved pages and JSON Lines exports under safe, unused IDs,
    with their metadata; nothing when anything is wrong (one error lists every problem). The
    folder's lock is held from reading the corpus to writing: no ID taken twice, no stale table."""
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise StanceError(f"{seeds_dir}: article folder not found; create it first")
    # The sources are read before the lock is taken: parsing pages is the slow part.
    readings = [read_source(path) for path in paths]
    with folder_lock(seeds_dir, "stance add", lock_wait_s):
        added = _plan(readings, seeds_dir)
        _write(seeds_dir, added)
    return added


def _plan(readings: list[Reading], seeds_dir: Path) -> Added:
    """Check the articles read against the corpus and give each an ID; raise on any problem."""
    existing = discover(seeds_dir).article_ids
    table_path = metadata_path(seeds_dir)
    try:
        table = read_metadata(table_path, set(existing))
    except StanceError as exc:
        raise StanceError(f"no article was added; fix the metadata table first:\n{exc}") from None
    known = {content_key(read_article(seeds_dir / f"{a}{ARTICLE_SUFFIX}")): a for a in existing}
    # Every name in the folder counts as taken (an ID must not clash with any file), and what
    # took it is named in the warning when an article has to take another ID.
    taken = {p.stem: str(p) for p in seeds_dir.iterdir()}
    problems: list[str] = []
    added = Added(table=table, table_path=table_path)
    for reading in readings:
        problems += reading.problems
        added.warnings += reading.warnings
        for article in reading.articles:
            key = content_key(article.text)
            if key in known:
                problems.append(
                    f"{article.source}: same content as article '{known[key]}' "
                    f"({seeds_dir / (known[key] + ARTICLE_SUFFIX)}); not added again"
                )
                continue
            article_id = _unused_id(article.base_id, taken)
            if article_id != article.wanted_id:
                added.warnings.append(_renamed(article, article_id, taken))
            taken[article_id] = f"{article.source}, added now"
            known[key] = article_id
            row = {c: article.fields.get(c, "") for c in METADATA_COLUMNS}
            row["article_id"] = article_id
            added.articles.append((article.source, article_id, row))
            added.planned.append((article_id, article.text.encode("utf-8")))
    if problems:
        raise StanceError("no article was added:\n  " + "\n  ".join(problems))
    return added


def _unused_id(base_id: str, taken: Mapping[str, str]) -> str:
    """base_id, or base_id_2, _3, ... (cut to keep within MAX_ID_LENGTH) when taken."""
    article_id, n = base_id, 2
    while article_id in taken:
        suffix = f"_{n}"
        article_id, n = f"{base_id[: MAX_ID_LENGTH - len(suffix)]}{suffix}", n + 1
    return article_id


def _renamed(article: Article, article_id: str, taken: Mapping[str, str]) -> str:
    """The warning for an article whose ID differs from the one it asked for, and why."""
    wanted = article.wanted_id
    shown = repr(wanted if len(wanted) <= 60 else wanted[:57] + "...")
    reasons = id_changes(wanted)
    if article_id != article.base_id:
        reasons.append(f"{article.base_id!r} is taken by {taken[article.base_id]}")
    return f"{article.source}: article ID {shown} changed to {article_id!r} ({'; '.join(reasons)})"


def _write(seeds_dir: Path, added: Added) -> None:
    """Write the text files, then the metadata table; on a failure remove what was written."""
    has_metadata = any(row[c] for _, _, row in added.articles for c in METADATA_COLUMNS[1:])
    written: list[Path] = []
    try:
        for article_id, data in added.planned:
            target = seeds_dir / f"{article_id}{ARTICLE_SUFFIX}"
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
            written.append(target)
        if has_metadata or added.table_path.exists():
            added.table.update({article_id: row for _, article_id, row in added.articles})
            write_metadata(added.table_path, added.table)
    except BaseException:
        for target in written:
            target.unlink(missing_ok=True)
        raise
