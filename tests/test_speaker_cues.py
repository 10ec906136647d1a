"""The cue lexicon of the speaker rules: the package's cues.yaml, a project's `cues:` section in
the mapping file (additions, removals, checks with lines) and what the rules do with them."""

from __future__ import annotations

import fnmatch
import importlib.resources
import tomllib
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, SCHEMA

from stance import codehash
from stance.errors import StanceError
from stance.speakers.cues import verb_forms
from stance.speakers.mapping import load_mapping
from stance.speakers.rules import attribute_article

NAMES = {"speakers": {"taliban": ["Taliban", "Mujahid"], "us_government": ["Pentagon"]}}
# The verbs the rules knew before the lexicon was a file: each must still be a cue.
# fmt: off
EARLIER_VERBS = [
    "say", "says", "said", "saying", "tell", "tells", "told", "state", "states", "stated", "add",
    "adds", "added", "adding", "write", "writes", "wrote", "writing", "insist", "insists",
    "insisted", "claim", "claims", "claimed", "claiming", "warn", "warns", "warned", "urge",
    "urges", "urged", "demand", "demands", "demanded", "stress", "stresses", "stressed", "note",
    "notes", "noted", "report", "reports", "reported", "announce", "announces", "announced",
    "accuse", "accuses", "accused", "indicate", "indicates", "indicated", "acknowledge",
    "acknowledged", "estimate", "estimates", "estimated", "vow", "vows", "vowed", "dismiss",
    "dismissed", "rebuke", "rebuked", "cite", "cited", "read", "reads", "argue", "argues", "argued",
    "assert", "asserted", "explain", "explained", "confirm", "confirmed", "deny", "denied",
    "threaten", "threatened", "welcome", "welcomed", "defend", "defended", "suggest", "suggested",
]
# fmt: on


