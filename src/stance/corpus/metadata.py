"""The article metadata table (``<seeds>/articles.csv``): reading, writing, publication dates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Collection, Mapping
from pathlib import Path

from stance.corpus.articles import METADATA_FILE
from stance.errors import StanceError, decode_utf8, read_bytes
from stance.io import atomic_open

METADATA_COLUMNS = ["article_id", "title", "outlet", "date", "url"]
Metadata = dict[str, dict[str, str]]
# The longest values taken, in characters: far above any real one, and far below the CSV
# reader's cell limit (131,072), so that a table written by `stance add` can always be read.
MAX_LENGTHS = {"title": 1000, "outlet": 300, "url": 2048}
_LIMITS = ", ".join(f"{c} {n:,}" for c, n in MAX_LENGTHS.items())
_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
# Full names and three-letter abbreviations, and "sept".
_MONTHS = {n: i for i, m in enumerate(_MONTH_NAMES.split(), 1) for n in (m, m[:3])} | {"sept": 9}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
# The date expressions looked for in a line: ISO, "9 Nov, 2018", "Nov. 9, 2018".
_IN_LINE = [
    re.compile(r"\b(?P<year>\d{4})-(?P<num_month>\d{2})-(?P<day>\d{2})\b"),
    re.compile(rf"\b(?P<day>\d{{1,2}})(st|nd|rd|th)? {_MONTH},? (?P<year>\d{{4}})\b"),
    re.compile(rf"\b{_MONTH} (?P<day>\d{{1,2}})(st|nd|rd|th)?,? (?P<year>\d{{4}})\b"),
]
# A table value: YYYY-MM-DD, optionally followed by a time (ISO 8601), which is ignored.
_TABLE_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
)
# The earliest publication date believed: older ones are misreadings (a founding year, a
# placeholder 0001-01-01), not dates of news articles.
EARLIEST_DATE = dt.date(1900, 1, 1)


def latest_date() -> dt.date:
    """The latest publication date believed: tomorrow, so a date from a time zone ahead counts."""
    return dt.date.today() + dt.timedelta(days=1)


def implausible(date: dt.date) -> str | None:
    """Why a publication date cannot be right (before 1900, in the future), or None."""
    if date < EARLIEST_DATE:
        return f"is before {EARLIEST_DATE.year}"
    if date > latest_date():
        return "is in the future"
    return None


def parse_table_date(value: str) -> dt.date | None:
    """The date of an ISO 8601 value (``2018-11-09``, ``2018-11-09T22:21:00Z``), or None."""
    m = _TABLE_DATE.fullmatch(value.strip())
    if m is None:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:  # 2018-02-30
        return None


def find_date(line: str) -> dt.date | None:
    """The first plausible calendar date written in a line (``9 Nov, 2018 22:21``), or None.
    Only full dates with a four-digit year count: ``Comments (3)`` holds no date."""
    found: list[tuple[int, dt.date]] = []
    for pattern in _IN_LINE:
        for m in pattern.finditer(line):
            g = m.groupdict()
            month = (
                int(g["num_month"]) if g.get("num_month") else _MONTHS.get(g["month"].lower(), 0)
            )
            try:
                date = dt.date(int(g["year"]), month, int(g["day"]))
            except ValueError:
                continue
            if implausible(date) is None:
                found.append((m.start(), date))
    return min(found)[1] if found else None


def metadata_path(seeds_dir: Path | str) -> Path:
    """Where the metadata table of the articles in seeds_dir lives."""
    return Path(seeds_dir) / METADATA_FILE


def check_fields(fields: Mapping[str, str], where: str) -> tuple[dict[str, str], list[str]]:
    """One row's fields cleaned (date made YYYY-MM-DD), and what is wrong with them; ``where``
    names the row in messages (``seeds/articles.csv row 3``)."""
    row = {c: (fields.get(c) or "").strip() for c in METADATA_COLUMNS}
    problems: list[str] = []
    for column, limit in MAX_LENGTHS.items():
        if len(row[column]) > limit:
            problems.append(
                f"{where}: the {column} is {len(row[column]):,} characters long, more than the "
                f"{limit:,} allowed ({_LIMITS}); shorten it or leave it empty"
            )
            row[column] = ""  # not quoted in the messages below
    for column in METADATA_COLUMNS:
        # Control characters (NUL, escape codes) break the CSV readers of other tools; tabs and
        # line breaks are whitespace, made spaces or caught as line breaks before this.
        bad = next((ch for ch in row[column] if unicodedata.category(ch) == "Cc"), None)
        if bad is not None:
            problems.append(
                f"{where}: the {column} holds the control character {bad!r} "
                f"(U+{ord(bad):04X}); delete it"
            )
    if row["date"]:
        date = parse_table_date(row["date"])
        if date is None:
            problems.append(
                f"{where}: date {row['date']!r} is not a calendar date; write it as YYYY-MM-DD "
                "(e.g. 2018-11-09), or leave it empty if the date is unknown"
            )
        elif (why := implausible(date)) is not None:
            problems.append(
                f"{where}: date {row['date']!r} {why}, not a publication date; correct it "
                "(YYYY-MM-DD), or leave it empty if the date is unknown"
            )
        else:
            row["date"] = date.isoformat()
    if row["url"] and not row["url"].lower().startswith(("http://", "https://")):
        problems.append(
            f"{where}: url {row['url']!r} is not a web address; write it starting with "
            "http:// or https://, or leave it empty"
        )
    return row, problems


def _records(path: Path) -> list[tuple[int, list[str]]]:
    """The CSV records of the table with the line each starts on."""
    if path.is_dir():
        raise StanceError(
            f"{path}: a folder, not a file; the metadata table must be a CSV file: move the "
            "folder out of the article folder (or rename it), then run this again"
        )
    text = decode_utf8(read_bytes(path), path, "save the file as CSV UTF-8", bom=True)
    # strict: a quote in the wrong place (an unclosed one) is an error, not read on
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for record in reader:
            records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        where = f"{path} row {len(records) + 1} (line {start})"
        if "field larger than field limit" in str(exc):
            raise StanceError(
                f"{where}: a cell longer than {csv.field_size_limit():,} characters; the longest "
                f'cells allowed are: {_LIMITS} characters; shorten it (or close the quote (") '
                "left open in this row, which makes a cell run on over the rows after it)"
            ) from None
        raise StanceError(
            f'{where}: not valid CSV ({exc}): a quote (") opened in this row is not closed where '
            "its cell ends, so the rows after it would be read as part of the cell; close the "
            'quote, or write a quote inside a quoted cell twice ("He said ""no""")'
        ) from None
    return records


def read_metadata(path: Path | str, article_ids: Collection[str]) -> Metadata:
    """The validated metadata table (empty when there is no file), every problem reported at
    once with its row; ``article_ids`` are the articles of the corpus."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return {}
    records = _records(path)
    header = [c.strip() for c in records[0][1]] if records else []
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
    for number, (line, record) in enumerate(records[1:], 2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        where = f"{path} row {number}"
        if len(record) > len(header):
            problems.append(
                f"{where}: {len(record)} cells but {len(header)} columns; quote cells that "
                'contain a comma ("Kabul, Afghanistan")'
            )
            continue
        cells = zip(header, record, strict=False)
        broken = next((c for c, cell in cells if "\n" in cell or "\r" in cell), None)
        if broken is not None:
            # Every value is one line; a line break in a cell is nearly always a quote left
            # open, which swallows the rows after it into the cell.
            problems.append(
                f"{where}: the {broken} cell runs over a line break (from line {line}): a "
                'quote (") left open there swallows the rows after it; close the quote, or '
                "write the cell on one line"
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
        if article_id not in article_ids:
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
        columns = METADATA_COLUMNS[1:]
        writer.writerows([a, *(table[a].get(c, "") for c in columns)] for a in sorted(table))
