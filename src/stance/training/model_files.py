"""Model files (skops format): the types a project model may hold, checked saving and loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from stance.errors import StanceError
from stance.io import atomic_path
from stance.training.encoders import SentenceEncoder
from stance.training.models import (
    CompactTfidfVectorizer,
    PriorCorrectedLogisticRegression,
    SoftmaxLinearSVC,
)
from stance.training.ngrams import CharWbTfidf


def type_name(cls: type) -> str:
    """The name skops gives a class, e.g. 'sklearn.pipeline.Pipeline'."""
    return f"{cls.__module__}.{cls.__qualname__}"


# Classes of models saved by earlier versions (their MLflow runs still load for `stance predict`).
EARLIER_CLASSES: tuple[type, ...] = (TfidfVectorizer,)
# The project's own classes: the only types a model file asks skops to trust beyond its own.
_PROJECT_CLASSES: tuple[type, ...] = (
    CompactTfidfVectorizer,
    CharWbTfidf,
    SoftmaxLinearSVC,
    SentenceEncoder,  # the encoder's name and files hash, never its weights (encoders.py)
    PriorCorrectedLogisticRegression,
)
# Every class a fitted model of the registered kinds is made of (rebuilt from the registry by
# tests/test_reliability_model_files.py); classes only, never a function (builtins.exec, ...).
# A model holding anything else is not loaded, saved or logged.
ALLOWED_CLASSES: tuple[type, ...] = (
    dict,
    list,
    tuple,
    str,
    slice,
    np.ndarray,
    np.float64,  # the dtype the TF-IDF vectorisers are given
    Pipeline,
    ColumnTransformer,
    TfidfTransformer,
    OneHotEncoder,
    LogisticRegression,
    DummyClassifier,
    *_PROJECT_CLASSES,
    *EARLIER_CLASSES,
)
ALLOWED_TYPES: frozenset[str] = frozenset(type_name(c) for c in ALLOWED_CLASSES)
PROJECT_TYPES: frozenset[str] = frozenset(type_name(c) for c in _PROJECT_CLASSES)
# Values that hold no code: skipped by model_types.
_VALUES = (bool, int, float, complex, type(None), np.bool_, np.number)
RETRAIN_HINT = "delete it and train the model again (`snakemake` or `stance train`)"


class UntrustedModelError(StanceError):
    """A model file or model that holds types outside ALLOWED_TYPES: it was not loaded."""


def model_types(model: Any) -> set[str]:
    """Every type ``model`` is made of as skops saves it (each object's ``__getstate__``), as
    'module.name', a class value with ' (a class)', a function with ' (a function)'; numbers,
    booleans and None left out."""
    found: set[str] = set()
    seen: dict[int, Any] = {}  # holds what it saw: an id is unique only while its object lives
    stack = [model]
    while stack:
        obj = stack.pop()
        if isinstance(obj, _VALUES) or id(obj) in seen:
            continue
        seen[id(obj)] = obj
        if isinstance(obj, type):
            # np.float64, the vectorisers' dtype, is the only class a project model holds
            found.add(type_name(obj) if obj is np.float64 else f"{type_name(obj)} (a class)")
        elif callable(obj) and not hasattr(obj, "get_params"):
            name = getattr(obj, "__qualname__", type(obj).__qualname__)
            owner = getattr(obj, "__self__", None)
            if owner is not None and not isinstance(owner, type(np)):  # a bound method
                name = f"{type_name(type(owner))}.{getattr(obj, '__name__', name)}"
            else:
                name = f"{getattr(obj, '__module__', None) or 'builtins'}.{name}"
            found.add(f"{name} (a function)")
        else:
            found.add(type_name(type(obj)))
            if isinstance(obj, dict):
                stack.extend(obj.keys())
                stack.extend(obj.values())
            elif isinstance(obj, list | tuple | set | frozenset):
                stack.extend(obj)
            elif isinstance(obj, np.ndarray):
                if obj.dtype == object:
                    stack.extend(obj.ravel().tolist())
            elif isinstance(obj, slice):
                stack.extend((obj.start, obj.stop, obj.step))
            elif not isinstance(obj, str):
                state = obj.__getstate__() if hasattr(obj, "__getstate__") else vars(obj)
                stack.append(state)
    return found


def _untrusted_types(data: bytes, what: str, remedy: str) -> list[str]:
    """The types of a skops file that skops does not trust on its own."""
    import skops.io

    try:
        return skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # not a zip file, no schema, a malformed node, ...
        raise UntrustedModelError(
            f"{what}: not a model file skops can read ({type(exc).__name__}: {exc}); "
            f"it was not loaded; {remedy}"
        ) from None


def _refusal(what: str, refused: list[str], remedy: str) -> UntrustedModelError:
    return UntrustedModelError(
        f"{what}: the model holds types this project does not load: {', '.join(refused)}; "
        f"it was not loaded (only the classes the project's model kinds are made of are "
        f"trusted, see ALLOWED_CLASSES in src/stance/training/model_files.py); {remedy}"
    )


def checked_dumps(model: Any, what: str = "the model") -> bytes:
    """``model`` in skops format; an error when it holds a type outside ALLOWED_TYPES."""
    import skops.io

    refused = sorted(model_types(model) - ALLOWED_TYPES)
    if not refused:
        data = skops.io.dumps(model)
        refused = sorted(set(_untrusted_types(data, what, RETRAIN_HINT)) - PROJECT_TYPES)
    if refused:
        raise UntrustedModelError(
            f"{what}: the model holds types outside the project's allowlist: "
            f"{', '.join(refused)}; it is neither saved nor logged. A new model kind made of "
            "other classes adds them to ALLOWED_CLASSES in src/stance/training/model_files.py "
            "(classes only, never functions)"
        )
    return data


def trusted_types(model: Any, what: str = "the model") -> list[str]:
    """The types to trust when loading ``model`` with skops (MLflow's skops_trusted_types)."""
    return sorted(_untrusted_types(checked_dumps(model, what), what, RETRAIN_HINT))


def _parameter_problems(model: Any) -> list[str]:
    """Parameters a project model never has: not a Pipeline, vectorisers that open their inputs
    as paths or run other analysers, a parameter that is a function or class (not an estimator
    or the float64 dtype)."""
    if not isinstance(model, Pipeline):
        return [f"the model is a {type(model).__name__}, not a Pipeline"]

    def unexpected(name: str, value: Any) -> bool:
        if name == "input":
            return value != "content"
        if name in ("tokenizer", "preprocessor"):
            return value is not None
        if name == "analyzer":
            return value not in ("word", "char", "char_wb")
        return callable(value) and not isinstance(value, BaseEstimator) and value is not np.float64

    return [
        f"{key}={value!r}"
        for key, value in model.get_params(deep=True).items()
        if unexpected(key.rsplit("__", 1)[-1], value)
    ]


def loads_checked(data: bytes, what: str, remedy: str = RETRAIN_HINT) -> Any:
    """A model from skops bytes: a file naming types beyond PROJECT_TYPES is refused unloaded;
    the loaded model's types must be in ALLOWED_TYPES, its parameters a project model's."""
    import skops.io

    untrusted = _untrusted_types(data, what, remedy)
    refused = sorted(set(untrusted) - PROJECT_TYPES)
    if refused:
        raise _refusal(what, refused, remedy)
    try:
        model = skops.io.loads(data, trusted=untrusted)
        refused = sorted(model_types(model) - ALLOWED_TYPES)
        problems = [] if refused else _parameter_problems(model)
    except Exception as exc:  # skops refuses on its own, or the file is damaged
        raise StanceError(
            f"{what}: the model could not be loaded ({type(exc).__name__}: {exc}); {remedy}"
        ) from None
    if refused:
        raise _refusal(what, refused, remedy)
    if problems:
        raise UntrustedModelError(
            f"{what}: the model has parameters no project model has: {', '.join(problems)}; "
            f"it is not used; {remedy}"
        )
    return model


def save_model(model: Any, path: Path | str) -> None:
    """Write ``model`` to ``path`` in skops format, atomically (see checked_dumps)."""
    data = checked_dumps(model, str(path))
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def load_model(path: Path | str, remedy: str = RETRAIN_HINT) -> Any:
    """The model saved at ``path`` by save_model; a file naming any other type is refused."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StanceError(f"{path}: not found; run `snakemake` to train it") from None
    return loads_checked(data, str(path), remedy)
