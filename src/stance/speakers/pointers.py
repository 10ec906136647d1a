"""Words that point back ("he", "the spokesman", "the letter") and whom they refer to."""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from stance.config import load_yaml
from stance.speakers.mapping import Mention, SpeakerMapping

# Pronouns of one person, and the possessives that go with them ("his spokesman").
_PERSONAL = {"he": "he", "she": "she", "his": "he", "her": "she"}
# "the spokesman", "her campaign": a title after these points back to a source named before.
POINTERS = frozenset(("the", "his", "her", "their", "its"))
_CAPITALISED = r"[A-Z][\w&’'.-]*"
NAME = re.compile(rf"(?<![\w]){_CAPITALISED}")
# Capitalised words in a row, commas between them allowed: "Democratic nominee Hillary Clinton".
_NAME_RUN = re.compile(rf"(?<![\w]){_CAPITALISED}(?:,?\s+{_CAPITALISED})*")
_WORD = re.compile(r"[a-z]+")
# Not a given name: an initial, or what follows a surname ("George W. Bush", "Jr.").
_NOT_GIVEN = re.compile(r"^(?:[A-Z]|Jr|Sr|II|III|IV)$")


@functools.cache
def _given_names() -> tuple[dict[str, str], dict[str, str]]:
    """Given names and honorifics (given_names.yaml), each -> "he" or "she"."""
    resource = importlib.resources.files("stance.speakers").joinpath("given_names.yaml")
    with importlib.resources.as_file(resource) as path:
        data = load_yaml(path)
    given = {name: p for p in ("he", "she") for name in data[p]}
    honorifics = {name: p for p, names in data["honorifics"].items() for name in names}
    return given, honorifics


def pronoun_of(name: str, surnames: Mapping[str, str | None] | None = None) -> str | None:
    """ "he" or "she" for a person's name, where the name tells: its given name ("Donald Trump",
    "George W. Bush"), an honorific ("Mrs. Clinton"), or a surname that ``surnames`` knows
    from a full name the article gave ("Clinton" after "Hillary Clinton")."""
    given, honorifics = _given_names()
    words = [w.strip(".,’'") for w in name.split()]
    words = [w for w in words if w and not _NOT_GIVEN.match(w)]
    if not words:
        return None
    if words[0] in honorifics:
        return honorifics[words[0]]
    if len(words) > 1:
        return given.get(words[-2])
    return (surnames or {}).get(words[0])


def surnames_of(full_names: Iterable[str]) -> dict[str, str | None]:
    """The pronoun of each surname of an article's full names; None where two disagree."""
    found: dict[str, str | None] = {}
    for name in full_names:
        words = name.split()
        pronoun = pronoun_of(name) if len(words) > 1 else None
        if pronoun is not None:
            surname = words[-1].strip(".,’'")
            found[surname] = pronoun if found.get(surname, pronoun) == pronoun else None
    return found


def phrase_pronoun(phrase: str, surnames: Mapping[str, str | None]) -> str | None:
    """The pronoun a source phrase tells: "he"/"she"/"his"/"her" pointing back, or the name
    that ends its last run of capitalised words ("Democratic nominee Hillary Clinton")."""
    words = phrase.split()
    if words and words[0].lower() in _PERSONAL:
        return _PERSONAL[words[0].lower()]
    runs = _NAME_RUN.findall(phrase)
    return pronoun_of(runs[-1].replace(",", ""), surnames) if runs else None


@dataclass(frozen=True)
class Person:
    """A person a sentence names: where, the speaker they speak for, and their pronoun."""

    start: int
    speaker: str
    pronoun: str | None


@dataclass(frozen=True)
class Context:
    """What a word pointing back can refer to at one sentence of an article: the latest speaker,
    the latest source each pronoun fits, the people the narration just before names, and the
    latest source by title."""

    latest: str | None = None
    # "he"/"she" -> the speaker of the latest source whose name does not tell the other one.
    latest_for: Mapping[str, str] = field(default_factory=dict)
    named: Sequence[Person] = ()
    titled: Mapping[str, str] = field(default_factory=dict)  # title -> its latest source

    def resolve(self, pointer: str, mapping: SpeakerMapping) -> tuple[str | None, str]:
        """The speaker ``pointer`` ("he", "the spokesman", "her campaign") refers to, and why."""
        words = pointer.lower().split()
        pronoun = _PERSONAL.get(words[0])
        if pronoun is not None and (len(words) == 1 or words[0] in ("his", "her")):
            # One whose name tells this pronoun first, else one whose name tells nothing.
            fits = [p for p in self.named if p.pronoun == pronoun]
            fits = fits or [p for p in self.named if p.pronoun is None]
            if fits:
                why = f"refers to the person named just before, {fits[0].speaker}"
                return fits[0].speaker, why
            if pronoun in self.latest_for and self.latest_for[pronoun] != self.latest:
                speaker = self.latest_for[pronoun]
                return speaker, f"refers back to the latest source '{words[0]}' fits, {speaker}"
        elif len(words) > 1 and words[0] in POINTERS and words[-1] in mapping.cues.roles:
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


def people_named(
    text: str,
    mentions: Sequence[Mention],
    people: dict[str, str],
    surnames: Mapping[str, str | None],
) -> list[Person]:
    """The people a sentence names, in order: mapped names of two or more capitalised words
    ("Zalmay Khalilzad") and people the article introduced, each with the pronoun it tells."""
    found: list[Person] = []
    for m in mentions:
        name = text[m.start : m.end]
        if len(name.split()) > 1 and all(w[:1].isupper() for w in name.split()):
            found.append(Person(m.start, m.entry.speaker, pronoun_of(name, surnames)))
    for match in NAME.finditer(text):
        name = match[0].strip(".,’'")
        if name in people:
            found.append(Person(match.start(), people[name], pronoun_of(name, surnames)))
    return sorted(found, key=lambda p: p.start)


def titles_of(source: str, mapping: SpeakerMapping) -> list[str]:
    """The titles (the lexicon's roles) in a source phrase: "the Taliban's deputy leader"."""
    return [w for w in _WORD.findall(source.lower()) if w in mapping.cues.roles]
