"""Page chrome: lines of a web page that are not article text, matched by rules from config."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from stance.errors import StanceError

# Characters stripped from a line before a rule is matched; U+FEFF is a BOM left in the text.
LINE_STRIP = " \t\f\v\u00a0\u2000\u2001\u2002\u2003\u2009\u200a\u200b\u202f\u3000\ufeff"
_BREAK = re.compile(r"\r\n|\r|\n")


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
