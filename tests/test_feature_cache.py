"""FeatureCache against plain scikit-learn: the cached features and the predictions of the fits
made with them equal what fitting the pipeline itself gives, and the final model is that fit.

The cache computes what scikit-learn's vectorizers learn (vocabulary, IDF, one-hot categories)
from counts, so these tests are the check that a new scikit-learn still learns the same. Every
reference here is an independent ``Pipeline.fit`` (or ``cross_val_predict``) on the raw table;
the table is synthetic, generated from a seeded RNG.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from stance.training.data import LabeledData
from stance.training.evaluate import evaluate
from stance.training.features import FeatureCache
from stance.training.fitting import Fits, out_of_fold
from stance.training.models import spec_from_entry
from stance.training.settings import EvalSettings

SEED = 7
# Class names in an order that is not sorted: scikit-learn orders classes_ by sorting, the
# project by its label scheme, so every probability column is mapped by name.
CLASSES = ["support_withdrawal", "oppose_withdrawal", "neutral"]
N_ARTICLES = 6
PER_ARTICLE = 15
SPEAKERS = ["taliban", "us_government", "nato", "afghan_government", "analyst"]
LATE_SPEAKER = "un_envoy"  # speaks in the last article only: unseen when that one is held out

SUBJECTS = ["The spokesman", "A senior official", "The minister", "Commanders", "Diplomats"]
CLAIMS = {
    0: [
        "all foreign troops must withdraw",
        "the soldiers should come home",
        "the occupation has to end",
        "the troops will pull out by May",
        "the withdrawal is long overdue",
    ],
    1: [
        "the troops must stay",
        "a withdrawal would be a grave mistake",
        "more soldiers are needed",
        "the mission should continue",
        "leaving now would hand Kabul to the Taliban",
    ],
    2: [
        "talks resumed in Doha",
        "the meeting took place on Monday",
        "delegates discussed the timetable",
        "the convoy reached Kandahar",
        "reporters asked about the schedule",
    ],
}
TAILS = [
    "",
    " on Monday",
    " in KABUL",
    " after the talks",
    " according to officials",
    ", sources said",
]


def make_table() -> tuple[pd.DataFrame, np.ndarray]:
    """Short sentences on troop withdrawal with a stance (index into CLASSES), a speaker and an
    article. Some words are in every sentence (pruned by max_df < 1), some in one only (pruned by
    min_df = 2); the claim follows the stance three times in four, the speaker more often than
    not."""
    rng = np.random.default_rng(20240229)
    rows = []
    for a in range(N_ARTICLES):
        stances = rng.permutation(np.arange(PER_ARTICLE) % 3)  # every class in every article
        for p in range(PER_ARTICLE):
            stance = int(stances[p])
            said = stance if rng.random() < 0.75 else int(rng.integers(0, 3))
            text = (
                f"{SUBJECTS[int(rng.integers(0, len(SUBJECTS)))]} said that "
                f"{CLAIMS[said][int(rng.integers(0, 5))]}{TAILS[int(rng.integers(0, len(TAILS)))]}"
            )
            if rng.random() < 0.3:
                text += f" (report {int(rng.integers(1000, 99999))})"  # a word of its own
            if a == N_ARTICLES - 1 and p % 4 == 0:
                speaker = LATE_SPEAKER
            elif rng.random() < 0.6:
                speaker = SPEAKERS[stance]
            else:
                speaker = SPEAKERS[int(rng.integers(0, len(SPEAKERS)))]
            rows.append(
                {"article_id": f"art{a}", "text": text + ".", "speaker": speaker, "stance": stance}
            )
    table = pd.DataFrame(rows)
    return table, table["stance"].to_numpy(dtype=np.int64)


TABLE, Y = make_table()
NAMES = np.asarray(CLASSES, dtype=object)
Y_NAMES = NAMES[Y]
GROUPS = TABLE["article_id"].to_numpy()
# New inputs outside the table: unseen words, an empty text, unseen speakers, capitals.
NEW = pd.DataFrame(
    {
        "text": [
            "The envoy said that the troops must stay.",
            "Withdraw now and bring them home!",
            "",
            "Completely unrelated words appear here",
            "KABUL said THAT talks resumed",
        ],
        "speaker": ["nato", "taliban", "analyst", "someone_unseen", LATE_SPEAKER],
    }
)

# Each TF-IDF kind and classifier, as configured (config/config.yaml) and with pruning.
CASES = [
    pytest.param("tfidf_word", {"C": 10.0}, id="word_lr"),
    pytest.param(
        "tfidf_word",
        {"min_df": 2, "max_df": 0.6, "word_ngram_range": [1, 3], "sublinear_tf": False},
        id="word_lr_min2_max0.6",
    ),
    pytest.param("tfidf_word_char", {"classifier": "logreg", "C": 10.0}, id="word_char_lr"),
    pytest.param(
        "tfidf_word_char",
        {"classifier": "logreg", "min_df": 2, "max_df": 0.5, "char_ngram_range": [2, 4]},
        id="word_char_lr_min2_max0.5",
    ),
    pytest.param("tfidf_word_char", {"classifier": "linear_svm", "C": 0.5}, id="word_char_svm"),
    pytest.param(
        "tfidf_word_char",
        {"classifier": "linear_svm", "C": 0.5, "min_df": 2, "max_df": 0.7, "lowercase": False},
        id="word_char_svm_min2_max0.7",
    ),
    # max_df as a number of sentences (as configured for large tables), here biting.
    pytest.param(
        "tfidf_word_char",
        {"classifier": "linear_svm", "C": 0.5, "max_df": 40},
        id="word_char_svm_max40sentences",
    ),
    pytest.param("tfidf_word_speaker", {"C": 10.0, "speaker_weight": 1.0}, id="word_speaker_lr"),
    pytest.param(
        "tfidf_word_speaker",
        {"min_df": 2, "max_df": 0.6, "speaker_weight": 2.5},
        id="word_speaker_lr_min2_max0.6",
    ),
]

PROBA = {"rtol": 1e-7, "atol": 1e-9}  # a solver run on the same matrix, to rounding


def spec_of(kind: str, params: dict):
    return spec_from_entry({"name": f"test_{kind}", "kind": kind, "params": params})


def inputs_of(spec) -> pd.DataFrame:
    return TABLE[spec.features].reset_index(drop=True)


def new_inputs(spec) -> pd.DataFrame:
    return NEW[spec.features]


def dense_nnz(m) -> int:
    return int(np.count_nonzero(np.asarray(m)))


def dense(m) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)


def splits(splitter) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(TABLE, Y, GROUPS)]


def sklearn_columns(proba: np.ndarray) -> np.ndarray:
    """Probability columns in scikit-learn's order (sorted names) -> CLASSES order."""
    order = sorted(CLASSES)
    return proba[:, [order.index(c) for c in CLASSES]]


