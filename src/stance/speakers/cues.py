"""The cue lexicon: the words that mark reported speech (cues.yaml), and a mapping's changes."""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from stance.config import line_at, load_yaml, yaml_lines
from stance.errors import StanceError
from stance.labels.schema import problem_lines

# The kinds of cue (cues.yaml); a mapping's `cues:` section has these, and `remove`.
CUE_LISTS = (
    "verbs", "that_verbs", "headline_verbs", "listener_verbs", "phrases", "nouns", "roles"
)  # fmt: skip
MAX_CUES = 1_000  # per kind: a lexicon, not a dictionary of the language
_CUE_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_CUE_PHRASE = re.compile(rf"{_CUE_WORD.pattern}(?: {_CUE_WORD.pattern})*")


def verb_forms(verb: str, listed: Iterable[str] = ()) -> tuple[str, ...]:
    """``verb`` and its -s and -ed forms (regular spelling), or the forms ``listed`` for it."""
    listed = tuple(listed)
    if listed:
        return (verb, *listed)
    y = len(verb) > 1 and verb.endswith("y") and verb[-2] not in "aeiou"
    s = "ies" if y else "es" if verb.endswith(("s", "x", "z", "ch", "sh", "o")) else "s"
    ed = "ied" if y else "d" if verb.endswith("e") else "ed"
    base = verb[:-1] if y else verb
    return (verb, base + s, base + ed)


@dataclass(frozen=True)
class Cues:
    """The words that mark reported speech, by kind (docs/speakers.md, "Cues")."""

    verbs: frozenset[str]
    headline: frozenset[str]
    listener: frozenset[str]
    phrases: tuple[str, ...]
    back: frozenset[str]
    roles: frozenset[str] = frozenset()
    before_that: frozenset[str] = frozenset()  # cues only before "that" or a quotation

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        """A phrase (group ``phrase``) or a word (group ``word``; a verb if ``is_verb``)."""
        phrases = "|".join(
            f"[{p[0].upper()}{p[0]}]{re.escape(p[1:])}"
            for p in sorted(self.phrases, key=lambda p: (-len(p), p))
        )
        phrase = f"(?P<phrase>{phrases})|" if phrases else ""
        return re.compile(rf"(?<![\w-])(?:{phrase}(?P<word>[A-Za-z]+(?:-[A-Za-z]+)*))(?![\w-])")

    def is_verb(self, word: str) -> bool:
        return word in self.verbs or word in self.headline


