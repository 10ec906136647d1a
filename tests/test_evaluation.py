"""Evaluation: metrics checked by hand, grouped folds without leaks, determinism, edge cases."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_same_evaluation, make_dataset, schema_values
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support

from stance.errors import StanceError
from stance.training.artifacts import read_summary, write_evaluation
from stance.training.comparison import comparison_table
from stance.training.data import from_dataset, load_table
from stance.training.evaluate import evaluate
from stance.training.folds import grouped_folds, stratified_folds
from stance.training.metrics import compute_metrics, scored
from stance.training.models import spec_from_entry
from stance.training.settings import EvalSettings


@pytest.fixture(scope="module")
def settings(config) -> EvalSettings:
    return replace(EvalSettings.from_config(config), n_bootstrap=200)


@pytest.fixture(scope="module")
def data():
    return from_dataset(make_dataset(n_articles=4, per_article=12), "synthetic")


def spec(kind: str = "tfidf_word", **params):
    return spec_from_entry({"name": f"t_{kind}", "kind": kind, "params": params})


def test_metrics_match_a_hand_computation(config):
    f_avg_classes = config["evaluation"]["f_avg_classes"]
    favor, against = f_avg_classes
    (other,) = [c for c in schema_values("stance") if c not in f_avg_classes]
    classes = [favor, against, other]
    F, A, N = 0, 1, 2
    y_true = np.array([F, F, F, A, A, N, N, N, N, N])
    y_pred = np.array([F, F, N, A, F, N, N, N, F, A])
    # Confusion (rows true, columns predicted; favor, against, none):
    #   favor   [2, 0, 1]   against [1, 1, 0]   none [1, 1, 3]
    # favor:   P = 2/4 = 0.5,  R = 2/3,  F1 = 2*0.5*(2/3)/(0.5+2/3) = 4/7
    # against: P = 1/2,        R = 1/2,  F1 = 1/2
    # none:    P = 3/4,        R = 3/5,  F1 = 2*0.75*0.6/1.35 = 2/3
    # f_avg = (4/7 + 1/2)/2 = 15/28;  macro_f1 = (4/7 + 1/2 + 2/3)/3 = 73/126
    # accuracy = (2+1+3)/10 = 0.6
    # kappa: p_o = 0.6; true totals 3,2,5, predicted totals 4,2,4;
    #        p_e = (3*4 + 2*2 + 5*4)/100 = 0.36; kappa = (0.6-0.36)/(1-0.36) = 0.375
    m = compute_metrics(y_true, y_pred, classes, f_avg_classes)
    assert m["f_avg"] == pytest.approx(15 / 28)
    assert m["macro_f1"] == pytest.approx(73 / 126)
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["cohen_kappa"] == pytest.approx(0.375)
    assert m[f"precision_{favor}"] == pytest.approx(0.5)
    assert m[f"recall_{favor}"] == pytest.approx(2 / 3)
    assert m[f"f1_{favor}"] == pytest.approx(4 / 7)
    assert m[f"f1_{against}"] == pytest.approx(0.5)
    assert m[f"precision_{other}"] == pytest.approx(0.75)
    assert m[f"recall_{other}"] == pytest.approx(0.6)
    assert m[f"f1_{other}"] == pytest.approx(2 / 3)


def test_metrics_agree_with_scikit_learn_on_random_predictions():
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    for _ in range(20):
        y_true = rng.integers(0, 3, 40)
        y_pred = rng.integers(0, 3, 40)
        y_pred[:3] = 0  # some class may still be missing from y_true: zero_division=0
        m = compute_metrics(y_true, y_pred, classes, ["a", "b"])
        f1 = f1_score(y_true, y_pred, labels=[0, 1, 2], average=None, zero_division=0)
        p, r, _, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=[0, 1, 2], zero_division=0
        )
        assert m["macro_f1"] == pytest.approx(f1.mean())
        assert m["f_avg"] == pytest.approx(f1[:2].mean())
        assert m["precision_c"] == pytest.approx(p[2]) and m["recall_b"] == pytest.approx(r[1])
        assert m["cohen_kappa"] == pytest.approx(cohen_kappa_score(y_true, y_pred))


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate(settings):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 3, 200))
    s = replace(settings, f_avg_classes=("a", "b"), n_bootstrap=300, ci_level=0.95)
    args = (y_true, y_pred, ["a", "b", "c"])
    m = scored(*args, replace(s, seed=5))
    assert m == scored(*args, replace(s, seed=5))
    assert m != scored(*args, replace(s, seed=6))
    for name in ("f_avg", "macro_f1"):
        assert m[f"{name}_ci_low"] < m[name] < m[f"{name}_ci_high"]


@pytest.mark.parametrize("scheme", ["leave_one_group_out", "group_kfold"])
def test_grouped_folds_never_split_an_article(scheme, settings):
    groups = [f"art{i % 7}" for i in range(70)]
    y = np.array([i % 3 for i in range(70)])
    folds = grouped_folds(groups, y, ["a", "b", "c"], replace(settings, scheme=scheme))
    tested = []
    for train, test in folds.splits:
        train_groups = {groups[i] for i in train}
        test_groups = {groups[i] for i in test}
        assert not train_groups & test_groups
        tested += list(test)
    assert sorted(tested) == list(range(70))  # every sentence tested exactly once
    assert len(folds.splits) == (7 if scheme == "leave_one_group_out" else settings.n_splits)


def test_auto_scheme_leaves_one_article_out_while_there_are_few(settings):
    y = np.array([i % 3 for i in range(60)])
    few = grouped_folds([f"a{i % 4}" for i in range(60)], y, ["a", "b", "c"], settings)
    many = grouped_folds(
        [f"a{i % 30}" for i in range(60)], y, ["a", "b", "c"],
        replace(settings, logo_max_groups=10),
    )  # fmt: skip
    assert few.scheme == "leave_one_group_out" and len(few.splits) == 4
    assert many.scheme == "group_kfold" and len(many.splits) == settings.n_splits


def test_out_of_fold_predictions_come_from_models_that_never_saw_the_article(data, settings):
    ev = evaluate(data, spec(), settings)
    oof = ev.oof
    assert len(oof) == len(data.frame) and oof["sentence_id"].is_unique
    # One article per fold under leave-one-article-out, each article in exactly one fold.
    assert oof.groupby("fold")["article_id"].nunique().eq(1).all()
    assert oof.groupby("article_id")["fold"].nunique().eq(1).all()
    classes = data.classes
    proba = oof[[f"proba_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(oof["predicted"]) <= set(classes)
    assert ev.summary["cv"]["scheme"] == "leave_one_group_out"
    # Identical metric names for every model, primary and secondary.
    names = set(ev.metrics)
    assert {"f_avg", "macro_f1", "accuracy", "cohen_kappa", "f_avg_ci_low", "f_avg_ci_high",
            "macro_f1_ci_low", "macro_f1_ci_high", "stratified_f_avg",
            "stratified_macro_f1"} <= names  # fmt: skip
    assert {f"{p}_{c}" for p in ("precision", "recall", "f1") for c in classes} <= names
    assert names == set(evaluate(data, spec_from_entry({"name": "m", "kind": "majority"}),
                                 settings).metrics)  # fmt: skip


def test_the_learnable_synthetic_stance_beats_the_majority_baseline(data, settings):
    ev = evaluate(data, spec(), settings)
    base = evaluate(data, spec_from_entry({"name": "m", "kind": "majority"}), settings)
    assert ev.metrics["macro_f1"] > base.metrics["macro_f1"] + 0.3
    assert base.metrics["f_avg"] <= ev.metrics["f_avg"]
    curve = ev.curve
    assert list(curve["fraction"]) == sorted(settings.learning_curve)
    assert curve["train_sentences"].is_monotonic_increasing
    assert curve["train_sentences"].iloc[-1] == pytest.approx(36)  # 3 of 4 articles x 12


def test_same_labels_and_config_give_identical_results(data, settings, tmp_path: Path):
    svm = spec("tfidf_word_char", classifier="linear_svm")
    first, second = evaluate(data, svm, settings), evaluate(data, svm, settings)
    assert first.metrics == second.metrics
    pd.testing.assert_frame_equal(first.oof, second.oof)
    write_evaluation(first, tmp_path / "a")
    write_evaluation(second, tmp_path / "b")
    for name in ("metrics.json", "oof_predictions.csv", "learning_curve.tsv",
                 "classification_report.txt"):  # fmt: skip
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_the_seed_moves_the_intervals_not_the_grouped_scores(settings):
    # Labels the text cannot predict well, so the scores have spread to resample.
    noisy = from_dataset(make_dataset(4, 12), "noisy")
    noisy.frame["stance"] = np.random.default_rng(3).permutation(noisy.frame["stance"].to_numpy())
    first = evaluate(noisy, spec(), settings)
    other_seed = evaluate(noisy, spec(), replace(settings, seed=settings.seed + 1))
    assert other_seed.summary["settings"]["seed"] == settings.seed + 1
    assert 0.0 < first.metrics["macro_f1"] < 0.9
    # The bootstrap resamples come from the seed; the grouped folds do not depend on it.
    assert (other_seed.metrics["macro_f1_ci_low"], other_seed.metrics["macro_f1_ci_high"]) != (
        first.metrics["macro_f1_ci_low"],
        first.metrics["macro_f1_ci_high"],
    )
    assert other_seed.metrics["macro_f1"] == first.metrics["macro_f1"]


def test_results_folder_holds_plots_report_and_final_model(data, settings, tmp_path: Path):
    ev = evaluate(data, spec("tfidf_word_speaker"), settings)
    paths = write_evaluation(ev, tmp_path / "m")
    for name in ("confusion_matrix.png", "learning_curve.png"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = read_summary(tmp_path / "m")
    assert summary["metrics"] == json.loads(json.dumps(ev.metrics))
    assert "speaker" in pd.read_csv(paths["oof_predictions.csv"]).columns
    report = paths["classification_report.txt"].read_text(encoding="utf-8")
    assert "f_avg" in report and "leave one article out" in report
    # The final model is the pipeline fit on all labels (every article), nothing less.
    x = data.frame[["text", "speaker"]]
    reference = spec("tfidf_word_speaker").build(settings.seed).fit(x, data.frame["stance"])
    final_words = ev.final_model.named_steps["features"].named_transformers_["word"]
    reference_words = reference.named_steps["features"].named_transformers_["word"]
    assert final_words.vocabulary_ == reference_words.vocabulary_
    np.testing.assert_allclose(ev.final_model.predict_proba(x), reference.predict_proba(x))
    table = comparison_table([summary, {**summary, "model": "z", "metrics": {
        **summary["metrics"], "f_avg": -1.0}}], {"t_tfidf_word_speaker": "abc"})  # fmt: skip
    assert list(table["model"]) == ["t_tfidf_word_speaker", "z"]
    assert table["run_id"].iloc[0] == "abc"


# --------------------------------------------------------------------------- edge cases


def test_a_single_class_is_refused_with_a_message(settings):
    one = from_dataset(make_dataset(3, 5, stance_ids=[0] * 15), "one-class")
    with pytest.raises(StanceError, match=r"every labeled sentence \(15\) has stance .*two"):
        evaluate(one, spec(), settings)


def test_one_article_is_refused_for_grouped_cv(settings):
    single = from_dataset(make_dataset(1, 12), "one-article")
    with pytest.raises(StanceError, match=r"come from one article .* at least 2 articles"):
        evaluate(single, spec(), settings)


def test_fewer_articles_than_group_folds_is_refused(data, settings):
    too_many = replace(settings, scheme="group_kfold", n_splits=6)
    with pytest.raises(StanceError, match=r"n_splits is 6 but .* only 4 articles.*at most 4"):
        evaluate(data, spec(), too_many)


def test_a_rare_class_is_reported_and_stratified_folds_adapt(settings):
    # Stance 1 twice, both in article 0: fewer sentences than folds, and in one article only.
    ids = [0, 1, 1, 2, 0, 2] + [0, 2, 0, 2, 0, 2] * 3
    rare = from_dataset(make_dataset(4, 6, stance_ids=ids), "rare")
    name = rare.classes[1]
    ev = evaluate(rare, spec(), settings)
    text = "\n".join(ev.warnings)
    assert f"class {name!r} occurs in one article only" in text
    assert f"class {name!r} has 2 labeled sentence(s), fewer than" in text
    assert "uses 2 folds instead" in text
    assert ev.summary["cv"]["stratified_n_folds"] == 2
    assert "warnings:" in ev.report
    y = np.array([rare.classes.index(s) for s in rare.frame["stance"]])
    assert len(stratified_folds(y, rare.classes, settings).splits) == 2


def test_an_absent_class_is_reported(settings):
    ids = [0, 2] * 24
    absent = from_dataset(make_dataset(4, 12, stance_ids=ids), "absent")
    ev = evaluate(absent, spec(), settings)
    assert any(f"class {absent.classes[1]!r} has no labeled sentence" in w for w in ev.warnings)
    assert ev.metrics[f"f1_{absent.classes[1]}"] == 0.0


def test_a_speaker_model_needs_a_speaker_column(settings, tmp_path: Path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"text": ["a b", "c d", "e f", "g h"] * 3,
                  "stance": schema_values("stance")[:2] * 6}).to_csv(path, index=False)  # fmt: skip
    table = load_table(path, schema_values("stance"))
    with pytest.raises(StanceError, match=r"reads the speaker .* has no 'speaker' column"):
        evaluate(table, spec("tfidf_word_speaker"), settings)


def test_f_avg_classes_must_be_stance_classes(data, settings):
    with pytest.raises(StanceError, match=r"f_avg_classes lists pro"):
        evaluate(data, spec(), replace(settings, f_avg_classes=("pro", "con")))


# --------------------------------------------------------------------------- tables


def write_table(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_tables_in_any_format_load_alike(suffix, tmp_path: Path):
    stances = schema_values("stance")
    df = pd.DataFrame(
        {
            "text": ["NA", "None", "troops out", "stay", "talks"],
            "stance": [stances[i % 3] for i in range(5)],
            "group": ["g1", "g1", "g2", "g2", "g3"],
        }
    )
    data = load_table(write_table(df, tmp_path / f"t{suffix}"), stances)
    assert data.classes == stances  # schema order, though the table lists them differently
    assert list(data.frame["text"]) == ["NA", "None", "troops out", "stay", "talks"]
    assert data.grouped and list(data.frame["group"]) == list(df["group"])
    assert data.dataset.num_rows == 5


def test_table_problems_are_named(tmp_path: Path):
    stances = schema_values("stance")
    bad = write_table(pd.DataFrame({"sentence": ["a"], "stance": [stances[0]]}), tmp_path / "a.csv")
    with pytest.raises(StanceError, match=r"missing column\(s\) text; .*found: sentence, stance"):
        load_table(bad, stances)
    empty = write_table(pd.DataFrame({"text": ["a", "b"], "stance": [stances[0], ""]}),
                        tmp_path / "b.csv")  # fmt: skip
    with pytest.raises(StanceError, match=r"1 row\(s\) with an empty text or stance \(data rows 2"):
        load_table(empty, stances)
    with pytest.raises(StanceError, match=r"unknown table format '\.xlsx'"):
        load_table(tmp_path / "c.xlsx", stances)
    with pytest.raises(StanceError, match="file not found"):
        load_table(tmp_path / "missing.csv", stances)


def test_values_outside_the_scheme_become_sorted_classes(tmp_path: Path):
    path = write_table(pd.DataFrame({"text": list("abcd"), "stance": ["pro", "con"] * 2}),
                       tmp_path / "t.csv")  # fmt: skip
    data = load_table(path, schema_values("stance"))
    assert data.classes == ["con", "pro"]
    assert any("not in the label scheme" in n for n in data.notes)


# --------------------------------------------------------------------------- fitting


def raw_out_of_fold(spec_, x, y, splits, classes, seed):
    """Out-of-fold predictions with every fold's pipeline fit on its training texts."""
    names = np.asarray(classes, dtype=object)
    pred = np.full(len(x), -1)
    proba = np.zeros((len(x), len(classes)))
    for train, test in splits:
        if len(set(y[train].tolist())) == 1:
            pred[test] = y[train][0]
            proba[test, y[train][0]] = 1.0
            continue
        model = spec_.build(seed).fit(x.iloc[train], names[y[train]])
        cols = [list(classes).index(c) for c in model.classes_]
        proba[np.ix_(test, cols)] = model.predict_proba(x.iloc[test])
        pred[test] = [list(classes).index(c) for c in model.predict(x.iloc[test])]
    return pred, proba


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("tfidf_word", {}),
        ("tfidf_word_char", {"classifier": "linear_svm", "min_df": 2}),
        ("tfidf_word_speaker", {"speaker_weight": 0.5}),
    ],
)
def test_cv_and_curve_equal_fitting_every_fold_from_raw_text(kind, params, settings):
    data = from_dataset(make_dataset(n_articles=6, per_article=10), "synthetic")
    s = spec(kind, **params)
    ev = evaluate(data, s, replace(settings, n_jobs=2))
    classes = data.classes
    y = np.array([classes.index(v) for v in data.frame["stance"]])
    x = data.frame[s.features].reset_index(drop=True)
    folds = grouped_folds(data.frame["group"].tolist(), y, classes, settings)
    pred, proba = raw_out_of_fold(s, x, y, folds.splits, classes, settings.seed)
    oof = ev.oof.set_index("sentence_id").loc[data.frame["sentence_id"]]
    assert list(oof["predicted"]) == [classes[k] for k in pred]
    np.testing.assert_allclose(oof[[f"proba_{c}" for c in classes]], proba, atol=2e-6)
    secondary = stratified_folds(y, classes, settings)
    s_pred, _ = raw_out_of_fold(s, x, y, secondary.splits, classes, settings.seed)
    m = compute_metrics(y, s_pred, classes, settings.f_avg_classes)
    assert ev.metrics["stratified_macro_f1"] == pytest.approx(m["macro_f1"])
    for row in ev.curve.itertuples():
        subsets = []
        for f, (train, test) in enumerate(folds.splits):
            rng = np.random.default_rng([settings.seed, f])
            n = max(1, round(row.fraction * len(train)))
            subsets.append((np.sort(rng.permutation(train)[:n]), test))
        c_pred, _ = raw_out_of_fold(s, x, y, subsets, classes, settings.seed)
        m = compute_metrics(y, c_pred, classes, settings.f_avg_classes)
        assert (row.macro_f1, row.f_avg) == pytest.approx((m["macro_f1"], m["f_avg"]))
    # The final model: the pipeline fit on every labeled sentence.
    final = s.build(settings.seed).fit(x, np.asarray(classes, dtype=object)[y])
    np.testing.assert_allclose(ev.final_model.predict_proba(x), final.predict_proba(x), atol=1e-9)


