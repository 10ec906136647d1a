"""What every tool format shares: queue items, imported annotations and reading JSON/JSONL files."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.errors import StanceError, decode_utf8, json_lines, parse_json, read_bytes

# The note field of the tools' labeling interfaces (Label Studio TextArea, Prodigy meta).
NOTE = "note"


@dataclass(frozen=True)
class Suggestion:
    """A model's suggestion for one label field of a sentence: never a label, only a hint."""

    field: str
    value: str
    score: float
    model: str  # e.g. "word_lr (run 0123abcd)"


@dataclass(frozen=True)
class QueueItem:
    """A sentence to label, with its neighbours in the article for context."""

    sentence_id: str
    article_id: str
    position: int
    text: str
    before: str  # the previous sentence of the article ("" for the first)
    after: str  # the next sentence of the article ("" for the last)
    suggestion: Suggestion | None = None

    def ids(self) -> dict[str, Any]:
        """What an import needs to find the sentence again exactly."""
        return {k: getattr(self, k) for k in ("sentence_id", "article_id", "position")}


@dataclass
class ToolAnnotation:
    """One human annotation read from a tool's export, before it is matched to a sentence."""

    where: str  # its position in the file: "item 3 (task id 17)", "line 4"
    text: str | None
    sentence_id: str | None
    article_id: str | None
    values: dict[str, list[str]]  # label field -> the value(s) chosen (several is a mistake)
    note: str = ""

    @classmethod
    def of(cls, where: str, text: Any, ids: dict[str, Any], *rest: Any) -> ToolAnnotation:
        """An annotation with its text and the sentence_id and article_id of ``ids`` as text."""
        sid, article = (as_str(ids.get(k)) for k in ("sentence_id", "article_id"))
        return cls(where, as_str(text), sid, article, *rest)


@dataclass
class ToolRead:
    """What a tool's export holds: human annotations, items that are no label, and problems."""

    annotations: list[ToolAnnotation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "item 4: cancelled in Label Studio"
    problems: list[str] = field(default_factory=list)


def as_str(value: Any) -> str | None:
    """A text field of an item: a string, a number written as text, or None when absent."""
    if value == "" or not isinstance(value, int | float | str):
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def read_jsonl(path: Path, tool: str, how: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """("<path> line <n>", object) for every non-blank line of a JSONL file (doccano, Prodigy)."""
    fix = f"a {tool} export has one JSON object per line: {how}"
    for number, line in json_lines(decode_utf8(read_bytes(path), path, how, bom=True)):
        obj = parse_json(line, path, fix, number)
        if not isinstance(obj, dict):
            raise StanceError(
                f"{path} line {number}: a JSON {type(obj).__name__}, not an object; {fix}"
            )
        yield f"{path} line {number}", obj


def own_records(
    text: str, lines: bool, keys: Collection[str], required: Collection[str]
) -> list[dict[str, Any]] | None:
    """The records of a file an export wrote (a JSON list, or JSON Lines when ``lines``) when
    each is an object with only ``keys`` and all of ``required``; else None (not ours)."""
    try:
        if lines:
            records = [json.loads(line) for line in text.split("\n") if line.strip()]
        else:
            records = json.loads(text)
    except (ValueError, RecursionError):
        return None
    ok = isinstance(records, list) and all(
        isinstance(r, dict) and set(required) <= set(r) <= set(keys) for r in records
    )
    return records if ok else None


def choice_values(
    chosen: list[str], fields: list[str], where: str, what: str, fix: str, read: ToolRead
) -> dict[str, list[str]]:
    """The values per label field of chosen ``field:value`` strings; others are problems."""
    values: dict[str, list[str]] = {f: [] for f in fields}
    for label in chosen:
        name, sep, value = str(label).partition(":")
        if not sep or name.strip() not in fields:
            read.problems.append(
                f"{where}: {what} {label!r} is not FIELD:VALUE with FIELD one of "
                f"{', '.join(fields)}; {fix}"
            )
            continue
        values[name.strip()].append(value.strip())
    return values
