"""The model registry: every kind builds a working Pipeline; config mistakes get clear messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import PHRASES, schema_values
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from stance.errors import StanceError
from stance.training.extras import extra_of_kind, missing_modules
from stance.training.features import FeatureCache
from stance.training.models import KINDS, SoftmaxLinearSVC, get_spec, model_specs, spec_from_entry

ROOT = Path(__file__).resolve().parents[1]


def frame(n: int = 30) -> tuple[pd.DataFrame, np.ndarray]:
    stances = schema_values("stance")
    speakers = schema_values("speaker")
    x = pd.DataFrame(
        {
            "text": [f"{PHRASES[i % 3][i % 2]} number {i}" for i in range(n)],
            "speaker": [speakers[i % 3] for i in range(n)],
        }
    )
    y = np.array([stances[i % 3] for i in range(n)], dtype=object)
    return x, y


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_builds_a_pipeline_that_fits_and_gives_probabilities(kind: str):
    if extra_of_kind(kind) and missing_modules():
        pytest.skip(f"kind {kind} needs the optional extra {extra_of_kind(kind)!r}")
    spec = spec_from_entry({"name": f"m_{kind}", "kind": kind})
    model = spec.build(seed=1)
    assert isinstance(model, Pipeline)
    x, y = frame()
    model.fit(x[spec.features], y)
    proba = model.predict_proba(x[spec.features])
    assert proba.shape == (len(x), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(x[spec.features])) <= set(schema_values("stance"))
    if hasattr(model[-1], "coef_"):
        # One feature name per column the classifier weighs (to read a model's weights).
        names = model[:-1].get_feature_names_out()
        assert len(names) == model[-1].coef_.shape[1] == len(set(names))


def test_speaker_kind_puts_a_one_hot_speaker_beside_the_text_features():
    spec = spec_from_entry({"name": "s", "kind": "tfidf_word_speaker"})
    assert spec.features == ["text", "speaker"]
    features = spec.build(0).named_steps["features"]
    assert isinstance(features, ColumnTransformer)
    encoders = {name: (t, cols) for name, t, cols in features.transformers}
    assert isinstance(encoders["speaker"][0], OneHotEncoder)
    assert encoders["speaker"][1] == ["speaker"]
    # An unseen speaker at prediction time is not an error.
    x, y = frame()
    model = spec.build(0).fit(x, y)
    model.predict(pd.DataFrame({"text": ["troops must stay"], "speaker": ["nobody known"]}))


def test_softmax_svm_scores_sum_to_one_and_rank_like_predict():
    x, y = frame()
    spec = spec_from_entry(
        {"name": "svm", "kind": "tfidf_word_char", "params": {"classifier": "linear_svm"}}
    )
    model = spec.build(0).fit(x[["text"]], y)
    assert isinstance(model.named_steps["classifier"], SoftmaxLinearSVC)
    proba = model.predict_proba(x[["text"]])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_[proba.argmax(axis=1)]) == list(model.predict(x[["text"]]))
    # Two classes: the single margin becomes two scores.
    two = SoftmaxLinearSVC(random_state=0).fit(np.array([[0.0], [1.0], [0.1], [0.9]]), [0, 1, 0, 1])
    p = two.predict_proba(np.array([[0.0], [1.0]]))
    assert p.shape == (2, 2) and p[0, 0] > 0.5 and p[1, 1] > 0.5


def test_hyperparameters_come_from_config_over_kind_defaults():
    spec = spec_from_entry(
        {"name": "w", "kind": "tfidf_word", "params": {"C": 3.5, "word_ngram_range": [1, 3]}}
    )
    assert spec.params["C"] == 3.5
    assert spec.params["class_weight"] == KINDS["tfidf_word"].defaults["class_weight"]
    model = spec.build(0)
    assert model.named_steps["classifier"].C == 3.5
    assert model.named_steps["features"].transformers[0][1].ngram_range == (1, 3)


@pytest.mark.parametrize("classifier", ["logreg", "linear_svm"])
def test_solver_tolerance_is_a_hyperparameter_with_the_scikit_learn_default(classifier):
    entry = {"name": "w", "kind": "tfidf_word", "params": {"classifier": classifier}}
    assert spec_from_entry(entry).build(0).named_steps["classifier"].tol == 1e-4
    entry["params"]["tol"] = 1e-3
    assert spec_from_entry(entry).build(0).named_steps["classifier"].tol == 1e-3


def test_configured_models_are_valid_and_cover_the_required_kinds(config):
    specs = model_specs(config)
    kinds = {s.kind.name for s in specs}
    assert {"majority", "tfidf_word", "tfidf_word_char", "tfidf_word_speaker"} <= kinds
    assert get_spec(config, specs[0].name).name == specs[0].name


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(StanceError, match=r"unknown kind 'bert'; known kinds: encoder, .*majority"):
        spec_from_entry({"name": "x", "kind": "bert"})


def test_unknown_hyperparameter_lists_the_allowed_ones():
    with pytest.raises(StanceError, match=r"unknown hyperparameter\(s\) alpha .*allowed: C"):
        spec_from_entry({"name": "x", "kind": "tfidf_word", "params": {"alpha": 1}})


def test_bad_hyperparameter_value_names_the_model():
    with pytest.raises(StanceError, match=r"model 'x' .*word_ngram_range must be two"):
        spec_from_entry({"name": "x", "kind": "tfidf_word", "params": {"word_ngram_range": [3, 1]}})
    with pytest.raises(StanceError, match=r"classifier must be 'logreg' or 'linear_svm'"):
        spec_from_entry({"name": "x", "kind": "tfidf_word", "params": {"classifier": "tree"}})
    # Values scikit-learn itself would refuse only when fitting are refused when read.
    for params, word in [({"C": -1.0}, "'C'"), ({"class_weight": "balancd"}, "'class_weight'")]:
        with pytest.raises(StanceError, match=rf"'x': invalid hyperparameter value: .*{word}"):
            spec_from_entry({"name": "x", "kind": "tfidf_word", "params": params})


def test_duplicate_and_missing_model_names(config):
    entries = [{"name": "a", "kind": "majority"}, {"name": "a", "kind": "tfidf_word"}]
    with pytest.raises(StanceError, match="'a' is used twice"):
        model_specs({"models": entries})
    with pytest.raises(StanceError, match="no model 'nope'"):
        get_spec(config, "nope")
    with pytest.raises(StanceError, match="no models"):
        model_specs({"models": []})


# --------------------------------------------------------------------------- feature cache

# Texts that test the analysers: case and accents, Greek final sigma, ligatures, runs of
# whitespace, tabs and newlines, punctuation, a text without words, repeated words.
TRICKY = [
    "Ο ΣΟΦΟΣ ΛΟΓΟΣ   είπε\tΌΧΙ στην αποχώρηση",
    "İstanbul  café naïve — the troops must stay",
    "ÉCOLE Straße ﬁnal: bring the soldiers home!",
    "  \n ",
    "a",
    "end the occupation end the occupation (2021)",
]


def cache_data(n: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    x, y = frame(n)
    x.loc[: len(TRICKY) - 1, "text"] = TRICKY
    return x, y


CACHED = [
    ("tfidf_word", {}),
    ("tfidf_word", {"min_df": 2, "max_df": 0.5, "sublinear_tf": False, "lowercase": False}),
    ("tfidf_word", {"word_ngram_range": [1, 3], "classifier": "linear_svm"}),
    ("tfidf_word_char", {}),
    ("tfidf_word_char", {"min_df": 3, "char_ngram_range": [1, 4], "classifier": "linear_svm"}),
    ("tfidf_word_speaker", {"speaker_weight": 2.5}),
    ("tfidf_word_speaker", {"min_df": 0.05}),
]


def dense(m) -> np.ndarray:
    return m.toarray() if hasattr(m, "toarray") else np.asarray(m)


@pytest.mark.parametrize(("kind", "params"), CACHED)
def test_cached_features_equal_fitting_the_pipeline_on_the_training_rows(kind, params):
    spec = spec_from_entry({"name": "c", "kind": kind, "params": params})
    x, y = cache_data()
    x = x[spec.features]
    cache = FeatureCache.build(spec, x)
    assert cache is not None
    rng = np.random.default_rng(1)
    for _ in range(3):
        perm = rng.permutation(len(x))
        train, test = np.sort(perm[:40]), np.sort(perm[40:])
        reference = spec.build(0).fit(x.iloc[train], y[train])
        features = reference.named_steps["features"]
        fitted, n_values = cache.fit(train)
        x_train = cache.training_features(fitted, train, n_values)
        # Vocabulary and IDF from the training rows only: rows outside them change nothing.
        np.testing.assert_allclose(
            dense(x_train), dense(features.transform(x.iloc[train])), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            dense(fitted.transform(test)), dense(features.transform(x.iloc[test])), atol=1e-12
        )
        classifier = spec.build(0).named_steps["classifier"].fit(x_train, y[train])
        np.testing.assert_allclose(
            classifier.predict_proba(fitted.transform(test)),
            reference.predict_proba(x.iloc[test]),
            atol=1e-9,
        )


def test_pipelines_without_tfidf_features_are_not_cached():
    x, _ = frame()
    assert FeatureCache.build(spec_from_entry({"name": "m", "kind": "majority"}), x) is None
    speakers = x.copy()
    speakers.loc[0, "speaker"] = None  # a missing speaker: the encoder's own rules apply
    spec = spec_from_entry({"name": "s", "kind": "tfidf_word_speaker"})
    assert FeatureCache.build(spec, speakers) is None
    assert FeatureCache.build(spec, x) is not None


@pytest.mark.parametrize(
    ("texts", "params"),
    [
        (["alpha common", "beta common", "gamma common"], {"min_df": 5}),
        (["alpha common", "beta common", "gamma common"], {"min_df": 2, "max_df": 0.5}),
        (["a", "?", "b"], {}),
    ],
)
def test_cached_features_refuse_what_the_vectorizer_refuses(texts, params):
    # The table has more rows (with words) than the training rows.
    x = pd.DataFrame({"text": [*texts, "other words here", "and more words"]})
    y = np.array(["p", "q"] * (len(x) // 2) + ["p"] * (len(x) % 2), dtype=object)
    spec = spec_from_entry({"name": "w", "kind": "tfidf_word", "params": params})
    with pytest.raises(ValueError) as expected:
        spec.build(0).fit(x.iloc[: len(texts)], y[: len(texts)])
    cache = FeatureCache.build(spec, x)
    with pytest.raises(ValueError) as got:
        cache.fit(np.arange(len(texts)))
    assert str(got.value) == str(expected.value)


def test_compact_vectorizer_saves_its_vocabulary_as_arrays_and_loads_it_back_exactly(tmp_path):
    import skops.io
    from sklearn.feature_extraction.text import TfidfVectorizer

    from stance.training.model_files import load_model, save_model
    from stance.training.models import CompactTfidfVectorizer

    texts = ["Kabul talks — «Taliban» said", "NATO’s troops leave Kabul", "ğüş çok 北京 said"]
    texts += [f"envoy{i} met delegation{i * 7} in city{i % 13}" for i in range(200)]
    for analyzer, ngrams in (("word", (1, 2)), ("char_wb", (2, 5))):
        compact = CompactTfidfVectorizer(analyzer=analyzer, ngram_range=ngrams).fit(texts)
        plain = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams).fit(texts)
        data = skops.io.dumps(compact)
        # No dict node per term: the vocabulary travels as arrays.
        assert len(data) < len(skops.io.dumps(plain)) / 3
        path = tmp_path / f"{analyzer}.skops"
        save_model(Pipeline([("tfidf", compact)]), path)
        loaded = load_model(path).named_steps["tfidf"]
        assert loaded.vocabulary_ == plain.vocabulary_
        assert not hasattr(loaded, "vocabulary_utf8_")
        assert (loaded.transform(texts) != plain.transform(texts)).nnz == 0


def test_a_damaged_compact_vocabulary_is_refused_with_a_message(tmp_path):
    import io
    import zipfile

    from stance.training.model_files import load_model, save_model
    from stance.training.models import CompactTfidfVectorizer

    path = tmp_path / "model.skops"
    save_model(Pipeline([("tfidf", CompactTfidfVectorizer().fit(["one two", "two three"]))]), path)
    # Offsets that run past the stored bytes.
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buffer, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if content[:6] == b"\x93NUMPY" and b"<i8" in content[:80]:
                array = np.load(io.BytesIO(content))
                out = io.BytesIO()
                np.save(out, array + 1000)
                content = out.getvalue()
            dst.writestr(item, content)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(StanceError, match=r"could not be loaded.*damaged"):
        load_model(path)


def test_a_model_saved_with_scikit_learns_own_vectorizer_still_loads(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from stance.training.model_files import load_model, save_model

    texts = ["troops must leave", "troops must stay", "the talks went on"] * 2
    labels = ["favor", "against", "none"] * 2
    model = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())])
    model.fit(texts, labels)
    save_model(model, tmp_path / "earlier.skops")
    loaded = load_model(tmp_path / "earlier.skops")
    assert list(loaded.predict(texts)) == list(model.predict(texts))


def test_the_kinds_built_on_an_encoder_are_the_ones_that_need_the_extra():
    # extras.ENCODER_KINDS is a plain list (read without scikit-learn when the Snakefile loads);
    # it must name exactly the kinds whose pipeline holds a sentence encoder.
    from stance.training.encoders import SentenceEncoder
    from stance.training.extras import ENCODER_KINDS

    def has_encoder(kind: str) -> bool:
        pipeline = spec_from_entry({"name": "m", "kind": kind}).build(0)
        return any(isinstance(v, SentenceEncoder) for v in pipeline.get_params().values())

    assert sorted(k for k in KINDS if has_encoder(k)) == sorted(ENCODER_KINDS)


def test_the_speaker_kinds_the_workflow_reads_are_those_that_read_the_speaker():
    from stance.training.extras import SPEAKER_KINDS
    from stance.training.models import KINDS, SPEAKER

    assert set(SPEAKER_KINDS) == {n for n, kind in KINDS.items() if SPEAKER in kind.features}
