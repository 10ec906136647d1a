"""The MLflow store: URI, client, retries, experiment, run groups, damaged and moved stores."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import tenacity

from stance.environment import configure
from stance.errors import StanceError
from stance.io import remembered

logger = logging.getLogger(__name__)

# Groups the runs of one workflow run; the Snakefile sets it once per `snakemake` call.
WORKFLOW_RUN_ENV = "STANCE_WORKFLOW_RUN"
MODEL_ARTIFACT = "model"
ROLE_TAG = "stance.role"
GROUP_TAG = "stance.workflow_run"
# Speaker runs are not stance model runs: `stance runs` and the stance run selection skip them.
SPEAKER_ROLE = "speakers"
# On a speaker run logged without a speaker model (no hand speakers yet): why there is none.
NO_MODEL_TAG = "stance.no_speaker_model"


def import_mlflow() -> Any:
    """``mlflow``, imported with telemetry off and quiet logging (see stance.environment)."""
    configure()
    import mlflow

    return mlflow


def new_group_id() -> str:
    """An ID for the runs logged by one command or workflow run: UTC time plus a random part."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def safe_group(text: str) -> str:
    """A group ID usable inside an MLflow filter string."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "-", text)[:100]


def project_root(config_path: Path | str) -> Path:
    """The project folder: the parent of the folder holding config.yaml."""
    return Path(config_path).resolve().parent.parent


def resolve_tracking_uri(config: Mapping[str, Any], root: Path | str) -> str:
    """MLFLOW_TRACKING_URI, else config mlflow.tracking_uri, else sqlite:///<root>/mlflow.db."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    configured = env or (config.get("mlflow") or {}).get("tracking_uri")
    return str(configured) if configured else f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def read_run(uri: str, run_id: str) -> Any:
    """The MLflow run ``run_id``; a clear error when the store has none."""
    try:
        return retry_locked(tracking_client(uri).get_run, run_id)
    except Exception as exc:
        if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
            raise StanceError(f"no run {run_id!r} in {uri}; list runs with `stance runs`") from None
        raise store_error(uri, f"reading run {run_id}", exc) from None


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI; None for other stores (a server)."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def check_store_file(config: Mapping[str, Any], root: Path | str, checked_dir: Path) -> None:
    """Raise when the project's SQLite store exists but is damaged; the check reads the whole
    file, so it runs again only when the file's size or time stamp changed since it passed."""
    db = sqlite_path(resolve_tracking_uri(config, root))
    if db is None or not db.is_file():
        return

    def passed() -> bool:
        if (problem := sqlite_store_problem(db)) is not None:
            raise damaged_store_error(db, problem)
        return True

    stat = db.stat()
    seen = f"{db.resolve()} {stat.st_size} {stat.st_mtime_ns}"
    remembered(checked_dir / "store-checked.json", seen, passed)


def _is_locked(exc: BaseException) -> bool:
    return "database is locked" in str(exc).lower()


def _report_retry(state: tenacity.RetryCallState) -> None:
    delay = state.next_action.sleep if state.next_action else 0.0
    logger.info(f"tracking store busy (database is locked); retrying in {delay:.1f}s")


# SQLite takes one writer at a time: retry_locked(fn, *args) calls fn until the store is free.
retry_locked = tenacity.Retrying(
    retry=tenacity.retry_if_exception(_is_locked),
    wait=tenacity.wait_exponential(multiplier=0.2, exp_base=1.5, max=5.0),
    stop=tenacity.stop_after_attempt(40),
    before_sleep=_report_retry,
    reraise=True,
)


# One client per store file and process: each new client of a SQLite store runs MLflow's schema
# checks again, and the jobs of a workflow run share one process.
@functools.cache
def _client(uri: str, device: int, inode: int) -> Any:
    return import_mlflow().MlflowClient(tracking_uri=uri)


def tracking_client(uri: str) -> Any:
    """An ``MlflowClient`` of the store at uri (reused while the store file stays the same)."""
    db = sqlite_path(uri)
    try:
        st = db.stat() if db is not None else None
    except OSError:  # no store file yet: MLflow creates it; its client is cached next time
        return import_mlflow().MlflowClient(tracking_uri=uri)
    return _client(uri, st.st_dev if st else 0, st.st_ino if st else 0)


SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_store_problem(path: Path | str) -> str | None:
    """What is wrong with the SQLite file (header, quick check); None if whole, empty or absent."""
    path = Path(path)
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return None
        with open(path, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if header != SQLITE_HEADER:
        return "is not an SQLite database (it does not start with the SQLite header)"

    def quick_check() -> list[Any]:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            return db.execute("PRAGMA quick_check").fetchall()

    try:
        rows = retry_locked(quick_check)
    except sqlite3.DatabaseError as exc:
        if _is_locked(exc):
            return None  # busy, not damaged: MLflow waits for it
        return f"is damaged (SQLite: {exc})"
    if rows != [("ok",)]:
        return f"is damaged (SQLite integrity check: {rows[0][0] if rows else 'no answer'})"
    return None


def damaged_store_error(path: Path | str, problem: str) -> StanceError:
    """The error for a damaged SQLite store: the file, what is wrong, how to recover."""
    path = Path(path).resolve()
    return StanceError(
        f"MLflow store {path} {problem}. Move the file aside and log every model again into "
        f"a new store: `mv {path} {path}.broken`, then `snakemake --forcerun tracking_store` "
        f"(or `stance train` again); the runs in the old file are not carried over. Or restore "
        f"a backup of {path.name}"
    )


def local_artifact_path(artifact_uri: str) -> Path | None:
    """The local folder of a ``file:`` artifact URI (or a plain path); None for remote ones."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file":
        return Path(url2pathname(unquote(parsed.path)))
    return Path(artifact_uri) if parsed.scheme == "" and artifact_uri.startswith("/") else None


def moved_store_problem(uri: str, artifact_uri: str) -> str | None:
    """Why the artifacts recorded in a SQLite store (absolute paths) are not where it says, if
    the project was moved and they sit beside the store in ``mlartifacts``."""
    db = sqlite_path(uri)
    recorded = local_artifact_path(artifact_uri)
    if db is None or recorded is None or recorded.exists():
        return None
    here = db.resolve().parent / "mlartifacts"
    if not here.is_dir() or here in (recorded, *recorded.parents):
        return None
    old_root = next((p for p in (recorded, *recorded.parents) if p.name == "mlartifacts"), None)
    old_project = old_root.parent if old_root is not None else recorded.parent
    db = db.resolve()
    return (
        f"MLflow store {db}: its artifacts are recorded under {recorded}, which does not "
        f"exist, while {here} does: the project (or its store) was moved, and the store keeps "
        f"the absolute artifact paths of the place it was made in. Move the project back to "
        f"{old_project}, or link that path to the new place (`ln -s {here.parent} "
        f"{old_project}`), or start a new store here: `mv {db} {db}.moved`, then "
        "`snakemake --forcerun tracking_store` (logs every model again)"
    )


def store_error(uri: str, what: str, exc: Exception) -> StanceError:
    """The error for a failed store operation, with a recovery hint for a damaged SQLite file."""
    text = str(exc).splitlines()[0] if str(exc) else repr(exc)
    db = sqlite_path(uri)
    if db is not None:
        if (problem := sqlite_store_problem(db)) is not None:
            return damaged_store_error(db, problem)
        if "out-of-date database schema" in str(exc) or "Can't locate revision" in str(exc):
            return damaged_store_error(
                db,
                f"cannot be read by MLflow ({text}); the store's schema is not the one this "
                "MLflow version reads: if a newer MLflow wrote it, install that version here; if "
                "an older one did, back the file up and run `mlflow db upgrade <uri>`",
            )
    return StanceError(
        f"MLflow store {uri}: {what} failed: {text}; check that MLFLOW_TRACKING_URI / config "
        "mlflow.tracking_uri name the store you mean and that it is reachable"
    )


@contextlib.contextmanager
def store_errors(uri: str, what: str) -> Iterator[None]:
    """Raise a failure of the store operation ``what`` (not a StanceError) as its store_error."""
    try:
        yield
    except StanceError:
        raise
    except Exception as exc:
        raise store_error(uri, what, exc) from None


def init_store(uri: str, experiment: str) -> str:
    """Create the store and the experiment if missing; return the experiment ID. Run it once
    before parallel jobs log: a new SQLite store's set-up breaks when several make it at once."""
    db = sqlite_path(uri)
    if db is not None and (problem := sqlite_store_problem(db)) is not None:
        raise damaged_store_error(db, problem)
    try:
        client = tracking_client(uri)
        found = retry_locked(client.get_experiment_by_name, experiment)
        if found is None:
            # Beside a SQLite store: <store folder>/mlartifacts (not ./mlruns, which MLflow would
            # take for an old file store). Other stores (a server) choose their own.
            location = (db.resolve().parent / "mlartifacts").as_uri() if db is not None else None
            return retry_locked(client.create_experiment, experiment, location)
    except Exception as exc:
        if "already exists" in str(exc):
            return tracking_client(uri).get_experiment_by_name(experiment).experiment_id
        raise store_error(uri, "opening the store", exc) from None
    if found.lifecycle_stage != "active":
        raise StanceError(
            f"experiment {experiment!r} in {uri} is deleted; restore it in the MLflow "
            "UI or choose another name in config mlflow.experiment"
        )
    if (moved := moved_store_problem(uri, found.artifact_location or "")) is not None:
        raise StanceError(moved)
    return found.experiment_id


def find_experiment_id(uri: str, experiment: str) -> str:
    """The ID of an experiment that is logged already (never creates a store or experiment)."""
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        # Opening a missing SQLite store would create an empty one: say what to do instead.
        raise StanceError(
            f"no MLflow store at {uri} yet: nothing has been logged; run `snakemake` or "
            "`stance train` first (or set MLFLOW_TRACKING_URI / config mlflow.tracking_uri)"
        )
    with store_errors(uri, "reading the store"):
        found = retry_locked(tracking_client(uri).get_experiment_by_name, experiment)
    if found is None:
        raise StanceError(
            f"no experiment {experiment!r} in {uri}: nothing has been logged yet; run "
            "`snakemake` or `stance train` first"
        )
    return found.experiment_id
