"""Model registry: each kind builds a scikit-learn Pipeline from hyperparameters in config;
predicting with a fitted one."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import softmax
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import Interval

from stance.errors import StanceError
from stance.training.encoders import DEFAULT_ENCODER, SentenceEncoder
from stance.training.ngrams import CharWbTfidf, CompactVocabulary

# Input columns a kind can ask for; the pipelines take a pandas DataFrame with these columns.
TEXT = "text"
SPEAKER = "speaker"


class SoftmaxLinearSVC(LinearSVC):
    """A linear SVM whose ``predict_proba`` is the softmax of its margins: not calibrated (no
    held-out fit), so that classes with a handful of examples stay usable."""

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = np.asarray(self.decision_function(X), dtype=float)
        if scores.ndim == 1:  # two classes: one margin, positive for classes_[1]
            scores = np.column_stack([-scores, scores]) / 2.0
        return softmax(scores, axis=1)


class CompactTfidfVectorizer(CompactVocabulary, TfidfVectorizer):
    """scikit-learn's TfidfVectorizer, its vocabulary saved as two arrays (CompactVocabulary)."""


class PriorCorrectedLogisticRegression(LogisticRegression):
    """Logistic regression whose scores are divided by the training class frequencies raised to
    ``prior_correction`` (0: plain; 1: no training prior), then renormalised: a rare class is
    found more often, at the cost of false alarms in the others."""

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        **LogisticRegression._parameter_constraints,
        "prior_correction": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        prior_correction: float = 1.0,
        C: float = 1.0,
        class_weight: Any = None,
        max_iter: int = 100,
        tol: float = 1e-4,
        random_state: Any = None,
    ) -> None:
        super().__init__(
            C=C, class_weight=class_weight, max_iter=max_iter, tol=tol, random_state=random_state
        )
        self.prior_correction = prior_correction

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> PriorCorrectedLogisticRegression:
        super().fit(X, y, sample_weight=sample_weight)
        labels = np.asarray(y)
        self.class_prior_ = np.array([np.mean(labels == c) for c in self.classes_], dtype=float)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = super().predict_proba(X) / self.class_prior_ ** float(self.prior_correction)
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


@dataclass(frozen=True)
class ModelKind:
    """A family of models: the input columns it needs, its hyperparameters and its builder."""

    name: str
    description: str
    features: tuple[str, ...]
    defaults: Mapping[str, Any]
    builder: Callable[[dict[str, Any], int], Pipeline]


@dataclass(frozen=True)
class ModelSpec:
    """One configured model: a name, a kind and its hyperparameters (kind defaults filled in)."""

    name: str
    kind: ModelKind
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def features(self) -> list[str]:
        """The input columns of the pipeline, e.g. ['text'] or ['text', 'speaker']."""
        return list(self.kind.features)

    def build(self, seed: int) -> Pipeline:
        """A new, unfitted pipeline; ``seed`` fixes every random choice of the estimator."""
        try:
            return self.kind.builder(copy.deepcopy(self.params), seed)
        except (TypeError, ValueError) as exc:
            raise StanceError(
                f"model {self.name!r} (kind {self.kind.name}): invalid hyperparameters "
                f"{self.params}: {exc}; fix models[{self.name}].params in config/config.yaml"
            ) from None


# The values of the ``classifier`` hyperparameter.
CLASSIFIERS = ("logreg", "linear_svm")


def _classifier(p: dict[str, Any], seed: int) -> LogisticRegression | SoftmaxLinearSVC:
    name = p.get("classifier", "logreg")
    correction = p.get("prior_correction", 0.0)
    common = {k: p[k] for k in ("C", "class_weight", "max_iter", "tol")}
    if name == "logreg" and correction:
        return PriorCorrectedLogisticRegression(
            prior_correction=correction, random_state=seed, **common
        )
    if correction:
        raise ValueError("prior_correction applies to classifier 'logreg' only")
    if name == "logreg":
        return LogisticRegression(random_state=seed, **common)
    if name == "linear_svm":
        return SoftmaxLinearSVC(random_state=seed, **common)
    raise ValueError(f"classifier must be 'logreg' or 'linear_svm', not {name!r}")


def _tfidf_params(p: dict[str, Any], ngrams: str) -> dict[str, Any]:
    """The parameters of a TF-IDF block of n-grams in the range of hyperparameter ``ngrams``."""
    value = p[ngrams]
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and v >= 1 for v in value)
        or value[0] > value[1]
    ):
        raise ValueError(f"{ngrams} must be two whole numbers [low, high], 1 <= low <= high")
    common = {k: p[k] for k in ("min_df", "max_df", "sublinear_tf", "lowercase")}
    return {"ngram_range": (int(value[0]), int(value[1])), **common, "dtype": np.float64}


