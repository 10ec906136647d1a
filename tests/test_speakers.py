"""Speaker attribution: the mapping file, the rules on hand-written texts, the out-of-fold
evaluation and its leak guard, the stage's outputs and `stance predict` with predicted speakers."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import ROOT, SCHEMA, make_dataset

from stance.errors import StanceError
from stance.speakers.attribution import attribute
from stance.speakers.evaluation import out_of_fold
from stance.speakers.mapping import MAX_NAMES, load_mapping
from stance.speakers.rules import MAX_SENTENCE_CHARS, attribute_article
from stance.training.settings import EvalSettings

MAPPING = {
    "speakers": {
        "taliban": ["Taliban", "Zabihullah Mujahid", "militants"],
        "us_government": ["Pentagon", "US", "Khalilzad"],
        "russia": ["Russia", "Lavrov"],
        "other": ["Reuters"],
    },
    "same_source": ["he", "she", "they", "the letter"],
}
PARAMS = {"word_ngram_range": [1, 2], "C": 1.0, "class_weight": "balanced", "max_iter": 2000,
          "rule_weight": 1.0}  # fmt: skip


def write_mapping(path: Path, data: dict | str = MAPPING) -> Path:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def mapping(tmp_path: Path):
    return load_mapping(write_mapping(tmp_path / "speakers.yaml"), SCHEMA)


def speakers_of(texts: list[str], mapping, paragraphs: list[bool] | None = None) -> list[str]:
    starts = paragraphs or [i == 0 for i in range(len(texts))]
    return [a.speaker for a in attribute_article(texts, starts, mapping)]


# --------------------------------------------------------------------------- attribution rules


def test_said_clause_after_the_quote(mapping):
    found = attribute_article(["“Foreign troops must go,” the Taliban said."], [True], mapping)
    assert found[0].speaker == "taliban" and found[0].kind == "attribution"
    assert "Taliban" in found[0].evidence
    # Inverted: the verb first, the source after it.
    assert speakers_of(["“We will stay,” said a Pentagon spokesman."], mapping) == ["us_government"]


def test_said_clause_before_the_quote(mapping):
    assert speakers_of(["Lavrov said: “It is time to go.”"], mapping) == ["russia"]
    assert speakers_of(["The Pentagon said, “We will stay.”"], mapping) == ["us_government"]
    # A name inside the quotation is what is said, not who says it.
    assert speakers_of(["Lavrov said the Pentagon “failed”."], mapping) == ["russia"]


def test_two_character_quotation_marks_are_quotation_marks(mapping):
    # A name inside ''…'' or ``…'' is what is said; the source is outside the marks.
    for text in ["''The Pentagon said it would stay,'' Lavrov added.",
                 "``The Pentagon said it would stay,'' Lavrov added.",
                 "Lavrov said: ''The Pentagon failed.''"]:  # fmt: skip
        found = attribute_article([text], [True], mapping)
        assert found[0].speaker == "russia", (text, found[0])
    # A quotation in these marks runs over sentences like one in “…”.
    texts = ["''We want peace.", "Foreign troops must leave,'' the militants said."]
    assert speakers_of(texts, mapping, [True, False]) == ["taliban", "taliban"]


def test_a_cue_word_after_a_determiner_or_of_is_a_noun(mapping):
    # "the report", "secretary of state", "its reply": nouns, so no source is sought before them.
    texts = [
        "The Taliban ignored the report on civilian deaths.",
        "Russia met the secretary of state in Doha.",
        "The Pentagon's reply came a week later.",
        # After "from" a gerund, whose subject is not before it.
        "Laws ban militants from claiming asylum in Russia.",
    ]
    assert speakers_of(texts, mapping, [True] * 4) == ["author"] * 4
    # The same words as verbs still attribute.
    assert speakers_of(["The Pentagon replied that troops would stay."], mapping) == [
        "us_government"
    ]


def test_a_name_in_what_was_said_before_the_source_is_not_the_source(mapping):
    # The clause before "officials said" is what was said: the Taliban is its topic.
    found = attribute_article(
        ["Talks with the Taliban stalled again this week, officials said."], [True], mapping
    )
    assert found[0].speaker == "other" and "officials" in found[0].evidence
    found = attribute_article(
        ["The Pentagon and the Taliban held direct talks, Analyst Jane Doe said."], [True], mapping
    )
    assert found[0].speaker == "other" and "Jane Doe" in found[0].evidence
    # A long name before an appositive is still the source.
    texts = ["Troops stayed, the Pentagon Inspector General for Operations, a watchdog, reported."]
    assert speakers_of(texts, mapping) == ["us_government"]


def test_a_person_introduced_with_a_mapped_name_and_a_title_speaks_for_it(mapping, tmp_path):
    texts = [
        "Taliban chief negotiator Abdul Ghani Baradar met envoys in Doha.",
        "Foreign troops must go, Baradar told reporters.",
        "The talks will go on, Abdul Ghani Baradar said on Monday.",
        # Not a title: a verb between the mapped name and the person introduces nobody.
        "The Pentagon thanked Mary Smith for the report.",
        "Smith said the report was late.",
    ]
    found = attribute_article(texts, [True, False, False, True, False], mapping)
    assert [a.speaker for a in found] == ["author", "taliban", "taliban", "author", "other"]
    assert "'Baradar' was introduced as taliban" in found[1].evidence
    # A project removes a title from the lexicon in its mapping: no code change.
    data = {**MAPPING, "cues": {"remove": ["negotiator"]}}
    path = write_mapping(tmp_path / "no_negotiator.yaml", data)
    assert speakers_of(texts[:2], load_mapping(path, SCHEMA))[1] == "other"


def test_a_person_named_beside_an_appositive_with_a_title_speaks_for_it(mapping):
    texts = [
        "“We will not tolerate a single US soldier,” said the head of the Taliban delegation at "
        "the meeting in Moscow, Ahmad Rahim Karzaq, adding that the group would talk.",
        "Still, Karzaq said, the group is ready to negotiate.",
        "Abdul Qadir Nurzai, a senior Taliban official, met envoys.",
        "Later Nurzai told reporters the talks were off.",
        # No title in the appositive: the person is not introduced as the mapped group's.
        "Mary Smith, a writer on the Taliban, met envoys.",
        "Smith said the talks were off.",
        # A name in a list is not an appositive: "Karzaq, Pentagon" names nobody.
        "Jon Doe, the Pentagon, and others met.",
        "Doe said it was over.",
    ]
    found = attribute_article(texts, [True, False, True, False, True, False, True, False], mapping)
    assert [a.speaker for a in found] == [
        "taliban", "taliban", "author", "taliban", "author", "other", "author", "other"
    ]  # fmt: skip
    assert "'Karzaq' was introduced as taliban" in found[1].evidence


def test_the_surname_of_a_mapped_full_name_speaks_for_it(tmp_path: Path):
    data = {**MAPPING, "speakers": {**MAPPING["speakers"], "us_government": ["Mark Esper"]}}
    mapping = load_mapping(write_mapping(tmp_path / "speakers.yaml", data), SCHEMA)
    texts = ["Mark Esper met envoys in Doha.", "Esper told reporters troops would stay."]
    assert speakers_of(texts, mapping) == ["author", "us_government"]
    # Only in the article that names him in full.
    assert speakers_of(texts[1:], mapping) == ["other"]


def test_a_name_the_source_talks_about_is_not_the_source(mapping):
    texts = ["Troops will go, a source close to the Taliban told reporters."]
    assert speakers_of(texts, mapping) == ["other"]
    texts = ["John Smith, the author of a book about the Pentagon, said troops would stay."]
    assert speakers_of(texts, mapping) == ["other"]
    # Affiliation, not topic: "a spokesman for", "officials at" still name the source.
    assert speakers_of(["Troops will go, a spokesman for the Taliban said."], mapping) == [
        "taliban"
    ]
    assert speakers_of(["Officials at the Pentagon said troops would stay."], mapping) == [
        "us_government"
    ]


def test_the_source_is_the_head_of_its_phrase_not_a_name_in_its_title(mapping):
    # The person, not the group in the title, when the person has a speaker of their own.
    for text in (
        "Russia's envoy Khalilzad said troops would stay.",
        "Khalilzad, a Taliban go-between, said troops would stay.",
        "“Troops will stay,” Khalilzad, a Taliban go-between, said.",
        # Auxiliaries and adverbs between the appositive and the verb belong to the verb.
        "Khalilzad, a former envoy of the Taliban, has also claimed that troops would stay.",
    ):
        assert speakers_of([text], mapping) == ["us_government"], text
    # A name after a preposition or a conjunction is not the head: the first name is.
    for text in (
        "US officials in Russia said troops would stay.",
        "US envoys and the Taliban said troops would stay.",
        "A spokesman for the Pentagon in Russia said troops would stay.",
    ):
        assert speakers_of([text], mapping) == ["us_government"], text
    # A full name right after a long title is who the title describes; not after "and".
    texts = [
        "Head of the Russia office in Moscow Zabihullah Mujahid said troops would stay.",
        "Officials of Russia and Zabihullah Mujahid said troops would stay.",
        "Officials of Russia and the people of Zabihullah Mujahid said troops would stay.",
    ]
    assert speakers_of(texts, mapping, [True] * 3) == ["taliban", "russia", "russia"]
    # A clause before the source is no appositive: "Lavrov" is what was said.
    texts = ["Lavrov, the envoy of Russia, met the Taliban, US officials said."]
    assert speakers_of(texts, mapping) == ["us_government"]


def test_a_headline_with_a_quotation_and_its_speaker_around_a_colon(mapping):
    assert speakers_of(["‘Our goal is to end invasion’: Taliban seeks talks with US"], mapping) == [
        "taliban"
    ]
    assert speakers_of(["Russia: “We will not send troops”"], mapping) == ["russia"]
    # The name must open what follows the quotation, and be all that comes before it.
    assert speakers_of(["‘Game over’: talks with the Taliban stall"], mapping) == ["author"]
    assert speakers_of(["Troops and the Pentagon: “a long story”"], mapping) == ["author"]


def test_the_title_of_a_source_points_back_to_it(mapping):
    texts = ["Khalilzad said talks would resume.", "The envoy added that troops would leave."]
    assert speakers_of(texts, mapping) == ["us_government", "us_government"]
    # A title after "a" is someone new without a name, not the source before.
    assert speakers_of([texts[0], "An envoy added that troops would stay."], mapping)[1] == "other"
    # After a possessive pronoun: "his spokesman", "her campaign".
    texts = [texts[0], "His spokesman added that troops would leave."]
    assert speakers_of(texts, mapping) == ["us_government", "us_government"]


def test_a_title_refers_to_the_latest_source_with_it_else_to_the_speaker_whose_names_carry_it(
    tmp_path: Path,
):
    data = {**MAPPING, "speakers": {**MAPPING["speakers"], "us_government": ["President Trump"]}}
    mapping = load_mapping(write_mapping(tmp_path / "speakers.yaml", data), SCHEMA)
    # No source so far has the title: the one speaker whose mapped names carry it.
    texts = ["Lavrov said talks would resume.", "The president said troops would leave."]
    found = attribute_article(texts, [True, True], mapping)
    assert [a.speaker for a in found] == ["russia", "us_government"]
    assert "a title only us_government's names carry" in found[1].evidence
    # A source of the article with the title wins over the mapping, however long ago.
    texts = ["Russia's president Vladimir Putin said talks would resume.",
             "Lavrov said so too.", "Reuters said talks had failed.",
             "The president added that troops would leave."]  # fmt: skip
    assert speakers_of(texts, mapping, [True] * 4) == ["russia", "russia", "other", "russia"]
    # A title that no source and no mapped name carries, or that two speakers' names carry:
    # the latest source.
    texts = ["Lavrov said talks would resume.", "The spokesman said troops would leave."]
    assert speakers_of(texts, mapping, [True, True]) == ["russia", "russia"]
    data["speakers"]["taliban"] = ["Taliban", "President Haibatullah"]
    mapping = load_mapping(write_mapping(tmp_path / "speakers.yaml", data), SCHEMA)
    texts = ["Lavrov said talks would resume.", "The president said troops would leave."]
    assert speakers_of(texts, mapping, [True, True]) == ["russia", "russia"]


def test_according_to_and_listeners(mapping):
    assert speakers_of(["Troop numbers fell, according to the Pentagon."], mapping) == [
        "us_government"
    ]
    # "told Reuters": Reuters listens, Khalilzad speaks.
    assert speakers_of(["Khalilzad told Reuters the talks went well."], mapping) == [
        "us_government"
    ]


def test_a_quotation_continued_over_sentences_keeps_its_speaker(mapping):
    texts = [
        "“We want peace.",
        "Foreign troops must leave,” the militants said.",
        "“Nobody will stop us.”",
        "Fighting went on in Helmand.",
    ]
    found = attribute_article(texts, [True, False, True, True], mapping)
    assert [a.speaker for a in found] == ["taliban", "taliban", "taliban", "author"]
    assert [a.kind for a in found] == [
        "quote_group", "attribution", "quote_continuation", "narration"
    ]  # fmt: skip


def test_a_quotation_runs_into_the_next_paragraph_only_where_that_paragraph_closes_it(mapping):
    # A paragraph that closes the open quotation before opening one is still inside it.
    texts = [
        "Lavrov said, “We are ready.",
        "The war is over.",
        "The talks will go on.”",
        "Fighting went on in Helmand.",
    ]
    assert speakers_of(texts, mapping, [True, True, False, True]) == ["russia"] * 3 + ["author"]
    # Straight marks by their neighbours: the same.
    straight = [t.replace("“", '"').replace("”", '"') for t in texts]
    assert speakers_of(straight, mapping, [True, True, False, True]) == ["russia"] * 3 + ["author"]
    # A paragraph that opens a quotation first, or has no mark, is not inside the old one.
    texts = ["Lavrov said, “We are ready.", "Fighting went on in Helmand.",
             "Then “peace” came to the valley.”"]  # fmt: skip
    assert speakers_of(texts, mapping, [True, True, True]) == ["russia", "author", "author"]


def test_narration_is_author_and_pronouns_refer_back(mapping):
    texts = ["Fighting continued in Helmand.", "Russia said the war was lost.",
             "He added that talks would resume.", "The weather was cold."]  # fmt: skip
    assert speakers_of(texts, mapping) == ["author", "russia", "russia", "author"]


def test_he_or_she_after_narration_naming_a_person_is_that_person(mapping):
    texts = [
        "Russia said the war was lost.",
        "Talks stalled after Zabihullah Mujahid left Doha.",
        "He said the Pentagon had lied.",
    ]
    found = attribute_article(texts, [True, False, False], mapping)
    assert [a.speaker for a in found] == ["russia", "author", "taliban"]
    assert "the person named just before" in found[2].evidence
    # Not across a paragraph, not for words that are not a person's ("the letter", "they"), and
    # not after narration that names no person: the latest source, as before.
    assert speakers_of(texts, mapping, [True, False, True])[2] == "russia"
    for text in ("They said the Pentagon had lied.", "The letter said the Pentagon had lied."):
        assert speakers_of([*texts[:2], text], mapping, [True, False, False])[2] == "russia"
    texts[1] = "Talks stalled after the Taliban left Doha."
    assert speakers_of(texts, mapping, [True, False, False])[2] == "russia"


def test_he_and_she_skip_a_person_or_source_whose_name_tells_the_other(tmp_path: Path):
    data = {**MAPPING, "speakers": {**MAPPING["speakers"], "russia": ["Anna Petrova", "Petrova"],
                                    "us_government": ["Donald Trump"]}}  # fmt: skip
    mapping = load_mapping(write_mapping(tmp_path / "speakers.yaml", data), SCHEMA)
    # After narration naming a man and a woman, "she" is the woman, "he" the man; a name that
    # tells the pronoun comes before one that tells nothing.
    for narration in (
        "Talks stalled after Donald Trump met Anna Petrova in Doha.",
        "Talks stalled after Zabihullah Mujahid met Anna Petrova and Donald Trump in Doha.",
    ):
        for pronoun, speaker in (("She", "russia"), ("He", "us_government")):
            texts = ["Reuters said so.", narration, f"{pronoun} said the war was over."]
            assert speakers_of(texts, mapping, [True, False, False])[2] == speaker
    # The latest source "she" fits, by the full name or by the surname the article gave it.
    texts = ["Anna Petrova said talks would resume.", "Donald Trump said they would not.",
             "She added that troops would leave.", "Her spokesman said so too."]  # fmt: skip
    found = attribute_article(texts, [True] * 4, mapping)
    assert [a.speaker for a in found] == ["russia", "us_government", "russia", "russia"]
    assert "the latest source 'she' fits" in found[2].evidence
    texts[1] = "Trump said they would not."  # only the full name of earlier tells
    assert (
        speakers_of([texts[0], "Donald Trump met her.", *texts[1:]], mapping, [True] * 5)[3]
        == "russia"
    )
    # "Mrs." tells "she"; a name that tells nothing fits either pronoun.
    texts = ["Zabihullah Mujahid said talks would resume.", "Mrs. Petrova said they would not.",
             "He added that troops would leave."]  # fmt: skip
    assert speakers_of(texts, mapping, [True] * 3) == ["taliban", "russia", "taliban"]
    texts[:2] = texts[1::-1]
    assert speakers_of(texts, mapping, [True] * 3) == ["russia", "taliban", "taliban"]


def test_a_source_missing_from_the_mapping_is_other(mapping):
    found = attribute_article(["Analyst Jane Doe said the war was lost."], [True], mapping)
    assert found[0].speaker == "other" and found[0].kind == "unmapped_source"
    # A source without a name: a short noun phrase before the verb.
    texts = [
        "Officials said the talks were over.",
        "A senior official told reporters so.",
        "Critics say the plan will fail.",
        "The talks, the report says, are over.",
        # After a linking conjunction, and at the end of a sentence.
        "But officials have said the talks were over.",
        "The talks were over, according to the event website.",
    ]
    assert speakers_of(texts, mapping, [True] * 6) == ["other"] * 6
    # Not a source: a phrase that opens with a preposition, a passive with "not" or an adverb,
    # "not" on its own.
    texts = [
        "Despite media reports, the meeting was not officially confirmed by the US.",
        "The militants were twice denied visas.",
        "Also, not mentioned by the Pentagon were the costs.",
        # A verb coordinated with a passive shares it.
        "Visitors were encouraged to send designs and tell their friends.",
    ]
    assert speakers_of(texts, mapping, [True] * 4) == ["author"] * 4
    # An active verb before "and" leaves the subject the source.
    texts = ["The Pentagon met the envoy and said talks would go on."]
    assert speakers_of(texts, mapping) == ["us_government"]


def test_block_quotation_after_a_colon(mapping):
    texts = ["A Taliban spokesman told reporters:", "The occupation must end.", "We will win."]
    assert speakers_of(texts, mapping, [True, True, False]) == ["taliban"] * 3


def test_a_quotation_after_a_colon_is_its_named_sources_without_a_cue_verb(mapping):
    # No verb of the lexicon: the colon and the quotation mark the speech.
    texts = [
        "Lavrov posted on his account: “Troops must go.”",
        "Khalilzad said the talks went well.",
        "He went on: “They will stay.”",
        "Lavrov tweeted from Moscow:",
        "“We are ready.”",
    ]
    expected = ["russia", "us_government", "us_government", "russia", "russia"]
    assert speakers_of(texts, mapping) == expected
    # Only a source the mapping, the article or a pronoun names: a colon alone is no speech.
    texts = ["Key points:", "Troops will go.", "Analyst Jane Doe posted: “It is over.”"]
    assert speakers_of(texts, mapping, [True, True, True]) == ["author"] * 3


def test_a_new_mapping_entry_changes_predictions_without_code(tmp_path: Path):
    path = write_mapping(tmp_path / "speakers.yaml")
    sentence = ["Spokesman Ali Rahimi said foreign troops must go."]
    assert speakers_of(sentence, load_mapping(path, SCHEMA)) == ["other"]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["speakers"]["taliban"].append("Ali Rahimi")
    write_mapping(path, data)
    assert speakers_of(sentence, load_mapping(path, SCHEMA)) == ["taliban"]


def test_lower_case_entries_match_any_case_capitalised_ones_exactly(mapping):
    assert speakers_of(["Militants said they would fight."], mapping) == ["taliban"]
    # "us" is not "US": no source named, narration.
    assert speakers_of(["Tell us what happened, the reader asked."], mapping)[0] != (
        "us_government"
    )


def test_names_match_whole_words_longest_first_in_any_spacing(tmp_path: Path):
    data = {"speakers": {"taliban": ["Taliban", "militants", "Taliban delegation"],
                         "afghan_government": ["Afghan", "Afghan Foreign Ministry"],
                         "us_government": ["U.S.", "US"], "other": ["Militants"]}}  # fmt: skip
    mapping = load_mapping(write_mapping(tmp_path / "speakers.yaml", data), SCHEMA)

    def found(text: str) -> list[tuple[str, str]]:
        return [(text[m.start : m.end], m.entry.name) for m in mapping.mentions(text)]

    assert found("The Taliban’s and Taliban-led, not pro-Taliban or Talibans.") == [
        ("Taliban", "Taliban"), ("Taliban", "Taliban")]  # fmt: skip
    assert found("the Afghan  Foreign\nMinistry and the Afghan army") == [
        ("Afghan  Foreign\nMinistry", "Afghan Foreign Ministry"), ("Afghan", "Afghan")]  # fmt: skip
    assert found("MILITANTS, militants and Militants") == [
        ("MILITANTS", "militants"), ("militants", "militants"), ("Militants", "Militants")
    ]  # fmt: skip
    assert found("the U.S. and the U.S.A. and us") == [("U.S.", "U.S.")]
    assert found("Taliban delegation and Taliban delegationists") == [
        ("Taliban delegation", "Taliban delegation"), ("Taliban", "Taliban")]  # fmt: skip


def test_matching_takes_no_longer_with_the_largest_mapping(tmp_path: Path):
    # Every name in one alternation made each sentence cost ~1.5 s with 5,000 names; the index
    # looks each word up once: 10,000 names and 500 sentences run within the normal test time.
    names = [f"Spokesman{i:05d} Name{i % 97}" for i in range(MAX_NAMES - 10)]
    data = {**MAPPING, "speakers": {**MAPPING["speakers"], "other": ["Reuters", *names]}}
    mapping = load_mapping(write_mapping(tmp_path / "speakers.yaml", data), SCHEMA)
    texts = [f"Spokesman{i * 7:05d} Name{i * 7 % 97} said talks went on, Lavrov said."
             for i in range(500)]  # fmt: skip
    assert speakers_of(texts, mapping) == ["other"] * 500
    assert speakers_of(["Spokesman00001 Name2 said it."], mapping) == ["other"]  # no such name
    assert speakers_of(["The militants said so."], mapping) == ["taliban"]


def _speaker_lines(run) -> int:
    """Lines of src/stance/speakers/ executed while ``run()`` runs (loop iterations included)."""
    count = Counter()

    def trace(frame, event, arg):
        if "stance/speakers/" not in frame.f_code.co_filename.replace("\\", "/"):
            return None

        def local(frame, event, arg):
            if event == "line":
                count["lines"] += 1
            return local

        return local

    sys.settrace(trace)
    try:
        run()
    finally:
        sys.settrace(None)
    return count["lines"]


def test_the_work_of_an_article_is_linear_in_its_sentences(mapping):
    def own_groups(n: int) -> list[str]:  # every sentence its own quote group
        return ["Snow fell in Kabul."] * n

    def one_group(n: int) -> list[str]:  # one quotation over the whole paragraph, said at its end
        return ["“We want peace."] + ["We will win."] * (n - 2) + ["We stay,” the militants said."]

    for article in (own_groups, one_group):
        small, large = article(1_000), article(2_000)
        lines = [_speaker_lines(lambda t=t: speakers_of(t, mapping)) for t in (small, large)]
        assert lines[1] < 2.1 * lines[0], (article.__name__, lines)
    found = attribute_article(one_group(2_000), [True] + [False] * 1_999, mapping)
    assert {a.speaker for a in found} == {"taliban"}
    assert found[0].evidence.startswith("in the quotation attributed at position 1999:")


def test_a_very_long_sentence_is_read_up_to_the_cap_in_bounded_work(mapping):
    filler = "The report was said to be late. "
    cut = filler * (MAX_SENTENCE_CHARS // len(filler) + 1)
    # A source named after the first MAX_SENTENCE_CHARS characters is not read.
    assert speakers_of([cut + "Lavrov said the war was lost."], mapping) == ["author"]
    assert speakers_of(["Lavrov said the war was lost. " + cut], mapping) == ["russia"]
    assert mapping.names_in(cut + "Lavrov said it.") == frozenset()  # nor by the leak guard
    lines = [
        _speaker_lines(lambda n=n: speakers_of([filler * n + "Lavrov said it."], mapping))
        for n in (3_000, 30_000)
    ]
    assert lines[1] == lines[0]


# --------------------------------------------------------------------------- the mapping file


@pytest.mark.parametrize(
    "text, expected",
    [
        ("speakers:\n  taliban: [Taliban]\n  rebels: [Houthi]\n",
         ["line 3", "speakers.rebels", "'rebels' is not a speaker value",
          "taliban, us_government"]),
        ("speakers:\n  taliban:\n    - Taliban\n  other:\n    - Taliban\n",
         ["line 5", "speakers.other[0]", "listed already under taliban (line 3)"]),
        ("speakers:\n  author: [The editor]\n", ["speakers.author", "narration has no names"]),
        ("speakers:\n  taliban: [' Taliban']\n", ["spaces around it"]),
        ("speakers:\n  taliban: Taliban\n", ["must be a list of names"]),
        ("speaker:\n  taliban: [Taliban]\n", ["must be a YAML mapping with a 'speakers' key"]),
        ("speakers:\n  taliban: [Taliban\n", ["line", "not valid YAML"]),
    ],
)  # fmt: skip
def test_a_bad_mapping_file_is_a_clear_error(tmp_path: Path, text: str, expected: list[str]):
    path = write_mapping(tmp_path / "speakers.yaml", text)
    with pytest.raises(StanceError) as err:
        load_mapping(path, SCHEMA)
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_a_mapping_file_not_in_utf8_names_the_line_and_says_to_save_it_as_utf8(tmp_path: Path):
    path = tmp_path / "speakers.yaml"
    path.write_bytes("speakers:\n  taliban: [Taliban]\n  other: [Le Monde, Agence Fran\u00e7aise]\n"
                     .encode("latin-1"))  # fmt: skip
    with pytest.raises(StanceError) as err:
        load_mapping(path, SCHEMA)
    message = str(err.value)
    assert message.startswith(f"{path}: line 3: byte 62 (0xe7) is not valid UTF-8")
    assert "save it as UTF-8" in message and "\n" not in message


# Nine levels of nine aliases: 9**9 strings once expanded.
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_yaml_anchors_and_aliases_in_the_mapping_are_refused(tmp_path: Path):
    # A billion laughs: reading the file used to follow the aliases until memory ran out.
    path = write_mapping(tmp_path / "speakers.yaml", BILLION_LAUGHS + "speakers:\n  taliban: *i\n")
    with pytest.raises(StanceError) as err:
        load_mapping(path, SCHEMA)
    assert str(err.value) == (
        f"{path}: line 1, column 4: YAML anchor '&a': anchors and aliases are not allowed in this "
        "file; write the value out in full there"
    )
    alias = "speakers:\n  taliban: [Taliban]\n  other: *names\n"
    with pytest.raises(StanceError, match=r"line 3, column 10: YAML alias '\*names'"):
        load_mapping(write_mapping(tmp_path / "speakers.yaml", alias), SCHEMA)
    shared = "speakers:\n  taliban: &names [Taliban]\n  other: [Reuters]\n"
    with pytest.raises(StanceError, match=r"line 2, column 12: YAML anchor '&names'"):
        load_mapping(write_mapping(tmp_path / "speakers.yaml", shared), SCHEMA)


def test_a_mapping_has_at_most_max_names_names(tmp_path: Path):
    names = [f"Name{i}" for i in range(MAX_NAMES + 1)]
    data = {"speakers": {"taliban": ["Taliban"], "other": names}}
    path = write_mapping(tmp_path / "speakers.yaml", data)
    with pytest.raises(StanceError) as err:
        load_mapping(path, SCHEMA)
    assert str(err.value) == (
        f"{path}: line {MAX_NAMES + 4}: speakers.other[{MAX_NAMES - 1}]: name number 10,001 of "
        "10,002; a mapping has at most 10,000 names: keep the names, roles and organisations "
        "that occur in the articles"
    )
    data = {"speakers": {"taliban": ["Taliban " * 29 + "Taliban"]}}
    with pytest.raises(
        StanceError, match=r"line 3: speakers.taliban\[0\]: a name of 239 characters, more than 200"
    ):
        load_mapping(write_mapping(tmp_path / "speakers.yaml", data), SCHEMA)


def test_the_project_mapping_matches_the_project_schema():
    mapping = load_mapping(ROOT / "labels/speakers.yaml", ROOT / "labels/schema.yaml")
    assert len(mapping.entries) > 50
    assert {e.speaker for e in mapping.entries} <= set(mapping.speakers) - {"author"}


# --------------------------------------------------------------------------- out of fold

ARTICLE_TEXTS = {
    "a1": ["The Taliban said foreign troops must leave.", "“The occupation must end.”",
           "Fighting went on in Helmand.", "Khalilzad said the talks went well."],
    "a2": ["The Pentagon said troops would stay.", "Snow fell in Kabul.",
           "Mullah Baradar said the deal was done.", "“We have won.”"],
    "a3": ["Lavrov said it was time to go.", "The Taliban said talks would resume.",
           "Markets were calm.", "The Pentagon said more troops may come."],
    "a4": ["Russia said the war was lost.", "Prices rose in Kabul.",
           "The Taliban said foreign troops must go.", "Khalilzad said talks went on."],
}  # fmt: skip
GOLD = {
    "a1": ["taliban", "taliban", "author", "us_government"],
    "a2": ["us_government", "author", "taliban", "taliban"],
    "a3": ["russia", "taliban", "author", "us_government"],
    "a4": ["russia", "author", "taliban", "us_government"],
}


def corpus_and_labels(gold: dict[str, list[str]] = GOLD) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, labels = [], []
    for article, texts in ARTICLE_TEXTS.items():
        for position, text in enumerate(texts):
            sid = f"{article}:{position}"
            rows.append({"sentence_id": sid, "article_id": article, "position": position,
                         "text": text, "paragraph_start": True})  # fmt: skip
            labels.append({"sentence_id": sid, "speaker": gold[article][position]})
    return pd.DataFrame(rows), pd.DataFrame(labels)


def naming_of(corpus: pd.DataFrame, mapping) -> dict[str, set[str]]:
    """The leak guard's index over the whole ``corpus``, as rule attribute_shard writes it."""
    return mapping.articles_naming(zip(corpus["article_id"], corpus["text"], strict=True))


