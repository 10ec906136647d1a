"""Model files (skops format): the types a project model may hold, checked saving and loading."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
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


def type_name(cls: type) -> str:
    """The name skops gives a class, e.g. 'sklearn.pipeline.Pipeline'."""
    return f"{cls.__module__}.{cls.__qualname__}"


# Every class a fitted model of the registered kinds is made of, as skops names them in a
# file: found by dumping a fitted model of each kind (and classifier) and reading the types
# in the file (tests/test_reliability_model_files.py rebuilds this set from the registry and
# fails when a kind needs another). Classes only: never a function (builtins.exec,
# numpy.full_like, ...), whatever its module. A file naming anything else is not loaded, and a
# model holding anything else is not saved or logged.
ALLOWED_CLASSES: tuple[type, ...] = (
    # values and containers
    dict,
    list,
    tuple,
    str,
    slice,
    # numpy: arrays, and the dtype the TF-IDF vectorisers are given
    np.ndarray,
    np.float64,
    # scikit-learn
    Pipeline,
    ColumnTransformer,
    TfidfTransformer,
    OneHotEncoder,
    LogisticRegression,
    DummyClassifier,
    # this project
    CompactTfidfVectorizer,
    SoftmaxLinearSVC,
    # the encoder kinds: the encoder's name and files hash, never its weights (encoders.py)
    SentenceEncoder,
    PriorCorrectedLogisticRegression,
)
# Classes the registered kinds no longer use but models saved by earlier versions hold (their
# MLflow runs still load for `stance predict`).
EARLIER_CLASSES: tuple[type, ...] = (TfidfVectorizer,)
ALLOWED_CLASSES += EARLIER_CLASSES
ALLOWED_TYPES: frozenset[str] = frozenset(type_name(c) for c in ALLOWED_CLASSES)
# Types that come from this project rather than from a pip package (the loading environment
# needs the project installed).
PROJECT_TYPES: frozenset[str] = frozenset(t for t in ALLOWED_TYPES if t.startswith("stance."))
# The skops node kinds that build a value, each with the types it may name: an array node
# names only an array (skops would otherwise call the named type on its content), a type node
# only the dtypes the vectorisers are given, an object node only an estimator class. Functions,
# bound methods, partials, operators and anything else are never loaded, whichever class they
# name. A cached node refers to a node already checked.
_ESTIMATORS = frozenset(
    type_name(c) for c in ALLOWED_CLASSES if c.__module__.startswith(("sklearn.", "stance."))
)
ALLOWED_NODES: dict[str, frozenset[str]] = {
    "ObjectNode": _ESTIMATORS,
    "DictNode": frozenset({"builtins.dict"}),
    "ListNode": frozenset({"builtins.list"}),
    "TupleNode": frozenset({"builtins.tuple"}),
    "JsonNode": frozenset({"builtins.str"}),
    "NdArrayNode": frozenset({"numpy.ndarray"}),
    "TypeNode": frozenset({"numpy.float64", "builtins.str"}),
    "SliceNode": frozenset({"builtins.slice"}),
}
RETRAIN_HINT = "delete it and train the model again (`snakemake` or `stance train`)"


class UntrustedModelError(StanceError):
    """A model file that names types outside ALLOWED_TYPES: it was not loaded."""


def _nodes(schema: Any) -> Iterator[dict[str, Any]]:
    # Every node of a skops schema, however deeply nested (a superset of what skops visits).
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _schema(data: bytes, what: str, remedy: str) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, RuntimeError, OSError, RecursionError) as exc:
        raise UntrustedModelError(
            f"{what}: not a model file in skops format ({exc}); it was not loaded; {remedy}"
        ) from None


def file_types(data: bytes, what: str = "the model", remedy: str = RETRAIN_HINT) -> set[str]:
    """Every type a skops file names, each as 'module.name'; a type named by a node kind that
    may not carry it (a function, a method, an array node naming a class, ...) is named with
    that kind, e.g. 'builtins.exec (FunctionNode)', and a malformed node as such."""
    found: set[str] = set()
    for node in _nodes(_schema(data, what, remedy)):
        loader, module, cls = node.get("__loader__"), node.get("__module__"), node.get("__class__")
        if loader == "CachedNode":
            continue
        if not all(isinstance(v, str) for v in (loader, module, cls)):
            found.add(f"a malformed node ({str(node)[:80]})")
            continue
        name = f"{module}.{cls}"
        if loader == "MethodNode":
            content = node.get("content")
            name = f"{name}.{content.get('func') if isinstance(content, dict) else content}"
        found.add(name if name in ALLOWED_NODES.get(loader, ()) else f"{name} ({loader})")
    return found


def refused_types(data: bytes, what: str = "the model", remedy: str = RETRAIN_HINT) -> list[str]:
    """The types a skops file names that a project model may not hold, sorted."""
    return sorted(file_types(data, what, remedy) - ALLOWED_TYPES)


def _refusal(what: str, refused: list[str], remedy: str) -> UntrustedModelError:
    return UntrustedModelError(
        f"{what}: the model holds types this project does not load: {', '.join(refused)}; "
        f"it was not loaded (only the classes the project's model kinds are made of are "
        f"trusted, see ALLOWED_CLASSES in src/stance/training/model_files.py); {remedy}"
    )


def checked_dumps(model: Any, what: str = "the model") -> bytes:
    """``model`` in skops format; an error when it holds a type outside ALLOWED_TYPES."""
    import skops.io

    data = skops.io.dumps(model)
    refused = refused_types(data, what)
    if refused:
        raise UntrustedModelError(
            f"{what}: the model holds types outside the project's allowlist: "
            f"{', '.join(refused)}; it is neither saved nor logged. A new model kind made of "
            "other classes adds them to ALLOWED_CLASSES in src/stance/training/model_files.py "
            "(classes only, never functions)"
        )
    return data


def trusted_types(model: Any, what: str = "the model") -> list[str]:
    """The types of ``model`` to trust when loading it (all in ALLOWED_TYPES), sorted."""
    return sorted(file_types(checked_dumps(model, what), what))


def _parameter_problems(model: Any) -> list[str]:
    """Parameters a project model never has: it is a Pipeline, its vectorisers read the texts
    given (input='content'; 'filename' would open the inputs as paths) with their own analysers,
    and no parameter is a function or class other than an estimator or the float64 dtype."""
    from sklearn.base import BaseEstimator

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
    """A model from skops bytes, after checking that they name only ALLOWED_TYPES in the node
    kinds that may carry them, and that the loaded model's parameters are ones a project model
    has."""
    import skops.io

    refused = refused_types(data, what, remedy)
    if refused:
        raise _refusal(what, refused, remedy)
    try:
        model = skops.io.loads(data, trusted=sorted(ALLOWED_TYPES))
        problems = _parameter_problems(model)
    except Exception as exc:  # skops refuses on its own, or the file is damaged
        raise StanceError(
            f"{what}: the model could not be loaded ({type(exc).__name__}: {exc}); {remedy}"
        ) from None
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