def _block(name: str, p: dict[str, Any]) -> tuple[str, Any, Any]:
    if name == "word":
        vectorizer = CompactTfidfVectorizer(analyzer="word", **_tfidf_params(p, "word_ngram_range"))
        return name, vectorizer, TEXT
    if name == "char":  # TfidfVectorizer(analyzer="char_wb"), each distinct word analysed once
        return name, CharWbTfidf(**_tfidf_params(p, "char_ngram_range")), TEXT
    if name == "encoder":
        return name, SentenceEncoder(encoder=p["encoder"], batch_size=p["batch_size"]), TEXT
    # The speaker, one-hot encoded beside the other blocks; an unseen speaker is all zeros.
    return name, OneHotEncoder(handle_unknown="ignore"), [SPEAKER]


def _build_blocks(names: tuple[str, ...], p: dict[str, Any], seed: int) -> Pipeline:
    """The blocks ``names`` side by side (ColumnTransformer), then the classifier. Each block
    has unit length per row; encoder_weight and speaker_weight scale theirs against the others."""
    if p.get("with_tfidf", True) is not True:
        if p["with_tfidf"] is not False:
            raise ValueError("with_tfidf must be true or false")
        names = tuple(n for n in names if n not in ("word", "char"))
    blocks = [_block(name, p) for name in names]
    weights = None
    if any(f"{name}_weight" in p for name in names):
        weights = {name: float(p.get(f"{name}_weight", 1.0)) for name in names}
    features = ColumnTransformer(blocks, transformer_weights=weights)
    return Pipeline([("features", features), ("classifier", _classifier(p, seed))])


def _build_majority(p: dict[str, Any], seed: int) -> Pipeline:
    return Pipeline([("classifier", DummyClassifier(strategy=p["strategy"], random_state=seed))])


_TFIDF_DEFAULTS: dict[str, Any] = {
    "word_ngram_range": [1, 2],
    "min_df": 1,
    "max_df": 1.0,
    "sublinear_tf": True,
    "lowercase": True,
}
_LR_DEFAULTS: dict[str, Any] = {
    "classifier": "logreg",
    "C": 1.0,
    "class_weight": "balanced",
    "max_iter": 2000,
    "tol": 1e-4,
}
_ENCODER_DEFAULTS: dict[str, Any] = {
    "encoder": DEFAULT_ENCODER,
    "batch_size": 32,
    "prior_correction": 0.0,
}
_WORD_CHAR_DEFAULTS = {**_TFIDF_DEFAULTS, "char_ngram_range": [2, 5]}
_ENCODER_LR_DEFAULTS = {**_LR_DEFAULTS, "C": 10.0}

KINDS: dict[str, ModelKind] = {}


def register(*fields: Any) -> None:
    """Add a model kind (the ModelKind fields, in order) to the registry."""
    KINDS[fields[0]] = ModelKind(*fields)


register(
    "majority",
    "baseline: always the most frequent stance of the training data (DummyClassifier); "
    "class probabilities are the training class frequencies",
    (TEXT,),
    {"strategy": "prior"},
    _build_majority,
)
register(
    "tfidf_word",
    "TF-IDF of word n-grams, then logistic regression (or a linear SVM)",
    (TEXT,),
    {**_TFIDF_DEFAULTS, **_LR_DEFAULTS},
    partial(_build_blocks, ("word",)),
)
register(
    "tfidf_word_char",
    "TF-IDF of word n-grams and of character n-grams within words, then a linear SVM "
    "(softmax of its margins as scores) or logistic regression",
    (TEXT,),
    {**_WORD_CHAR_DEFAULTS, **_LR_DEFAULTS},
    partial(_build_blocks, ("word", "char")),
)
register(
    "tfidf_word_speaker",
    "TF-IDF of word n-grams plus the labeled speaker one-hot encoded beside them "
    "(ColumnTransformer), then logistic regression (or a linear SVM)",
    (TEXT, SPEAKER),
    {**_TFIDF_DEFAULTS, "speaker_weight": 1.0, **_LR_DEFAULTS},
    partial(_build_blocks, ("word", "speaker")),
)

# The encoder kinds need the optional `embeddings` extra (their names are listed in extras.py,
# which the Snakefile reads without importing scikit-learn).
register(
    "encoder",
    "a frozen pretrained sentence encoder (sentence-transformers; mean-pooled, unit-length "
    "vectors), then logistic regression (or a linear SVM)",
    (TEXT,),
    {**_ENCODER_DEFAULTS, **_ENCODER_LR_DEFAULTS},
    partial(_build_blocks, ("encoder",)),
)
register(
    "encoder_tfidf",
    "the sentence encoder's vector beside TF-IDF word and character n-grams, then logistic "
    "regression (or a linear SVM)",
    (TEXT,),
    {**_ENCODER_DEFAULTS, "encoder_weight": 1.0, **_WORD_CHAR_DEFAULTS, **_ENCODER_LR_DEFAULTS},
    partial(_build_blocks, ("encoder", "word", "char")),
)
register(
    "encoder_speaker",
    "the sentence encoder's vector (with_tfidf: also TF-IDF word and character n-grams) "
    "plus the labeled speaker one-hot encoded, then logistic regression (or a linear SVM)",
    (TEXT, SPEAKER),
    {
        **_ENCODER_DEFAULTS,
        "encoder_weight": 1.0,
        "with_tfidf": False,
        **_WORD_CHAR_DEFAULTS,
        "speaker_weight": 1.0,
        **_ENCODER_LR_DEFAULTS,
    },
    partial(_build_blocks, ("encoder", "word", "char", "speaker")),
)


