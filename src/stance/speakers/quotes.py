"""Quotation marks: which characters of a sentence are quoted, and where a quotation runs on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Double quotation marks: “ ” and the straight one (opening or closing by its neighbours).
_OPEN, _CLOSE, _STRAIGHT = "“", "”", '"'
# Two-character marks of plain-text and treebank-style news: ``…'' and ''…'' read as “…”.
_PAIRS = re.compile(r"``|''")
MASK = "\x00"


def _opens(before: str) -> bool:
    """Whether a straight mark after the character ``before`` opens a quotation."""
    return before.isspace() or before in "([{—-"


@dataclass(frozen=True)
class QuoteShape:
    """A sentence's text with quoted passages masked, and its quotation state."""

    outside: str
    starts_inside: bool
    ends_inside: bool
    all_quoted: bool  # a quotation with nothing but punctuation outside it


def quote_shape(text: str, inside: bool) -> QuoteShape:
    """Mask quoted characters (and the marks) of ``text``; ``inside``: it starts in a quote."""
    chars = list(text)
    # Each two-character mark becomes one double mark followed by a masked character.
    marks = _PAIRS.sub(lambda m: ("“" if m[0] == "``" else _STRAIGHT) + MASK, text)
    state, has_quote = inside, inside
    for i, c in enumerate(marks):
        if c == _STRAIGHT:  # opening or closing by its neighbours; else masked and left aside
            before = marks[i - 1] if i else " "
            c = _CLOSE if state else _OPEN if _opens(before) else c
        if c in (_OPEN, _CLOSE):
            state, has_quote = c == _OPEN, True
        if state or c in (_CLOSE, _STRAIGHT, MASK):
            chars[i] = MASK
    outside = "".join(chars)
    bare = not outside.replace(MASK, "").strip(" ,.;:!?…-—")
    return QuoteShape(outside, inside, state, has_quote and bare)


def closes_first(texts: Sequence[str], paragraph_starts: Sequence[bool], i: int) -> bool:
    """Whether the first quotation mark of the paragraph starting at sentence ``i`` closes a
    quotation (“…”, ``…'' and straight marks by their neighbours), within 20 sentences."""
    end = i
    while end < min(len(texts), i + 20) and (end == i or not paragraph_starts[end]):
        marks = _PAIRS.sub(lambda m: "“" if m[0] == "``" else "”", texts[end])
        for k, c in enumerate(marks):
            if c in (_OPEN, _CLOSE):
                return c == _CLOSE
            if c == _STRAIGHT:
                return not _opens(marks[k - 1] if k else " ")
        end += 1
    return False


def article_shapes(texts: Sequence[str], paragraph_starts: Sequence[bool]) -> list[QuoteShape]:
    """The quotation shape of every sentence of an article, in order."""
    shapes: list[QuoteShape] = []
    for i, text in enumerate(texts):
        # An unclosed quotation runs into the next paragraph only where that paragraph closes it
        # before opening one; by the usual convention a continued quotation opens the paragraph.
        inside = bool(shapes) and shapes[-1].ends_inside
        if inside and paragraph_starts[i]:
            inside = closes_first(texts, paragraph_starts, i)
        shapes.append(quote_shape(text, inside))
    return shapes
