"""CharWbTfidf against scikit-learn's TfidfVectorizer(analyzer="char_wb"): the same matrix."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from stance.training.ngrams import CharWbTfidf

TEXTS = [
    "Kabul talks — «Taliban» said, the U.S. envoy said!",
    "NATO’s troops LEAVE Kabul; troops leave.",
    "Café déjà vu: naïve résumé, CAFÉ",
    "",
    "   \t\n  ",
    "a I o",
    "x\t\ty\u00a0z  words\n\nover lines",
    "ğüş çok 北京 said 北京",
    "supercalifragilisticexpialidocious and a short one",
    "1,000 troops (2014) -- 3.5% ... ??? !!!",
    "repeat repeat repeat repeat",
    "Ölçek ölçek ÖLÇEK",
    "e\u0301 combining e\u0301e\u0301",
]
NEW_TEXTS = [
    "Entirely unseen vocabulary: zebra quokka",
    "",
    "  ",
    "troops said Kabul ZEBRA café",
    "北京 ölçek ε λ",
]


def _texts(n: int, seed: int) -> list[str]:
    """Sentences of a small random vocabulary: frequent and rare words, so that document
    frequencies tie and pruning drops some n-grams."""
    rng = random.Random(seed)
    words = ["the", "troops", "Kabul", "said", "envoy", "talks", "peace", "withdraw", "a", "NATO",
             "délégation", "ok", "x", "reconstruction", "insurgents", "Helmand"]  # fmt: skip
    out = []
    for _ in range(n):
        k = rng.randint(0, 12)
        out.append(" ".join(rng.choice(words) + rng.choice(["", "", ",", "."]) for _ in range(k)))
    return out


def assert_same_matrix(got, expected) -> None:
    """The same values in the same stored order (so row norms and products are summed in the
    same order)."""
    got, expected = sp.csr_matrix(got), sp.csr_matrix(expected)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)


PARAMS = [
    {},
    {"ngram_range": (2, 5), "sublinear_tf": True},
    {"ngram_range": (2, 5), "min_df": 2, "max_df": 0.5},
    {"ngram_range": (1, 3), "min_df": 0.05, "max_df": 30},
    {"ngram_range": (5, 5)},  # words shorter than five characters: the padded word once
    {"ngram_range": (1, 4), "lowercase": False},
    {"ngram_range": (1, 4), "dtype": np.float32},
]


@pytest.mark.parametrize("params", PARAMS, ids=[str(p) for p in PARAMS])
def test_the_matrix_vocabulary_and_names_equal_tfidf_vectorizer_char_wb(params):
    texts = TEXTS + _texts(200, seed=len(str(params)))
    new = NEW_TEXTS + _texts(30, seed=99)
    ours = CharWbTfidf(**params)
    theirs = TfidfVectorizer(analyzer="char_wb", **params)
    assert_same_matrix(ours.fit_transform(texts), theirs.fit_transform(texts))
    assert ours.vocabulary_ == theirs.vocabulary_
    np.testing.assert_array_equal(ours.get_feature_names_out(), theirs.get_feature_names_out())
    if theirs.use_idf:
        np.testing.assert_array_equal(ours.tfidf_.idf_, theirs.idf_)
    # Texts of the fit and new ones, words never seen included; fit alone learns the same.
    assert_same_matrix(ours.transform(new + texts), theirs.transform(new + texts))
    fitted = CharWbTfidf(**params).fit(iter(texts))
    assert fitted.vocabulary_ == theirs.vocabulary_
    assert_same_matrix(fitted.transform(new), theirs.transform(new))


def test_a_pandas_column_is_read_as_texts():
    column = pd.Series(TEXTS, index=range(100, 100 + len(TEXTS)), name="text")
    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit_transform(TEXTS)
    assert_same_matrix(CharWbTfidf(ngram_range=(2, 4)).fit_transform(column), theirs)


@pytest.mark.parametrize(
    ("texts", "params"),
    [
        (["", "  ", "\n"], {}),
        (TEXTS, {"min_df": 40}),
        (TEXTS, {"min_df": 5, "max_df": 3}),
        ("one text, not a list", {}),
        ([*TEXTS, np.nan], {}),
    ],
    ids=["no words", "min_df prunes all", "max_df below min_df", "a string", "nan"],
)
def test_it_refuses_what_tfidf_vectorizer_refuses_with_its_message(texts, params):
    with pytest.raises(ValueError) as expected:
        TfidfVectorizer(analyzer="char_wb", **params).fit(texts)
    with pytest.raises(ValueError) as got:
        CharWbTfidf(**params).fit(texts)
    assert str(got.value) == str(expected.value)


def test_it_is_an_estimator_scikit_learn_can_clone_and_reparametrise():
    from sklearn.exceptions import NotFittedError

    vectorizer = CharWbTfidf(ngram_range=(2, 4), max_df=10, sublinear_tf=True)
    copy = clone(vectorizer)
    assert copy.get_params() == vectorizer.get_params()
    copy.set_params(ngram_range=(3, 3), min_df=2)
    assert copy.ngram_range == (3, 3) and copy.min_df == 2 and vectorizer.ngram_range == (2, 4)
    with pytest.raises(NotFittedError):
        copy.transform(TEXTS)
    vectorizer.fit(TEXTS)
    assert not hasattr(clone(vectorizer), "vocabulary_")


def test_the_final_word_char_pipeline_fits_the_same_model_as_with_scikit_learns_vectorizer():
    from stance.training.models import spec_from_entry

    texts = _texts(300, seed=3) + TEXTS
    x = pd.DataFrame({"text": texts})
    y = np.array(["favor", "against", "none"] * 100 + ["none"] * len(TEXTS))
    for classifier in ("logreg", "linear_svm"):
        spec = spec_from_entry(
            {"name": "m", "kind": "tfidf_word_char",
             "params": {"classifier": classifier, "max_df": 40, "sublinear_tf": True}}
        )  # fmt: skip
        ours = spec.build(0)
        char = ours.named_steps["features"].transformers[1][1]
        assert isinstance(char, CharWbTfidf)
        theirs = spec.build(0).set_params(
            features__char=TfidfVectorizer(analyzer="char_wb", **char.get_params())
        )
        ours.fit(x, y)
        theirs.fit(x, y)
        coef = ours.named_steps["classifier"].coef_
        np.testing.assert_array_equal(coef, theirs.named_steps["classifier"].coef_)
        new = pd.DataFrame({"text": NEW_TEXTS})
        np.testing.assert_array_equal(ours.predict_proba(new), theirs.predict_proba(new))


def test_a_saved_model_keeps_its_vocabulary_as_arrays_and_transforms_the_same(tmp_path):
    import skops.io

    from stance.training.model_files import load_model, save_model

    texts = TEXTS + _texts(200, seed=5)
    vectorizer = CharWbTfidf(ngram_range=(2, 5), sublinear_tf=True).fit(texts)
    plain = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True).fit(texts)
    # No dict node per n-gram: the vocabulary travels as arrays.
    assert len(skops.io.dumps(vectorizer)) < len(skops.io.dumps(plain)) / 3
    path = tmp_path / "model.skops"
    save_model(Pipeline([("char", vectorizer)]), path)
    loaded = load_model(path).named_steps["char"]
    assert isinstance(loaded, CharWbTfidf)
    assert loaded.vocabulary_ == vectorizer.vocabulary_
    assert not hasattr(loaded, "vocabulary_utf8_")
    both = NEW_TEXTS + texts
    assert_same_matrix(loaded.transform(both), vectorizer.transform(both))
