"""Article sources `stance add` reads: plain text, saved web pages (HTML) and JSON Lines exports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from stance.corpus.articles import bounded_id, decode_article, safe_article_id
from stance.corpus.metadata import EARLIEST_DATE, check_fields, latest_date
from stance.errors import StanceError, decode_utf8, json_lines, parse_json, read_bytes

HTML_SUFFIXES = (".html", ".htm")
# JSON Lines fields read as metadata (``sitename``: the outlet in trafilatura's JSON output).
JSONL_TEXT_FIELD = "text"
JSONL_FIELDS = {
    "title": "title",
    "outlet": "outlet",
    "sitename": "outlet",
    "date": "date",
    "url": "url",
}
JSONL_ID_FIELDS = ("article_id", "id")
# The longest JSON Lines line read (one article with its metadata): far above any article.
MAX_JSONL_LINE_BYTES = 10 * 1024 * 1024
_ONE_OBJECT = "each line must be one JSON object (a text with line breaks writes them as \\n)"
# Browsers write the page's address into a saved page: <!-- saved from url=(0042)https://... -->
_SAVED_FROM = re.compile(rb"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.IGNORECASE)
# The largest page read: news pages are well under 5 MB even saved with their images inlined
# (SingleFile); larger files are not pages of one article and make the parser slow.
MAX_PAGE_BYTES = 20 * 1024 * 1024
# Running text: a line (trafilatura gives one per paragraph) at least this long that ends like
# a sentence. Menu entries, headlines and teaser links are shorter or end without a full stop.
MIN_SENTENCE_CHARS = 30
# An article has at least this much running text, and running text makes at least this share
# of what was extracted (a short news item of two sentences passes both).
MIN_PROSE_CHARS = 200
MIN_PROSE_SHARE = 0.5
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’»)\]]*$")
# Page types (og:type, schema.org @type) of front, section and search pages, not of articles.
NOT_ARTICLE_TYPES = {
    "website",
    "collectionpage",
    "searchresultspage",
    "aboutpage",
    "contactpage",
    "profilepage",
    "checkoutpage",
}


@dataclass
class Article:
    """One article read from a source: where from, the ID it asks for, its text and metadata."""

    source: str
    base_id: str
    text: str  # written as UTF-8: a plain text file's bytes as they were
    # The metadata row, checked (stance.corpus.metadata.check_fields); article_id not yet set.
    fields: dict[str, str]
    # The ID asked for (a file stem, an article_id field) before it was made safe.
    wanted_id: str


@dataclass
class Reading:
    """The articles of one source file, and what is wrong with it (problems stop the add)."""

    articles: list[Article] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_source(path: Path | str) -> Reading:
    """Read one file given to `stance add`, by its suffix: ``.html``/``.htm`` a saved web page,
    ``.jsonl`` a JSON Lines export (one article per line), anything else UTF-8 plain text."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        # The size before the read: a page too large is refused without holding it in memory.
        size = path.stat().st_size if suffix in HTML_SUFFIXES and path.is_file() else 0
        if size > MAX_PAGE_BYTES:
            raise StanceError(
                f"{path}: {size:,} bytes, more than the {MAX_PAGE_BYTES:,} bytes "
                f"({MAX_PAGE_BYTES // 2**20} MiB) read from a saved page; save the article's "
                "page without its images (Save Page As: HTML only), or copy its text into a "
                ".txt file"
            )
        data = read_bytes(path)
        if suffix in HTML_SUFFIXES:
            return read_html(data, path)
        if suffix == ".jsonl":
            return read_jsonl(data, path)
        text = decode_article(data, path)
    except StanceError as exc:  # what stops this file: the others are still checked
        return Reading(problems=[str(exc)])
    # A plain text file is copied byte for byte (offsets into it stay offsets into the source).
    return Reading([Article(str(path), safe_article_id(path.stem), text, {}, path.stem)])


