"""The name-to-speaker mapping (labels/speakers.yaml): loading, validation, matching, leak guard."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stance.config import load_yaml
from stance.errors import StanceError
from stance.labels.schema import load_schema, problem_lines

SPEAKER_FIELD = "speaker"
# The speaker value of unattributed narration: it has no names, it is what is left.
NARRATION = "author"
TOP_KEYS = ("speakers", "same_source")


@dataclass(frozen=True)
class NameEntry:
    """One name, role or organisation and the speaker value it stands for."""

    name: str
    speaker: str
    line: int = 0

    @property
    def pattern(self) -> str:
        # Written in lower case: any case ("militants", "Militants"); with a capital: as written
        # ("US" must not match "us"). Whole words only; a possessive ("Taliban’s") still matches.
        body = re.escape(self.name).replace(r"\ ", r"\s+")
        body = f"(?i:{body})" if self.name == self.name.lower() else body
        return rf"(?<![\w-]){body}(?![\w])"


@dataclass(frozen=True)
class Mention:
    """A mapped name found in a text: character span, the entry and its speaker."""

    start: int
    end: int
    entry: NameEntry

    @property
    def speaker(self) -> str:
        return self.entry.speaker


@dataclass
class SpeakerMapping:
    """Names, roles and organisations by speaker value, and the words that refer back to the
    source named just before ("he", "the letter")."""

    entries: list[NameEntry]
    same_source: list[str]
    speakers: list[str]
    source: str = "labels/speakers.yaml"
    _regex: Any = field(default=None, repr=False)
    _back: Any = field(default=None, repr=False)
    # names_in of each text seen: the leak guard asks it of every text once per fold.
    _names: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Longest names first, so "Afghan Foreign Ministry" wins over "Afghan".
        ordered = sorted(self.entries, key=lambda e: (-len(e.name), e.name))
        self._ordered = ordered
        self._regex = (
            re.compile("|".join(f"(?P<e{i}>{e.pattern})" for i, e in enumerate(ordered)))
            if ordered
            else None
        )
        words = sorted(self.same_source, key=len, reverse=True)
        either = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
        self._back = re.compile(rf"^\W*(?:{either})\W*$", re.IGNORECASE) if words else None

    def mentions(self, text: str) -> list[Mention]:
        """Mapped names in ``text``, left to right, longest first where they overlap."""
        if self._regex is None:
            return []
        found = []
        for match in self._regex.finditer(text):
            index = int(match.lastgroup[1:])  # type: ignore[index]
            found.append(Mention(match.start(), match.end(), self._ordered[index]))
        return found

    def refers_back(self, phrase: str) -> bool:
        """Whether ``phrase`` is one of the same_source words ("he", "the letter")."""
        return self._back is not None and bool(self._back.match(phrase.strip()))

    def names_in(self, text: str) -> frozenset[str]:
        names = self._names.get(text)
        if names is None:
            names = self._names[text] = frozenset(m.entry.name for m in self.mentions(text))
        return names

    def without_names_only_in(
        self, held_out: Iterable[str], others: Iterable[str]
    ) -> SpeakerMapping:
        """The mapping without the entries whose name occurs in ``held_out`` texts and in none
        of ``others``.

        The leak guard of the evaluation: with the held-out article's texts and those of every
        other article, a name that occurs only in the held-out article is left out, as if the
        mapping had been written without reading that article. Names found in no article stay.
        """
        seen_out: set[str] = set()
        for text in held_out:
            seen_out |= self.names_in(text)
        seen_elsewhere: set[str] = set()
        for text in others:
            seen_elsewhere |= self.names_in(text)
        only_there = seen_out - seen_elsewhere
        kept = [e for e in self.entries if e.name not in only_there]
        return SpeakerMapping(kept, list(self.same_source), list(self.speakers), self.source)


def _lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every key and list item of a YAML document, by its path."""
    out: dict[tuple[str, ...], int] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return out

    def walk(node: Any, path: tuple[str, ...]) -> None:
        out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, str(key.value)))
                out[(*path, str(key.value))] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, str(i)))

    if root is not None:
        walk(root, ())
    return out


def load_mapping(path: Path | str, schema_path: Path | str) -> SpeakerMapping:
    """Read and check the mapping file; every problem is named with its line, entry and fix.

    The speaker values must be those of the label schema (``schema_path``); a name may stand for
    one speaker only.
    """
    path = Path(path)
    speakers = load_schema(schema_path).values(SPEAKER_FIELD)
    data = load_yaml(path)
    lines = _lines(path.read_text(encoding="utf-8"))

    def at(*keys: Any) -> str:
        line = lines.get(tuple(str(k) for k in keys))
        return f"line {line}: " if line else ""

    if not isinstance(data, dict) or "speakers" not in data:
        raise StanceError(
            f"{path}: the speaker mapping must be a YAML mapping with a 'speakers' key (speaker "
            "value -> list of names, roles and organisations) and an optional 'same_source' list; "
            "see docs/speakers.md"
        )
    problems: list[str] = []
    for key in data:
        if key not in TOP_KEYS:
            problems.append(
                f"{at(key)}unknown key {key!r}: the file has only {', '.join(TOP_KEYS)} "
                "(a speaker value goes under 'speakers:')"
            )
    groups = data["speakers"]
    entries: list[NameEntry] = []
    owner: dict[str, tuple[str, int]] = {}
    if not isinstance(groups, dict):
        problems.append(
            f"{at('speakers')}speakers: must map each speaker value to a list of names, e.g. "
            "'taliban: [Taliban, Zabihullah Mujahid]'"
        )
        groups = {}
    for speaker, names in groups.items():
        if speaker not in speakers:
            problems.append(
                f"{at('speakers', speaker)}speakers.{speaker}: {speaker!r} is not a speaker value "
                f"of {schema_path} ({', '.join(speakers)}); use one of them, or add the value to "
                "the label schema first"
            )
            continue
        if speaker == NARRATION:
            problems.append(
                f"{at('speakers', speaker)}speakers.{speaker}: unattributed narration has no "
                "names; remove this entry (a source named in the text is one of the other values)"
            )
            continue
        if names is None:
            names = []
        if not isinstance(names, list):
            problems.append(
                f"{at('speakers', speaker)}speakers.{speaker}: must be a list of names "
                "(one '- Name' per line)"
            )
            continue
        for i, name in enumerate(names):
            where = f"{at('speakers', speaker, i)}speakers.{speaker}[{i}]"
            if not isinstance(name, str) or not name.strip():
                problems.append(f"{where}: {name!r} is not a name; write the name as text")
                continue
            if name != name.strip():
                problems.append(f"{where}: {name!r} has spaces around it; remove them")
                continue
            line = lines.get(("speakers", speaker, str(i)), 0)
            if name in owner:
                other, other_line = owner[name]
                problems.append(
                    f"{where}: {name!r} is listed already under {other}"
                    + (f" (line {other_line})" if other_line else "")
                    + "; a name stands for one speaker, keep one of the two"
                )
                continue
            owner[name] = (speaker, line)
            entries.append(NameEntry(name, speaker, line))
    same_source = data.get("same_source") or []
    if not isinstance(same_source, list) or not all(
        isinstance(w, str) and w.strip() for w in same_source
    ):
        problems.append(
            f"{at('same_source')}same_source: must be a list of words or phrases, e.g. "
            "[he, she, they, the letter]"
        )
        same_source = []
    if problems:
        raise StanceError(
            f"{path}: the speaker mapping has {len(problems)} problem(s):\n"
            + problem_lines(problems)
        )
    return SpeakerMapping(entries, [str(w) for w in same_source], speakers, str(path))
