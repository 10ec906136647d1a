"""Findings statistics: shares per group, article bootstrap, correction for classifier errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stance.errors import StanceError
from stance.findings.correction import acc_shares, confusion_by_article, error_rates
from stance.findings.resolve import month_of, resolve_stances
from stance.findings.shares import stance_shares

CLASSES = ["favor", "against", "none"]
# What each speaker group really says (population shares of favor / against / none).
TRUTH = {"taliban": [0.60, 0.10, 0.30], "us_official": [0.15, 0.55, 0.30]}
# The classifier: row i = P(predicted j | true i). It over-predicts `none` and mixes the others.
RATES = np.array([[0.70, 0.10, 0.20], [0.10, 0.70, 0.20], [0.15, 0.15, 0.70]])


def _draw(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(CLASSES), size=n, p=probs)


def synthetic(seed: int, articles: int = 150, oof_articles: int = 80):
    """A corpus with known true shares per speaker, and out-of-fold predictions on labeled
    articles, both predicted by a classifier with the error rates RATES.

    Articles differ: each has its own shares drawn around the speaker's (Dirichlet), so the
    sentences of one article are not independent draws.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(articles):
        for speaker, truth in TRUTH.items():
            n = int(rng.integers(0, 12))
            true = _draw(rng, rng.dirichlet(20 * np.array(truth)), n)
            for t in true:
                rows.append((f"a{a}", speaker, CLASSES[t], CLASSES[_draw(rng, RATES[t], 1)[0]]))
    corpus = pd.DataFrame(rows, columns=["article_id", "speaker", "true", "predicted"])
    corpus["stance"] = corpus["predicted"]
    corpus["stance_source"] = "model"
    oof_rows = []
    labeled_prior = np.array([0.3, 0.3, 0.4])  # the labeled articles have other shares
    for a in range(oof_articles):
        for t in _draw(rng, labeled_prior, int(rng.integers(5, 20))):
            oof_rows.append((f"l{a}", CLASSES[t], CLASSES[_draw(rng, RATES[t], 1)[0]]))
    oof = pd.DataFrame(oof_rows, columns=["article_id", "stance", "predicted"])
    return corpus, oof


def _covers(table: pd.DataFrame, prefix: str = "") -> dict[tuple[str, str], bool]:
    out = {}
    for row in table.itertuples(index=False):
        row = row._asdict()
        for k, c in enumerate(CLASSES):
            truth = TRUTH[row["speaker"]][k]
            out[(row["speaker"], c)] = row[f"{prefix}{c}_low"] <= truth <= row[f"{prefix}{c}_high"]
    return out


def test_corrected_shares_recover_the_truth_where_raw_counting_does_not():
    corpus, oof = synthetic(seed=1)
    table = stance_shares(corpus, "speaker", CLASSES, oof, n_boot=1000, seed=0)
    assert list(table["speaker"]) == ["taliban", "us_official"]
    assert all(_covers(table).values()), table.T
    raw = _covers(table, "raw_")
    # Raw counting is biased by the classifier's errors: its intervals miss favor and against.
    for speaker in TRUTH:
        assert not raw[(speaker, "favor")] and not raw[(speaker, "against")], table.T
    # ... and by a lot: the Taliban's favor share is under-counted by more than 0.08.
    taliban = table.set_index("speaker").loc["taliban"]
    assert TRUTH["taliban"][0] - taliban["raw_favor"] > 0.08
    assert abs(taliban["favor"] - TRUTH["taliban"][0]) < 0.06
    # Every sentence here is predicted: no hand-labeled counts.
    assert (table["labeled"] == 0).all() and (table["predicted"] == table["sentences"]).all()


def test_intervals_cover_the_truth_about_as_often_as_they_claim():
    hits: list[bool] = []
    raw_hits: list[bool] = []
    for seed in range(12):
        corpus, oof = synthetic(seed=100 + seed, articles=80, oof_articles=50)
        table = stance_shares(corpus, "speaker", CLASSES, oof, n_boot=400, seed=seed)
        hits += _covers(table).values()
        raw_hits += _covers(table, "raw_").values()
    assert np.mean(hits) >= 0.85, np.mean(hits)
    assert np.mean(raw_hits) <= 0.35, np.mean(raw_hits)