def settings(config: dict) -> EvalSettings:
    cfg = {**config, "evaluation": {**config["evaluation"], "n_bootstrap": 100}}
    return EvalSettings.from_config(cfg)


def test_out_of_fold_never_uses_a_model_that_saw_the_article(tmp_path: Path, config):
    data = {**MAPPING, "speakers": {**MAPPING["speakers"], "taliban": [
        "Taliban", "militants", "Mullah Baradar"]}}  # fmt: skip
    mapping = load_mapping(write_mapping(tmp_path / "speakers.yaml", data), SCHEMA)
    corpus, labels = corpus_and_labels()
    first = out_of_fold(corpus, labels, mapping, PARAMS, settings(config),
                        naming_of(corpus, mapping))  # fmt: skip
    assert first.fold_description.startswith("leave one article out")
    # Relabel article a2 wildly: its own out-of-fold predictions must not move (no model of
    # its fold saw its labels), while the models of the other folds did learn from them.
    changed = {**GOLD, "a2": ["russia"] * 4}
    second = out_of_fold(corpus, corpus_and_labels(changed)[1], mapping, PARAMS,
                         settings(config), naming_of(corpus, mapping))  # fmt: skip
    in_a2 = first.table["article_id"] == "a2"
    columns = [c for c in first.table if c.startswith(("guarded_", "unguarded_"))]
    pd.testing.assert_frame_equal(first.table.loc[in_a2, columns], second.table.loc[in_a2, columns])
    assert not first.table.loc[~in_a2, "guarded_majority"].equals(
        second.table.loc[~in_a2, "guarded_majority"]
    )
    # The leak guard: "Mullah Baradar" occurs only in a2, so a2's fold does without it.
    assert "Mullah Baradar" in first.dropped_names["a2"]
    row = first.table.set_index("sentence_id").loc["a2:2"]
    assert row["unguarded_rules"] == "taliban" and row["guarded_rules"] == "other"
    # Names found in other articles stay ("Taliban" is in a1, a3, a4).
    assert "Taliban" not in first.dropped_names["a2"]