def final_from_fits(spec, x: pd.DataFrame, train: np.ndarray) -> Pipeline:
    fits = Fits(spec, x, Y, CLASSES, SEED)
    i = fits.final(train)
    fits.run(n_jobs=1, memory_mb=256)
    return fits.result(i)


def manual_out_of_fold(spec, x: pd.DataFrame, parts) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions of a plain Pipeline.fit per fold (probabilities in CLASSES order)."""
    pred = np.empty(len(x), dtype=object)
    proba = np.full((len(x), len(CLASSES)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same warnings as the cached fits
        for train, test in parts:
            model = spec.build(SEED).fit(x.iloc[train], Y_NAMES[train])
            pred[test] = model.predict(x.iloc[test])
            proba[test] = sklearn_columns(model.predict_proba(x.iloc[test]))
    return pred, proba


def assert_same_predictions(model, reference, x: pd.DataFrame) -> None:
    np.testing.assert_array_equal(model.predict(x), reference.predict(x))
    np.testing.assert_allclose(model.predict_proba(x), reference.predict_proba(x), **PROBA)
    np.testing.assert_allclose(
        model.decision_function(x), reference.decision_function(x), rtol=1e-7, atol=1e-8
    )


# --------------------------------------------------------------------------- the test table


def test_the_table_exercises_pruning_held_out_speakers_and_every_class():
    # The pruned cases only test pruning when the table has words to prune in each training part.
    for train, _ in splits(GroupKFold(n_splits=3)):
        counts = CountVectorizer(ngram_range=(1, 2)).fit_transform(TABLE["text"].iloc[train])
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        assert (df == 1).sum() >= 10  # min_df = 2 drops these
        assert (df > 0.7 * len(train)).sum() >= 2  # max_df = 0.5 ... 0.7 drops these
        assert (df > 40).sum() >= 2  # max_df = 40 (sentences) drops these
    for a in range(N_ARTICLES):
        assert set(Y[f"art{a}" == GROUPS]) == {0, 1, 2}
    assert set(TABLE.loc[TABLE["speaker"] == LATE_SPEAKER, "article_id"]) == {"art5"}
    assert len(TABLE) == N_ARTICLES * PER_ARTICLE


# --------------------------------------------------------------------------- (a) features


@pytest.mark.parametrize(("kind", "params"), CASES)
def test_cached_features_equal_the_features_step_fit_on_the_training_rows(kind, params):
    spec = spec_of(kind, params)
    x = inputs_of(spec)
    cache = FeatureCache.build(spec, x)
    assert cache is not None
    parts = splits(GroupKFold(n_splits=3)) + splits(LeaveOneGroupOut())[:2]
    # A training part in shuffled order: the vocabulary does not depend on the row order.
    rng = np.random.default_rng(3)
    perm = rng.permutation(len(x))
    parts.append((perm[:55], np.sort(perm[55:])))
    for train, test in parts:
        fitted, n_values = cache.fit(train)
        x_train = cache.training_features(fitted, train, n_values)
        # The number of values the vocabulary counts is the size the matrix is built in.
        assert n_values == (x_train.nnz if sp.issparse(x_train) else dense_nnz(x_train))
        reference = spec.build(SEED).named_steps["features"]
        reference.fit(x.iloc[train])
        expected = reference.transform(x.iloc[train])
        assert sp.issparse(x_train) == sp.issparse(expected)
        assert x_train.shape == expected.shape
        np.testing.assert_allclose(dense(x_train), dense(expected), rtol=1e-12, atol=1e-12)
        # Held-out rows (other articles, words and speakers the training part lacks).
        held_out = fitted.transform(test)
        expected_out = reference.transform(x.iloc[test])
        assert held_out.shape == expected_out.shape == (len(test), expected.shape[1])
        np.testing.assert_allclose(dense(held_out), dense(expected_out), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- (b) final pipeline


@pytest.mark.parametrize(("kind", "params"), CASES)
def test_the_final_model_is_pipeline_fit_on_the_training_rows(kind, params):
    spec = spec_of(kind, params)
    x = inputs_of(spec)
    train = np.flatnonzero(GROUPS != "art5")  # the table holds rows beyond the training ones
    model = final_from_fits(spec, x, train)
    reference = spec.build(SEED).fit(x.iloc[train], Y_NAMES[train])
    assert isinstance(model, Pipeline)
    check_is_fitted(model)
    np.testing.assert_array_equal(model.classes_, reference.classes_)
    for probe in (x.iloc[train], x.iloc[np.flatnonzero(GROUPS == "art5")], new_inputs(spec)):
        assert_same_predictions(model, reference, probe)


@pytest.mark.parametrize("classifier", ["logreg", "linear_svm"])
def test_a_final_fit_that_the_vectorizer_refuses_says_which_model_and_what_to_check(classifier):
    from stance.errors import StanceError

    spec = spec_of("tfidf_word", {"classifier": classifier, "min_df": 1000})
    fits = Fits(spec, inputs_of(spec), Y, CLASSES, SEED)
    fits.final(np.arange(len(TABLE)))
    expected = rf"model 'test_tfidf_word' cannot be fit on {len(TABLE)} sentences: .*min_df"
    with pytest.raises(StanceError, match=expected):
        fits.run(n_jobs=1, memory_mb=256)


@pytest.mark.parametrize(("kind", "params"), CASES)
def test_a_cached_fit_predicts_every_row_as_pipeline_fit_on_its_training_rows(kind, params):
    """Rows of its training part, of held-out articles and with a speaker it has not seen."""
    spec = spec_of(kind, params)
    x = inputs_of(spec)
    train = np.flatnonzero(GROUPS != "art5")
    every_row = np.arange(len(x))
    fits = Fits(spec, x, Y, CLASSES, SEED)
    i = fits.fold(train, every_row)
    fits.run(n_jobs=1, memory_mb=256)
    assert fits.cache is not None
    pred, proba = fits.result(i)
    reference = spec.build(SEED).fit(x.iloc[train], Y_NAMES[train])
    np.testing.assert_array_equal(NAMES[pred], reference.predict(x))
    np.testing.assert_allclose(proba, sklearn_columns(reference.predict_proba(x)), **PROBA)


# --------------------------------------------------------------------------- (c) out of fold


@pytest.mark.parametrize(("kind", "params"), CASES)
def test_out_of_fold_predictions_equal_a_loop_of_pipeline_fits(kind, params):
    spec = spec_of(kind, params)
    x = inputs_of(spec)
    schemes = {
        "group_kfold": splits(GroupKFold(n_splits=3)),
        "leave_one_group_out": splits(LeaveOneGroupOut()),
    }
    # All folds of both schemes in one run, in threads, as an evaluation runs them.
    fits = Fits(spec, x, Y, CLASSES, SEED)
    ids = {name: [fits.fold(tr, te) for tr, te in parts] for name, parts in schemes.items()}
    fits.run(n_jobs=2, memory_mb=256)
    for name, parts in schemes.items():
        pred, proba, fold = out_of_fold(fits, ids[name], parts, len(x), len(CLASSES))
        assert (fold >= 0).all(), name
        ref_pred, ref_proba = manual_out_of_fold(spec, x, parts)
        np.testing.assert_array_equal(NAMES[pred], ref_pred, err_msg=name)
        np.testing.assert_allclose(proba, ref_proba, **PROBA, err_msg=name)


@pytest.mark.parametrize(("kind", "params"), CASES[::2])
def test_evaluate_gives_the_out_of_fold_predictions_and_final_model_of_pipeline_fit(kind, params):
    spec = spec_of(kind, params)
    frame = TABLE.assign(
        sentence_id=[f"s{i:03d}" for i in range(len(TABLE))],
        group=TABLE["article_id"],
        stance=Y_NAMES,
    )[["sentence_id", "group", "text", "speaker", "stance"]]
    data = LabeledData(frame=frame, classes=list(CLASSES), source="synthetic")
    settings = EvalSettings(
        seed=SEED,
        scheme="group_kfold",
        n_splits=3,
        logo_max_groups=2,
        stratified_n_splits=3,
        stratified_max_sentences=None,
        n_bootstrap=20,
        ci_level=0.9,
        f_avg_classes=("support_withdrawal", "oppose_withdrawal"),
        learning_curve=(0.5, 1.0),
        learning_curve_max_train=None,
        n_jobs=2,
        fit_memory_mb=256,
    )
    ev = evaluate(data, spec, settings)
    x = inputs_of(spec)
    parts = splits(GroupKFold(n_splits=3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_pred = cross_val_predict(spec.build(SEED), x, Y_NAMES, cv=parts)
        ref_proba = cross_val_predict(
            spec.build(SEED), x, Y_NAMES, cv=parts, method="predict_proba"
        )
    oof = ev.oof.set_index("sentence_id").loc[frame["sentence_id"]]
    np.testing.assert_array_equal(oof["predicted"].to_numpy(dtype=object), ref_pred)
    proba = oof[[f"proba_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(proba, sklearn_columns(ref_proba), atol=1e-6)  # rounded to 6
    reference = spec.build(SEED).fit(x, Y_NAMES)
    assert_same_predictions(ev.final_model, reference, new_inputs(spec))
