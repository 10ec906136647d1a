"""Properties of the sentence splitter on arbitrary Unicode text (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stance.corpus.splitting import compile_rules, split_article
from stance.corpus.stage import splitter_from_config

# Pieces that exercise the splitter's rules, mixed with arbitrary characters.
PIECES = [
    ". ", "! ", "? ", "… ", "...", ". The ", " U.S. The ", " Gen. ", " J. Smith", "\n", "\r\n",
    "\r", "\u2028", "\x85", "\ufeff", "\u00a0", '."', "”", " “", "(", ")", " 5", "a", "A", "é",
    " ", "\t", "\x00", "\ud7ff", "𝔘", "ß", "İ", "Ⅻ", "ﬁ",
]  # fmt: skip
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=60).map("".join),
)
SETTINGS = settings(max_examples=200, deadline=None)


@pytest.fixture(scope="module")
def splitting(config):
    return splitter_from_config(config), compile_rules(config["split"]["chrome_rules"])


def check_invariants(raw: str, splitting, use_rules: bool) -> None:
    splitter, rules = splitting
    sentences, removed = split_article("a1", raw, splitter, rules if use_rules else [])
    previous_end = 0
    for position, s in enumerate(sentences):
        assert raw[s.start : s.end] == s.text  # offsets map back to the raw text
        assert s.text.strip() != ""  # no empty (or blank) sentence
        assert s.start >= previous_end  # in order, no overlap
        assert s.position == position
        assert s.article_id == "a1"
        previous_end = s.end
    ids = [s.sentence_id for s in sentences]
    assert len(set(ids)) == len(ids)  # unique within the article
    for line in removed:  # removed chrome never overlaps a sentence
        assert all(s.end <= line.start or s.start >= line.end for s in sentences)


@SETTINGS
@given(raw=TEXTS)
def test_split_invariants_without_chrome_rules(raw: str, splitting):
    check_invariants(raw, splitting, use_rules=False)


@SETTINGS
@given(raw=TEXTS)
def test_split_invariants_with_chrome_rules(raw: str, splitting):
    check_invariants(raw, splitting, use_rules=True)


@SETTINGS
@given(raw=TEXTS)
def test_line_breaks_always_end_a_sentence(raw: str, splitting):
    splitter, _ = splitting
    sentences, _ = split_article("a1", raw, splitter, [])
    for s in sentences:
        assert "\n" not in s.text and "\r" not in s.text
