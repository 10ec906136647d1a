"""The Snakefile's checks before any job, and how a job runs its step and logs its output."""

from __future__ import annotations

import hashlib
import json
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
from stance.io import remembered
from stance.logs import job_log, log_to_stderr
from stance.stopping import Stopped

logger = logging.getLogger(__name__)


def _key(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


def check_workflow(config: dict, root: Path | str) -> None:
    """Check the resolved configuration, the model entries and a local SQLite store; results
    are remembered under .snakemake/stance/, so a no-op run skips the slow imports and reads."""
    from importlib.metadata import version

    from stance.codehash import code_digest
    from stance.config import validate_config
    from stance.tracking.store import check_store_file

    root = Path(root)
    checked_dir = root / ".snakemake" / "stance"
    schema = root / "workflow/schemas/config.schema.yaml"

    def validated() -> dict:
        where = "the configuration (config/config.yaml with any --configfile and --config)"
        return validate_config(config, where, schema)

    # A configuration and schema seen last time get the completed configuration remembered then.
    config_key = _key(json.dumps(config, sort_keys=True, default=str).encode(), schema.read_bytes())
    completed = remembered(checked_dir / "config-completed.json", config_key, validated)
    if completed is not config:
        config.clear()
        config.update(completed)

    def models_checked() -> bool:
        from stance.training.models import model_specs

        model_specs(config)
        return True

    models_key = _key(
        json.dumps(config["models"], sort_keys=True, default=str).encode(),
        code_digest("training").encode(),
        # the value check is scikit-learn's own: another version checks again
        version("scikit-learn").encode(),
    )
    remembered(checked_dir / "models-checked.json", models_key, models_checked)
    _check_f_avg_classes(config, root, checked_dir)
    check_store_file(config, root, checked_dir)


def _check_f_avg_classes(config: dict, root: Path, checked_dir: Path) -> None:
    """evaluation.f_avg_classes must be stance values of the label schema (a new topic's schema
    with other values otherwise fails only once a model trains)."""
    path = root / config["labels"]["schema"]
    if not path.is_file():
        return  # the label stage says so, with what to do
    classes = config["evaluation"]["f_avg_classes"]

    def checked() -> bool:
        from stance.labels.schema import load_schema

        schema = load_schema(path)
        if "stance" not in schema.field_names:
            return True
        values = schema.field("stance").names
        missing = [c for c in classes if c not in values]
        if missing:
            raise StanceError(
                f"evaluation.f_avg_classes lists {', '.join(missing)}, not a stance value of "
                f"{config['labels']['schema']} ({', '.join(values)}); list there the stance "
                "values whose F1 the f_avg score averages (config/config.yaml)"
            )
        return True

    key = _key(path.read_bytes(), json.dumps(classes).encode())
    remembered(checked_dir / "f-avg-classes-checked.json", key, checked)


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
    """Run the step of ``job``, logging to the job's log and the terminal."""
    configure()
    log_to_stderr()
    limit_blas_threads()
    if (step := STEPS.get(job.rule)) is None:
        raise StepFailed(f"no step for rule {job.rule!r} in stance.cli.steps.STEPS")
    log = job.log[0] if len(job.log) else None
    with job_log(log):
        try:
            step(job)
        except Stopped as exc:
            # The outputs are incomplete: all removed, as Snakemake does (but not after Ctrl-C).
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
