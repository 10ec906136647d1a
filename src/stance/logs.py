"""Where the package's messages go: the terminal (stderr) and, in a workflow job, the job's log."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

_PREFIXES = {logging.WARNING: "warning: ", logging.ERROR: "error: ", logging.CRITICAL: "error: "}


class _Prefixed(logging.Formatter):
    """``warning: `` or ``error: `` before such a message; progress and notes as they are."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _PREFIXES.get(record.levelno, "") + record.message


class _Stderr(logging.StreamHandler):
    """A handler writing to ``sys.stderr`` as it is at each message (a test may capture it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


_LOCK = threading.Lock()
_terminal: logging.Handler | None = None


def log_to_stderr() -> None:
    """Show the package's messages and Python's warnings on stderr; once per process (not on
    the root logger: Snakemake, ``datasets`` and MLflow show their own already)."""
    global _terminal
    with _LOCK:
        if _terminal is not None:
            return
        _terminal = _Stderr()
        _terminal.setFormatter(_Prefixed())
        for name in ("stance", "py.warnings"):
            logging.getLogger(name).addHandler(_terminal)
        logging.getLogger("stance").setLevel(logging.INFO)
        logging.captureWarnings(True)


@contextlib.contextmanager
def job_log(path: str | None) -> Iterator[None]:
    """Write the messages logged in this thread to ``path`` (jobs are threads of one process)."""
    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(_Prefixed())
    thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread == thread)
    # MLflow's loggers do not pass their records on to the root logger.
    loggers = [logging.getLogger(), logging.getLogger("mlflow")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        handler.close()
