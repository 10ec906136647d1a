"""The process environment of the pipeline: offline, quiet, no telemetry; set here and only here
(by ``configure()``, before ``datasets`` or ``mlflow`` are imported: both read it at import); and
when the workflow's process collects garbage."""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

# Forced: nothing leaves the machine whatever the environment says (DO_NOT_TRACK=1 does not
# switch MLflow's telemetry off; "true" does), and no data set or model comes from a hub.
FORCED = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_OFFLINE": "1",
}
# Defaults a user may override in the environment.
DEFAULTS = {
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    # A tracking server that is down fails after seconds, not after minutes of retries.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    # Reading the git state of a run (GitPython) must not take the repository's index lock.
    "GIT_OPTIONAL_LOCKS": "0",
    # Without a git executable GitPython fails at import; provenance is then left empty.
    "GIT_PYTHON_REFRESH": "quiet",
    # One BLAS thread: on the solvers' small dense vectors more threads cost more in start-up and
    # spinning than they gain; jobs and fits run side by side instead. Read at numpy's import.
    "OPENBLAS_NUM_THREADS": "1",
}


def configure() -> None:
    """Set the forced variables and, where unset, the defaults."""
    os.environ.update(FORCED)
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)


def limit_blas_threads() -> None:
    """One BLAS thread from now on, also where numpy was imported before ``configure()``."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


# warnings.catch_warnings saves and restores the process-wide filters: two jobs of one workflow
# process inside it at once could leave each other's filters behind. They take turns here.
_WARNINGS_LOCK = threading.RLock()


@contextlib.contextmanager
def caught_warnings() -> Iterator[None]:
    """``warnings.catch_warnings()``, one thread at a time."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        yield


def import_datasets() -> Any:
    """``datasets``, imported offline and quiet."""
    configure()
    import datasets

    if os.environ.get("HF_DATASETS_DISABLE_PROGRESS_BARS") == "1":
        # The variable works only before the first import, which may have happened earlier.
        datasets.disable_progress_bars()
    return datasets


def collect_garbage_less_often() -> None:
    """Collect reference cycles less often in this process, and not at exit: the jobs' libraries
    allocate millions of long-lived objects the collector would walk again and again for nothing."""
    # Objects allocated between two collections of the youngest generation (default: 700).
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    atexit.register(gc.freeze)
