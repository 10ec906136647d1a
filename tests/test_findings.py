"""Findings statistics: design-based shares per group from a labeled sample plus predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stance.findings.estimate import Design, ShareEstimator
from stance.findings.shares import (
    EXACT,
    SAMPLE,
    THIN,
    UNCORRECTED,
    estimator_for,
    stance_shares,
    top_groups,
)
from stance.findings.stage import month_of, resolve_stances

CLASSES = ["favor", "against", "none"]
COLUMNS = ["sentence_id", "article_id", "true_speaker", "true_stance", "predicted_speaker",
           "predicted"]  # fmt: skip
# What each speaker group says on average (favor / against / none); articles differ around it.
SHARES = {"taliban": [0.60, 0.10, 0.30], "us_official": [0.15, 0.55, 0.30]}


def corpus(seed: int, articles: int = 120, accuracy: float = 0.7, speaker_accuracy: float = 0.85):
    """A corpus with true and predicted speaker and stance for every sentence. Articles differ
    (each article's shares drawn around the speaker's); the model is right about the stance
    with probability ``accuracy`` and about the speaker with ``speaker_accuracy``, else it
    says another value at random."""
    rng = np.random.default_rng(seed)
    speakers = list(SHARES)
    rows = []
    for a in range(articles):
        for s, speaker in enumerate(speakers):
            probs = rng.dirichlet(20 * np.array(SHARES[speaker]))
            for i in range(int(rng.integers(0, 12))):
                true = int(rng.choice(3, p=probs))
                others = [k for k in range(3) if k != true]
                pred = true if rng.random() < accuracy else int(rng.choice(others))
                pred_s = s if rng.random() < speaker_accuracy else 1 - s
                rows.append((f"a{a}:{s}:{i}", f"a{a}", speaker, CLASSES[true],
                             speakers[pred_s], CLASSES[pred]))  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def findings_table(table: pd.DataFrame, sampled_articles: set[str], frame: bool = True):
    """The findings' sentence table: the sampled articles hand-labeled in full (their
    out-of-fold predictions are the model's predictions here), the rest predicted."""
    known = table["article_id"].isin(sampled_articles)
    return table.assign(
        speaker=table["true_speaker"].where(known, table["predicted_speaker"]),
        stance=table["true_stance"].where(known, table["predicted"]),
        stance_source=np.where(known, "label", "model"),
        oof_speaker=table["predicted_speaker"].where(known),
        oof_stance=table["predicted"].where(known),
        design=0 if frame else -1,
        unit=table["article_id"],
        sampled=known,
    )


