"""The split stage: articles to sentence tables per shard, joined into the corpus table."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import astuple
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stance import stopping
from stance.codehash import code_digest
from stance.corpus.articles import decode_article
from stance.corpus.metadata import METADATA_COLUMNS, find_date, read_metadata
from stance.corpus.splitting import SentenceSplitter, compile_rules, split_article
from stance.errors import StanceError, read_bytes
from stance.io import atomic_path, write_json, write_tsv

logger = logging.getLogger(__name__)

SENTENCE_SCHEMA = pa.schema(
    [
        ("sentence_id", pa.string()),
        ("article_id", pa.string()),
        ("position", pa.int32()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("text", pa.string()),
        # A line break before the sentence (the speaker rules read it).
        ("paragraph_start", pa.bool_()),
    ]
)
CHROME_COLUMNS = ["article_id", "line", "start", "end", "rule", "text"]
# The value types of a sentence row (Sentence fields) and of a chrome row (CHROME_COLUMNS).
SENTENCE_ROW = (str, str, int, int, int, str, bool)
CHROME_ROW = (str, int, int, int, str, str)
CACHE_FORMAT = 2
ARTICLE_COLUMNS = ["article_id", "sentences", "chrome_lines"]
# The corpus-wide tables: the chrome report marks a removed line used as the article's date.
CHROME_REPORT_COLUMNS = [*CHROME_COLUMNS, "used_as"]
# The article table: each article's metadata, where its date came from, and its counts.
_ARTICLE_META = ["article_id", "title", "outlet", "date", "date_source", "url"]
ARTICLE_TABLE_COLUMNS = [*_ARTICLE_META, *ARTICLE_COLUMNS[1:]]
PROGRESS_EVERY = 1000


def splitter_from_config(config: dict) -> SentenceSplitter:
    """The sentence splitter configured in config['split']."""
    split = config["split"]
    return SentenceSplitter(split["abbreviations"], split["initialism_sentence_starters"])


def _entry_ok(entry: object) -> bool:
    """Whether a cache entry is [sha256 of the article's bytes, sentence rows, chrome rows]."""
    if not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[0], str):
        return False
    return all(
        isinstance(rows, list)
        and all(isinstance(r, list) and tuple(map(type, r)) == types for r in rows)
        for rows, types in ((entry[1], SENTENCE_ROW), (entry[2], CHROME_ROW))
    )


def _load_cache(path: Path | None, settings: str) -> dict:
    """The cached split of each article: {article_id: [sha256, sentence rows, chrome rows]};
    a file that is unreadable or not of that shape is ignored with a note."""
    if path is None or not path.is_file():
        return {}
    try:
        cached = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        problem = f"unreadable ({type(exc).__name__})"
    else:
        articles = cached.get("articles") if isinstance(cached, dict) else None
        if (
            isinstance(articles, dict)
            and cached.get("format") == CACHE_FORMAT
            and all(_entry_ok(e) for e in articles.values())
        ):
            return articles if cached.get("settings") == settings else {}
        problem = "not a split cache of this version"
    logger.info(
        f"note: {path}: {problem}; ignoring it, every article of the shard is split again "
        "(the cache is rewritten)"
    )
    return {}


