"""Sentence splitting of articles (offsets into the raw file, stable IDs), less page chrome."""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from stance.errors import StanceError

# Characters stripped from a line before a rule is matched; U+FEFF is a BOM left in the text.
LINE_STRIP = " \t\f\v\u00a0\u2000\u2001\u2002\u2003\u2009\u200a\u200b\u202f\u3000\ufeff"
_BREAK = re.compile(r"\r\n|\r|\n")
# A candidate end of sentence: terminal punctuation, then closing quotes or brackets, then space.
_CANDIDATE = re.compile(r"(?:[.!?]+|…)[\"'”’»)\]]*(?=\s)")
_OPENERS = "\"'“‘«([…"
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_ALNUM = re.compile(r"\w")
_WHITESPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})


@dataclass(frozen=True)
class ChromeRule:
    """A named regular expression that a whole line must match to be page chrome."""

    name: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Line:
    """One line of a file: its number (1-based) and character offsets, line break excluded."""

    number: int
    start: int
    end: int


def compile_rules(rules: Iterable[dict]) -> list[ChromeRule]:
    """Compile chrome rules from config, naming the rule whose pattern is not a valid regex."""
    compiled = []
    for rule in rules:
        try:
            pattern = re.compile(rule["pattern"])
        except re.error as exc:
            raise StanceError(
                f"config split.chrome_rules '{rule['name']}': invalid regular expression "
                f"{rule['pattern']!r}: {exc}; fix the pattern in config/config.yaml"
            ) from None
        compiled.append(ChromeRule(rule["name"], pattern))
    return compiled


def iter_lines(text: str) -> Iterator[Line]:
    """Yield the lines of text; CRLF, LF and a lone CR all end a line."""
    start = 0
    for number, line in enumerate(_BREAK.split(text), 1):
        end = start + len(line)
        yield Line(number, start, end)
        start = end + (2 if text.startswith("\r\n", end) else 1)


def match_rule(line_text: str, rules: list[ChromeRule]) -> ChromeRule | None:
    """Return the first rule whose pattern matches the whole (stripped) line, if any."""
    stripped = line_text.strip(LINE_STRIP)
    return next((r for r in rules if stripped and r.pattern.fullmatch(stripped)), None)


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article: raw[start:end] == text; ``paragraph_start`` when a line break
    stands between it and the sentence before (or it is the first)."""

    sentence_id: str
    article_id: str
    position: int
    start: int
    end: int
    text: str
    paragraph_start: bool


@dataclass(frozen=True)
class RemovedLine:
    """A line removed as page chrome, with the rule that matched it."""

    article_id: str
    line: int
    start: int
    end: int
    rule: str
    text: str


class SentenceSplitter:
    """Rule-based splitter: line breaks always end a sentence; within a line, terminal
    punctuation ends one unless it belongs to an abbreviation or initialism."""

    def __init__(self, abbreviations: Iterable[str], initialism_sentence_starters: Iterable[str]):
        self.abbreviations = frozenset(abbreviations)
        self.starters = frozenset(initialism_sentence_starters)

    def _is_boundary(self, text: str, match: re.Match[str], next_pos: int, line_start: int) -> bool:
        nxt = text[next_pos]
        if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
            return False
        term = match.group()
        if not term.startswith(".") or term.startswith(".."):
            return True
        # The token that the period ends: back to the previous whitespace of any kind, within
        # this line (a scan from the article's start would make long texts quadratic).
        token_start = match.start()
        while token_start > line_start and not text[token_start - 1].isspace():
            token_start -= 1
        token = text[token_start : match.start()].lstrip(_OPENERS)
        if token in self.abbreviations:
            return False
        if len(token) == 1 and token.isupper():  # a middle initial: "John J. Smith"
            return False
        if _INITIALISM.fullmatch(token):
            word_end = next_pos
            while word_end < len(text) and text[word_end].isalpha():
                word_end += 1
            return text[next_pos:word_end] in self.starters
        return True

    def split_line(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Sentence spans (stripped of surrounding whitespace) within text[start:end]."""
        cuts = [start]
        for m in _CANDIDATE.finditer(text, start, end):
            next_pos = m.end()
            while next_pos < end and text[next_pos].isspace():
                next_pos += 1
            if next_pos < end and self._is_boundary(text, m, next_pos, start):
                cuts.append(m.end())
        cuts.append(end)
        spans: list[tuple[int, int]] = []
        pending_start: int | None = None
        for a, b in itertools.pairwise(cuts):
            if pending_start is not None:
                a = pending_start
            s, e = _strip_span(text, a, b)
            if e <= s:
                continue
            # A piece with no letter or digit (a lone ellipsis) joins the next sentence.
            if not _ALNUM.search(text, s, e):
                pending_start = s
                continue
            pending_start = None
            spans.append((s, e))
        if pending_start is not None:
            s, e = _strip_span(text, pending_start, end)
            if spans:
                spans[-1] = (spans[-1][0], e)
            elif e > s:
                spans.append((s, e))
        return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in LINE_STRIP):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in LINE_STRIP):
        end -= 1
    return start, end


def normalise(text: str) -> str:
    """The form of a sentence that its ID derives from: NFKC, plain quotes, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _WHITESPACE.sub(" ", text).strip()


def sentence_id(article_id: str, text: str, occurrence: int = 1) -> str:
    """``<article_id>:<12 hex digits of BLAKE2b(normalised text)>``, plus ``.<n>`` for the
    n-th (n >= 2) occurrence of the same normalised text in one article."""
    return _id_of_normalised(article_id, normalise(text), occurrence)


def _id_of_normalised(article_id: str, normalised: str, occurrence: int) -> str:
    digest = hashlib.blake2b(normalised.encode("utf-8"), digest_size=6).hexdigest()
    base = f"{article_id}:{digest}"
    return base if occurrence == 1 else f"{base}.{occurrence}"


def split_article(
    article_id: str, raw: str, splitter: SentenceSplitter, rules: list[ChromeRule]
) -> tuple[list[Sentence], list[RemovedLine]]:
    """Split an article into sentences, removing page chrome line by line."""
    sentences: list[Sentence] = []
    removed: list[RemovedLine] = []
    seen: Counter[str] = Counter()
    for line in iter_lines(raw):
        line_text = raw[line.start : line.end]
        rule = match_rule(line_text, rules)
        if rule is not None:
            text = line_text.strip(LINE_STRIP)
            removed.append(
                RemovedLine(article_id, line.number, line.start, line.end, rule.name, text)
            )
            continue
        for s, e in splitter.split_line(raw, line.start, line.end):
            text = raw[s:e]
            key = normalise(text)
            seen[key] += 1
            sid = _id_of_normalised(article_id, key, seen[key])
            # Blank lines separate paragraphs in most articles, single line breaks in some.
            gap = raw[sentences[-1].end : s] if sentences else "\n"
            opens = "\n" in gap or "\r" in gap
            sentences.append(Sentence(sid, article_id, len(sentences), s, e, text, opens))
    return sentences, removed