def not_an_article(text: str, url: str, pagetype: str, date: str) -> str | None:
    """Why the text extracted from a page is not an article (a front page, navigation), or None."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a web address: no front page either
        parts = urlsplit("")
    if parts.netloc and parts.path in ("", "/") and not parts.query:  # https://news.example.org/
        return f"its address {url} is a site's front page"
    if pagetype.lower() in NOT_ARTICLE_TYPES and not date:
        return f"the page calls itself a {pagetype!r} (og:type), not an article, and has no date"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    prose = [t for t in lines if len(t) >= MIN_SENTENCE_CHARS and _SENTENCE_END.search(t)]
    prose_chars = sum(len(line) for line in prose)
    all_chars = sum(len(line) for line in lines)
    if not lines:
        return "the page has no main text"
    if prose_chars < MIN_PROSE_CHARS or prose_chars < MIN_PROSE_SHARE * all_chars:
        return (
            f"of its {len(lines)} text line(s), {len(prose)} read as sentences "
            f"({prose_chars} of {all_chars} characters); the rest are short items such as "
            "menu entries or headlines"
        )
    return None


def read_html(data: bytes, path: Path) -> Reading:
    """The main text and metadata (title, date, site name, URL) of a saved page of an article."""
    if not data.strip():
        raise StanceError(f"{path}: the file is empty; save the page again")
    import trafilatura

    # htmldate: the date from the page's metadata only (meta tags, JSON-LD, time elements, a
    # dated address), never a year in its text (a copyright line), and only from 1900 to tomorrow.
    dates = {"extensive_search": False, "original_date": True}
    dates |= {"min_date": EARLIEST_DATE.isoformat(), "max_date": latest_date().isoformat()}
    try:
        document = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            date_extraction_params=dates,
        )
    except Exception as exc:  # a parser failure on a bad file is bad input
        problem = f"{path}: cannot be read as a web page ({type(exc).__name__}: {exc})"
        raise StanceError(problem) from None
    # Every attribute as text, "" when missing (or when trafilatura found no document).
    doc = {k: getattr(document, k, None) or "" for k in ("text", "url", "pagetype", "date")}
    text = doc["text"].strip()
    url = doc["url"]
    saved_from = _SAVED_FROM.search(data)
    if not url and saved_from:
        url = saved_from.group(1).decode("utf-8", "replace")
    why = not_an_article(text, url, doc["pagetype"], doc["date"])
    if why is not None:
        raise StanceError(
            f"{path}: no article text: navigation or a front page? ({why}); save the "
            "article's own page, or copy the article's text into a .txt file"
        )
    fields = {
        "title": document.title or "",
        "outlet": document.sitename or document.hostname or "",
        "date": doc["date"],
        "url": url,
    }
    row, problems = check_fields({k: " ".join(v.split()) for k, v in fields.items()}, str(path))
    if problems:
        return Reading(problems=problems)
    article_text = text.replace("\r\n", "\n") + "\n"
    return Reading([Article(str(path), safe_article_id(path.stem), article_text, row, path.stem)])


def lone_surrogate(value: str) -> int | None:
    """The position of the first lone surrogate (half a UTF-16 pair) in a string, or None: JSON
    may escape one ("\\ud800"), but UTF-8 cannot encode it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _surrogate_problems(record: dict, where: str) -> list[str]:
    """A problem for each field name, or text of a field read, that holds a lone surrogate."""
    problems: list[str] = []
    used = (JSONL_TEXT_FIELD, *JSONL_FIELDS, *JSONL_ID_FIELDS)
    for key, value in record.items():
        if (at := lone_surrogate(key)) is not None:
            problems.append(
                f"{where}: a field name holds a lone surrogate ({key[at]!a}), half of a "
                "character pair and not valid Unicode; fix the name (or re-export the file)"
            )
        elif key in used and isinstance(value, str) and (at := lone_surrogate(value)) is not None:
            problems.append(
                f"{where}: field '{key}' holds a lone surrogate ({value[at]!a}) at "
                f"character {at + 1}, half of a character pair and not valid Unicode; write the "
                "character whole (\\ud83d\\ude00, not \\ud83d alone) or re-export the file"
            )
    return problems


