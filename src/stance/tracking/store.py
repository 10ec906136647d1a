"""The MLflow store: tracking URI, client, retries, experiment."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import tenacity

from stance.environment import configure
from stance.errors import StanceError

# Groups the runs of one workflow run; the Snakefile sets it once per `snakemake` call.
WORKFLOW_RUN_ENV = "STANCE_WORKFLOW_RUN"
MODEL_ARTIFACT = "model"
ROLE_TAG = "stance.role"
GROUP_TAG = "stance.workflow_run"
LOCKED_RETRIES = 40

T = TypeVar("T")


def import_mlflow() -> Any:
    """``mlflow``, imported with telemetry off and quiet logging (see stance.environment)."""
    configure()
    import mlflow

    return mlflow


def project_root(config_path: Path | str) -> Path:
    """The project folder: the parent of the folder holding config.yaml."""
    return Path(config_path).resolve().parent.parent


def resolve_tracking_uri(config: Mapping[str, Any], root: Path | str) -> str:
    """MLFLOW_TRACKING_URI, else config mlflow.tracking_uri, else sqlite:///<root>/mlflow.db."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    configured = (config.get("mlflow") or {}).get("tracking_uri")
    if configured:
        return str(configured)
    return f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def _artifact_location(uri: str) -> str | None:
    # Beside a SQLite store: <store folder>/mlartifacts (not ./mlruns, which MLflow would take
    # for an old file store). Other stores (a server) choose their own.
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        return (db.resolve().parent / "mlartifacts").as_uri()
    return None


def _is_locked(exc: BaseException) -> bool:
    return "database is locked" in str(exc).lower()


def _report_retry(state: tenacity.RetryCallState) -> None:
    delay = state.next_action.sleep if state.next_action else 0.0
    print(f"tracking store busy (database is locked); retrying in {delay:.1f}s", file=sys.stderr)


# SQLite takes one writer at a time: a call that finds the store locked waits and tries again.
_locked_retrying = tenacity.Retrying(
    retry=tenacity.retry_if_exception(_is_locked),
    wait=tenacity.wait_exponential(multiplier=0.2, exp_base=1.5, max=5.0),
    stop=tenacity.stop_after_attempt(LOCKED_RETRIES),
    before_sleep=_report_retry,
    reraise=True,
)


def retry_locked(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call fn, retrying while SQLite says 'database is locked' (one writer at a time)."""
    return _locked_retrying(fn, *args, **kwargs)


def tracking_client(uri: str) -> Any:
    mlflow = import_mlflow()
    return mlflow.MlflowClient(tracking_uri=uri)


def store_error(uri: str, what: str, exc: Exception) -> StanceError:
    return StanceError(
        f"MLflow store {uri}: {what} failed: {str(exc).splitlines()[0] if str(exc) else exc!r}; "
        "check MLFLOW_TRACKING_URI / config mlflow.tracking_uri"
    )


def init_store(uri: str, experiment: str) -> str:
    """Create the store (if new) and the experiment (if missing); return the experiment ID.

    Run this once before parallel jobs log to a new SQLite store: its schema set-up breaks when
    several processes create it at once.
    """
    try:
        client = tracking_client(uri)
        found = retry_locked(client.get_experiment_by_name, experiment)
        if found is not None:
            if found.lifecycle_stage != "active":
                raise StanceError(
                    f"experiment {experiment!r} in {uri} is deleted; restore it in the MLflow "
                    "UI or choose another name in config mlflow.experiment"
                )
            return found.experiment_id
        return retry_locked(client.create_experiment, experiment, _artifact_location(uri))
    except StanceError:
        raise
    except Exception as exc:
        if "already exists" in str(exc):
            return tracking_client(uri).get_experiment_by_name(experiment).experiment_id
        raise store_error(uri, "opening the store", exc) from None


def find_experiment_id(uri: str, experiment: str, create: bool) -> str:
    if create:
        return init_store(uri, experiment)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        # Opening a missing SQLite store would create an empty one: say what to do instead.
        raise StanceError(
            f"no MLflow store at {uri} yet: nothing has been logged; run `snakemake` or "
            "`stance train` first (or set MLFLOW_TRACKING_URI / config mlflow.tracking_uri)"
        )
    try:
        found = retry_locked(tracking_client(uri).get_experiment_by_name, experiment)
    except Exception as exc:
        raise store_error(uri, "reading the store", exc) from None
    if found is None:
        raise StanceError(
            f"no experiment {experiment!r} in {uri}: nothing has been logged yet; run "
            "`snakemake` or `stance train` first"
        )
    return found.experiment_id