def truth(table: pd.DataFrame) -> pd.DataFrame:
    counts = table.groupby(["true_speaker", "true_stance"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=CLASSES, fill_value=0)
    return counts.div(counts.sum(axis=1), axis=0)


def draw(table: pd.DataFrame, n: int, seed: int) -> set[str]:
    articles = sorted(table["article_id"].unique())
    return set(np.random.default_rng(seed).choice(articles, size=n, replace=False))


def shares(table: pd.DataFrame, sampled: set[str], **kwargs) -> pd.DataFrame:
    n_articles = table["article_id"].nunique()
    design = Design("s", n_articles, len(sampled))
    return stance_shares(findings_table(table, sampled), "speaker", CLASSES, [design], **kwargs)


def test_intervals_hold_the_true_shares_about_as_often_as_they_claim():
    # One corpus, many random samples of 25 of its 120 articles: the design's own repetition.
    table = corpus(seed=1)
    true = truth(table)
    hits, raw_errors, errors = [], [], []
    for rep in range(60):
        out = shares(table, draw(table, 25, rep)).set_index("speaker")
        for speaker, row in true.iterrows():
            for c in CLASSES:
                r = out.loc[speaker]
                hits.append(r[f"{c}_low"] <= row[c] <= r[f"{c}_high"])
                errors.append(abs(r[c] - row[c]))
                raw_errors.append(abs(r[f"raw_{c}"] - row[c]))
    assert 0.88 <= np.mean(hits) <= 1.0, np.mean(hits)
    # Raw counting is biased by the model's errors; the estimate is not.
    assert np.mean(errors) < 0.6 * np.mean(raw_errors), (np.mean(errors), np.mean(raw_errors))


def test_a_census_is_exact_and_labels_count_as_they_are():
    table = corpus(seed=2, articles=10)
    out = shares(table, set(table["article_id"])).set_index("speaker")
    true = truth(table)
    assert set(out["estimate"]) == {EXACT}
    for speaker, row in true.iterrows():
        for c in CLASSES:
            r = out.loc[speaker]
            assert r[c] == pytest.approx(row[c]) == r[f"{c}_low"] == r[f"{c}_high"]
            assert r[f"raw_{c}"] == pytest.approx(row[c])
    assert (out["predicted"] == 0).all()


def test_lambda_zero_is_the_sample_alone_and_one_is_plain_ppi():
    table = corpus(seed=3, articles=40)
    sampled = draw(table, 10, 0)
    frame = findings_table(table, sampled)
    est = ShareEstimator(
        pd.DataFrame({
            "known": frame["stance_source"] == "label", "true_group": frame["true_speaker"],
            "true_stance": frame["true_stance"], "pred_group": frame["predicted_speaker"],
            "pred_stance": frame["predicted"], "design": 0, "unit": frame["article_id"],
            "sampled": frame["sampled"],
        }),
        CLASSES, [Design("s", 40, 10)],
    )  # fmt: skip
    in_sample = table[table["article_id"].isin(sampled)]
    alone = truth(in_sample).loc["taliban"].to_numpy()
    np.testing.assert_allclose(est.estimate("taliban", lam={0: 0.0}).shares, alone)
    # lambda 1: predictions of the unsampled sentences plus the sample's mean residual per
    # article times the unsampled articles (prediction-powered inference), with the labels.
    y = pd.crosstab(in_sample["true_speaker"], in_sample["true_stance"]).reindex(
        columns=CLASSES, fill_value=0).loc["taliban"].to_numpy(float)  # fmt: skip
    yhat_s = pd.crosstab(in_sample["predicted_speaker"], in_sample["predicted"]).reindex(
        columns=CLASSES, fill_value=0).loc["taliban"].to_numpy(float)  # fmt: skip
    rest = table[~table["article_id"].isin(sampled)]
    yhat_r = pd.crosstab(rest["predicted_speaker"], rest["predicted"]).reindex(
        columns=CLASSES, fill_value=0).loc["taliban"].to_numpy(float)  # fmt: skip
    totals = y + yhat_r + (40 - 10) / 10 * (y - yhat_s)
    totals = totals.clip(min=0)  # a negative estimated total (noise) counts as none
    np.testing.assert_allclose(est.estimate("taliban", lam={0: 1.0}).shares, totals / totals.sum())


def test_chosen_labels_are_known_values_not_evidence_about_the_model():
    table = corpus(seed=4, articles=60)
    sampled = draw(table, 15, 1)
    frame = findings_table(table, sampled)
    base = stance_shares(frame, "speaker", CLASSES, [Design("s", 60, 15)])
    # Label (by choice) every sentence the model got wrong in the unsampled articles: those
    # become known, and the rest of the estimate rests on the random sample as before.
    errs = (frame["predicted"] != frame["true_stance"]) | (
        frame["predicted_speaker"] != frame["true_speaker"]
    )
    wrong = ~frame["sampled"] & errs
    chosen = frame.assign(
        stance=frame["stance"].where(~wrong, frame["true_stance"]),
        speaker=frame["speaker"].where(~wrong, frame["true_speaker"]),
        stance_source=np.where(wrong, "label", frame["stance_source"]),
        oof_speaker=frame["oof_speaker"].where(~wrong, frame["predicted_speaker"]),
        oof_stance=frame["oof_stance"].where(~wrong, frame["predicted"]),
    )
    after = stance_shares(chosen, "speaker", CLASSES, [Design("s", 60, 15)])
    # The same units carry the design (the chosen labels are not sampled units) ...
    assert list(after["design_units"]) == list(base["design_units"])
    # ... and the estimate stays unbiased: both are within their intervals of the truth.
    true = truth(table)
    for out in (base, after):
        for r in out.itertuples(index=False):
            row = r._asdict()
            for c in CLASSES:
                t = true.loc[row["speaker"], c]
                assert row[f"{c}_low"] - 0.02 <= t <= row[f"{c}_high"] + 0.02


def test_without_a_design_the_shares_are_raw_counts_flagged_uncorrected():
    table = corpus(seed=5, articles=30)
    sampled = draw(table, 5, 2)
    out = stance_shares(findings_table(table, sampled, frame=False), "speaker", CLASSES, [])
    assert set(out["estimate"]) == {UNCORRECTED}
    for c in CLASSES:
        np.testing.assert_allclose(out[c], out[f"raw_{c}"])
        assert out[f"{c}_low"].isna().all() and out[f"{c}_high"].isna().all()
    assert (out["wide"] == "").all()


def test_a_group_the_sample_does_not_hold_gets_an_interval_that_claims_nothing():
    table = corpus(seed=6, articles=30)
    # A third speaker that the model finds in one unsampled article only.
    extra = table.iloc[:4].assign(
        sentence_id=[f"x{i}" for i in range(4)], article_id="a29",
        true_speaker="russia", predicted_speaker="russia",
    )  # fmt: skip
    table = pd.concat([table, extra], ignore_index=True)
    sampled = draw(table[table["article_id"] != "a29"], 8, 3)
    out = shares(table, sampled).set_index("speaker")
    row = out.loc["russia"]
    assert row["estimate"] == THIN
    assert all(row[f"{c}_low"] == 0 and row[f"{c}_high"] == 1 for c in CLASSES)
    assert set(out.drop(index="russia")["estimate"]) == {SAMPLE}


def test_intervals_count_articles_not_sentences():
    # 40 articles of 30 sentences; the model errs on whole articles (every third one it reads
    # as `none`): its errors are not independent from sentence to sentence.
    rows = [(f"a{a}:{i}", f"a{a}", "taliban", "favor" if a % 2 else "against", "taliban",
             "none" if a % 3 == 0 else ("favor" if a % 2 else "against"))
            for a in range(40) for i in range(30)]  # fmt: skip
    table = pd.DataFrame(rows, columns=COLUMNS)
    sampled = draw(table, 20, 0)
    frame = findings_table(table, sampled)
    by_article = stance_shares(frame, "speaker", CLASSES, [Design("s", 40, 20)]).iloc[0]
    # The same labeled sentences read as if sentences had been drawn one by one.
    by_sentence = stance_shares(
        frame.assign(unit=frame["sentence_id"]), "speaker", CLASSES, [Design("s", 1200, 600)]
    ).iloc[0]
    width = {n: (r["favor_high"] - r["favor_low"]) for n, r in
             (("article", by_article), ("sentence", by_sentence))}  # fmt: skip
    assert width["article"] > 2 * width["sentence"], width


def test_hand_labels_override_predictions():
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


def test_groups_with_missing_values_are_left_out_and_months_and_pairs():
    dates = pd.Series(["2018-11-09", "", None, "2020-02-21T08:00:00Z"])
    months = [m if isinstance(m, str) else None for m in month_of(dates)]
    assert months == ["2018-11", None, None, "2020-02"]
    table = pd.DataFrame(
        {
            "sentence_id": ["s1", "s2", "s3", "s4"],
            "article_id": ["a1", "a2", "a3", "a4"],
            "speaker": ["taliban", "taliban", "nato", "nato"],
            "predicted_speaker": ["taliban", "taliban", "nato", "nato"],
            "month": ["2018-11", None, "2020-02", ""],
            "stance": ["favor", "none", "against", "favor"],
            "predicted": ["favor", "none", "against", "favor"],
            "stance_source": ["label"] * 4,
        }
    )
    out = stance_shares(table, "month", CLASSES)
    assert list(out["month"]) == ["2018-11", "2020-02"] and out["sentences"].sum() == 2
    pairs = stance_shares(table, ("speaker", "month"), CLASSES)
    assert list(zip(pairs["speaker"], pairs["month"], strict=True)) == [
        ("nato", "2020-02"),
        ("taliban", "2018-11"),
    ]
    assert list(pairs["sentences"]) == [1, 1] and list(pairs["against"]) == [1.0, 0.0]


def test_with_sentences_as_units_and_a_large_frame_it_is_prediction_powered_inference():
    # One group, 20,000 sentences, 300 drawn at random: PPI's estimate of a mean is
    # mean(Yhat of the rest) + mean(Y - Yhat of the sample), its CLT interval
    # +- 1.96 sqrt(var(Y - Yhat)/n + var(Yhat)/N) (Angelopoulos et al. 2023).
    rng = np.random.default_rng(8)
    n_frame, n = 20_000, 300
    true = rng.choice(3, size=n_frame, p=[0.5, 0.2, 0.3])
    pred = np.where(rng.random(n_frame) < 0.75, true, rng.choice(3, size=n_frame))
    sampled = np.zeros(n_frame, dtype=bool)
    sampled[rng.choice(n_frame, size=n, replace=False)] = True
    table = pd.DataFrame({
        "known": sampled, "true_group": "g", "true_stance": np.asarray(CLASSES)[true],
        "pred_group": "g", "pred_stance": np.asarray(CLASSES)[pred], "design": 0,
        "unit": [f"s{i}" for i in range(n_frame)], "sampled": sampled,
    })  # fmt: skip
    est = ShareEstimator(table, CLASSES, [Design("s", n_frame, n)]).estimate("g", lam={0: 1.0})
    low, high = est.interval(0.95)
    onehot = np.eye(3)
    y, yhat = onehot[true[sampled]], onehot[pred[sampled]]
    ppi = onehot[pred[~sampled]].mean(axis=0) + (y - yhat).mean(axis=0)
    half = 1.96 * np.sqrt((y - yhat).var(axis=0, ddof=1) / n + onehot[pred].var(axis=0) / n_frame)
    np.testing.assert_allclose(est.shares, ppi, atol=0.01)
    np.testing.assert_allclose((high - low) / 2, half, rtol=0.05)


def test_a_difference_between_two_groups_and_its_interval():
    # Two periods of one speaker, with truly different shares; articles drawn at random.
    rng = np.random.default_rng(9)
    rows = []
    for a in range(80):
        period = "before" if a < 40 else "after"
        probs = rng.dirichlet(20 * np.array([0.2, 0.5, 0.3] if a < 40 else [0.5, 0.2, 0.3]))
        for i in range(int(rng.integers(3, 12))):
            true = int(rng.choice(3, p=probs))
            pred = true if rng.random() < 0.7 else int(rng.choice(3))
            rows.append((f"a{a}:{i}", f"a{a}", "taliban", CLASSES[true], "taliban",
                         CLASSES[pred], period))  # fmt: skip
    table = pd.DataFrame(rows, columns=[*COLUMNS, "period"])
    true = {p: truth(table[table["period"] == p]).loc["taliban"] for p in ("before", "after")}
    grouping = ("speaker", "period")
    hits = []
    for rep in range(30):
        sampled = draw(table, 24, rep)
        est = estimator_for(findings_table(table, sampled), grouping, CLASSES,
                            [Design("s", 80, 24)])  # fmt: skip
        delta, low, high = est.difference(("taliban", "after"), ("taliban", "before"), 0.95)
        shares = {p: est.estimate(("taliban", p)).shares for p in ("after", "before")}
        np.testing.assert_allclose(delta, shares["after"] - shares["before"])
        target = (true["after"] - true["before"]).to_numpy()
        hits += list((low <= target) & (target <= high))
    assert np.mean(hits) >= 0.85, np.mean(hits)
    assert (delta[0] > 0) and (delta[1] < 0)  # favor rose, against fell


def many_groups(column: str, values: list[str], sizes: list[int]) -> pd.DataFrame:
    """One article per group value with ``sizes`` sentences, every sentence only predicted;
    the stance cycles through the classes by position."""
    rows = [
        (f"{v}:{i}", f"art{k}", v, CLASSES[(i + k) % 3])
        for k, (v, n) in enumerate(zip(values, sizes, strict=True))
        for i in range(n)
    ]
    table = pd.DataFrame(rows, columns=["sentence_id", "article_id", column, "predicted"])
    speaker = table[column] if column == "speaker" else "author"
    return table.assign(speaker=speaker, predicted_speaker=speaker, stance=table["predicted"],
                        stance_source="model")  # fmt: skip


def test_figures_draw_the_largest_groups_and_pool_the_rest(tmp_path):
    from stance.findings.figures import plot_over_time, plot_speaker_shares

    # 500 outlets: 480 of 5 sentences, 20 of 10-29 (the largest), mixed through the table.
    sizes = [5] * 480 + list(range(10, 30))
    order = np.random.default_rng(0).permutation(500)
    outlets = [f"outlet {i:03d}" for i in order]
    sizes = [sizes[i] for i in order]
    frame = many_groups("outlet", outlets, sizes)
    table = stance_shares(frame, "outlet", CLASSES)
    assert len(table) == 500  # the table keeps every group
    shown = top_groups(frame, table, "outlet", CLASSES, top=20)
    assert len(shown) == 21
    largest = {o for o, n in zip(outlets, sizes, strict=True) if n >= 10}
    assert set(shown["outlet"][:20]) == largest
    kept = table[table["outlet"].isin(largest)].reset_index(drop=True)
    pd.testing.assert_frame_equal(shown[:20].reset_index(drop=True), kept, check_dtype=False)
    other = shown.iloc[-1]
    assert other["outlet"] == "other 480 outlets"
    assert (other["sentences"], other["articles"]) == (480 * 5, 480)
    rest = frame[~frame["outlet"].isin(largest)]
    for c in CLASSES:  # estimated as one group (no design: the raw share)
        assert other[c] == pytest.approx((rest["stance"] == c).mean())
    # One group more than top: all drawn as they are.
    few = table[table["outlet"].isin(largest) | (table["outlet"] == outlets[0])]
    assert top_groups(frame, few, "outlet", CLASSES, top=20) is few

    months = [f"{1980 + k // 12}-{k % 12 + 1:02d}" for k in range(500)]
    frame = many_groups("month", months, sizes)
    shown = top_groups(frame, stance_shares(frame, "month", CLASSES), "month", CLASSES, top=20)
    drawn = plot_over_time(shown, CLASSES, "title", tmp_path / "time.png")
    assert len(drawn) == 21 and drawn[-1] == "other 480 months"
    assert drawn[:20] == sorted(drawn[:20])  # the months in order, the pool after them
    speakers = [f"speaker_{k:03d}" for k in range(500)]
    frame = many_groups("speaker", speakers, sizes)
    shown = top_groups(frame, stance_shares(frame, "speaker", CLASSES), "speaker", CLASSES,
                       top=20)  # fmt: skip
    drawn = plot_speaker_shares(shown, CLASSES, "title", tmp_path / "speakers.png")
    assert len(drawn) == 21 and drawn[-1] == "other 480 speakers"
    assert shown.iloc[-1]["sentences"] == 480 * 5  # predicted speakers pooled with them
    for name in ("time.png", "speakers.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
