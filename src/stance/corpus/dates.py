"""Publication dates: strict parsing of table values and finding a date in a removed page line."""

from __future__ import annotations

import datetime as dt
import re

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
