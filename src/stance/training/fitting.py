"""Running the fits of one evaluation: threads, a memory budget, convergence notes per fit."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, nullcontext
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from stance import stopping
from stance.errors import StanceError
from stance.training.features import FeatureCache
from stance.training.models import ModelSpec
from stance.training.settings import EvalSettings

# One evaluation fits the model once per fold of each CV, per learning-curve share and fold, and
# once on all labels. For TF-IDF kinds the fold fits share a FeatureCache (features.py): each text
# is analysed once, and each fit learns its vocabulary, IDF and classifier from its own training
# rows' counts (the same features as fitting the pipeline on their texts); the final model is a
# plain ``Pipeline.fit``. The fits run in ``evaluation.n_jobs`` threads (the solvers and sparse
# products release the GIL), fewer at a time when their matrices would together exceed
# ``evaluation.fit_memory_mb``; each fit is deterministic, so no result depends on the threads.
# On a table of at least ``evaluation.final_fit_process_from`` sentences the final fit runs in a
# process of its own: its text analysis holds the GIL and its liblinear solver would wait for the
# folds' (_LIBLINEAR), so in a thread it would add its whole time.
#
# A fit's notes come from the fitted classifier, not from its warnings: before Python 3.14 the
# warnings machinery is one state per process, so recording each fit's warnings would need a lock
# that holds up every thread of the process (the workflow runs its jobs as threads). The warning
# that matters, ConvergenceWarning, is read off the fit (n_iter_ reached max_iter); any other
# warning is shown as Python shows warnings.


def _convergence_note(spec: ModelSpec, model: Any) -> list[str]:
    """A note when the classifier stopped at max_iter iterations (scikit-learn warns
    ConvergenceWarning for the same fits)."""
    classifier = model.steps[-1][1] if isinstance(model, Pipeline) else model
    n_iter, max_iter = getattr(classifier, "n_iter_", None), getattr(classifier, "max_iter", None)
    if n_iter is None or max_iter is None or int(np.max(n_iter)) < max_iter:
        return []
    return [
        f"{spec.name}: ConvergenceWarning: {type(classifier).__name__} did not converge in "
        f"max_iter={max_iter} iterations; raise models[{spec.name}].params.max_iter"
    ]


def _fit_error(spec: ModelSpec, n: int, exc: Exception) -> StanceError:
    return StanceError(
        f"model {spec.name!r} cannot be fit on {n} sentences: {exc}; check "
        f"models[{spec.name}].params (e.g. min_df) against the amount of labeled data"
    )


def _fit_pipeline(spec: ModelSpec, seed: int, x: pd.DataFrame, y: Sequence[str]) -> Pipeline:
    stopping.check()
    model = spec.build(seed)
    y = np.asarray(y, dtype=object)
    try:
        if _uses_liblinear(model.steps[-1][1]):
            # The features step outside the turns of liblinear fits (see _LIBLINEAR).
            features = model[:-1].fit_transform(x, y)
            with _LIBLINEAR:
                model.steps[-1][1].fit(features, y)
        else:
            model.fit(x, y)
    except ValueError as exc:
        raise _fit_error(spec, len(x), exc) from None
    return model


def _predicted(model: Any, x: Any, n: int, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Class indices and probabilities (n x n_classes, in class order) of a fitted model."""
    proba = np.zeros((n, len(classes)))
    cols = [list(classes).index(c) for c in model.classes_]
    proba[:, cols] = model.predict_proba(x)
    pred = np.array([list(classes).index(c) for c in model.predict(x)], dtype=np.int64)
    return pred, proba


# scikit-learn's liblinear (LinearSVC) draws from one random generator per process, seeded at
# each fit (sklearn/svm/src/newrand): two liblinear fits at once would draw from each other's
# sequence. They take turns.
_LIBLINEAR = threading.Lock()


def _wait(result: multiprocessing.pool.AsyncResult) -> Any:
    """The value of a fit in another process, once ready; a stop request raises meanwhile."""
    while not result.ready():
        stopping.check()
        result.wait(1.0)
    return result.get()


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


