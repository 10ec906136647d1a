"""The split stage: articles to per-article sentence tables, joined into the corpus table."""

from __future__ import annotations

import csv
import sys
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stance.chrome import compile_rules
from stance.corpus import read_article
from stance.io import atomic_open, atomic_path
from stance.splitting import SentenceSplitter, split_article

SENTENCE_SCHEMA = pa.schema(
    [
        ("sentence_id", pa.string()),
        ("article_id", pa.string()),
        ("position", pa.int32()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("text", pa.string()),
    ]
)
CHROME_COLUMNS = ["article_id", "line", "start", "end", "rule", "text"]


def splitter_from_config(config: dict) -> SentenceSplitter:
    """The sentence splitter configured in config['split']."""
    split = config["split"]
    return SentenceSplitter(split["abbreviations"], split["initialism_sentence_starters"])


def split_file(
    article_id: str,
    path: Path | str,
    config: dict,
    sentences_out: Path | str,
    chrome_out: Path | str,
) -> int:
    """Split one article file; write its sentences (Parquet) and removed chrome lines (TSV)."""
    raw = read_article(path)
    rules = compile_rules(config["split"]["chrome_rules"])
    sentences, removed = split_article(article_id, raw, splitter_from_config(config), rules)
    if not sentences:
        print(
            f"warning: {path}: no sentences left after removing {len(removed)} chrome line(s); "
            "the article is kept in results/articles.tsv with 0 sentences. If this is wrong, "
            "check the chrome rules in config/config.yaml (see results/chrome_report.tsv)",
            file=sys.stderr,
        )
    table = pa.Table.from_pylist([asdict(s) for s in sentences], schema=SENTENCE_SCHEMA)
    with atomic_path(sentences_out) as tmp:
        pq.write_table(table, tmp)
    with atomic_open(chrome_out, newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(CHROME_COLUMNS)
        for line in removed:
            writer.writerow([getattr(line, c) for c in CHROME_COLUMNS])
    return len(sentences)


def gather(
    sentence_parts: list[str],
    chrome_parts: list[str],
    sentences_out: Path | str,
    chrome_out: Path | str,
    articles_out: Path | str,
) -> pa.Table:
    """Concatenate per-article outputs, ordered by article ID and position."""
    tables = [pq.read_table(p, schema=SENTENCE_SCHEMA) for p in sentence_parts]
    table = pa.concat_tables(tables) if tables else SENTENCE_SCHEMA.empty_table()
    table = table.sort_by([("article_id", "ascending"), ("position", "ascending")])
    with atomic_path(sentences_out) as tmp:
        pq.write_table(table, tmp)

    chrome_counts: dict[str, int] = {}
    with atomic_open(chrome_out, newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(CHROME_COLUMNS)
        for part in sorted(chrome_parts):
            with open(part, newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh, delimiter="\t"))[1:]
            for row in rows:
                writer.writerow(row)
                chrome_counts[row[0]] = chrome_counts.get(row[0], 0) + 1

    counts: dict[str, int] = {}
    for article_id in table.column("article_id").to_pylist():
        counts[article_id] = counts.get(article_id, 0) + 1
    article_ids = sorted({Path(p).name.removesuffix(".parquet") for p in sentence_parts})
    with atomic_open(articles_out, newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["article_id", "sentences", "chrome_lines"])
        for article_id in article_ids:
            writer.writerow(
                [article_id, counts.get(article_id, 0), chrome_counts.get(article_id, 0)]
            )
    return table