def test_learning_curve_share_one_reuses_the_primary_cv(data, settings, monkeypatch):
    from stance.training.features import FeatureCache

    fits = []
    original = FeatureCache.fit
    monkeypatch.setattr(
        FeatureCache, "fit", lambda self, rows: fits.append(len(rows)) or original(self, rows)
    )
    ev = evaluate(data, spec(), settings)
    n_folds = ev.summary["cv"]["n_folds"]
    n_strat = ev.summary["cv"]["stratified_n_folds"]
    shares = sorted(settings.learning_curve)
    assert shares[-1] == 1.0
    # Primary folds, stratified folds, the shares below 1 per primary fold (the final model is
    # a plain Pipeline.fit).
    assert len(fits) == n_folds + n_strat + n_folds * (len(shares) - 1)
    last = ev.curve.iloc[-1]
    assert last["fraction"] == 1.0
    assert (last["macro_f1"], last["f_avg"], last["accuracy"]) == (
        ev.metrics["macro_f1"], ev.metrics["f_avg"], ev.metrics["accuracy"])  # fmt: skip


@pytest.mark.parametrize("classifier", ["logreg", "linear_svm"])
def test_results_do_not_depend_on_the_number_of_threads(classifier, settings, tmp_path: Path):
    data = from_dataset(make_dataset(n_articles=5, per_article=10), "synthetic")
    s = spec("tfidf_word_char", classifier=classifier, max_iter=3)  # it warns: not converged
    one = evaluate(data, s, replace(settings, n_jobs=1))
    three = evaluate(data, s, replace(settings, n_jobs=3, fit_memory_mb=1))
    # The final fit in a process of its own, beside the folds.
    apart = evaluate(data, s, replace(settings, n_jobs=2, final_fit_process_from=len(data.frame)))
    assert any("ConvergenceWarning" in w for w in one.warnings)
    assert_same_evaluation(one, three, data.frame[s.features])
    assert_same_evaluation(one, apart, data.frame[s.features])
    np.testing.assert_array_equal(one.final_model[-1].coef_, apart.final_model[-1].coef_)
    write_evaluation(one, tmp_path / "a")
    write_evaluation(three, tmp_path / "b")
    for name in ("metrics.json", "oof_predictions.csv", "learning_curve.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_fits_over_the_memory_budget_run_alone():
    import threading
    import time

    from stance.training.fitting import _MemoryGate

    gate = _MemoryGate(budget=10)
    running, peak, lock = [], [], threading.Lock()

    def fit(size: int) -> None:
        with gate.hold(size):
            with lock:
                running.append(size)
                peak.append(sum(running))
            time.sleep(0.02)
            with lock:
                running.remove(size)

    threads = [threading.Thread(target=fit, args=(size,)) for size in (8, 8, 3, 12, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Never above the budget, except a fit larger than it, alone.
    assert all(total <= 10 or total == 12 for total in peak)


def test_thread_settings_come_from_config_and_stay_out_of_the_results(config):
    ev_config = {**config, "evaluation": {**config["evaluation"], "n_jobs": 3, "fit_memory_mb": 7}}
    s = EvalSettings.from_config(ev_config)
    assert (s.n_jobs, s.fit_memory_mb) == (3, 7)
    assert "n_jobs" not in s.as_dict() and "fit_memory_mb" not in s.as_dict()
    assert "final_fit_process_from" not in s.as_dict()


def test_learning_curve_max_train_leaves_out_the_larger_shares(data, settings, monkeypatch):
    from stance.training.features import FeatureCache

    fits = []
    original = FeatureCache.fit
    monkeypatch.setattr(
        FeatureCache, "fit", lambda self, rows: fits.append(len(rows)) or original(self, rows)
    )
    # 4 articles of 12: each grouped training part holds 36 sentences; shares of it hold
    # 7, 14, 22, 29 and 36.
    capped = replace(
        settings, learning_curve=(0.2, 0.4, 0.6, 0.8, 1.0), learning_curve_max_train=20
    )
    ev = evaluate(data, spec(), capped)
    assert list(ev.curve["fraction"]) == [0.2, 0.4, 1.0]
    assert ev.curve["train_sentences"].max() == pytest.approx(36)
    n_folds, n_strat = ev.summary["cv"]["n_folds"], ev.summary["cv"]["stratified_n_folds"]
    assert len(fits) == n_folds + n_strat + 2 * n_folds
    assert sum(n <= 20 for n in fits) == 2 * n_folds  # the curve fits, the others hold 36+
    assert any("0.6, 0.8 not fit" in w for w in ev.warnings)
    assert ev.summary["settings"]["learning_curve_max_train"] == 20
    # The shares that are fit give the same points as without the cap.
    full = evaluate(data, spec(), replace(capped, learning_curve_max_train=None))
    pd.testing.assert_frame_equal(
        ev.curve, full.curve[full.curve["fraction"].isin([0.2, 0.4, 1.0])].reset_index(drop=True)
    )
    assert ev.metrics == full.metrics
    assert full.summary["settings"]["learning_curve_max_train"] is None
    assert not any("not fit" in w for w in full.warnings)


def test_stratified_max_sentences_leaves_out_the_secondary_cv_of_larger_tables(
    data, settings, monkeypatch
):
    from stance.training.features import FeatureCache

    fits = []
    original = FeatureCache.fit
    monkeypatch.setattr(
        FeatureCache, "fit", lambda self, rows: fits.append(len(rows)) or original(self, rows)
    )
    n = len(data.frame)
    full = evaluate(data, spec(), replace(settings, stratified_max_sentences=n))  # at the bound
    n_full = len(fits)
    capped = evaluate(data, spec(), replace(settings, stratified_max_sentences=n - 1))
    assert full.summary["cv"]["stratified_n_folds"] == settings.stratified_n_splits
    assert capped.summary["cv"]["stratified_n_folds"] is None
    assert len(fits) - n_full == n_full - settings.stratified_n_splits  # 5 fits fewer
    assert "stratified_f_avg" in full.metrics
    assert not any(k.startswith("stratified_") for k in capped.metrics)
    # Nothing else changes: primary scores, intervals, predictions, curve, final model.
    assert capped.metrics == {
        k: v for k, v in full.metrics.items() if not k.startswith("stratified_")
    }
    pd.testing.assert_frame_equal(capped.oof, full.oof)
    pd.testing.assert_frame_equal(capped.curve, full.curve)
    x = data.frame[["text"]]
    np.testing.assert_array_equal(
        capped.final_model.predict_proba(x), full.final_model.predict_proba(x)
    )
    assert any(f"stratified_max_sentences ({n - 1})" in w for w in capped.warnings)
    assert not any("stratified_max_sentences" in w for w in full.warnings)
    assert capped.summary["settings"]["stratified_max_sentences"] == n - 1
    assert "stratified_f_avg =" not in capped.report and "stratified_f_avg =" in full.report
    row = comparison_table([capped.summary]).iloc[0]
    assert pd.isna(row["stratified_f_avg"]) and row["f_avg"] == capped.metrics["f_avg"]


def test_stratified_max_sentences_comes_from_config_and_defaults_to_no_bound(config):
    from stance.config import validate_config

    assert (
        EvalSettings.from_config(config).stratified_max_sentences
        == (config["evaluation"]["stratified_max_sentences"])
    )
    raw = copy.deepcopy(config)
    del raw["evaluation"]["stratified_max_sentences"]
    filled = validate_config(raw, "config without the key")
    assert EvalSettings.from_config(filled).stratified_max_sentences is None
    bad = copy.deepcopy(config)
    bad["evaluation"]["stratified_max_sentences"] = 1
    with pytest.raises(StanceError, match="stratified_max_sentences"):
        validate_config(bad, "config with a bound of 1")


def test_max_df_as_a_count_changes_nothing_on_tables_that_small(data, settings):
    # The configured word + character models bound max_df by a number of sentences: on tables
    # where no n-gram is in more training sentences than that (the seed labels), the results
    # are those of no bound.
    n = len(data.frame)
    free = evaluate(data, spec("tfidf_word_char", max_df=1.0), settings)
    bounded = evaluate(data, spec("tfidf_word_char", max_df=n), settings)
    assert bounded.metrics == free.metrics
    pd.testing.assert_frame_equal(bounded.oof, free.oof)
    pd.testing.assert_frame_equal(bounded.curve, free.curve)
    vocabulary = {
        name: len(t.vocabulary_)
        for name, t in free.final_model.named_steps["features"].named_transformers_.items()
    }
    bounded_vocabulary = {
        name: len(t.vocabulary_)
        for name, t in bounded.final_model.named_steps["features"].named_transformers_.items()
    }
    assert bounded_vocabulary == vocabulary
    # A bound below the table's most frequent n-grams drops them.
    biting = evaluate(data, spec("tfidf_word_char", max_df=n // 4), settings)
    char = biting.final_model.named_steps["features"].named_transformers_["char"]
    assert len(char.vocabulary_) < vocabulary["char"]