def _jsonl_article(record: object, where: str, base: str) -> tuple[Article | None, list[str]]:
    """One JSON Lines record as an article, or the problems that stop it."""
    if not isinstance(record, dict):
        return None, [
            f"{where}: a JSON {type(record).__name__}, not an object; each line must be one "
            'object such as {"text": "...", "title": "...", "date": "2020-03-04"}'
        ]
    problems = _surrogate_problems(record, where)
    if problems:
        return None, problems
    text = record.get(JSONL_TEXT_FIELD)
    if not isinstance(text, str) or not text.strip():
        problems.append(
            f"{where}: no article text; give the text as a non-empty string in the "
            f"'{JSONL_TEXT_FIELD}' field"
        )
    elif "\x00" in text:
        problems.append(f"{where}: the text holds a NUL character (\\u0000); remove it")
    fields: dict[str, str] = {}
    for key, column in JSONL_FIELDS.items():
        value = record.get(key)
        if value is None or fields.get(column):
            continue
        if not isinstance(value, str):
            problems.append(
                f"{where}: field '{key}' is a JSON {type(value).__name__}; write it as a "
                'string (e.g. "date": "2020-03-04") or null'
            )
            continue
        fields[column] = " ".join(value.split())
    wanted = next((record[k] for k in JSONL_ID_FIELDS if record.get(k) not in (None, "")), None)
    if wanted is not None and not isinstance(wanted, str | int):
        problems.append(f"{where}: field 'article_id' must be a string; fix it or leave it out")
    fields, field_problems = check_fields(fields, where)
    problems += field_problems
    if problems:
        return None, problems
    wanted_id = str(wanted) if wanted is not None else base  # base is a safe ID already
    article_text = text.replace("\r\n", "\n").rstrip("\n") + "\n"
    return Article(where, safe_article_id(wanted_id), article_text, fields, wanted_id), []


def read_jsonl(data: bytes, path: Path) -> Reading:
    """The articles of a JSON Lines export (one object per line: ``text``, metadata fields and
    an optional ID); every bad line is a problem naming the file and line."""
    reading = Reading()
    content = decode_utf8(data, path, "export as UTF-8", bom=True)
    ignored: set[str] = set()
    stem = safe_article_id(path.stem)
    known = {JSONL_TEXT_FIELD, *JSONL_FIELDS, *JSONL_ID_FIELDS}
    for number, line in json_lines(content):
        where = f"{path} line {number}"
        size = len(line.encode("utf-8"))
        if size > MAX_JSONL_LINE_BYTES:
            reading.problems.append(
                f"{where}: {size:,} bytes, more than the {MAX_JSONL_LINE_BYTES:,} bytes "
                f"({MAX_JSONL_LINE_BYTES // 2**20} MiB) read from one line; is it one article? "
                "Split it, or save the article as a .txt file"
            )
            continue
        try:
            record = parse_json(line, path, _ONE_OBJECT, number)
        except StanceError as exc:
            reading.problems.append(str(exc))
            continue
        article, problems = _jsonl_article(record, where, bounded_id(f"{stem}_{number}"))
        reading.problems += problems
        if article is not None:
            reading.articles.append(article)
            ignored |= set(record) - known
    if not reading.articles and not reading.problems:
        reading.problems.append(f"{path}: no articles (the file has no non-blank line)")
    if ignored:
        reading.warnings.append(
            f"{path}: field(s) {', '.join(sorted(ignored))} ignored; the fields read are "
            f"{JSONL_TEXT_FIELD}, {', '.join(JSONL_FIELDS)} and {', '.join(JSONL_ID_FIELDS)}"
        )
    return reading
