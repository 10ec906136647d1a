"""Saved web pages: the article text and publication metadata of one page, or why it has none."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from stance.corpus.dates import EARLIEST_DATE, latest_date

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
# Page types (og:type, schema.org @type) that sites give to front, section and search pages;
# article pages say "article" (or a schema.org article type).
NOT_ARTICLE_TYPES = {
    "website",
    "collectionpage",
    "searchresultspage",
    "aboutpage",
    "contactpage",
    "profilepage",
    "checkoutpage",
}


def extract(data: bytes) -> Any:
    """trafilatura's document (main text and metadata) of a page, or None; may raise on a file
    the parser cannot read."""
    import trafilatura

    # htmldate's settings: the publication date from the page's metadata only (meta tags,
    # JSON-LD, time elements, a dated address), never a year found in its text (a copyright
    # line, a number), and only dates from 1900 to tomorrow.
    dates = {"extensive_search": False, "original_date": True}
    dates |= {"min_date": EARLIEST_DATE.isoformat(), "max_date": latest_date().isoformat()}
    return trafilatura.bare_extraction(
        data,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params=dates,
    )


def not_an_article(text: str, url: str, pagetype: str, date: str) -> str | None:
    """Why the extracted text of a page is not an article (navigation, headlines, a front
    page), or None when it looks like one."""
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
