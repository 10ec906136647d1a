"""Agreement between annotators: Cohen's kappa, Krippendorff's alpha and the disagreement list."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import HEADER, SCHEMA, make_sentences, write_csv
from sklearn.metrics import cohen_kappa_score

from stance.corpus.splitting import sentence_id
from stance.labels.agreement import ALPHA, COHEN, compute_agreement, nominal_alpha, write_agreement
from stance.labels.files import load_labels
from stance.labels.resolution import resolve_labels
from stance.labels.schema import load_schema

TEXTS = [f"Sentence number {i} of the test article." for i in range(10)]
ARTICLES = {"t1": TEXTS}

# Two annotators on 10 sentences (codes: t=taliban, u=us_government, n=nato,
# g=afghan_government; f=favor, x=against, 0=none).
#
# stance   ann: f f f f x x x 0 0 0
#          bob: f f f x x x 0 0 0 f
#   agree on sentences 0-2, 4-5, 7-8: p_o = 7/10 = 0.70
#   ann's marginals f 4, x 3, 0 3; bob's f 4, x 3, 0 3
#   p_e = (4*4 + 3*3 + 3*3) / 10^2 = 34/100 = 0.34
#   kappa = (0.70 - 0.34) / (1 - 0.34) = 0.36 / 0.66 = 6/11 = 0.5454...
#
# speaker  ann: t t t u u u n n g g
#          bob: t t t u u u n g g g
#   agree on all but sentence 7: p_o = 9/10 = 0.90
#   ann's marginals t 3, u 3, n 2, g 2; bob's t 3, u 3, n 1, g 3
#   p_e = (3*3 + 3*3 + 2*1 + 2*3) / 100 = 26/100 = 0.26
#   kappa = (0.90 - 0.26) / (1 - 0.26) = 0.64 / 0.74 = 32/37 = 0.8648...
CODES = {
    "t": "taliban",
    "u": "us_government",
    "n": "nato",
    "g": "afghan_government",
    "f": "favor",
    "x": "against",
    "0": "none",
}
ANN = ("t t t u u u n n g g", "f f f f x x x 0 0 0")
BOB = ("t t t u u u n g g g", "f f f x x x 0 0 0 f")
STANCE_KAPPA = 6 / 11
SPEAKER_KAPPA = 32 / 37


def labels_of(annotator: str, speakers: str, stances: str, texts=TEXTS, article="t1"):
    return [
        [sentence_id(article, text), text, CODES[sp], CODES[st], annotator, ""]
        for text, sp, st in zip(texts, speakers.split(), stances.split(), strict=True)
    ]


def agreement_for(tmp_path: Path, rows: list[list[str]], articles=ARTICLES):
    schema = load_schema(SCHEMA)
    sentences = make_sentences(articles)
    write_csv(tmp_path / "labels.csv", rows, HEADER)
    label_set = load_labels(tmp_path, sentences, schema)
    resolution = resolve_labels(label_set, schema)
    return compute_agreement(label_set, resolution, sentences, schema)


def test_cohen_kappa_matches_the_hand_computation(tmp_path: Path):
    agreement = agreement_for(tmp_path, labels_of("ann", *ANN) + labels_of("bob", *BOB))
    report = agreement.report
    assert report["status"] == "ok" and report["measure"] == COHEN
    assert report["doubly_labeled"] == 10
    stance, speaker = report["fields"]["stance"], report["fields"]["speaker"]
    assert stance["observed_agreement"] == pytest.approx(0.70)
    assert stance["expected_agreement"] == pytest.approx(0.34)
    assert stance["value"] == pytest.approx(STANCE_KAPPA)
    assert speaker["observed_agreement"] == pytest.approx(0.90)
    assert speaker["expected_agreement"] == pytest.approx(0.26)
    assert speaker["value"] == pytest.approx(SPEAKER_KAPPA)
    for field, (a, b) in {"speaker": (ANN[0], BOB[0]), "stance": (ANN[1], BOB[1])}.items():
        assert report["fields"][field]["value"] == pytest.approx(
            cohen_kappa_score(a.split(), b.split())
        )
    assert stance["disagreements"] == 3 and speaker["disagreements"] == 1


def test_disagreements_list_each_annotators_labels(tmp_path: Path):
    agreement = agreement_for(tmp_path, labels_of("ann", *ANN) + labels_of("bob", *BOB))
    table = agreement.disagreements
    # Stances differ on sentences 3, 6 and 9, speakers on sentence 7.
    assert table["position"].tolist() == [3, 6, 7, 9]
    assert table["sentence_id"].tolist() == [sentence_id("t1", TEXTS[i]) for i in (3, 6, 7, 9)]
    assert table["text"].tolist() == [TEXTS[i] for i in (3, 6, 7, 9)]
    assert table["fields"].tolist() == ["stance", "stance", "speaker", "stance"]
    seven = table.set_index("position").loc[7]
    assert seven[["ann:speaker", "ann:stance", "bob:speaker", "bob:stance"]].tolist() == [
        "nato",
        "none",
        "afghan_government",
        "none",
    ]
    # Two annotators who differ always tie; the rule picks ann (alphabetically first).
    assert seven["resolution"] == "tie" and seven["final_speaker"] == "nato"
    ties = agreement.report["ties"]
    assert {(t["sentence_id"], t["field"]) for t in ties} == {
        (sentence_id("t1", TEXTS[i]), f)
        for i, f in [(3, "stance"), (6, "stance"), (7, "speaker"), (9, "stance")]
    }
    assert all(t["chosen_annotator"] == "ann" for t in ties)


# Three annotators on five sentences (plus one labeled by ann alone, which is not pairable):
#   unit   ann bob cat   values      m_u  contributions to the coincidence matrix
#   u1     f   f   f     f f f       3    o_ff += 3*2/2 = 3
#   u2     f   f   x     f f x       3    o_ff += 2*1/2 = 1; o_fx = o_xf += 2*1/2 = 1
#   u3     x   x   x     x x x       3    o_xx += 3
#   u4     0   0   -     0 0         2    o_00 += 2*1/1 = 2
#   u5     x   0   0     x 0 0       3    o_00 += 2*1/2 = 1; o_x0 = o_0x += 1*2/2 = 1
# n_f = 5, n_x = 5, n_0 = 4, n = 14; sum of the diagonal o_cc = 3+1+3+2+1 = 10
# D_o = (14 - 10) / 14 = 4/14
# D_e = (14^2 - (25 + 25 + 16)) / (14 * 13) = 130/182
# alpha = 1 - D_o / D_e = 1 - (4/14) * (182/130) = 1 - 0.4 = 0.6
ALPHA_UNITS = [
    ["f", "f", "f"],
    ["f", "f", "x"],
    ["x", "x", "x"],
    ["0", "0"],
    ["x", "0", "0"],
    ["f"],
]


def test_nominal_alpha_matches_the_hand_computation():
    result = nominal_alpha(ALPHA_UNITS)
    assert result.value == pytest.approx(0.6)
    assert result.observed_agreement == pytest.approx(10 / 14)
    assert result.expected_agreement == pytest.approx(1 - 130 / 182)
    assert result.sentences == 5 and result.disagreements == 2


def test_nominal_alpha_edge_cases():
    assert nominal_alpha([["a", "a"], ["b", "b", "b"]]).value == pytest.approx(1.0)
    assert nominal_alpha([["a", "a"], ["a", "a", "a"]]).value is None  # no variation at all
    assert nominal_alpha([["a"], ["b"]]).sentences == 0
    # Units (a a) and (a b): o_aa = 2, o_ab = o_ba = 1; n_a = 3, n_b = 1, n = 4.
    # D_o = (4 - 2) / 4 = 0.5; D_e = (16 - (9 + 1)) / (4 * 3) = 0.5; alpha = 1 - 0.5/0.5 = 0.
    assert nominal_alpha([["a", "a"], ["a", "b"]]).value == pytest.approx(0.0)


def test_three_annotators_use_alpha(tmp_path: Path):
    texts = [f"Unit {i} is a sentence." for i in range(6)]
    values = {"ann": "f f x 0 x f", "bob": "f f x 0 0 -", "cat": "f x x - 0 -"}
    rows = []
    for annotator, stances in values.items():
        for text, st in zip(texts, stances.split(), strict=True):
            if st != "-":
                rows.append([sentence_id("t2", text), text, "author", CODES[st], annotator, ""])
    agreement = agreement_for(tmp_path, rows, {"t2": texts})
    report = agreement.report
    assert report["measure"] == ALPHA and report["doubly_labeled"] == 5
    assert report["fields"]["stance"]["value"] == pytest.approx(0.6)
    assert report["fields"]["speaker"]["value"] is None  # everyone said "author"
    assert agreement.disagreements["position"].tolist() == [1, 4]
    assert agreement.disagreements["cat:stance"].tolist() == ["against", "none"]


def test_undefined_kappa_is_null_in_json(tmp_path: Path):
    same = "t t t u u u n n g g", "0 0 0 0 0 0 0 0 0 0"
    agreement = agreement_for(tmp_path, labels_of("ann", *same) + labels_of("bob", *same))
    assert agreement.report["fields"]["stance"]["value"] is None
    assert agreement.report["fields"]["speaker"]["value"] == pytest.approx(1.0)
    write_agreement(agreement, tmp_path / "a.json", tmp_path / "d.csv")
    assert json.loads((tmp_path / "a.json").read_text())["fields"]["stance"]["value"] is None


def test_single_annotator_writes_valid_empty_outputs(tmp_path: Path):
    agreement = agreement_for(tmp_path, labels_of("ann", *ANN))
    assert agreement.report["status"] == "single annotator"
    assert agreement.report["doubly_labeled"] == 0 and agreement.report["fields"] == {}
    write_agreement(agreement, tmp_path / "out" / "agreement.json", tmp_path / "out" / "d.csv")
    report = json.loads((tmp_path / "out" / "agreement.json").read_text(encoding="utf-8"))
    assert report["status"] == "single annotator" and report["disagreements"] == 0
    table = pd.read_csv(tmp_path / "out" / "d.csv")
    assert table.empty and list(table.columns)[:4] == [
        "sentence_id",
        "article_id",
        "position",
        "text",
    ]


def test_no_labels_and_no_overlap(tmp_path: Path):
    assert agreement_for(tmp_path / "a", []).report["status"] == "no labels"
    rows = labels_of("ann", *ANN)[:5] + labels_of("bob", *BOB)[5:]
    report = agreement_for(tmp_path / "b", rows).report
    assert report["status"] == "no overlap" and report["fields"] == {}
