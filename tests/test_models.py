"""The model registry: every kind builds a working Pipeline; config mistakes get clear messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from stance.errors import StanceError
from stance.models import (
    KINDS,
    SoftmaxLinearSVC,
    get_spec,
    model_specs,
    spec_from_entry,
)

ROOT = Path(__file__).resolve().parents[1]

# Phrases that make the synthetic stances learnable; the class names come from the schema.
PHRASES = {
    0: ["all foreign troops must withdraw now", "bring the soldiers home", "end the occupation"],
    1: ["the troops must stay", "a withdrawal would be a grave mistake", "send more soldiers"],
    2: ["the meeting took place in Doha", "talks resumed on Monday", "the weather was cold"],
}


def schema_values(field: str) -> list[str]:
    """Allowed values of a label field, in labels/schema.yaml order."""
    from stance.labels import load_schema

    return load_schema(ROOT / "labels" / "schema.yaml").values(field)


def make_dataset(
    n_articles: int = 4,
    per_article: int = 12,
    stance_ids: list[int] | None = None,
    seed: int = 0,
):
    """A small labeled data set with the label stage's features (synthetic sentences).

    Stance i of the schema cycles through the sentences of each article (or follows
    ``stance_ids``); the speaker goes with the stance, so the speaker feature carries signal.
    """
    import datasets

    stances = schema_values("stance")
    speakers = schema_values("speaker")
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {
        "sentence_id": [], "article_id": [], "position": [], "text": [],
        "speaker": [], "stance": [], "n_annotators": [],
    }  # fmt: skip
    k = 0
    for a in range(n_articles):
        article = f"{a:03d}_article"
        for p in range(per_article):
            s = stance_ids[k] if stance_ids is not None else (p + a) % len(stances)
            phrase = PHRASES[s % 3][int(rng.integers(0, 3))]
            rows["sentence_id"].append(f"{article}:{p:012x}")
            rows["article_id"].append(article)
            rows["position"].append(p)
            rows["text"].append(f"In article {a} the speaker said that {phrase} ({p}).")
            rows["speaker"].append(s % len(speakers))
            rows["stance"].append(s)
            rows["n_annotators"].append(1)
            k += 1
    features = datasets.Features(
        {
            "sentence_id": datasets.Value("string"),
            "article_id": datasets.Value("string"),
            "position": datasets.Value("int32"),
            "text": datasets.Value("string"),
            "speaker": datasets.ClassLabel(names=speakers),
            "stance": datasets.ClassLabel(names=stances),
            "n_annotators": datasets.Value("int32"),
        }
    )
    return datasets.Dataset.from_dict(rows, features=features)


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
    spec = spec_from_entry({"name": f"m_{kind}", "kind": kind})
    model = spec.build(seed=1)
    assert isinstance(model, Pipeline)
    x, y = frame()
    model.fit(x[spec.features], y)
    proba = model.predict_proba(x[spec.features])
    assert proba.shape == (len(x), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(x[spec.features])) <= set(schema_values("stance"))


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


def test_configured_models_are_valid_and_cover_the_required_kinds(config):
    specs = model_specs(config)
    kinds = {s.kind.name for s in specs}
    assert {"majority", "tfidf_word", "tfidf_word_char", "tfidf_word_speaker"} <= kinds
    assert get_spec(config, specs[0].name).name == specs[0].name


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(StanceError, match=r"unknown kind 'bert'; known kinds: majority"):
        spec_from_entry({"name": "x", "kind": "bert"})


def test_unknown_hyperparameter_lists_the_allowed_ones():
    with pytest.raises(StanceError, match=r"unknown hyperparameter\(s\) alpha .*allowed: C"):
        spec_from_entry({"name": "x", "kind": "tfidf_word", "params": {"alpha": 1}})


def test_bad_hyperparameter_value_names_the_model():
    with pytest.raises(StanceError, match=r"model 'x' .*word_ngram_range must be two"):
        spec_from_entry({"name": "x", "kind": "tfidf_word", "params": {"word_ngram_range": [3, 1]}})
    with pytest.raises(StanceError, match=r"classifier must be 'logreg' or 'linear_svm'"):
        spec_from_entry({"name": "x", "kind": "tfidf_word", "params": {"classifier": "tree"}})


def test_duplicate_and_missing_model_names(config):
    entries = [{"name": "a", "kind": "majority"}, {"name": "a", "kind": "tfidf_word"}]
    with pytest.raises(StanceError, match="'a' is used twice"):
        model_specs({"models": entries})
    with pytest.raises(StanceError, match="no model 'nope'"):
        get_spec(config, "nope")
    with pytest.raises(StanceError, match="no models"):
        model_specs({"models": []})