def spec_from_entry(entry: Mapping[str, Any], where: str = "models") -> ModelSpec:
    """A ModelSpec from one entry of config ``models``; unknown kinds or parameters are errors."""
    name = entry.get("name")
    kind_name = entry.get("kind")
    if kind_name not in KINDS:
        raise StanceError(
            f"config {where} {name!r}: unknown kind {kind_name!r}; known kinds: "
            f"{', '.join(sorted(KINDS))} (a new kind is one register(...) call in "
            "src/stance/training/models.py)"
        )
    kind = KINDS[kind_name]
    given = dict(entry.get("params") or {})
    unknown = sorted(set(given) - set(kind.defaults))
    if unknown:
        raise StanceError(
            f"config {where} {name!r}: unknown hyperparameter(s) {', '.join(unknown)} for kind "
            f"{kind_name}; allowed: {', '.join(sorted(kind.defaults))}"
        )
    params = {**copy.deepcopy(dict(kind.defaults)), **given}
    spec = ModelSpec(str(name), kind, params, str(entry.get("description", "") or ""))
    # Fail early, with the model's name, on a hyperparameter of the wrong type or out of range.
    pipeline = spec.build(0)
    estimators = [pipeline, *(v for v in pipeline.get_params(deep=True).values()
                              if isinstance(v, BaseEstimator))]  # fmt: skip
    try:
        # scikit-learn checks parameter values only in fit; this is the check fit runs (private,
        # present since 1.2; tests/test_models.py fails if it stops catching a bad value).
        for estimator in estimators:
            estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise StanceError(
            f"config {where} {name!r}: invalid hyperparameter value: {exc} Fix its params "
            "(see docs/training.md for each kind's hyperparameters)"
        ) from None
    return spec


def model_specs(config: Mapping[str, Any]) -> list[ModelSpec]:
    """Every model in config ``models``, in config order; names must be unique."""
    entries = config.get("models") or []
    if not entries:
        raise StanceError("config has no models: add at least one entry under 'models:'")
    specs = [spec_from_entry(e, f"models[{i}]") for i, e in enumerate(entries)]
    names = [spec.name for spec in specs]
    twice = [name for i, name in enumerate(names) if name in names[:i]]
    if twice:
        raise StanceError(f"config models: the name {twice[0]!r} is used twice; rename one")
    return specs


def get_spec(config: Mapping[str, Any], name: str) -> ModelSpec:
    """The configured model called ``name``."""
    specs = {s.name: s for s in model_specs(config)}
    if name not in specs:
        raise StanceError(
            f"no model {name!r} in config models; configured: {', '.join(specs) or 'none'}"
        )
    return specs[name]


def predict_sentences(
    model: Pipeline,
    table: pd.DataFrame,
    classes: Sequence[str],
    features: Sequence[str],
    model_name: str = "the model",
) -> pd.DataFrame:
    """The table with the predicted stance and one probability column per class added."""
    missing = [f for f in features if f not in table.columns]
    if missing:
        if SPEAKER in missing:
            raise StanceError(
                f"{model_name} also reads the speaker of each sentence (input columns: "
                f"{', '.join(features)}), and the input has no 'speaker' column: give one "
                "speaker for all sentences with --speaker NAME, use a --table CSV with a "
                "'speaker' column, or pick a text-only model with --model / --run-id"
            )
        raise StanceError(
            f"the input has no column(s) {', '.join(missing)} that {model_name} needs"
        )
    out = table.copy()
    if len(out) == 0:
        for c in ("stance", *(f"proba_{c}" for c in classes)):
            out[c] = pd.Series([], dtype=object if c == "stance" else float)
        return out
    x = out[list(features)].astype(str).reset_index(drop=True)
    try:
        proba = model.predict_proba(x)
        order = list(model.classes_)
        predicted = list(model.predict(x))
    except Exception as exc:  # a model that loaded but does not work as a project model does
        raise StanceError(
            f"{model_name} could not predict ({type(exc).__name__}: {exc}); pick another run "
            "with --run-id (see `stance runs`) or train again with `snakemake`"
        ) from None
    names = list(classes) or order
    out["stance"] = predicted
    for name in names:
        out[f"proba_{name}"] = np.round(proba[:, order.index(name)], 6) if name in order else 0.0
    return out