def load(tmp_path: Path, cues: object = None, text: str | None = None):
    path = tmp_path / "speakers.yaml"
    data = dict(NAMES, cues=cues) if cues is not None else NAMES
    path.write_text(text or yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_mapping(path, SCHEMA)


def speaker(text: str, mapping) -> str:
    return attribute_article([text], [True], mapping)[0].speaker


def test_the_packaged_lexicon_loads_and_keeps_the_earlier_cues(tmp_path: Path):
    assert importlib.resources.files("stance.speakers").joinpath("cues.yaml").is_file()
    cues = load(tmp_path).cues  # a mapping without a `cues:` section: the package's cues
    assert set(EARLIER_VERBS) <= cues.verbs
    assert {"Says", "Say", "Warns", "Vows"} <= cues.headline and "Reports" not in cues.headline
    assert {"tell", "tells", "told"} <= cues.listener and "said" not in cues.listener
    assert cues.phrases == ("according to",)
    assert {"the letter", "the statement"} <= cues.back
    # VerbNet verbs of saying beyond the earlier list; ambiguous ones are left out.
    assert {"retorted", "reiterates", "testified"} <= cues.verbs
    assert not {"talks", "called", "advise", "alleged", "threatening"} & cues.verbs


def test_every_package_data_file_is_shipped():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = package_data["tool"]["setuptools"]["package-data"]["stance"]
    src = ROOT / "src" / "stance"
    data = [p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()]
    data = [p for p in data if not p.endswith((".py", ".pyc"))]
    assert "speakers/cues.yaml" in data
    assert all(any(fnmatch.fnmatch(p, pattern) for pattern in patterns) for p in data), data


@pytest.mark.parametrize(
    ("verb", "forms"),
    [
        ("joke", ("joke", "jokes", "joked")),
        ("deny", ("deny", "denies", "denied")),
        ("stress", ("stress", "stresses", "stressed")),
        ("preach", ("preach", "preaches", "preached")),
        ("say", ("say", "says", "sayed")),
    ],
)
def test_verb_forms_follow_the_regular_spelling_rules(verb: str, forms: tuple[str, ...]):
    assert verb_forms(verb) == forms
    assert verb_forms("say", ["says", "said"]) == ("say", "says", "said")


def test_a_project_verb_gives_a_source_only_once_it_is_added(tmp_path: Path):
    sentence = "“We will be home by spring,” Mujahid joked."
    assert speaker(sentence, load(tmp_path)) == "author"
    mapping = load(tmp_path, {"verbs": ["joke"]})
    assert speaker(sentence, mapping) == "taliban"
    assert speaker("Mujahid jokes that the Pentagon is lost.", mapping) == "taliban"
    # The leak guard's mappings keep the project's cues.
    assert mapping.without_names(["Pentagon"]).cues is mapping.cues
    forms = load(tmp_path, {"verbs": ["quip"], "forms": {"quip": ["quips", "quipped"]}})
    assert speaker("“Spring,” Mujahid quipped.", forms) == "taliban"


def test_a_project_can_remove_and_add_every_kind_of_cue(tmp_path: Path):
    said = "The Taliban said foreign troops must go."
    assert speaker(said, load(tmp_path)) == "taliban"
    assert speaker(said, load(tmp_path, {"remove": ["say"]})) == "author"
    # A phrase the source follows, a listener verb, a message noun that points back.
    phrase = load(tmp_path, {"phrases": ["in the words of"]})
    assert speaker("In the words of the Pentagon, the war is over.", phrase) == "us_government"
    inverted = "“We are leaving,” briefed the Pentagon."
    assert speaker(inverted, load(tmp_path, {"verbs": ["brief"]})) == "us_government"
    listener = load(tmp_path, {"verbs": ["brief"], "listener_verbs": ["brief"]})
    assert speaker(inverted, listener) == "author"
    texts = ["The Taliban said talks were over.", "The communique said talks would resume."]
    # Not a message noun, "the communique" is a source without a name: other.
    for nouns, expected in (([], "other"), (["communique"], "taliban")):
        found = attribute_article(texts, [True, False], load(tmp_path, {"nouns": nouns}))
        assert [a.speaker for a in found] == ["taliban", expected]
    headline = load(tmp_path, {"verbs": ["slam"], "headline_verbs": ["slam"]})
    assert speaker("Taliban Slams Pentagon Plan", headline) == "taliban"
    assert speaker("Taliban Slams Pentagon Plan", load(tmp_path, {"verbs": ["slam"]})) == "author"


def test_a_verb_of_believing_or_finding_is_a_cue_only_before_that_or_a_quotation(tmp_path: Path):
    mapping = load(tmp_path)
    assert speaker("The Pentagon found that troops must go.", mapping) == "us_government"
    assert speaker("Mujahid thought that the talks were over.", mapping) == "taliban"
    assert speaker("The Pentagon concluded, “troops must go.”", mapping) == "us_government"
    assert speaker("The Pentagon found the missing troops.", mapping) == "author"
    assert speaker("It was found that the Taliban had left.", mapping) == "author"
    # A project's own: "hope" before "that".
    assert speaker("The Taliban hope that talks resume.", mapping) == "author"
    hope = load(tmp_path, {"that_verbs": ["hope"]})
    assert speaker("The Taliban hope that talks resume.", hope) == "taliban"
    assert speaker("The Taliban hope for talks.", hope) == "author"


@pytest.mark.parametrize(
    ("cues", "expected"),
    [
        ("  verbs: [joke, Joked!]\n", "line 6: cues.verbs[1]: 'Joked!' is not a cue: write one"),
        ("  remove: [said]\n", "line 6: cues.remove[0]: 'said' is not a cue of the package's"),
        ("  verb: [joke]\n", "line 6: unknown key 'cues.verb': cues are verbs, that_verbs"),
        ("  forms:\n    quip: [quips]\n", "line 7: cues.forms.quip: 'quip' is not a verb of the"),
        ("  verbs: joke\n", "line 6: cues.verbs: must be a list of at most 1,000 cues"),
        ("  - joke\n", "line 5: cues: must map cue kinds"),
        ("  headline_verbs: [slam]\n", "line 6: cues.headline_verbs[0]: 'slam' is not a verb"),
    ],
)  # fmt: skip
def test_a_bad_cues_entry_is_an_error_with_its_line(tmp_path: Path, cues: str, expected: str):
    text = "speakers:\n  taliban: [Taliban]\nsame_source: [he]\n\ncues:\n" + cues
    with pytest.raises(StanceError) as err:
        load(tmp_path, text=text)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'speakers.yaml'}: the speaker mapping has 1 problem")
    assert expected in message


def test_a_change_of_the_lexicon_changes_the_code_digest(tmp_path: Path, monkeypatch):
    (tmp_path / "speakers").mkdir()
    (tmp_path / "speakers" / "rules.py").write_text("X = 1\n", encoding="utf-8")
    lexicon = tmp_path / "speakers" / "cues.yaml"
    lexicon.write_text("verbs: [say]\n", encoding="utf-8")
    monkeypatch.setattr(codehash, "PACKAGE_DIR", tmp_path)
    before = codehash.code_digest("speakers/rules.py"), codehash.code_digest("speakers")
    lexicon.write_text("verbs: [say, joke]\n", encoding="utf-8")
    after = codehash.code_digest("speakers/rules.py"), codehash.code_digest("speakers")
    assert before[0] != after[0] and before[1] != after[1]