def test_hand_labels_override_predictions_and_are_counted_as_such():
    predictions = pd.DataFrame(
        {
            "sentence_id": ["s1", "s2", "s3", "s4"],
            "article_id": ["a1", "a1", "a2", "a2"],
            "speaker": ["taliban"] * 4,
            "predicted": ["none", "none", "favor", "none"],
        }
    )
    labels = pd.DataFrame({"sentence_id": ["s1", "s3", "zz"], "stance": ["favor", "against", "x"]})
    resolved = resolve_stances(predictions, labels)
    assert list(resolved["stance"]) == ["favor", "none", "against", "none"]
    assert list(resolved["stance_source"]) == ["label", "model", "label", "model"]
    _, oof = synthetic(seed=3, articles=1)
    row = stance_shares(resolved, "speaker", CLASSES, oof, n_boot=200).iloc[0]
    assert (row["labeled"], row["predicted"]) == (2, 2)
    assert (row["labeled_favor"], row["labeled_against"], row["labeled_none"]) == (1, 1, 0)
    # The two labels count as they are; only the two predictions are corrected. Both predicted
    # `none`, which this classifier mostly gets right but also produces from favor/against.
    assert row["raw_none"] == 0.5
    assert row["favor"] >= 0.25 and row["against"] >= 0.25


def test_fully_labeled_group_needs_no_correction():
    table = pd.DataFrame(
        {
            "article_id": ["a1", "a1", "a2", "a3"],
            "outlet": ["X", "X", "X", "X"],
            "stance": ["favor", "against", "favor", "none"],
            "stance_source": ["label"] * 4,
        }
    )
    _, oof = synthetic(seed=4, articles=1)
    row = stance_shares(table, "outlet", CLASSES, oof, n_boot=200).iloc[0]
    for c, share in zip(CLASSES, [0.5, 0.25, 0.25], strict=True):
        assert row[c] == row[f"raw_{c}"] == share


def test_bootstrap_resamples_articles_not_sentences():
    # 12 articles of 50 sentences, each article all favor or all against: 600 sentences, but
    # only 12 independent pieces of evidence.
    rows = [
        (f"a{a}", "taliban", "favor" if a % 2 else "against", "model")
        for a in range(12)
        for _ in range(50)
    ]
    table = pd.DataFrame(rows, columns=["article_id", "speaker", "stance", "stance_source"])
    row = stance_shares(table, "speaker", CLASSES, n_boot=1000, seed=0).iloc[0]
    half_width = (row["raw_favor_high"] - row["raw_favor_low"]) / 2
    sentence_level = 1.96 * np.sqrt(0.25 / 600)  # what resampling sentences would claim
    assert half_width > 4 * sentence_level
    assert "favor" in row["wide"].split(",")
    assert "favor" not in row.index  # no out-of-fold predictions: no corrected shares


def test_seeded_and_reproducible():
    corpus, oof = synthetic(seed=5, articles=40, oof_articles=20)
    first = stance_shares(corpus, "speaker", CLASSES, oof, n_boot=300, seed=7)
    again = stance_shares(corpus, "speaker", CLASSES, oof, n_boot=300, seed=7)
    other = stance_shares(corpus, "speaker", CLASSES, oof, n_boot=300, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not first["favor_low"].equals(other["favor_low"])
    assert first["favor"].equals(other["favor"])  # the estimate itself does not depend on it


def test_groups_with_missing_values_are_left_out_and_months():
    dates = pd.Series(["2018-11-09", "", None, "2020-02-21T08:00:00Z"])
    months = [m if isinstance(m, str) else None for m in month_of(dates)]
    assert months == ["2018-11", None, None, "2020-02"]
    table = pd.DataFrame(
        {
            "article_id": ["a1", "a2", "a3"],
            "month": ["2018-11", None, "2020-02"],
            "stance": ["favor", "none", "against"],
            "stance_source": ["model"] * 3,
        }
    )
    out = stance_shares(table, "month", CLASSES, n_boot=50)
    assert list(out["month"]) == ["2018-11", "2020-02"] and out["sentences"].sum() == 2


def test_acc_solves_exact_mixtures_and_stays_on_the_simplex():
    truth = np.array([0.6, 0.1, 0.3])
    np.testing.assert_allclose(acc_shares(RATES.T @ truth, RATES), truth, atol=1e-6)
    # Predicted shares no mixture can produce (all `favor`): the nearest valid shares.
    p = acc_shares(np.array([1.0, 0.0, 0.0]), RATES)
    assert (p >= 0).all() and p.sum() == pytest.approx(1) and p[0] == pytest.approx(1)


def test_confusion_by_article_and_error_rates():
    oof = pd.DataFrame(
        {
            "article_id": ["a", "a", "b"],
            "stance": ["favor", "favor", "against"],
            "predicted": ["favor", "none", "against"],
        }
    )
    articles, counts = confusion_by_article(oof, CLASSES)
    assert articles == ["a", "b"] and counts.sum() == 3 and counts[0, 0, 2] == 1
    rates = error_rates(counts.sum(axis=0))
    np.testing.assert_allclose(rates[0], [0.5, 0, 0.5])
    np.testing.assert_allclose(rates[2], [0, 0, 1])  # `none` never labeled: left as predicted
    with pytest.raises(StanceError, match="maybe"):
        confusion_by_article(oof.assign(predicted="maybe"), CLASSES)
