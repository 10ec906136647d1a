"""Page-chrome rules: which lines are removed, and the report of them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from stance.corpus.articles import read_article
from stance.corpus.splitting import compile_rules, iter_lines, match_rule, split_article
from stance.corpus.stage import splitter_from_config
from stance.errors import StanceError

GOLD = Path(__file__).parent / "data" / "gold"


def gold_chrome() -> dict[str, set[int]]:
    with open(GOLD / "chrome.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    chrome: dict[str, set[int]] = {p.stem: set() for p in GOLD.glob("*.txt")}
    for row in rows:
        chrome[row["article_id"]].add(int(row["line"]))
    return chrome


@pytest.mark.parametrize("article_id", sorted(gold_chrome()))
def test_config_rules_remove_exactly_the_hand_marked_lines(article_id, config, project_root):
    rules = compile_rules(config["split"]["chrome_rules"])
    raw = read_article(project_root / "seeds" / f"{article_id}.txt")
    _, removed = split_article(article_id, raw, splitter_from_config(config), rules)
    assert {r.line for r in removed} == gold_chrome()[article_id]
    for r in removed:
        assert raw[r.start : r.end].strip() == r.text
        assert r.rule in {rule["name"] for rule in config["split"]["chrome_rules"]}


@pytest.mark.parametrize(
    "line",
    [
        "Breaking News",
        "Load More",
        "FILE - Troops in Kabul.",
        "9 Nov, 2018 22:21",
        "Like this story? Share it with a friend!",
        "icon a-icon b-icon c-icon",
    ],
)
def test_typical_chrome_lines_match(line, config):
    assert match_rule(line, compile_rules(config["split"]["chrome_rules"])) is not None


@pytest.mark.parametrize(
    "line",
    [
        "The Taliban on Saturday warned NATO against a continuation of war.",
        "Breaking news came from Kabul on Monday, officials said.",
        "Taliban Warns NATO to Push Ahead With Troop Withdrawal in Afghanistan",
    ],
)
def test_article_text_is_not_chrome(line, config):
    assert match_rule(line, compile_rules(config["split"]["chrome_rules"])) is None


def test_invalid_rule_names_the_rule():
    with pytest.raises(StanceError, match=r"'broken'.*invalid regular expression"):
        compile_rules([{"name": "broken", "pattern": "(unclosed"}])


def test_iter_lines_handles_every_line_break():
    text = "a\r\nb\rc\nd"
    assert [text[ln.start : ln.end] for ln in iter_lines(text)] == ["a", "b", "c", "d"]
    assert [ln.number for ln in iter_lines(text)] == [1, 2, 3, 4]
