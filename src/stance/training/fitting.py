"""Running the fits of one evaluation: threads, a memory budget, warnings per fit."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from stance import stopping
from stance.environment import caught_warnings
from stance.errors import StanceError
from stance.training.features import FeatureCache
from stance.training.models import ModelSpec
from stance.training.settings import EvalSettings
from stance.training.solver_process import SolverProcess, helper_for

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


def add_notes(notes: list[str], new: Iterable[str]) -> None:
    for msg in new:
        if msg not in notes:
            notes.append(msg)


def _fit_error(spec: ModelSpec, n: int, exc: Exception) -> StanceError:
    return StanceError(
        f"model {spec.name!r} cannot be fit on {n} sentences: {exc}; check "
        f"models[{spec.name}].params (e.g. min_df) against the amount of labeled data"
    )


def _fit_pipeline(spec: ModelSpec, seed: int, x: pd.DataFrame, y: Sequence[str]) -> Pipeline:
    stopping.check()
    model = spec.build(seed)
    try:
        model.fit(x, np.asarray(y, dtype=object))
    except ValueError as exc:
        raise _fit_error(spec, len(x), exc) from None
    return model


def model_inputs(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
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


def _no_gate(size: int) -> AbstractContextManager[None]:
    return nullcontext()


def _release_memory() -> None:
    """Give the memory freed by a fit back to the operating system (glibc only).

    glibc keeps freed blocks of up to 32 MB in its heaps for reuse, and with several threads in
    several heaps: without this, a process that had two large fits at once stays ~0.5 GB larger
    for the rest of its evaluation, which decides whether the largest fit fits the memory.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


class Fits:
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
        with caught_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.cache = FeatureCache.build(spec, x)
            except ValueError as exc:
                raise _fit_error(spec, len(x), exc) from None
        add_notes(self.build_notes, (_warning_note(spec, w.category, w.message) for w in caught))
        if self.cache is not None:
            _release_memory()  # what counting the n-grams of the table freed
        self._helper: SolverProcess | None = None
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

    def _run_one(self, i: int, gate: _MemoryGate | None = None) -> Any:
        train, test = self._tasks[i]
        if test is None:
            return self._fit_raw(train) if self.cache is None else self._fit_cached(train, gate)
        present = sorted(set(self.y[train].tolist()))
        if len(present) == 1:
            # A training part with one class: every test sentence gets that class.
            proba = np.zeros((len(test), len(self.classes)))
            proba[:, present[0]] = 1.0
            return np.full(len(test), present[0]), proba
        if self.cache is None:
            model = self._fit_raw(train)
            return _predicted(model, self.x.iloc[test], len(test), self.classes)
        return self._fit_cached(train, gate, test)

    def _fit_raw(self, train: np.ndarray) -> Pipeline:
        return _fit_pipeline(self.spec, self.seed, self.x.iloc[train], self.names[self.y[train]])

    def _fit_cached(
        self, train: np.ndarray, gate: _MemoryGate | None, test: np.ndarray | None = None
    ) -> Any:
        """The fitted features and classifier; with ``test``, their predictions of those rows."""
        # Two steps under the memory budget: learning the vocabulary (a chunk of counts at a
        # time), then the training matrix, the classifier and the predictions, whose size is
        # known by then.
        stopping.check()
        cache = self.cache
        assert cache is not None
        hold = gate.hold if gate is not None else _no_gate
        try:
            with hold(cache.counting_memory(train)):
                fitted, n_values = cache.fit(train)
            size = cache.memory(n_values, train, test, len(self.classes))
            with hold(size):
                x = cache.training_features(fitted, train, n_values)
                classifier = cache.classifier(self.seed)
                y = self.names[self.y[train]]
                helped = self._helper.try_fit(classifier, x, y) if self._helper else None
                if helped is not None:
                    classifier = helped
                else:
                    with _LIBLINEAR if _uses_liblinear(classifier) else nullcontext():
                        classifier.fit(x, y)
                del x
                if test is not None:
                    return _predicted(classifier, fitted.transform(test), len(test), self.classes)
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
            _CURRENT.index = i
            try:
                return self._run_one(i, gate)
            finally:
                _CURRENT.index = None
                if cached:
                    _release_memory()

        # Without a cache the fits are pipeline fits on raw text: run in this thread.
        cached = self.cache is not None
        jobs = max(1, min(n_jobs, len(self._tasks))) if cached else 1
        # With threads, a helper process takes small classifier fits (solver_process).
        self._helper = helper_for(jobs, len(self.x))
        # BLAS only sees the solvers' small dense vectors: more than one thread per fit costs
        # far more in start-up and waiting than it gains (and changes sums' rounding by machine).
        with caught_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("always")
            warnings.showwarning = show
            if jobs == 1:
                self._results = [one(i) for i in range(len(self._tasks))]
            else:
                # A plain thread pool: joblib's result loop polls (10 ms sleeps), which costs
                # more than the seed corpus's fits themselves.
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    self._results = list(pool.map(one, range(len(self._tasks))))
        self._notes = [list(dict.fromkeys(c)) for c in caught]

    def final_model(self, i: int) -> Pipeline:
        result = self._results[i]
        if isinstance(result, Pipeline):
            return result
        assert self.cache is not None
        fitted, classifier = result
        train, _ = self._tasks[i]
        return self.cache.pipeline(fitted, train, classifier, self.seed)


def curve_plan(
    splits: Sequence[tuple[np.ndarray, np.ndarray]], settings: EvalSettings
) -> tuple[list[tuple[float, list[tuple[np.ndarray, np.ndarray]]]], list[float]]:
    """Per learning-curve share, each fold's seeded random subset of its training part; and the
    shares not fit because a subset would exceed ``settings.learning_curve_max_train`` sentences
    (a share of 1.0, the training parts themselves, costs no fit and is never left out)."""
    plan, skipped = [], []
    cap = settings.learning_curve_max_train
    for fraction in sorted(set(settings.learning_curve)):
        sizes = [max(1, round(fraction * len(train))) for train, _ in splits]
        if fraction < 1.0 and cap is not None and max(sizes) > cap:
            skipped.append(fraction)
            continue
        folds = []
        for f, ((train, test), n) in enumerate(zip(splits, sizes, strict=True)):
            rng = np.random.default_rng([settings.seed, f])
            folds.append((np.sort(rng.permutation(train)[:n]), test))
        plan.append((fraction, folds))
    return plan, skipped


def out_of_fold(
    fits: Fits, ids: Sequence[int], splits: Sequence[tuple[np.ndarray, np.ndarray]], n: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold class indices, probabilities and fold numbers (-1: in no test part)."""
    pred = np.full(n, -1, dtype=np.int64)
    proba = np.full((n, k), np.nan)
    fold = np.full(n, -1, dtype=np.int64)
    for f, (i, (_, test)) in enumerate(zip(ids, splits, strict=True)):
        pred[test], proba[test] = fits.result(i)
        fold[test] = f
    return pred, proba, fold