def _cue_lists(
    data: Any, keys: tuple[str, ...], at: Callable[..., str], problems: list[str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Cues by kind and forms by verb of cues.yaml or a mapping's `cues:` (``keys`` ("cues",))."""
    lists: dict[str, list[str]] = {kind: [] for kind in (*CUE_LISTS, "remove")}
    forms: dict[str, list[str]] = {}
    known = (*CUE_LISTS, "forms", "remove") if keys else (*CUE_LISTS, "forms")
    if data is not None and not isinstance(data, dict):
        problems.append(
            f"{at(*keys)}{'.'.join(keys)}: must map cue kinds ({', '.join(known)}) to lists, "
            "e.g. 'verbs: [joke, quip]'"
        )
        data = None
    for key, value in (data or {}).items():
        path = (*keys, str(key))
        where = ".".join(path)
        if key not in known:
            problems.append(f"{at(*path)}unknown key {where!r}: cues are {', '.join(known)}")
            continue
        if key == "forms":
            if not isinstance(value, dict):
                problems.append(
                    f"{at(*path)}{where}: must map a verb to its forms, e.g. "
                    "'say: [says, said, saying]'"
                )
                continue
            for verb, listed in value.items():
                if not (
                    isinstance(listed, list)
                    and 0 < len(listed) <= 10
                    and all(isinstance(w, str) and _CUE_WORD.fullmatch(w) for w in listed)
                ):
                    problems.append(
                        f"{at(*path, verb)}{where}.{verb}: must list the verb's forms in lower "
                        "case, the -s form first, e.g. '[says, said, saying]'"
                    )
                    continue
                forms[str(verb)] = listed
            continue
        grouped = key in ("verbs", "that_verbs") and isinstance(value, dict)
        groups = value.items() if grouped else [(None, value)]
        for group, items in groups:
            at_group = (*path, str(group)) if group is not None else path
            shown = ".".join(at_group)
            if items is None:
                continue
            if not isinstance(items, list) or len(items) > MAX_CUES:
                problems.append(
                    f"{at(*at_group)}{shown}: must be a list of at most {MAX_CUES:,} cues, e.g. "
                    "'[joke, quip]'"
                )
                continue
            single = key not in ("phrases", "nouns", "remove")
            for i, item in enumerate(items):
                form = _CUE_WORD if single else _CUE_PHRASE
                if not isinstance(item, str) or not form.fullmatch(item):
                    what = "one word" if single else "a word or words separated by single spaces"
                    problems.append(
                        f"{at(*at_group, i)}{shown}[{i}]: {item!r} is not a cue: write "
                        f"{what} in lower case letters (a verb in its base form: joke, not joked)"
                    )
                    continue
                lists[key].append(item)
    return lists, forms


@functools.cache
def _default_cues() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The package's cue lexicon (cues.yaml): cues by kind and forms by verb."""
    resource = importlib.resources.files("stance.speakers").joinpath("cues.yaml")
    with importlib.resources.as_file(resource) as path:
        lines = yaml_lines(path.read_text(encoding="utf-8"))
        problems: list[str] = []
        lists, forms = _cue_lists(load_yaml(path), (), line_at(lines), problems)
    if problems:
        raise StanceError(f"{path}: the cue lexicon has problems:\n" + problem_lines(problems))
    return lists, forms


def _cues(lists: dict[str, list[str]], forms: dict[str, list[str]]) -> Cues:
    def all_forms(kind: str) -> set[str]:
        return {f for verb in lists[kind] for f in verb_forms(verb, forms.get(verb, ()))}

    headline = {
        f.capitalize() for v in lists["headline_verbs"] for f in verb_forms(v, forms.get(v, ()))[:2]
    }
    return Cues(
        frozenset(all_forms("verbs")),
        frozenset(headline),
        frozenset(all_forms("listener_verbs")),
        tuple(sorted(set(lists["phrases"]))),
        frozenset(f"the {noun}" for noun in lists["nouns"]),
        frozenset(lists["roles"]),
        frozenset(all_forms("that_verbs")),
    )


def project_cues(data: Any, at: Callable[..., str], problems: list[str]) -> Cues:
    """The package's cues with the additions and removals of a mapping's `cues:` section."""
    default, default_forms = _default_cues()
    lists, forms = _cue_lists(data, ("cues",), at, problems)
    known = {cue for cues in default.values() for cue in cues}
    for i, cue in enumerate(lists["remove"]):
        if cue not in known:
            problems.append(
                f"{at('cues', 'remove', i)}cues.remove[{i}]: {cue!r} is not a cue of the "
                "package's lexicon (src/stance/speakers/cues.yaml), so there is nothing to "
                "remove; check the spelling (a verb in its base form: say, not said)"
            )
    verbs = {*default["verbs"], *lists["verbs"], *default["that_verbs"], *lists["that_verbs"]}
    used = [(("forms", v), f"forms.{v}", v) for v in forms] + [
        ((kind, i), f"{kind}[{i}]", v)
        for kind in ("headline_verbs", "listener_verbs")
        for i, v in enumerate(lists[kind])
    ]
    for keys, shown, verb in used:
        if verb not in verbs:
            problems.append(
                f"{at('cues', *keys)}cues.{shown}: {verb!r} is not a verb of the cues; add it "
                "under cues.verbs too"
            )
    gone = set(lists["remove"])
    merged = {
        kind: [c for c in (*default[kind], *lists[kind]) if c not in gone] for kind in CUE_LISTS
    }
    return _cues(merged, {**default_forms, **forms})