@functools.cache
def _malloc_trim() -> Callable[[int], Any]:
    """glibc's malloc_trim (elsewhere a no-op): glibc keeps freed blocks of up to 32 MB in a heap
    per thread, so without it a process that had two large fits at once stays ~0.5 GB larger for
    the rest of its evaluation, which decides whether the largest fit fits the memory."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return lambda pad: 0


class Fits:
    """The fits of one evaluation, collected (``fold``: a fit predicting test rows; ``final``: the
    final model), then run together; ``result(i)`` and ``notes(i)`` give each one's predictions
    (or model) and notes."""

    def __init__(
        self, spec: ModelSpec, x: pd.DataFrame, y: np.ndarray, classes: Sequence[str], seed: int
    ) -> None:
        self.spec, self.x, self.y, self.classes, self.seed = spec, x, y, list(classes), seed
        self.names = np.asarray(classes, dtype=object)
        self.cache: FeatureCache | None = None  # built by run
        self._apart: dict[int, multiprocessing.pool.AsyncResult] = {}
        self._tasks: list[tuple[np.ndarray, np.ndarray | None]] = []
        self._results: list[Any] = []
        self._notes: list[list[str]] = []

    def fold(self, train: np.ndarray, test: np.ndarray | None) -> int:
        self._tasks.append((np.asarray(train), None if test is None else np.asarray(test)))
        return len(self._tasks) - 1

    def final(self, train: np.ndarray) -> int:
        return self.fold(train, None)

    def result(self, i: int) -> Any:
        return self._results[i]

    def notes(self, i: int) -> list[str]:
        return self._notes[i]

    def _run_one(self, i: int, gate: _MemoryGate) -> tuple[Any, list[str]]:
        train, test = self._tasks[i]
        if test is None:
            size = self.cache.pipeline_memory(train, len(self.classes)) if self.cache else 0
            with gate.hold(size):
                model = _wait(self._apart[i]) if i in self._apart else _fit_pipeline(*self._args(i))
            return model, _convergence_note(self.spec, model)
        present = sorted(set(self.y[train].tolist()))
        if len(present) == 1:
            # A training part with one class: every test sentence gets that class.
            proba = np.zeros((len(test), len(self.classes)))
            proba[:, present[0]] = 1.0
            return (np.full(len(test), present[0]), proba), []
        if self.cache is None:
            model = _fit_pipeline(*self._args(i))
            predicted = _predicted(model, self.x.iloc[test], len(test), self.classes)
            return predicted, _convergence_note(self.spec, model)
        return self._fit_cached(train, test, gate)

    def _fit_cached(
        self, train: np.ndarray, test: np.ndarray, gate: _MemoryGate
    ) -> tuple[tuple[np.ndarray, np.ndarray], list[str]]:
        """The predictions of the rows ``test`` by the pipeline fit on the rows ``train``."""
        # Two steps under the memory budget: learning the vocabulary (a chunk of counts at a
        # time), then the training matrix, the classifier and the predictions, whose size is
        # known by then.
        stopping.check()
        cache = self.cache
        assert cache is not None
        try:
            with gate.hold(cache.counting_memory(train)):
                fitted, n_values = cache.fit(train)
            size = cache.memory(n_values, train, test, len(self.classes))
            with gate.hold(size):
                x = cache.training_features(fitted, train, n_values)
                classifier = self.spec.build(self.seed).named_steps["classifier"]
                with _LIBLINEAR if _uses_liblinear(classifier) else nullcontext():
                    classifier.fit(x, self.names[self.y[train]])
                del x
                x = fitted.transform(test)
                predicted = _predicted(classifier, x, len(test), self.classes)
        except ValueError as exc:
            raise _fit_error(self.spec, len(train), exc) from None
        return predicted, _convergence_note(self.spec, classifier)

    def run(self, n_jobs: int, memory_mb: int, final_process_from: int | None = None) -> None:
        """Fit everything; ``n_jobs`` threads (one: in this thread, in order), the final fits on
        at least ``final_process_from`` rows in a process of their own when ``n_jobs`` > 1."""
        gate = _MemoryGate(memory_mb * 2**20)
        apart = [
            i
            for i, (train, test) in enumerate(self._tasks)
            if test is None and n_jobs > 1 and len(train) >= (final_process_from or np.inf)
        ]
        with ExitStack() as stack:
            # Only the cached kinds: the others fit their folds one at a time in this thread.
            if apart and FeatureCache.applies(self.spec, self.x) is not None:
                # The child ignores Ctrl-C: the stop reaches this process, which ends the child.
                context = multiprocessing.get_context("spawn")
                ignore = (signal.SIGINT, signal.SIG_IGN)
                pool = stack.enter_context(context.Pool(1, signal.signal, ignore))
                self._apart = {i: pool.apply_async(_fit_pipeline, self._args(i)) for i in apart}
            try:
                self.cache = FeatureCache.build(self.spec, self.x)
            except ValueError as exc:
                raise _fit_error(self.spec, len(self.x), exc) from None
            cached = self.cache is not None
            if cached:
                _malloc_trim()(0)  # what counting the n-grams of the table freed
            self._results, self._notes = self._run(n_jobs if cached else 1, gate)

    def _args(self, i: int) -> tuple[Any, ...]:
        train = self._tasks[i][0]
        return self.spec, self.seed, self.x.iloc[train], self.names[self.y[train]]

    def _run(self, n_jobs: int, gate: _MemoryGate) -> tuple[list[Any], list[list[str]]]:
        def one(i: int) -> tuple[Any, list[str]]:
            try:
                return self._run_one(i, gate)
            finally:
                if self.cache is not None:
                    _malloc_trim()(0)

        jobs = max(1, min(n_jobs, len(self._tasks)))
        # BLAS only sees the solvers' small dense vectors: more than one thread per fit costs
        # far more in start-up and waiting than it gains (and changes sums' rounding by machine).
        with threadpool_limits(limits=1, user_api="blas"):
            if jobs == 1:
                done = [one(i) for i in range(len(self._tasks))]
            else:
                # A plain thread pool: joblib's result loop polls with sleeps, which cost
                # more than the seed corpus's fits themselves.
                order = self._order()
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    results = dict(zip(order, pool.map(one, order), strict=True))
                done = [results[i] for i in range(len(self._tasks))]
        return [result for result, _ in done], [notes for _, notes in done]

    def _order(self) -> list[int]:
        """The final fits in another process first (a thread waits for each, holding its memory
        in the budget), then the fold fits, largest and smallest in turn, then the other final
        fits: while the budget holds back a large fit, a thread takes a small one."""
        folds = sorted(
            (i for i, (_, test) in enumerate(self._tasks) if test is not None),
            key=lambda i: -len(self._tasks[i][0]),
        )
        order = [i for pair in zip(folds, folds[::-1], strict=True) for i in pair][: len(folds)]
        finals = [i for i, (_, test) in enumerate(self._tasks) if test is None]
        apart = [i for i in finals if i in self._apart]
        return apart + order + [i for i in finals if i not in self._apart]


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
