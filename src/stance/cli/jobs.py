"""How a Snakemake job runs its step: as a thread of the ``snakemake`` process (the profile's
``force-use-threads``: libraries imported once), its output in its log."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from stance.cli.steps import STEPS
from stance.environment import configure, limit_blas_threads
from stance.errors import StanceError
from stance.logs import job_log, log_to_stderr
from stance.stopping import Stopped

logger = logging.getLogger(__name__)


class StepFailed(Exception):
    """A job's step stopped; the message says why (and, for a crash, where the traceback is)."""


def run_step(
    rule: str,
    input: Any,
    output: Any,
    params: Any,
    wildcards: Any,
    threads: int,
    log: Any,
    config: Mapping[str, Any],
) -> None:
    """Run the step of a Snakemake job (the names a ``run:`` block has)."""
    run_job(SimpleNamespace(**locals()))


def run_job(job: Any) -> None:
    """Run the step of ``job``, logging to the job's log and the terminal. A user mistake is
    logged once and the StepFailed only points at it (Snakemake prints that message too)."""
    configure()
    log_to_stderr()
    limit_blas_threads()
    step = STEPS.get(job.rule)
    if step is None:
        raise StepFailed(f"no step for rule {job.rule!r} in stance.cli.steps.STEPS")
    log = job.log[0] if len(job.log) else None
    with job_log(log):
        try:
            step(job)
        except Stopped as exc:
            # The set of outputs is incomplete: remove them all, as Snakemake removes a failed
            # job's (after Ctrl-C it does not), so that the next run makes them again.
            logger.error(str(exc))
            removed = [str(path) for path in map(Path, job.output) if os.path.lexists(path)]
            for path in map(Path, removed):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            raise StepFailed(
                f"rule {job.rule} stopped on request"
                + (f"; removed its outputs {', '.join(removed)}" if removed else "")
            ) from None
        except StanceError as exc:
            # A user mistake: the message says what to do, a traceback would only hide it.
            logger.error(str(exc))
            where = f" and in {log}" if log else ""
            raise StepFailed(
                f"rule {job.rule} stopped on bad input: the error is printed above{where}"
            ) from None
        except Exception as exc:
            # Anything else is a bug or a crash: its traceback goes to the log as well.
            logger.exception(f"rule {job.rule} crashed")
            where = f"; the traceback is in {log}" if log else ""
            raise StepFailed(f"{type(exc).__name__}: {exc}{where}") from None
