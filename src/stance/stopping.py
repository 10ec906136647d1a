"""Stopping on Ctrl-C or SIGTERM: jobs that run in threads of the workflow process stop too (the
signal sets a flag that long loops :func:`check` between units of work)."""

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


def stop_jobs_on_signals() -> None:
    """On SIGINT and SIGTERM, set the flag :func:`check` reads, then run the handlers installed
    now: call from the main thread once Snakemake has installed its own (``onstart``)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)

        def handler(number: int, frame: FrameType | None, previous: Any = previous) -> None:
            _STOP.set()
            if callable(previous):
                previous(number, frame)
            elif number == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                raise SystemExit(128 + number)

        signal.signal(signum, handler)