def split_shard(
    paths: list[Path | str],
    config: dict,
    sentences_out: Path | str,
    chrome_out: Path | str | None = None,
    articles_out: Path | str | None = None,
    cache: Path | str | None = None,
    label: str = "split",
) -> tuple[int, int]:
    """Split the article files into their sentences (Parquet) and, where asked for, removed
    chrome lines and per-article counts (TSV), taking an article whose text and settings are
    unchanged from ``cache``; (articles split, articles reused)."""
    rules = compile_rules(config["split"]["chrome_rules"])
    splitter = splitter_from_config(config)
    # What a cached split depends on besides the text: the split config and the corpus code.
    h = hashlib.sha256(json.dumps(config["split"], sort_keys=True).encode("utf-8"))
    h.update(code_digest("corpus").encode())
    settings = h.hexdigest()
    cache_path = Path(cache) if cache else None
    cached = _load_cache(cache_path, settings)
    fresh: dict[str, list] = {}
    problems: list[str] = []
    split_count = reused = 0
    for n, raw_path in enumerate(paths, 1):
        stopping.check()
        path = Path(raw_path)
        article_id = path.stem
        try:
            data = read_bytes(path)
            raw = decode_article(data, path)
        except StanceError as exc:
            problems.append(str(exc))
            continue
        key = hashlib.sha256(data).hexdigest()
        hit = cached.get(article_id)
        if hit is not None and hit[0] == key:
            fresh[article_id] = hit
            reused += 1
        else:
            sentences, removed = split_article(article_id, raw, splitter, rules)
            fresh[article_id] = [
                key,
                [list(astuple(s)) for s in sentences],
                [list(astuple(r)) for r in removed],
            ]
            split_count += 1
            if not sentences:
                logger.warning(
                    f"{path}: no sentences left after removing {len(removed)} chrome "
                    "line(s); the article is kept in results/articles.tsv with 0 sentences. If "
                    "this is wrong, check the chrome rules in config/config.yaml "
                    "(see results/chrome_report.tsv)"
                )
        if n % PROGRESS_EVERY == 0:
            logger.info(f"{label}: {n}/{len(paths)} articles")
    if problems:
        raise StanceError("\n".join(problems))

    rows = [row for _, sentence_rows, _ in fresh.values() for row in sentence_rows]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in SENTENCE_SCHEMA]
    table = pa.table(dict(zip(SENTENCE_SCHEMA.names, columns, strict=True)), schema=SENTENCE_SCHEMA)
    with atomic_path(sentences_out) as tmp:
        pq.write_table(table, tmp)
    if chrome_out is not None:
        write_tsv(
            chrome_out, CHROME_COLUMNS, [row for _, _, rows in fresh.values() for row in rows]
        )
    if articles_out is not None:
        write_tsv(
            articles_out, ARTICLE_COLUMNS, [[a, len(s), len(c)] for a, (_, s, c) in fresh.items()]
        )
    if cache_path is not None:
        write_json(cache_path, {"format": CACHE_FORMAT, "settings": settings, "articles": fresh},
                   indent=None)  # fmt: skip
    logger.info(f"{label}: {split_count} article(s) split, {reused} reused from cache")
    return split_count, reused


def _read_tsv(path: Path | str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh, delimiter="\t"))[1:]


def gather_sentence_parts(sentence_parts: list[str], sentences_out: Path | str) -> pa.Table:
    """Concatenate the per-shard sentence tables, ordered by article ID and position."""
    tables = [pq.read_table(p, schema=SENTENCE_SCHEMA) for p in sentence_parts]
    table = pa.concat_tables(tables) if tables else SENTENCE_SCHEMA.empty_table()
    table = table.sort_by([("article_id", "ascending"), ("position", "ascending")])
    with atomic_path(sentences_out) as tmp:
        pq.write_table(table, tmp)
    return table


def gather_article_tables(
    chrome_parts: list[str],
    article_parts: list[str],
    chrome_out: Path | str,
    articles_out: Path | str,
    metadata: Path | str | None = None,
) -> dict[str, dict[str, str]]:
    """Write the corpus-wide chrome report and the article table with the articles' metadata
    (returned); an article without a date in the table takes the first date in one of its
    removed chrome lines (a time stamp, a byline), and the chrome report marks that line."""
    chrome_rows = [row for part in chrome_parts for row in _read_tsv(part)]
    chrome_rows.sort(key=lambda row: (row[0], int(row[1])))
    article_rows = sorted(row for part in article_parts for row in _read_tsv(part))
    known = [row[0] for row in article_rows]
    table = read_metadata(metadata, set(known)) if metadata else {}
    meta: dict[str, dict[str, str]] = {}
    for article_id in known:
        row = dict(table.get(article_id) or dict.fromkeys(METADATA_COLUMNS, ""))
        row["article_id"] = article_id
        row["date_source"] = "table" if row["date"] else ""
        meta[article_id] = row
    used: list[str] = []
    for chrome_row in chrome_rows:
        row = meta.get(chrome_row[0])
        date = None if row is None or row["date"] else find_date(chrome_row[5])
        if date is not None:
            row["date"], row["date_source"] = date.isoformat(), f"chrome line {chrome_row[1]}"
        used.append("" if date is None else "date")
    # The corpus-wide tables are for people: cells that a spreadsheet would run as a formula are
    # quoted. The per-shard tables keep the exact text (this function reads them back).
    write_tsv(
        chrome_out,
        CHROME_REPORT_COLUMNS,
        [[*row, use] for row, use in zip(chrome_rows, used, strict=True)],
        for_people=True,
    )
    write_tsv(
        articles_out,
        ARTICLE_TABLE_COLUMNS,
        [[meta[row[0]][c] for c in _ARTICLE_META] + row[1:] for row in article_rows],
        for_people=True,
    )
    return meta