def test_attribute_keeps_rows_and_order(mapping):
    corpus, _ = corpus_and_labels()
    shuffled = corpus.sample(frac=1.0, random_state=0)
    out = attribute(shuffled, mapping)
    assert out.index.equals(shuffled.index)
    assert out.loc[shuffled["sentence_id"] == "a1:1", "rule_speaker"].item() == "taliban"
    # Positions read from a CSV as text still order the article as numbers.
    texts = ["Snow fell.", "Russia said troops must go.", "“They must leave.”"] + ["Rain."] * 9
    long = pd.DataFrame({"article_id": "a", "position": [str(p) for p in range(12)],
                         "text": texts})  # fmt: skip
    assert attribute(long, mapping)["rule_speaker"].tolist()[:3] == ["author", "russia", "russia"]


# --------------------------------------------------------------------------- predict end to end


@pytest.fixture(scope="module")
def speaker_project(tmp_path_factory) -> Path:
    """A project with the real config and mapping, a synthetic labeled data set and corpus."""
    root = tmp_path_factory.mktemp("speakers") / "project"
    for item in ("config", "workflow/schemas", "labels"):
        shutil.copytree(ROOT / item, root / item, ignore=shutil.ignore_patterns("*.csv"))
    config = yaml.safe_load((root / "config/config.yaml").read_text())
    config["evaluation"]["n_bootstrap"] = 100
    config["mlflow"] = {"tracking_uri": None, "experiment": "speaker-test"}
    config["models"] = [m for m in config["models"] if m["name"] in ("majority", "word_speaker_lr")]
    config["speakers"]["method"] = "hybrid"
    (root / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    ds = make_dataset(4, 10)
    ds.save_to_disk(str(root / "results/labeled_dataset"))
    table = ds.to_pandas()
    table["start"] = table["position"] * 200
    table["end"] = table["start"] + table["text"].str.len()
    table["paragraph_start"] = table["position"] == 0  # one paragraph per article
    table[
        ["sentence_id", "article_id", "position", "start", "end", "text", "paragraph_start"]
    ].to_parquet(root / "results/sentences.parquet")
    return root


def test_stage_then_predict_articles_writes_speaker_and_stance(speaker_project: Path, monkeypatch,
                                                                capsys):  # fmt: skip
    from stance.cli.main import main
    from stance.speakers.logged import log_speaker_stage
    from stance.speakers.stage import (
        SpeakerOutputs,
        attribute_shard,
        fit_speaker_model,
        predict_shard,
        run_speaker_stage,
        write_stance_with_predicted,
    )
    from stance.tracking.workflow import compare_logged_models, log_model_folder
    from stance.training.extras import speaker_model_entries
    from stance.training.run import train_configured_model

    root = speaker_project
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from stance.config import load_config

    config = load_config("config/config.yaml")
    out = SpeakerOutputs(**{n: f"results/speakers/{f}" for n, f in (
        ("oof", "oof_predictions.csv"), ("metrics", "metrics.json"),
        ("metrics_table", "metrics.tsv"), ("per_speaker", "per_speaker.tsv"),
        ("confusion", "confusion.tsv"))})  # fmt: skip
    Path("results/speakers").mkdir(parents=True, exist_ok=True)
    # The workflow's jobs, one after the other: attribution (here one shard), the speaker model,
    # evaluation, prediction.
    attributed, names = "results/speakers/attributed.parquet", "results/speakers/names.parquet"
    model = "results/speakers/model.skops"
    attribute_shard("results/sentences.parquet", config, root, attributed, names)
    fit_speaker_model("results/sentences.parquet", "results/labeled_dataset", config, root, model)
    run_speaker_stage([names], "results/sentences.parquet", "results/labeled_dataset", config,
                      root, out)  # fmt: skip
    oof = pd.read_csv(out.oof)
    assert list(oof.columns[:6]) == ["sentence_id", "article_id", "text", "speaker",
                                     "predicted_speaker", "evidence"]  # fmt: skip
    assert len(oof) == 40 and oof["evidence"].str.len().gt(0).all()
    predict_shard(attributed, model, config, "results/speakers/predicted.parquet")
    predicted = pd.read_parquet("results/speakers/predicted.parquet")
    assert list(predicted.columns) == ["sentence_id", "predicted_speaker", "evidence", "source"]
    assert len(predicted) == 40 and set(predicted["source"]) <= {"rules", "model"}
    write_stance_with_predicted("results/labeled_dataset", out.oof,
                                speaker_model_entries(config["models"]), config,
                                "results/speakers/stance.tsv")  # fmt: skip
    stance = pd.read_csv("results/speakers/stance.tsv", sep="\t")
    assert stance["speakers"].tolist() == ["hand", "predicted", "predicted_no_leak_guard"]
    assert set(stance["model"]) == {"word_speaker_lr"}
    log_speaker_stage(out.metrics, model, [out.oof], "results/labeled_dataset", config, root,
                      "results/speakers/mlflow_run.json")  # fmt: skip
    entry = next(m for m in config["models"] if m["name"] == "word_speaker_lr")
    one = {**config, "models": [entry]}
    folder = "results/models/word_speaker_lr"
    train_configured_model("results/labeled_dataset", one, "word_speaker_lr", folder, 1)
    log_model_folder(folder, "results/labeled_dataset", one, root)
    compare_logged_models([folder], one, root, "results/metrics/comparison.tsv",
                          "results/metrics/comparison.png")  # fmt: skip
    capsys.readouterr()
    article = root / "new.txt"
    article.write_text(
        "“Foreign troops must leave now,” the Taliban said.\n\n"
        "The Pentagon said it would keep its bases. Snow fell in Kabul.\n",
        encoding="utf-8",
    )
    code = main(["predict", "--articles", str(article), "--out", "pred.csv"])
    err = capsys.readouterr().err
    assert code == 0, err
    rows = pd.read_csv(root / "pred.csv")
    assert "model 'word_speaker_lr'" in err
    for column in ("speaker", "speaker_evidence", "stance"):
        assert column in rows.columns
    assert any(c.startswith("proba_") for c in rows.columns)
    assert "paragraph_start" not in rows.columns
    assert rows["speaker"].tolist()[:2] == ["taliban", "us_government"]
    assert "Taliban" in rows["speaker_evidence"][0]
    # Narration is left to the logged speaker model (speakers.method: hybrid).
    assert rows["speaker_evidence"][2].startswith("speaker model:")
    # --speaker still overrides the prediction.
    code = main(["predict", "--articles", str(article), "--speaker", "nato", "--out", "p2.csv"])
    assert code == 0
    assert set(pd.read_csv(root / "p2.csv")["speaker"]) == {"nato"}


def test_predict_without_a_mapping_file_adds_no_speaker(tmp_path: Path, config, capsys):
    from stance.cli.predict import add_speakers, sentences_from_texts

    table = sentences_from_texts(["The Taliban said troops must go."], config)
    settings = {**config, "speakers": {**config["speakers"], "mapping": "missing.yaml"}}
    out = add_speakers(table, settings, tmp_path, "sqlite:///unused.db", "x")
    assert "speaker" not in out.columns and "paragraph_start" not in out.columns
    assert "no speaker mapping" in capsys.readouterr().err
    given = add_speakers(table, settings, tmp_path, "sqlite:///unused.db", "x", speaker="nato")
    assert given["speaker"].tolist() == ["nato"]


def test_stance_with_predicted_speakers_fits_once_per_fold_for_both_speaker_sources(config):
    from dataclasses import replace

    from stance.speakers.stance_eval import stance_with_predicted_speakers
    from stance.training.data import from_dataset
    from stance.training.models import spec_from_entry
    from stance.training.run import settings_for

    data = from_dataset(make_dataset(n_articles=4, per_article=10), "synthetic")
    frame = data.frame
    spec = spec_from_entry({"name": "ws", "kind": "tfidf_word_speaker"})
    built = []
    original_build = spec.build

    def counting_build(seed):
        model = original_build(seed)
        built.append(model)
        return model

    object.__setattr__(spec, "build", counting_build)
    settings = replace(settings_for(config), n_bootstrap=50)
    speakers = sorted(set(frame["speaker"]))
    same = pd.DataFrame(
        {"sentence_id": frame["sentence_id"], "predicted_speaker": frame["speaker"]}
    )
    # Every sentence gets the next speaker: the predictions must be made from these.
    shifted = same.assign(
        predicted_speaker=[
            speakers[(speakers.index(s) + 1) % len(speakers)] for s in frame["speaker"]
        ]
    )
    table = stance_with_predicted_speakers(
        data, {"same": same, "shifted": shifted}, [spec], settings
    )
    assert len(built) == 4  # one fit per article left out, shared by the three speaker sources
    rows = table.set_index("speakers")
    assert list(rows.index) == ["hand", "same", "shifted"]
    metric_columns = ["f_avg", "macro_f1", "accuracy", "f_avg_ci_low", "f_avg_ci_high"]
    assert rows.loc["hand", metric_columns].tolist() == rows.loc["same", metric_columns].tolist()
    assert rows.loc["hand", "accuracy"] != rows.loc["shifted", "accuracy"]


def test_out_of_fold_reads_only_the_labeled_articles_and_the_results_stay(
    tmp_path: Path, config, monkeypatch
):
    from stance.speakers import evaluation

    mapping = load_mapping(write_mapping(tmp_path / "speakers.yaml", MAPPING), SCHEMA)
    corpus, labels = corpus_and_labels()
    # Label a1 and a2 only; a3 and a4 are the unlabeled rest of the corpus.
    labels = labels[labels["sentence_id"].str.startswith(("a1:", "a2:"))]
    read: list[set[str]] = []
    real = evaluation.attribute

    def counting(sentences: pd.DataFrame, fold_mapping):
        read.append(set(sentences["article_id"]))
        return real(sentences, fold_mapping)

    monkeypatch.setattr(evaluation, "attribute", counting)
    # The labeled articles and the index of the whole corpus, as rule speakers reads them.
    labeled_corpus = corpus[corpus["article_id"].isin(["a1", "a2"])]
    oof = out_of_fold(labeled_corpus, labels, mapping, PARAMS, settings(config),
                      naming_of(corpus, mapping))  # fmt: skip
    assert read and all(articles == {"a1", "a2"} for articles in read)
    # The rules' output for the labeled articles is the one a read of the whole corpus gives.
    whole = real(corpus, mapping).set_index("sentence_id")
    unguarded = oof.table.set_index("sentence_id")["unguarded_rules"]
    assert (unguarded == whole.loc[unguarded.index, "rule_speaker"]).all()
