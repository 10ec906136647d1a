"""A second process that fits classifiers of small tables while a fit thread waits for it.

The fits of one evaluation run in threads (stance.training.fitting). On small tables (the seed
corpus: ~100 sentences) a classifier fit is mostly Python: scikit-learn's loss and SciPy's
L-BFGS loop take steps of a few microseconds of arithmetic at a time, holding the interpreter
lock, so two threads fit hardly faster than one. This helper process fits while a thread waits
for it (the wait releases the lock): with two threads, one fit runs here and one in the other
thread, on two cores. Measured on the seed corpus: half the fits of a workflow run go to the
helper, and a run after a label change takes ~1 s less (docs/benchmarks.md).

The helper is started by a job that will fit models on a table of at most ``MAX_ROWS``
sentences with more than one thread, before its first fit (its imports take about a second);
it takes only fits of at most ``MAX_ROWS`` rows, one at a time. Until it has started, while it is
busy and if it fails, a fit runs in its thread as before. A fit is the same computation in
either process (same estimator, matrix, labels, library versions and single-threaded BLAS), so
the results do not depend on where it ran (tests/test_solver_process.py). The helper ends when
the process that started it exits (it stops when its input closes), and ignores Ctrl-C, which
the workflow's process handles. Estimators and matrices cross the pipe between the two
processes as pickles; nothing is written to or read from a file (model files are skops,
stance.training.model_files).
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import warnings
from typing import Any, BinaryIO

# Largest training part (sentences) fit in the helper. Larger fits spend their time in code
# that releases the interpreter lock, and would have to be copied through a pipe.
MAX_ROWS = 10_000
_HEADER = struct.Struct("<Q")  # length of the pickled message that follows


def _send(stream: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the solver process ended")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the solver process ended")
    return pickle.loads(data)


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """The helper's loop: fit each (classifier, x, y) received; reply with the fitted classifier
    and the warnings of the fit, or the exception it raised."""
    from stance.environment import configure

    configure()  # single-threaded BLAS, as in the caller
    import sklearn.linear_model
    import sklearn.svm  # noqa: F401

    import stance.training.models  # noqa: F401

    _send(replies, "ready")
    while True:
        try:
            classifier, x, y = _receive(requests)
        except EOFError:
            # The caller has closed the pipe (it is exiting): end without the interpreter's
            # teardown of scikit-learn's modules (~0.4 s that the caller would wait for).
            os._exit(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                classifier.fit(x, y)
                reply: Any = ("fitted", classifier, [(w.category, str(w.message)) for w in caught])
            except Exception as exc:  # the caller raises it, as if it had fit itself
                reply = ("raised", exc, [])
        _send(replies, reply)


class SolverProcess:
    """One helper process that fits one classifier at a time."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "stance.training.solver_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._started = threading.Event()
        self._free = threading.Lock()
        self._broken = False
        self.fits = 0  # fits done in the helper
        threading.Thread(target=self._wait_until_started, daemon=True).start()

    def _wait_until_started(self) -> None:
        try:
            if _receive(self._process.stdout) == "ready":
                self._started.set()
                return
        except Exception:
            pass
        self._broken = True

    def wait_until_started(self, timeout: float) -> bool:
        """Whether the helper has started (waits at most ``timeout`` seconds)."""
        return self._started.wait(timeout)

    def try_fit(self, classifier: Any, x: Any, y: Any) -> Any | None:
        """``classifier`` fitted in the helper (its warnings raised here, in the caller's
        thread, and its errors too); None when the helper has not started yet, is busy or has
        failed, or ``x`` has more than MAX_ROWS rows: the caller then fits it itself."""
        if self._broken or not self._started.is_set() or x.shape[0] > MAX_ROWS:
            return None
        if not self._free.acquire(blocking=False):
            return None
        try:
            _send(self._process.stdin, (classifier, x, y))
            kind, result, caught = _receive(self._process.stdout)
        except (OSError, EOFError, pickle.PickleError):
            self._broken = True  # e.g. the helper was killed: fit in this process from now on
            return None
        finally:
            self._free.release()
        if kind == "raised":
            raise result
        self.fits += 1
        for category, message in caught:
            warnings.warn(message, category, stacklevel=2)
        return result

    def close(self) -> None:
        """End the helper: it stops when its input closes (killed if it does not)."""
        try:
            self._process.stdin.close()
            self._process.wait(timeout=5)
        except Exception:
            self._process.kill()
            self._process.wait()


_HELPER: SolverProcess | None = None
_HELPER_LOCK = threading.Lock()


def helper_for(n_jobs: int, rows: int) -> SolverProcess | None:
    """The helper (started if it is not yet) when fits of ``rows`` sentences run in ``n_jobs``
    threads and it can take some of them; else None."""
    return solver_process() if n_jobs > 1 and rows <= MAX_ROWS else None


def solver_process() -> SolverProcess:
    """The helper of this process, started on first use and ended at exit."""
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is None:
            _HELPER = SolverProcess()
            atexit.register(_HELPER.close)
        return _HELPER


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller handles Ctrl-C; EOF ends this
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # the replies' pipe carries replies only
    serve(sys.stdin.buffer, replies)
