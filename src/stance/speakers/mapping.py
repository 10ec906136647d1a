"""The speaker mapping (labels/speakers.yaml): loading, validation, matching."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from stance.config import line_at, load_yaml, yaml_lines
from stance.errors import StanceError
from stance.labels.schema import load_schema, problem_lines
from stance.speakers.cues import Cues, project_cues

SPEAKER_FIELD = "speaker"
# The speaker value of unattributed narration: it has no names, it is what is left.
NARRATION = "author"
TOP_KEYS = ("speakers", "same_source", "cues")
# Bounds of the mapping file, which is read, checked and indexed whole.
MAX_NAMES = 10_000
MAX_SAME_SOURCE = 1_000
MAX_NAME_CHARS = 200
MAX_FILE_BYTES = 10_000_000
# The rules and the leak guard read a sentence up to here, which bounds the work per sentence: a
# longer "sentence" is page text the splitter could not cut (the longest seed sentence has 365).
MAX_SENTENCE_CHARS = 2_000
# A text cut into words (runs of word characters) and single punctuation marks; whitespace
# separates them. Names are cut the same way and looked up by their tokens.
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD_CHAR = re.compile(r"\w")
_AROUND = re.compile(r"\W*(.*?)\W*", re.DOTALL)
_NOT_AFTER = re.compile(r"[\w-]")  # a name does not start right after these ("pro-Taliban")


@dataclass(frozen=True)
class NameEntry:
    """One name, role or organisation and the speaker value it stands for."""

    name: str
    speaker: str


@dataclass(frozen=True)
class Mention:
    """A mapped name found in a text: character span and the entry."""

    start: int
    end: int
    entry: NameEntry


@dataclass
class SpeakerMapping:
    """Names, roles and organisations by speaker value, and the words that refer back."""

    entries: list[NameEntry]
    same_source: list[str]
    speakers: list[str]
    source: str
    cues: Cues

    def __post_init__(self) -> None:
        self._back = {_phrase_key(w) for w in (*self.same_source, *self.cues.back)} - {""}
        # One index, (any case, tokens) -> [(rank, entry, spaced)], longest name first ("Afghan
        # Foreign Ministry" wins over "Afghan"); spaced: whether whitespace follows each token.
        self._grams: dict[tuple[bool, tuple[str, ...]], list[tuple[int, NameEntry, tuple]]] = {}
        lengths: dict[tuple[bool, str], set[int]] = {}  # token counts by first token
        for rank, entry in enumerate(sorted(self.entries, key=lambda e: (-len(e.name), e.name))):
            spans = [m.span() for m in _TOKEN.finditer(entry.name)]
            tokens = tuple(entry.name[a:b] for a, b in spans)
            spaced = tuple(a[1] < b[0] for a, b in itertools.pairwise(spans))
            # A name in lower case matches in any case ("militants", "Militants"); one with a
            # capital only as written ("US" must not match "us").
            case = entry.name == entry.name.lower()
            self._grams.setdefault((case, tokens), []).append((rank, entry, spaced))
            lengths.setdefault((case, tokens[0]), set()).add(len(tokens))
        self._lengths = {key: sorted(n) for key, n in lengths.items()}
        self._any_case = any(case for case, _ in self._lengths)
        titles: dict[str, set[str]] = {}  # each word of a name -> the speakers it names
        for entry in self.entries:
            for word in entry.name.lower().split():
                titles.setdefault(word, set()).add(entry.speaker)
        self._titles = {word: frozenset(s) for word, s in titles.items()}

    def mentions(self, text: str) -> list[Mention]:
        """Mapped names in ``text``, left to right, as whole words ("Taliban’s" matches "Taliban"),
        spaced where the name is; at a token the longest (then alphabetical) name wins."""
        spans = [m.span() for m in _TOKEN.finditer(text)]
        exact = tuple(text[a:b] for a, b in spans)
        lower = tuple(t.lower() for t in exact) if self._any_case else exact
        found: list[Mention] = []
        i, count = 0, len(spans)
        while i < count:
            start = spans[i][0]
            if start and _NOT_AFTER.match(text, start - 1):
                i += 1
                continue
            best: tuple[int, NameEntry, int] | None = None
            for case, tokens in ((False, exact), (True, lower)):
                for n in self._lengths.get((case, tokens[i]), ()):
                    if i + n > count:
                        break
                    if _WORD_CHAR.match(text, spans[i + n - 1][1]):
                        continue  # not a whole word
                    gaps = tuple(spans[i + k][1] < spans[i + k + 1][0] for k in range(n - 1))
                    for rank, entry, spaced in self._grams.get((case, tokens[i : i + n]), ()):
                        if best is not None and rank >= best[0]:
                            break
                        if spaced == gaps:
                            best = (rank, entry, n)
                            break
            if best is None:
                i += 1
                continue
            _, entry, n = best
            found.append(Mention(start, spans[i + n - 1][1], entry))
            i += n
        return found

    def titled(self, title: str) -> frozenset[str]:
        """The speakers with a name that carries the word ``title`` ("President Donald Trump"
        carries "president"), in any case."""
        return self._titles.get(title.lower(), frozenset())

    def refers_back(self, phrase: str) -> bool:
        """Whether ``phrase`` is a same_source word ("he", "the letter"), in any case."""
        return _phrase_key(phrase) in self._back

    def names_in(self, text: str) -> frozenset[str]:
        """The mapped names the rules can find in sentence ``text`` (up to MAX_SENTENCE_CHARS)."""
        return frozenset(m.entry.name for m in self.mentions(text[:MAX_SENTENCE_CHARS]))

    def without_names(self, names: Iterable[str]) -> SpeakerMapping:
        """The mapping without the entries of these names."""
        left_out = set(names)
        return replace(self, entries=[e for e in self.entries if e.name not in left_out])

    def articles_naming(self, texts: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
        """The articles of ``texts`` ((article, text) pairs) naming each name, for every fold."""
        found: dict[str, set[str]] = {}
        for article, text in texts:
            for name in self.names_in(text):
                found.setdefault(name, set()).add(article)
        return found


def _phrase_key(phrase: str) -> str:
    """The key same_source words compare by: lower case, outer punctuation off, single spaces."""
    return " ".join(_AROUND.fullmatch(phrase).group(1).lower().split())  # type: ignore[union-attr]


def load_mapping(path: Path | str, schema_path: Path | str) -> SpeakerMapping:
    """Read and check the mapping file; every problem is named with its line, entry and fix.
    The speaker values are those of the label schema; a name stands for one speaker only."""
    path = Path(path)
    speakers = load_schema(schema_path).values(SPEAKER_FIELD)
    if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
        raise StanceError(
            f"{path}: {path.stat().st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a speaker "
            f"mapping may have (at most {MAX_NAMES:,} names of at most {MAX_NAME_CHARS} "
            "characters); is it the right file?"
        )
    data = load_yaml(path)
    lines = yaml_lines(path.read_text(encoding="utf-8"))
    at = line_at(lines)

    if not isinstance(data, dict) or "speakers" not in data:
        raise StanceError(
            f"{path}: the speaker mapping must be a YAML mapping with a 'speakers' key (speaker "
            "value -> list of names, roles and organisations), an optional 'same_source' list and "
            "optional 'cues'; see docs/speakers.md"
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
    total, same_source = 0, data.get("same_source") or []
    for speaker, names in groups.items():  # stop at once on too many names
        if not isinstance(names, list):
            continue
        if total + len(names) > MAX_NAMES:
            i = MAX_NAMES - total
            count = sum(len(v) for v in groups.values() if isinstance(v, list))
            raise StanceError(
                f"{path}: {at('speakers', speaker, i)}speakers.{speaker}[{i}]: name number "
                f"{MAX_NAMES + 1:,} of {count:,}; a mapping has at most {MAX_NAMES:,} names: "
                "keep the names, roles and organisations that occur in the articles"
            )
        total += len(names)
    if isinstance(same_source, list) and len(same_source) > MAX_SAME_SOURCE:
        raise StanceError(
            f"{path}: {at('same_source')}same_source: {len(same_source):,} words, more than "
            f"{MAX_SAME_SOURCE:,}; keep the words that point back to a source (he, she, they, "
            "the letter)"
        )
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
        if names is not None and not isinstance(names, list):
            problems.append(
                f"{at('speakers', speaker)}speakers.{speaker}: must be a list of names "
                "(one '- Name' per line)"
            )
            continue
        for i, name in enumerate(names or []):
            where = f"{at('speakers', speaker, i)}speakers.{speaker}[{i}]"
            if not isinstance(name, str) or not name.strip():
                problems.append(f"{where}: {name!r} is not a name; write the name as text")
            elif name != name.strip():
                problems.append(f"{where}: {name!r} has spaces around it; remove them")
            elif len(name) > MAX_NAME_CHARS:
                problems.append(
                    f"{where}: a name of {len(name):,} characters, more than {MAX_NAME_CHARS}; "
                    "write the name alone (a role or organisation, not a sentence)"
                )
            elif name in owner:
                other, other_line = owner[name]
                problems.append(
                    f"{where}: {name!r} is listed already under {other}"
                    + (f" (line {other_line})" if other_line else "")
                    + "; a name stands for one speaker, keep one of the two"
                )
            else:
                owner[name] = (speaker, lines.get(("speakers", speaker, str(i)), 0))
                entries.append(NameEntry(name, speaker))
    if not isinstance(same_source, list) or not all(
        isinstance(w, str) and w.strip() and len(w) <= MAX_NAME_CHARS for w in same_source
    ):
        problems.append(
            f"{at('same_source')}same_source: must be a list of words or phrases (of at most "
            f"{MAX_NAME_CHARS} characters), e.g. [he, she, they, the letter]"
        )
        same_source = []
    cues = project_cues(data.get("cues"), at, problems)
    if problems:
        raise StanceError(
            f"{path}: the speaker mapping has {len(problems)} problem(s):\n"
            + problem_lines(problems)
        )
    return SpeakerMapping(entries, [str(w) for w in same_source], speakers, str(path), cues)
