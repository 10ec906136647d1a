"""The article metadata table (``<seeds>/articles.csv``): reading, validating and writing it."""

from __future__ import annotations

import csv
from collections.abc import Collection, Mapping
from pathlib import Path

from stance.corpus.articles import METADATA_FILE
from stance.corpus.dates import parse_table_date
from stance.errors import StanceError
from stance.io import atomic_open

METADATA_COLUMNS = ["article_id", "title", "outlet", "date", "url"]
Metadata = dict[str, dict[str, str]]


def metadata_path(seeds_dir: Path | str) -> Path:
    """Where the metadata table of the articles in seeds_dir lives."""
    return Path(seeds_dir) / METADATA_FILE


def check_fields(fields: Mapping[str, str], where: str) -> tuple[dict[str, str], list[str]]:
    """One row's fields cleaned (date made YYYY-MM-DD), and what is wrong with them.

    ``where`` names the row in messages (``seeds/articles.csv row 3``).
    """
    row = {c: (fields.get(c) or "").strip() for c in METADATA_COLUMNS}
    problems: list[str] = []
    if row["date"]:
        date = parse_table_date(row["date"])
        if date is None:
            problems.append(
                f"{where}: date {row['date']!r} is not a calendar date; write it as YYYY-MM-DD "
                "(e.g. 2018-11-09), or leave it empty if the date is unknown"
            )
        else:
            row["date"] = date.isoformat()
    if row["url"] and not row["url"].lower().startswith(("http://", "https://")):
        problems.append(
            f"{where}: url {row['url']!r} is not a web address; write it starting with "
            "http:// or https://, or leave it empty"
        )
    return row, problems


def read_metadata(path: Path | str, article_ids: Collection[str] | None = None) -> Metadata:
    """Read and validate the metadata table; a missing file is an empty table.

    Every problem (missing ``article_id`` column, unknown column, empty or unknown article ID,
    duplicate row, unparseable date or URL) is reported at once with file, row (header = row 1)
    and how to fix it. ``article_ids``, when given, are the articles of the corpus.
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            records = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise StanceError(
            f"{path}: byte {exc.start} is not valid UTF-8; save the file as CSV UTF-8"
        ) from None
    except csv.Error as exc:
        raise StanceError(f"{path}: not a readable CSV file ({exc}); re-export it as CSV") from None
    header = [c.strip() for c in records[0]] if records else []
    expected = ", ".join(METADATA_COLUMNS)
    if "article_id" not in header:
        raise StanceError(
            f"{path} row 1: no 'article_id' column; the first row must name the columns, "
            f"article_id first, then any of: {expected} (comma-separated CSV UTF-8)"
        )
    problems = [
        f"{path} row 1: unknown column {c!r}; the columns are: {expected} (rename or delete it)"
        for c in header
        if c not in METADATA_COLUMNS
    ]
    dupes = sorted({c for c in header if header.count(c) > 1})
    problems += [f"{path} row 1: column {c!r} appears twice; keep one" for c in dupes]
    if problems:
        raise StanceError("\n".join(problems))
    table: Metadata = {}
    first_row: dict[str, int] = {}
    for number, record in enumerate(records[1:], 2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        where = f"{path} row {number}"
        if len(record) > len(header):
            problems.append(
                f"{where}: {len(record)} cells but {len(header)} columns; quote cells that "
                'contain a comma ("Kabul, Afghanistan")'
            )
            continue
        row, row_problems = check_fields(dict(zip(header, record, strict=False)), where)
        problems += row_problems
        article_id = row["article_id"]
        if not article_id:
            problems.append(
                f"{where}: empty article_id; fill in the article's ID or delete the row"
            )
            continue
        if article_ids is not None and article_id not in article_ids:
            problems.append(
                f"{where}: article {article_id!r} is not in the corpus (no "
                f"{path.parent / (article_id + '.txt')}); correct the ID or delete the row"
            )
            continue
        if article_id in first_row:
            problems.append(
                f"{where}: a second row for article {article_id!r} (the first is row "
                f"{first_row[article_id]}); merge the two rows into one"
            )
            continue
        first_row[article_id] = number
        table[article_id] = row
    if problems:
        raise StanceError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return table


def write_metadata(path: Path | str, table: Metadata) -> None:
    """Write the metadata table atomically, one row per article in ID order."""
    with atomic_open(path, newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(METADATA_COLUMNS)
        for article_id in sorted(table):
            row = table[article_id]
            writer.writerow([article_id] + [row.get(c, "") for c in METADATA_COLUMNS[1:]])
