"""Adding articles to the corpus: every source checked first, then texts and metadata written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stance.corpus.articles import ARTICLE_SUFFIX, content_key, discover, read_article
from stance.corpus.metadata import (
    METADATA_COLUMNS,
    metadata_path,
    read_metadata,
    write_metadata,
)
from stance.corpus.sources import read_source
from stance.errors import StanceError
from stance.io import atomic_path


@dataclass
class Added:
    """What an add wrote: (source, article ID, metadata row) per article, and warnings."""

    articles: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def add_sources(paths: list[Path | str], seeds_dir: Path | str) -> Added:
    """Add the articles of plain-text files, saved web pages and JSON Lines exports.

    Everything is checked first: every source readable, no article a duplicate of one already
    in the corpus or of another in this call, metadata valid, the existing metadata table
    valid. If anything fails, nothing is written and one error lists every problem. Each
    article gets a safe, unused ID; its text goes to ``<seeds>/<id>.txt`` and its metadata to
    ``<seeds>/articles.csv`` (written when any article has metadata or the table exists).
    """
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise StanceError(f"{seeds_dir}: article folder not found; create it first")
    existing = discover(seeds_dir).article_ids
    table_path = metadata_path(seeds_dir)
    try:
        table = read_metadata(table_path, set(existing))
    except StanceError as exc:
        raise StanceError(f"no article was added; fix the metadata table first:\n{exc}") from None
    known = {content_key(read_article(seeds_dir / f"{a}{ARTICLE_SUFFIX}")): a for a in existing}
    taken = {p.stem for p in seeds_dir.iterdir()}
    problems: list[str] = []
    added = Added()
    planned: list[tuple[str, bytes]] = []
    for path in paths:
        reading = read_source(path)
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
            row = {c: article.fields.get(c, "") for c in METADATA_COLUMNS}
            article_id, n = article.base_id, 2
            while article_id in taken:
                article_id, n = f"{article.base_id}_{n}", n + 1
            taken.add(article_id)
            known[key] = article_id
            row["article_id"] = article_id
            added.articles.append((article.source, article_id, row))
            planned.append((article_id, article.data))
    if problems:
        raise StanceError("no article was added:\n  " + "\n  ".join(problems))
    _write(seeds_dir, planned, table, added, table_path)
    return added


def _write(
    seeds_dir: Path,
    planned: list[tuple[str, bytes]],
    table: dict[str, dict[str, str]],
    added: Added,
    table_path: Path,
) -> None:
    """Write the text files, then the metadata table; on a failure remove what was written."""
    has_metadata = any(row[c] for _, _, row in added.articles for c in METADATA_COLUMNS[1:])
    written: list[Path] = []
    try:
        for article_id, data in planned:
            target = seeds_dir / f"{article_id}{ARTICLE_SUFFIX}"
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
            written.append(target)
        if has_metadata or table_path.exists():
            table.update({article_id: row for _, article_id, row in added.articles})
            write_metadata(table_path, table)
    except BaseException:
        for target in written:
            target.unlink(missing_ok=True)
        raise
