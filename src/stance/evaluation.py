"""Cross-validated evaluation of stance models: folds, metrics, bootstrap CIs, plots, results.

Why the primary scores come from cross-validation grouped by article: sentences of one article
share its topic, its speakers and much of its wording (names, quotes repeated in paraphrase), so
a model tested on sentences whose neighbours it was trained on is partly recognising the article,
not the stance. Grouped folds keep every article wholly in train or wholly in test, which is how
the model meets a new article. With few articles each article is its own fold (leave one article
out); with many, GroupKFold. A stratified K-fold over sentences is reported beside it, with metric
names prefixed ``stratified_``, only to show how much the leak inflates the scores.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from stance.errors import StanceError
from stance.io import atomic_open, atomic_path
from stance.models import SPEAKER, TEXT, FeatureCache, FittedFeatures, ModelSpec

# Files a model's result folder holds (results/models/<name>/).
METRICS_FILE = "metrics.json"
OOF_FILE = "oof_predictions.csv"
REPORT_FILE = "classification_report.txt"
CONFUSION_FILE = "confusion_matrix.png"
CURVE_FILE = "learning_curve.png"
CURVE_TABLE = "learning_curve.tsv"
MODEL_FILE = "model.joblib"
ARTIFACT_FILES = (METRICS_FILE, OOF_FILE, REPORT_FILE, CONFUSION_FILE, CURVE_FILE, CURVE_TABLE)

SCHEME_NAMES = {
    "leave_one_group_out": "leave one article out",
    "group_kfold": "GroupKFold by article",
    "stratified_kfold": "stratified K-fold over sentences (articles NOT kept apart)",
    "holdout": "train on one table, score on the other (--test)",
}
STRATIFIED_PREFIX = "stratified_"
TABLE_FORMATS = {".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}


# --------------------------------------------------------------------------- data


def import_datasets() -> Any:
    """Import ``datasets`` offline and quiet (the variables are read once, at first import)."""
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    import datasets

    datasets.disable_progress_bars()
    return datasets


@dataclass
class LabeledData:
    """Labeled sentences ready for training: one row per sentence.

    ``frame`` has sentence_id, group (the article; None when unknown), text, stance (class name)
    and, when the source has it, speaker. ``classes`` are the stance names in label-scheme order.
    """

    frame: pd.DataFrame
    classes: list[str]
    source: str
    dataset: Any = None  # the datasets.Dataset it came from (logged as the MLflow input)
    notes: list[str] = field(default_factory=list)

    @property
    def grouped(self) -> bool:
        return bool(self.frame["group"].notna().all())

    @property
    def has_speaker(self) -> bool:
        return SPEAKER in self.frame.columns

    def digest(self) -> str:
        """SHA-256 of every row's id, group, text and labels (covers all rows, unlike MLflow's)."""
        h = hashlib.sha256()
        cols = [c for c in ("sentence_id", "group", TEXT, SPEAKER, "stance") if c in self.frame]
        for row in self.frame[cols].itertuples(index=False, name=None):
            h.update(json.dumps([None if pd.isna(v) else str(v) for v in row]).encode("utf-8"))
        return h.hexdigest()


def _names_of(ds: Any, column: str) -> tuple[list[str] | None, list[Any]]:
    """(ClassLabel names or None, values as names when a ClassLabel, else as stored)."""
    feature = ds.features[column]
    values = ds[column]
    names = getattr(feature, "names", None)
    if names is not None:
        return list(names), [
            feature.int2str(v) if v is not None and v >= 0 else None for v in values
        ]
    return None, list(values)


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and value.strip() == "")
    )


def from_dataset(
    ds: Any,
    source: str,
    *,
    group_columns: Sequence[str] = ("article_id",),
    class_hint: Sequence[str] | None = None,
) -> LabeledData:
    """LabeledData from a datasets.Dataset with columns text and stance (speaker, group optional).

    The stance class names come from the ClassLabel feature when the column is one; otherwise
    from ``class_hint`` (the label scheme) when every value is in it, else sorted.
    """
    columns = list(ds.column_names)
    missing = [c for c in (TEXT, "stance") if c not in columns]
    if missing:
        raise StanceError(
            f"{source}: missing column(s) {', '.join(missing)}; a labeled table needs 'text' and "
            f"'stance' (optional: 'group', 'speaker', 'sentence_id'); found: {', '.join(columns)}"
        )
    if ds.num_rows == 0:
        raise StanceError(f"{source}: no labeled sentences; label some sentences first")
    notes: list[str] = []
    class_names, stance = _names_of(ds, "stance")
    texts = list(ds[TEXT])
    bad = [i for i, (t, s) in enumerate(zip(texts, stance, strict=True)) if _blank(t) or _blank(s)]
    if bad:
        rows = ", ".join(str(i + 1) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise StanceError(
            f"{source}: {len(bad)} row(s) with an empty text or stance (data rows {rows}); "
            "fill them in or remove them"
        )
    stance = [str(s).strip() for s in stance]
    if class_names is None:
        present = sorted(set(stance))
        if class_hint and set(present) <= set(class_hint):
            class_names = list(class_hint)
        else:
            class_names = present
            if class_hint:
                notes.append(
                    f"stance values {', '.join(sorted(set(present) - set(class_hint)))} are not "
                    "in the label scheme; classes are the values found, in alphabetical order"
                )
    frame = pd.DataFrame({"text": [str(t) for t in texts], "stance": stance})
    if "sentence_id" in columns:
        frame.insert(0, "sentence_id", [str(v) for v in ds["sentence_id"]])
    else:
        frame.insert(0, "sentence_id", [f"row-{i + 1}" for i in range(ds.num_rows)])
    group_col = next((c for c in group_columns if c in columns), None)
    if group_col is not None:
        groups = [None if _blank(g) else str(g) for g in ds[group_col]]
        if any(g is None for g in groups):
            raise StanceError(
                f"{source}: column {group_col!r} is empty in some rows; give every row its "
                "article (or drop the column to use ungrouped cross-validation)"
            )
    else:
        groups = [None] * ds.num_rows
    frame.insert(1, "group", pd.Series(groups, dtype=object))
    if SPEAKER in columns:
        _, speakers = _names_of(ds, SPEAKER)
        frame[SPEAKER] = ["" if _blank(s) else str(s) for s in speakers]
    if frame["sentence_id"].duplicated().any():
        dupes = frame.loc[frame["sentence_id"].duplicated(), "sentence_id"].head(5).tolist()
        raise StanceError(f"{source}: sentence_id repeated ({', '.join(dupes)}); make them unique")
    return LabeledData(frame, class_names, source, ds, notes)


def load_labeled_dataset(path: Path | str) -> LabeledData:
    """The label stage's data set (``save_to_disk`` folder, results/labeled_dataset)."""
    path = Path(path)
    if not path.is_dir():
        raise StanceError(f"{path}: labeled data set not found; run the label stage (snakemake)")
    datasets = import_datasets()
    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise StanceError(
            f"{path}: not a saved data set ({exc}); rebuild it with snakemake"
        ) from None
    return from_dataset(ds, str(path), group_columns=("article_id",))


