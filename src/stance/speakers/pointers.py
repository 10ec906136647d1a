"""Words that point back ("he", "the spokesman", "the letter") and whom they refer to."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stance.speakers.mapping import Mention, SpeakerMapping

# Pronouns of one person: after narration that names a person, they refer to that person.
_PERSONAL = frozenset(("he", "she"))
# "the spokesman", "her campaign": a title after these points back to a source named before.
POINTERS = frozenset(("the", "his", "her", "their", "its"))
_WORD = re.compile(r"[a-z]+")
NAME = re.compile(r"(?<![\w])[A-Z][\w&’'.-]*")


@dataclass(frozen=True)
class Context:
    """What a word pointing back can refer to at one sentence of an article: the latest
    speaker, the person the narration just before names, and the latest source by title."""

    latest: str | None = None
    named: str | None = None
    titled: Mapping[str, str] = field(default_factory=dict)  # title -> its latest source

    def resolve(self, pointer: str, mapping: SpeakerMapping) -> tuple[str | None, str]:
        """The speaker ``pointer`` ("he", "the spokesman") refers to, and why."""
        words = pointer.lower().split()
        if len(words) == 1 and words[0] in _PERSONAL and self.named is not None:
            return self.named, f"refers to the person named just before, {self.named}"
        if len(words) > 1 and words[0] in POINTERS and words[-1] in mapping.cues.roles:
            title = words[-1]
            if title in self.titled:
                speaker = self.titled[title]
                return speaker, f"refers back to the latest source titled {title!r}, {speaker}"
            owners = mapping.titled(title)
            if len(owners) == 1:
                (owner,) = owners
                return owner, f"is a title only {owner}'s names carry in the mapping"
        if self.latest is None:
            return None, ""
        return self.latest, f"refers back to {self.latest}"


def first_person(text: str, mentions: Sequence[Mention], people: dict[str, str]) -> str | None:
    """The speaker of the first person a sentence names: a mapped name of two or more
    capitalised words ("Zalmay Khalilzad") or a person the article introduced."""
    found: list[tuple[int, str]] = []
    for m in mentions:
        words = text[m.start : m.end].split()
        if len(words) > 1 and all(w[:1].isupper() for w in words):
            found.append((m.start, m.entry.speaker))
    for name in NAME.finditer(text):
        if name[0].strip(".,’'") in people:
            found.append((name.start(), people[name[0].strip(".,’'")]))
    return min(found)[1] if found else None


def titles_of(source: str, mapping: SpeakerMapping) -> list[str]:
    """The titles (the lexicon's roles) in a source phrase: "the Taliban's deputy leader"."""
    return [w for w in _WORD.findall(source.lower()) if w in mapping.cues.roles]
