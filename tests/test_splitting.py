"""Sentence boundaries, offsets and IDs of the splitter."""

from __future__ import annotations

from pathlib import Path

import pytest

from stance.corpus.articles import read_article
from stance.corpus.splitting import compile_rules, normalise, sentence_id, split_article
from stance.corpus.stage import splitter_from_config

GOLD = Path(__file__).parent / "data" / "gold"
SEED_IDS = sorted(p.stem for p in GOLD.glob("*.txt"))


@pytest.fixture(scope="module")
def splitter(config):
    return splitter_from_config(config)


@pytest.fixture(scope="module")
def rules(config):
    return compile_rules(config["split"]["chrome_rules"])


def split_text(text, splitter, rules, article_id="a1"):
    return split_article(article_id, text, splitter, rules)[0]


def texts(text, splitter, rules=()):
    return [s.text for s in split_text(text, splitter, list(rules))]


def test_five_gold_articles_exist():
    assert len(SEED_IDS) == 5


@pytest.mark.parametrize("article_id", SEED_IDS)
def test_reproduces_hand_made_gold(article_id, project_root, splitter, rules):
    raw = read_article(project_root / "seeds" / f"{article_id}.txt")
    gold = (GOLD / f"{article_id}.txt").read_text(encoding="utf-8").splitlines()
    sentences = split_text(raw, splitter, rules, article_id)
    assert [s.text for s in sentences] == gold


@pytest.mark.parametrize("article_id", SEED_IDS)
def test_offsets_are_true_to_the_raw_file(article_id, project_root, splitter, rules):
    path = project_root / "seeds" / f"{article_id}.txt"
    raw = path.read_bytes().decode("utf-8")
    sentences = split_text(raw, splitter, rules, article_id)
    assert [s.position for s in sentences] == list(range(len(sentences)))
    for s in sentences:
        assert raw[s.start : s.end] == s.text
    starts = [s.start for s in sentences]
    assert starts == sorted(starts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. troops left. Then Gen. Miller spoke.",
            ["The U.S. troops left.", "Then Gen. Miller spoke."],
        ),
        (
            "Esper spoke on Feb. 15 in Washington, D.C. about it.",
            ["Esper spoke on Feb. 15 in Washington, D.C. about it."],
        ),
        (
            "U.S. Special Representative Khalilzad met them.",
            ["U.S. Special Representative Khalilzad met them."],
        ),
        ("They met in the U.S. The talks failed.", ["They met in the U.S.", "The talks failed."]),
        (
            "“We will stay. We will fight,” he said. Others left.",
            ["“We will stay.", "We will fight,” he said.", "Others left."],
        ),
        ("He said “no.” Then he left.", ["He said “no.”", "Then he left."]),
        (
            "Time to come home. … Does the USA want that? Do we?",
            ["Time to come home.", "… Does the USA want that?", "Do we?"],
        ),
        ("They waited... and waited.", ["They waited... and waited."]),
        ("Headline Without Stop\nBody text here.", ["Headline Without Stop", "Body text here."]),
        (
            "Troops — mostly advisers — stay. Others go.",
            ["Troops — mostly advisers — stay.", "Others go."],
        ),
        ("grown tired\u00a0of war. Next one.", ["grown tired\u00a0of war.", "Next one."]),
        ("John J. Smith arrived. He spoke.", ["John J. Smith arrived.", "He spoke."]),
        ("Talks with\u202fGen. Miller resumed.", ["Talks with\u202fGen. Miller resumed."]),
        ("Talks with\tGen. Miller resumed.", ["Talks with\tGen. Miller resumed."]),
        ("Is it over? Yes! It is.", ["Is it over?", "Yes!", "It is."]),
    ],
)
def test_boundaries(text, expected, splitter):
    assert texts(text, splitter) == expected


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_breaks_and_bom_keep_offsets(newline, splitter):
    raw = "\ufeffFirst line\n\nSecond one. Third one.\n".replace("\n", newline)
    sentences = split_text(raw, splitter, [])
    assert [s.text for s in sentences] == ["First line", "Second one.", "Third one."]
    for s in sentences:
        assert raw[s.start : s.end] == s.text


def test_ids_do_not_depend_on_position(splitter):
    before = "Alpha one. Beta two.\nGamma three."
    after = "New intro here.\nAlpha one. Beta two, edited.\nGamma three."
    ids_before = {s.text: s.sentence_id for s in split_text(before, splitter, [])}
    ids_after = {s.text: s.sentence_id for s in split_text(after, splitter, [])}
    assert ids_after["Alpha one."] == ids_before["Alpha one."]
    assert ids_after["Gamma three."] == ids_before["Gamma three."]
    assert ids_after["Beta two, edited."] != ids_before["Beta two."]


def test_repeated_sentences_get_unique_ids(splitter):
    raw = "Same headline\n\nSame headline\nOther. Same headline"
    sentences = split_text(raw, splitter, [], "art")
    ids = [s.sentence_id for s in sentences]
    assert len(set(ids)) == len(ids) == 4
    assert ids[1] == f"{ids[0]}.2" and ids[3] == f"{ids[0]}.3"


def test_seed_ids_are_unique_and_the_repeated_headline_is_kept(project_root, splitter, rules):
    raw = read_article(project_root / "seeds" / "004_811fa3d8880d0689.txt")
    sentences = split_text(raw, splitter, rules, "004_811fa3d8880d0689")
    assert sentences[0].text == sentences[1].text
    assert sentences[0].sentence_id != sentences[1].sentence_id


def test_id_ignores_quote_style_and_spacing():
    assert sentence_id("a", "He said “no.”") == sentence_id("a", 'He said  "no."')
    assert sentence_id("a", "x") != sentence_id("b", "x")
    assert normalise(" a\u00a0 b ") == "a b"