def load_table(
    path: Path | str, class_hint: Sequence[str] | None = None, cache_dir: Path | str | None = None
) -> LabeledData:
    """A labeled table (CSV, JSON Lines or Parquet) read with ``datasets.load_dataset``.

    Columns: text, stance; optional group (or article_id) for grouped CV, speaker, sentence_id.
    """
    path = Path(path)
    builder = TABLE_FORMATS.get(path.suffix.lower())
    if builder is None:
        raise StanceError(
            f"{path}: unknown table format {path.suffix!r}; use .csv, .jsonl (JSON Lines) "
            "or .parquet"
        )
    if not path.is_file():
        raise StanceError(f"{path}: file not found")
    datasets = import_datasets()
    kwargs: dict[str, Any] = {}
    if builder == "csv":
        # Keep "NA", "None" and the like as text: only an empty cell is missing.
        kwargs = {"keep_default_na": False, "na_values": [""]}
    try:
        ds = datasets.load_dataset(
            builder,
            data_files=str(path.resolve()),
            split="train",
            cache_dir=str(cache_dir) if cache_dir else None,
            **kwargs,
        )
    except Exception as exc:  # the builders raise many types for a malformed file
        raise StanceError(f"{path}: cannot read it as {builder}: {exc}") from None
    return from_dataset(ds, str(path), group_columns=("group", "article_id"), class_hint=class_hint)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class EvalSettings:
    """The ``evaluation`` section of the config, with the global seed."""

    seed: int
    scheme: str = "auto"
    n_splits: int = 5
    logo_max_groups: int = 10
    stratified_n_splits: int = 5
    n_bootstrap: int = 1000
    ci_level: float = 0.95
    f_avg_classes: tuple[str, ...] = ("favor", "against")
    learning_curve: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)
    # How the fits run; the results do not depend on these (not in as_dict / metrics.json).
    n_jobs: int = 1
    fit_memory_mb: int = 1000

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EvalSettings:
        ev = config.get("evaluation")
        if not ev:
            raise StanceError("config has no 'evaluation' section; see config/config.yaml")
        cv = ev.get("cv", {})
        return cls(
            seed=int(config["seed"]),
            scheme=cv.get("scheme", "auto"),
            n_splits=int(cv.get("n_splits", 5)),
            logo_max_groups=int(cv.get("logo_max_groups", 10)),
            stratified_n_splits=int(ev.get("stratified_n_splits", 5)),
            n_bootstrap=int(ev.get("n_bootstrap", 1000)),
            ci_level=float(ev.get("ci_level", 0.95)),
            f_avg_classes=tuple(ev.get("f_avg_classes", ("favor", "against"))),
            learning_curve=tuple(float(x) for x in ev.get("learning_curve", (1.0,))),
            n_jobs=int(ev.get("n_jobs", 1)),
            fit_memory_mb=int(ev.get("fit_memory_mb", 1000)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "scheme": self.scheme,
            "n_splits": self.n_splits,
            "logo_max_groups": self.logo_max_groups,
            "stratified_n_splits": self.stratified_n_splits,
            "n_bootstrap": self.n_bootstrap,
            "ci_level": self.ci_level,
            "f_avg_classes": list(self.f_avg_classes),
            "learning_curve": list(self.learning_curve),
        }


# --------------------------------------------------------------------------- folds


@dataclass
class Folds:
    """A cross-validation plan: scheme name, splits as index arrays, what was adapted."""

    scheme: str
    splits: list[tuple[np.ndarray, np.ndarray]]
    warnings: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        if self.scheme == "holdout":
            return SCHEME_NAMES[self.scheme]
        return f"{SCHEME_NAMES[self.scheme]}, {len(self.splits)} folds"


def _check_classes(y: np.ndarray, classes: Sequence[str]) -> None:
    present = sorted(set(y.tolist()))
    if len(present) < 2:
        only = classes[present[0]] if present else "none"
        raise StanceError(
            f"every labeled sentence ({len(y)}) has stance {only!r}: a classifier needs at least "
            f"two classes; label sentences of another stance ({', '.join(classes)}) first"
        )


def grouped_folds(
    groups: Sequence[str], y: np.ndarray, classes: Sequence[str], settings: EvalSettings
) -> Folds:
    """Folds that keep each article (group) wholly in train or in test."""
    groups = np.asarray(groups, dtype=object)
    unique = sorted(set(groups.tolist()))
    n_groups = len(unique)
    scheme = settings.scheme
    if scheme == "auto":
        scheme = "leave_one_group_out" if n_groups <= settings.logo_max_groups else "group_kfold"
    if n_groups < 2:
        raise StanceError(
            f"all {len(groups)} labeled sentences come from one article ({unique[0]!r}): "
            "cross-validation grouped by article needs at least 2 articles; label sentences "
            "of another article"
        )
    if scheme == "group_kfold":
        if n_groups < settings.n_splits:
            raise StanceError(
                f"evaluation.cv.n_splits is {settings.n_splits} but the labels come from only "
                f"{n_groups} articles: GroupKFold needs at least one article per fold; lower "
                f"n_splits to at most {n_groups}, or use scheme leave_one_group_out or auto"
            )
        splitter: Any = GroupKFold(n_splits=settings.n_splits)
    elif scheme == "leave_one_group_out":
        splitter = LeaveOneGroupOut()
    else:
        raise StanceError(f"unknown evaluation.cv.scheme {scheme!r}")
    splits = [
        (np.asarray(tr), np.asarray(te))
        for tr, te in splitter.split(np.zeros(len(groups)), y, groups)
    ]
    notes: list[str] = []
    for k, name in enumerate(classes):
        mask = y == k
        count = int(mask.sum())
        in_groups = sorted(set(groups[mask].tolist()))
        if count == 0:
            notes.append(
                f"class {name!r} has no labeled sentence: it is never predicted and its F1 "
                "counts as 0 in macro_f1 (and in f_avg if it is one of f_avg_classes)"
            )
        elif len(in_groups) == 1:
            notes.append(
                f"class {name!r} occurs in one article only ({in_groups[0]}): when that article "
                f"is tested the model has seen no {name!r} sentence, so those {count} can't be "
                "predicted right"
            )
        elif count < len(splits):
            notes.append(
                f"class {name!r} has {count} labeled sentence(s), fewer than the {len(splits)} "
                f"folds (in {len(in_groups)} articles): most test folds hold none and its "
                "per-class scores rest on these few sentences"
            )
    return Folds(scheme, splits, notes)


def stratified_folds(y: np.ndarray, classes: Sequence[str], settings: EvalSettings) -> Folds:
    """Stratified K-fold over sentences; fewer folds when a class has fewer sentences than folds."""
    counts = {k: int((y == k).sum()) for k in range(len(classes))}
    present = {k: c for k, c in counts.items() if c > 0}
    smallest = min(present, key=lambda k: (present[k], k))
    k_folds = settings.stratified_n_splits
    notes: list[str] = []
    if present[smallest] < k_folds:
        adapted = max(2, present[smallest])
        what = f"uses {adapted} folds instead" if adapted < k_folds else f"keeps {k_folds} folds"
        notes.append(
            f"stratified K-fold: class {classes[smallest]!r} has {present[smallest]} labeled "
            f"sentence(s), fewer than evaluation.stratified_n_splits = {k_folds}; it {what}"
            + (
                " (a class with one sentence is in the test part of one fold only)"
                if present[smallest] < 2
                else ""
            )
        )
        k_folds = adapted
    if len(y) < k_folds:
        raise StanceError(f"only {len(y)} labeled sentences: too few for {k_folds}-fold CV")
    splitter = StratifiedKFold(n_splits=k_folds, shuffle=True, random_state=settings.seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = [
            (np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(np.zeros(len(y)), y)
        ]
    return Folds("stratified_kfold", splits, notes)


# --------------------------------------------------------------------------- metrics


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion counts: rows are true classes, columns predicted, in class order."""
    flat = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    actual = cm.sum(axis=1).astype(float)
    # An undefined ratio (nothing predicted / nothing to find) counts as 0, as zero_division=0.
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def _kappa(cm: np.ndarray) -> float:
    n = cm.sum()
    if n == 0:
        return 0.0
    po = np.trace(cm) / n
    pe = float((cm.sum(axis=0) * cm.sum(axis=1)).sum()) / (n * n)
    return 0.0 if pe >= 1.0 else float((po - pe) / (1.0 - pe))


def metrics_from_confusion(
    cm: np.ndarray, classes: Sequence[str], f_avg_classes: Sequence[str]
) -> dict[str, float]:
    """f_avg, macro_f1, accuracy, cohen_kappa and per-class precision/recall/F1."""
    precision, recall, f1 = _per_class(cm)
    idx = [list(classes).index(c) for c in f_avg_classes]
    n = cm.sum()
    out = {
        # SemEval-2016 task 6: the mean F1 of the two stance-taking classes (favor, against).
        "f_avg": float(np.mean(f1[idx])),
        "macro_f1": float(np.mean(f1)),
        "accuracy": float(np.trace(cm) / n) if n else 0.0,
        "cohen_kappa": _kappa(cm),
    }
    for k, name in enumerate(classes):
        out[f"precision_{name}"] = float(precision[k])
        out[f"recall_{name}"] = float(recall[k])
        out[f"f1_{name}"] = float(f1[k])
    return out


def compute_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], f_avg_classes: Sequence[str]
) -> dict[str, float]:
    """Metrics of class-index predictions (see metrics_from_confusion)."""
    return metrics_from_confusion(confusion(y_true, y_pred, len(classes)), classes, f_avg_classes)


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    f_avg_classes: Sequence[str],
    n_bootstrap: int,
    level: float,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CIs of f_avg and macro_f1, resampling sentences with replacement."""
    rng = np.random.default_rng(seed)
    n, k = len(y_true), len(classes)
    idx = [list(classes).index(c) for c in f_avg_classes]
    flat = np.asarray(y_true, dtype=np.int64) * k + np.asarray(y_pred, dtype=np.int64)
    f_avg = np.empty(n_bootstrap)
    macro = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        sample = flat[rng.integers(0, n, size=n)]
        cm = np.bincount(sample, minlength=k * k).reshape(k, k)
        f1 = _per_class(cm)[2]
        f_avg[b] = f1[idx].mean()
        macro[b] = f1.mean()
    tail = (1.0 - level) / 2.0
    return {
        name: (float(np.quantile(v, tail)), float(np.quantile(v, 1.0 - tail)))
        for name, v in (("f_avg", f_avg), ("macro_f1", macro))
    }


# --------------------------------------------------------------------------- fitting
#
# One evaluation fits the model many times: once per fold of the grouped CV and of the stratified
# K-fold, once per learning-curve share and fold, and once on all labels. For TF-IDF kinds the
# fits share a FeatureCache (models.py): every text is analysed once, and each fit learns its
# vocabulary, IDF and classifier from the counts of its own training rows only, which gives the
# same features as fitting the pipeline on those rows' texts. The fits are independent and run in
# ``evaluation.n_jobs`` threads (the solvers and the sparse products release the GIL), fewer at a
# time when their matrices would together exceed ``evaluation.fit_memory_mb``. Every fit is
# deterministic, so the results do not depend on the number of threads or the order they finish.


def _warning_note(spec: ModelSpec, category: type[Warning], message: Any) -> str:
    return f"{spec.name}: {category.__name__}: {str(message).splitlines()[0]}"


def _add_notes(notes: list[str], new: Iterable[str]) -> None:
    for msg in new:
        if msg not in notes:
            notes.append(msg)


def _fit_error(spec: ModelSpec, n: int, exc: Exception) -> StanceError:
    return StanceError(
        f"model {spec.name!r} cannot be fit on {n} sentences: {exc}; check "
        f"models[{spec.name}].params (e.g. min_df) against the amount of labeled data"
    )


def _fit_pipeline(spec: ModelSpec, seed: int, x: pd.DataFrame, y: Sequence[str]) -> Pipeline:
    model = spec.build(seed)
    try:
        model.fit(x, np.asarray(y, dtype=object))
    except ValueError as exc:
        raise _fit_error(spec, len(x), exc) from None
    return model


def fit_model(
    spec: ModelSpec, seed: int, x: pd.DataFrame, y: Sequence[str], notes: list[str] | None = None
) -> Pipeline:
    """Fit a new pipeline of ``spec`` on texts (and speakers) x and stance names y."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _fit_pipeline(spec, seed, x, y)
    if notes is not None:
        _add_notes(notes, (_warning_note(spec, w.category, w.message) for w in caught))
    return model


def _inputs(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    return frame[spec.features].reset_index(drop=True)


def _predicted(model: Any, x: Any, n: int, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Class indices and probabilities (n x n_classes, in class order) of a fitted model."""
    proba = np.zeros((n, len(classes)))
    cols = [list(classes).index(c) for c in model.classes_]
    proba[:, cols] = model.predict_proba(x)
    pred = np.array([list(classes).index(c) for c in model.predict(x)], dtype=np.int64)
    return pred, proba


_CURRENT = threading.local()  # which fit the running thread works on (for its warnings)
# scikit-learn's liblinear (LinearSVC) draws from one random generator per process, seeded at
# each fit: two liblinear fits at once would draw from each other's sequence. They take turns.
_LIBLINEAR = threading.Lock()


def _uses_liblinear(classifier: Any) -> bool:
    return isinstance(classifier, LinearSVC) or getattr(classifier, "solver", "") == "liblinear"


class _MemoryGate:
    """Lets fits start while the estimated memory of the running ones stays within a budget
    (a fit larger than the budget runs alone)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.cond = threading.Condition()

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        with self.cond:
            self.cond.wait_for(lambda: self.used == 0 or self.used + size <= self.budget)
            self.used += size
        try:
            yield
        finally:
            with self.cond:
                self.used -= size
                self.cond.notify_all()


class _Fits:
    """The fits of one evaluation, collected first and then run together.

    ``fold(train, test)`` adds a fit on the rows ``train`` that predicts the rows ``test``;
    ``final(train)`` the fit of the final model; ``run`` fits them all; ``result(i)`` and
    ``notes(i)`` give a fit's predictions (or model) and the warnings it raised.
    """

    def __init__(
        self, spec: ModelSpec, x: pd.DataFrame, y: np.ndarray, classes: Sequence[str], seed: int
    ) -> None:
        self.spec, self.x, self.y, self.classes, self.seed = spec, x, y, list(classes), seed
        self.names = np.asarray(classes, dtype=object)
        self.build_notes: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.cache = FeatureCache.build(spec, x)
            except ValueError as exc:
                raise _fit_error(spec, len(x), exc) from None
        _add_notes(self.build_notes, (_warning_note(spec, w.category, w.message) for w in caught))
        self._tasks: list[tuple[np.ndarray, np.ndarray | None]] = []
        self._results: list[Any] = []
        self._notes: list[list[str]] = []

    def fold(self, train: np.ndarray, test: np.ndarray) -> int:
        self._tasks.append((np.asarray(train), np.asarray(test)))
        return len(self._tasks) - 1

    def final(self, train: np.ndarray) -> int:
        self._tasks.append((np.asarray(train), None))
        return len(self._tasks) - 1

    def result(self, i: int) -> Any:
        return self._results[i]

    def notes(self, i: int) -> list[str]:
        return self._notes[i]

    def _run_one(self, i: int) -> Any:
        train, test = self._tasks[i]
        if test is None:
            return self._fit_raw(train) if self.cache is None else self._fit_cached(train)
        present = sorted(set(self.y[train].tolist()))
        if len(present) == 1:
            # A training part with one class: every test sentence gets that class.
            proba = np.zeros((len(test), len(self.classes)))
            proba[:, present[0]] = 1.0
            return np.full(len(test), present[0]), proba
        if self.cache is None:
            model = self._fit_raw(train)
            return _predicted(model, self.x.iloc[test], len(test), self.classes)
        fitted, classifier = self._fit_cached(train)
        return _predicted(classifier, fitted.transform(test), len(test), self.classes)

    def _fit_raw(self, train: np.ndarray) -> Pipeline:
        return _fit_pipeline(self.spec, self.seed, self.x.iloc[train], self.names[self.y[train]])

    def _fit_cached(self, train: np.ndarray) -> tuple[FittedFeatures, Any]:
        assert self.cache is not None
        try:
            fitted, x = self.cache.fit_transform(train)
            classifier = self.cache.classifier(self.seed)
            with _LIBLINEAR if _uses_liblinear(classifier) else nullcontext():
                classifier.fit(x, self.names[self.y[train]])
        except ValueError as exc:
            raise _fit_error(self.spec, len(train), exc) from None
        return fitted, classifier

    def run(self, n_jobs: int, memory_mb: int) -> None:
        """Fit everything; ``n_jobs`` threads (one: in this thread, in order)."""
        caught: list[list[str]] = [[] for _ in self._tasks]
        spec = self.spec
        # One warnings context for all threads (warnings.catch_warnings is process-wide);
        # each warning goes to the fit its thread is running.
        show_before = warnings.showwarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            index = getattr(_CURRENT, "index", None)
            if index is None:
                show_before(message, category, *args, **kwargs)
            else:
                caught[index].append(_warning_note(spec, category, message))

        gate = _MemoryGate(memory_mb * 2**20)

        def one(i: int) -> Any:
            train, test = self._tasks[i]
            cache = self.cache
            size = cache.memory(train, test, len(self.classes)) if cache is not None else 0
            with gate.hold(size):
                _CURRENT.index = i
                try:
                    return self._run_one(i)
                finally:
                    _CURRENT.index = None

        # Without a cache the fits are pipeline fits on raw text: run in this thread.
        jobs = max(1, min(n_jobs, len(self._tasks))) if self.cache is not None else 1
        # BLAS only sees the solvers' small dense vectors: more than one thread per fit costs
        # far more in start-up and waiting than it gains (and changes sums' rounding by machine).
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("always")
            warnings.showwarning = show
            if jobs == 1:
                self._results = [one(i) for i in range(len(self._tasks))]
            else:
                from joblib import Parallel, delayed

                self._results = Parallel(n_jobs=jobs, backend="threading")(
                    delayed(one)(i) for i in range(len(self._tasks))
                )
        self._notes = [list(dict.fromkeys(c)) for c in caught]

    def final_model(self, i: int) -> Pipeline:
        result = self._results[i]
        if isinstance(result, Pipeline):
            return result
        assert self.cache is not None
        fitted, classifier = result
        train, _ = self._tasks[i]
        return self.cache.pipeline(fitted, train, classifier, self.seed)


def _curve_plan(
    splits: Sequence[tuple[np.ndarray, np.ndarray]], settings: EvalSettings
) -> list[tuple[float, list[tuple[np.ndarray, np.ndarray]]]]:
    """Per learning-curve share, each fold's seeded random subset of its training part."""
    plan = []
    for fraction in sorted(set(settings.learning_curve)):
        folds = []
        for f, (train, test) in enumerate(splits):
            rng = np.random.default_rng([settings.seed, f])
            n = max(1, round(fraction * len(train)))
            folds.append((np.sort(rng.permutation(train)[:n]), test))
        plan.append((fraction, folds))
    return plan


def _out_of_fold(
    fits: _Fits, ids: Sequence[int], splits: Sequence[tuple[np.ndarray, np.ndarray]], n: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold class indices, probabilities and fold numbers (-1: in no test part)."""
    pred = np.full(n, -1, dtype=np.int64)
    proba = np.full((n, k), np.nan)
    fold = np.full(n, -1, dtype=np.int64)
    for f, (i, (_, test)) in enumerate(zip(ids, splits, strict=True)):
        pred[test], proba[test] = fits.result(i)
        fold[test] = f
    return pred, proba, fold


# --------------------------------------------------------------------------- evaluation


@dataclass
class Evaluation:
    """Everything one model's evaluation produced; ``summary`` is what metrics.json holds."""

    summary: dict[str, Any]
    oof: pd.DataFrame
    confusion: np.ndarray
    curve: pd.DataFrame
    report: str
    final_model: Pipeline

    @property
    def metrics(self) -> dict[str, float]:
        return self.summary["metrics"]

    @property
    def warnings(self) -> list[str]:
        return self.summary["warnings"]


def _scored(
    prefix: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    settings: EvalSettings,
) -> dict[str, float]:
    m = compute_metrics(y_true, y_pred, classes, settings.f_avg_classes)
    ci = bootstrap_ci(
        y_true,
        y_pred,
        classes,
        settings.f_avg_classes,
        settings.n_bootstrap,
        settings.ci_level,
        settings.seed,
    )
    for name, (low, high) in ci.items():
        m[f"{name}_ci_low"], m[f"{name}_ci_high"] = low, high
    return {f"{prefix}{k}": v for k, v in m.items()}


def _check_model_inputs(spec: ModelSpec, data: LabeledData, role: str = "") -> None:
    if SPEAKER in spec.features and not data.has_speaker:
        raise StanceError(
            f"model {spec.name!r} (kind {spec.kind.name}) also reads the speaker of each "
            f"sentence, but {data.source}{role} has no 'speaker' column; add one or choose a "
            "model that reads the text only"
        )


def evaluate(
    data: LabeledData,
    spec: ModelSpec,
    settings: EvalSettings,
    test: LabeledData | None = None,
) -> Evaluation:
    """Evaluate one model on labeled data and fit its final model on all of it.

    Primary scores: grouped CV when every sentence has its article (group), else stratified
    K-fold with a warning; with ``test``, the model fit on ``data`` scored on ``test``.
    """
    classes = list(data.classes)
    if test is not None:
        extra = sorted(set(test.frame["stance"]) - set(classes))
        if extra:
            raise StanceError(
                f"{test.source}: stance value(s) {', '.join(extra)} do not occur in "
                f"{data.source} (classes: {', '.join(classes)}); the tables must share classes"
            )
    missing_f = [c for c in settings.f_avg_classes if c not in classes]
    if missing_f:
        raise StanceError(
            f"evaluation.f_avg_classes lists {', '.join(missing_f)}, not a stance class of "
            f"{data.source} (classes: {', '.join(classes)}); fix the config or the table"
        )
    _check_model_inputs(spec, data)
    notes: list[str] = list(data.notes)
    y = np.array([classes.index(s) for s in data.frame["stance"]], dtype=np.int64)
    _check_classes(y, classes)
    frame = data.frame.reset_index(drop=True)

    secondary: Folds | None = None
    if test is not None:
        _check_model_inputs(spec, test, " (--test)")
        frame = pd.concat([frame, test.frame.reset_index(drop=True)], ignore_index=True)
        y_test = np.array([classes.index(s) for s in test.frame["stance"]], dtype=np.int64)
        y = np.concatenate([y, y_test])
        n_train = len(data.frame)
        folds = Folds("holdout", [(np.arange(n_train), np.arange(n_train, len(frame)))])
    elif data.grouped:
        folds = grouped_folds(frame["group"].tolist(), y, classes, settings)
        secondary = stratified_folds(y, classes, settings)
    else:
        folds = stratified_folds(y, classes, settings)
        notes.append(
            f"{data.source} has no group (article) column: the primary scores come from "
            "stratified K-fold over sentences, where sentences of one article can be in train "
            "and test; they overestimate the scores on new articles"
        )
    notes += folds.warnings

    x = _inputs(frame, spec)
    fits = _Fits(spec, x, y, classes, settings.seed)
    primary = [fits.fold(train, test) for train, test in folds.splits]
    stratified = [fits.fold(tr, te) for tr, te in secondary.splits] if secondary else []
    # Learning curve: a share whose subsets are the whole training parts is the primary CV.
    curve: list[tuple[float, list[int], list[int]]] = []
    for fraction, subsets in _curve_plan(folds.splits, settings):
        ids = [
            primary[f] if np.array_equal(subset, folds.splits[f][0]) else fits.fold(subset, test)
            for f, (subset, test) in enumerate(subsets)
        ]
        curve.append((fraction, ids, [len(subset) for subset, _ in subsets]))
    train_rows = np.arange(len(data.frame))
    final_fit = fits.final(train_rows)
    fits.run(settings.n_jobs, settings.fit_memory_mb)

    # Warnings in the order a one-by-one run raises them: primary CV, stratified, curve, final.
    _add_notes(notes, fits.build_notes)
    for i in primary:
        _add_notes(notes, fits.notes(i))
    pred, proba, fold = _out_of_fold(fits, primary, folds.splits, len(x), len(classes))
    tested = fold >= 0
    metrics = _scored("", y[tested], pred[tested], classes, settings)
    cm = confusion(y[tested], pred[tested], len(classes))
    if secondary is not None:
        notes += secondary.warnings
        for i in stratified:
            _add_notes(notes, fits.notes(i))
        s_pred, _, _ = _out_of_fold(fits, stratified, secondary.splits, len(x), len(classes))
        metrics.update(_scored(STRATIFIED_PREFIX, y, s_pred, classes, settings))
    rows = []
    for fraction, ids, sizes in curve:
        for i in ids:
            _add_notes(notes, fits.notes(i))
        c_pred, _, _ = _out_of_fold(fits, ids, folds.splits, len(x), len(classes))
        m = compute_metrics(y[tested], c_pred[tested], classes, settings.f_avg_classes)
        rows.append(
            {
                "fraction": fraction,
                "train_sentences": float(np.mean(sizes)),
                "macro_f1": m["macro_f1"],
                "f_avg": m["f_avg"],
                "accuracy": m["accuracy"],
            }
        )
    curve_table = pd.DataFrame(rows)
    _add_notes(notes, fits.notes(final_fit))
    final = fits.final_model(final_fit)

    oof = frame.loc[
        tested, [c for c in ("sentence_id", "group", TEXT, SPEAKER, "stance") if c in frame.columns]
    ].copy()
    oof = oof.rename(columns={"group": "article_id"})
    oof["predicted"] = np.asarray(classes, dtype=object)[pred[tested]]
    for k, name in enumerate(classes):
        oof[f"proba_{name}"] = np.round(proba[tested, k], 6)
    oof["fold"] = fold[tested]
    oof = oof.reset_index(drop=True)

    n_groups = int(data.frame["group"].nunique()) if data.grouped else None
    summary: dict[str, Any] = {
        "model": spec.name,
        "kind": spec.kind.name,
        "description": spec.description or spec.kind.description,
        "features": spec.features,
        "params": spec.params,
        "classes": classes,
        "cv": {
            "scheme": folds.scheme,
            "description": folds.description,
            "n_folds": len(folds.splits),
            "stratified_n_folds": len(secondary.splits) if secondary else None,
        },
        "data": {
            "source": data.source,
            "n_sentences": len(data.frame),
            "n_articles": n_groups,
            "class_counts": {c: int((data.frame["stance"] == c).sum()) for c in classes},
            "sha256": data.digest(),
            "test_source": test.source if test is not None else None,
            "n_test_sentences": len(test.frame) if test is not None else None,
            "test_sha256": test.digest() if test is not None else None,
        },
        "settings": settings.as_dict(),
        "metrics": metrics,
        "warnings": notes,
    }
    report = _report_text(summary, y[tested], pred[tested], classes)
    return Evaluation(summary, oof, cm, curve_table, report, final)


def _report_text(
    summary: dict[str, Any], y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]
) -> str:
    from sklearn.metrics import classification_report

    m = summary["metrics"]
    level = round(summary["settings"]["ci_level"] * 100)
    lines = [
        f"model: {summary['model']} (kind {summary['kind']}; features: "
        f"{', '.join(summary['features'])})",
        f"data: {summary['data']['source']}, {summary['data']['n_sentences']} sentences"
        + (
            f" from {summary['data']['n_articles']} articles"
            if summary["data"]["n_articles"]
            else ""
        ),
        f"evaluation: {summary['cv']['description']} (out-of-fold predictions)",
        "",
        classification_report(
            y_true,
            y_pred,
            labels=list(range(len(classes))),
            target_names=list(classes),
            digits=3,
            zero_division=0,
        ),
        f"f_avg    = {m['f_avg']:.3f}  ({level}% bootstrap CI {m['f_avg_ci_low']:.3f}-"
        f"{m['f_avg_ci_high']:.3f}; mean F1 of {', '.join(summary['settings']['f_avg_classes'])})",
        f"macro_f1 = {m['macro_f1']:.3f}  ({level}% bootstrap CI {m['macro_f1_ci_low']:.3f}-"
        f"{m['macro_f1_ci_high']:.3f})",
        f"accuracy = {m['accuracy']:.3f}   cohen_kappa = {m['cohen_kappa']:.3f}",
    ]
    if f"{STRATIFIED_PREFIX}f_avg" in m:
        lines += [
            "",
            f"secondary, {SCHEME_NAMES['stratified_kfold']}, "
            f"{summary['cv']['stratified_n_folds']} folds: stratified_f_avg = "
            f"{m['stratified_f_avg']:.3f}, stratified_macro_f1 = {m['stratified_macro_f1']:.3f}",
        ]
    if summary["warnings"]:
        lines += ["", "warnings:", *(f"  - {w}" for w in summary["warnings"])]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- output


def _plot_confusion(ev: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = ev.summary
    classes = s["classes"]
    cm = ev.confusion
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=100)
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            dark = cm[i, j] > cm.max() / 2
            ax.text(
                j, i, str(cm[i, j]), ha="center", va="center", color="white" if dark else "black"
            )
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted stance")
    ax.set_ylabel("labeled stance")
    m = s["metrics"]
    ax.set_title(
        f"{s['model']}: {s['cv']['description']}\n"
        f"f_avg {m['f_avg']:.2f}, macro-F1 {m['macro_f1']:.2f}",
        fontsize=9,
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def _plot_curve(ev: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = ev.summary
    curve = ev.curve
    fig, ax = plt.subplots(figsize=(5.2, 3.8), dpi=100)
    ax.plot(curve["train_sentences"], curve["macro_f1"], marker="o", label="macro-F1")
    ax.plot(curve["train_sentences"], curve["f_avg"], marker="s", linestyle="--", label="f_avg")
    ax.set_xlabel("labeled sentences in the training part (mean over folds)")
    ax.set_ylabel("score on held-out articles")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"{s['model']}: learning curve, {s['cv']['description']}", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def write_evaluation(ev: Evaluation, outdir: Path | str) -> dict[str, Path]:
    """Write a model's results: metrics.json, OOF CSV, report, plots, curve table, model."""
    import joblib

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {name: outdir / name for name in (*ARTIFACT_FILES, MODEL_FILE)}
    with atomic_open(paths[METRICS_FILE], encoding="utf-8") as fh:
        json.dump(ev.summary, fh, indent=2, sort_keys=False)
        fh.write("\n")
    with atomic_open(paths[OOF_FILE], newline="", encoding="utf-8") as fh:
        ev.oof.to_csv(fh, index=False, lineterminator="\n")
    with atomic_open(paths[REPORT_FILE], encoding="utf-8") as fh:
        fh.write(ev.report)
    with atomic_open(paths[CURVE_TABLE], newline="", encoding="utf-8") as fh:
        ev.curve.to_csv(fh, sep="\t", index=False, lineterminator="\n", float_format="%.6f")
    _plot_confusion(ev, paths[CONFUSION_FILE])
    _plot_curve(ev, paths[CURVE_FILE])
    with atomic_path(paths[MODEL_FILE]) as tmp:
        joblib.dump(ev.final_model, tmp)
    return paths


def read_summary(path: Path | str) -> dict[str, Any]:
    """A model's metrics.json."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StanceError(f"{path}: not found; run `stance train-model` for this model") from None


def load_final_model(model_dir: Path | str) -> Pipeline:
    """The final model that ``write_evaluation`` saved (a local file the project wrote itself)."""
    import joblib

    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise StanceError(f"{path}: not found; run `stance train-model` for this model")
    return joblib.load(path)


COMPARISON_COLUMNS = [
    "model", "kind", "features", "cv_scheme", "n_folds", "n_sentences",
    "f_avg", "f_avg_ci_low", "f_avg_ci_high",
    "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high",
    "accuracy", "cohen_kappa", "stratified_f_avg", "stratified_macro_f1", "run_id",
]  # fmt: skip


def comparison_table(
    summaries: Iterable[Mapping[str, Any]], run_ids: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per model, best f_avg first (ties by name): the headline metrics side by side."""
    rows = []
    for s in summaries:
        m = s["metrics"]
        rows.append(
            {
                "model": s["model"],
                "kind": s["kind"],
                "features": "+".join(s["features"]),
                "cv_scheme": s["cv"]["scheme"],
                "n_folds": s["cv"]["n_folds"],
                "n_sentences": s["data"]["n_sentences"],
                **{c: m.get(c) for c in COMPARISON_COLUMNS[6:-1]},
                "run_id": (run_ids or {}).get(s["model"], ""),
            }
        )
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    return table.sort_values(["f_avg", "model"], ascending=[False, True], kind="stable")


def write_comparison(table: pd.DataFrame, path: Path | str) -> None:
    """The comparison table as TSV (scores with 4 decimals)."""
    with atomic_open(path, newline="", encoding="utf-8") as fh:
        table.to_csv(fh, sep="\t", index=False, lineterminator="\n", float_format="%.4f")


# --------------------------------------------------------------------------- prediction

UNLABELED_QUEUE = "results/unlabeled.csv"


def sentences_from_texts(texts: Sequence[str], config: Mapping[str, Any]) -> pd.DataFrame:
    """Sentences of texts given on the command line (split, no page-chrome rules)."""
    from stance.sentences import splitter_from_config
    from stance.splitting import split_article

    splitter = splitter_from_config(dict(config))
    rows = []
    for i, text in enumerate(texts, start=1):
        sentences, _ = split_article(f"text-{i}", text, splitter, [])
        rows += [(s.sentence_id, s.article_id, s.position, s.text) for s in sentences]
    return pd.DataFrame(rows, columns=["sentence_id", "article_id", "position", TEXT])


def sentences_from_articles(paths: Sequence[Path | str], config: Mapping[str, Any]) -> pd.DataFrame:
    """Sentences of article files, split as the workflow splits the corpus (file stem = ID)."""
    from stance.chrome import compile_rules
    from stance.corpus import read_article
    from stance.sentences import splitter_from_config
    from stance.splitting import split_article

    splitter = splitter_from_config(dict(config))
    rules = compile_rules(config["split"]["chrome_rules"])
    rows = []
    for path in paths:
        path = Path(path)
        sentences, _ = split_article(path.stem, read_article(path), splitter, rules)
        rows += [(s.sentence_id, s.article_id, s.position, s.text) for s in sentences]
    return pd.DataFrame(rows, columns=["sentence_id", "article_id", "position", TEXT])


def sentences_from_table(path: Path | str) -> pd.DataFrame:
    """Sentences of a CSV with a ``text`` column (the unlabeled queue, or any table)."""
    path = Path(path)
    if not path.is_file():
        hint = "; run snakemake to build it" if path.as_posix().endswith(UNLABELED_QUEUE) else ""
        raise StanceError(f"{path}: file not found{hint}")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if TEXT not in table.columns:
        raise StanceError(
            f"{path}: no 'text' column (found: {', '.join(table.columns)}); the table needs one "
            "sentence per row in a column called text"
        )
    return table


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
    proba = model.predict_proba(x)
    order = list(model.classes_)
    names = list(classes) or order
    out["stance"] = list(model.predict(x))
    for name in names:
        out[f"proba_{name}"] = np.round(proba[:, order.index(name)], 6) if name in order else 0.0
    return out
