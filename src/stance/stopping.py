"""Stopping on Ctrl-C or SIGTERM: jobs that run in threads of the workflow process stop too.

With the profile's ``force-use-threads`` a job is a thread of the ``snakemake`` process, and
Python cannot stop a thread from outside: on SIGTERM Snakemake waits for running jobs to finish,
and after Ctrl-C the interpreter waits for them at exit. So the signal sets a flag, and long
loops of the package call :func:`check` between units of work (an article, a fold, a fit): the
job then fails at once with a one-line message, Snakemake removes its outputs (every output is
written atomically, so none is left half written) and exits.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from stance.errors import StanceError

_STOP = threading.Event()


class Stopped(StanceError):
    """The workflow was asked to stop (Ctrl-C or SIGTERM) while this job ran."""


def check() -> None:
    """Raise :class:`Stopped` once the workflow has been asked to stop."""
    if _STOP.is_set():
        raise Stopped("stopped on request (Ctrl-C or SIGTERM); run snakemake again to finish")


def request_stop() -> None:
    _STOP.set()


def stop_jobs_on_signals() -> None:
    """Before the handlers that are installed now for SIGINT and SIGTERM (Snakemake's), set the
    flag that :func:`check` reads. Call from the main thread once Snakemake has installed its own
    handlers (the Snakefile's ``onstart``)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)

        def handler(number: int, frame: FrameType | None, previous: Any = previous) -> None:
            request_stop()
            if callable(previous):
                previous(number, frame)
            elif number == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                raise SystemExit(128 + number)

        signal.signal(signum, handler)
