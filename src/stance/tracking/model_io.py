"""Logged models: checking their files and loading one back safely (trusted types only)."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.tracking.store import (
    MODEL_ARTIFACT,
    import_mlflow,
    local_artifact_path,
    moved_store_problem,
    read_run,
    retry_locked,
    tracking_client,
)


def model_location(client: Any, run: Any) -> str:
    """The artifact URI of the model logged in ``run`` (MLflow 3 keeps it as a logged model)."""
    for output in getattr(getattr(run, "outputs", None), "model_outputs", None) or []:
        try:
            logged = retry_locked(client.get_logged_model, output.model_id)
        except Exception:
            continue
        if logged.name == MODEL_ARTIFACT and logged.artifact_location:
            return str(logged.artifact_location)
    return f"{run.info.artifact_uri}/{MODEL_ARTIFACT}"


def _model_files(folder: Path, shown: str = "") -> tuple[str, Path]:
    """The serialisation format and model file named by ``folder``/MLmodel, or a ValueError
    saying what is missing or unreadable; only a skops file is looked at."""
    import yaml

    shown = shown or str(folder)
    if not (folder / "MLmodel").is_file():
        raise ValueError(f"its model files are missing: no MLmodel in {shown}")
    try:
        meta = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("MLmodel is not a YAML mapping")
        flavor = (meta.get("flavors") or {}).get("sklearn") or {}
        if "pickled_model" not in flavor:
            raise ValueError("MLmodel names no scikit-learn model file")
        path = folder / str(flavor["pickled_model"])
        if not path.resolve().is_relative_to(folder.resolve()):
            raise ValueError(f"MLmodel names a model file outside the logged model: {path}")
    except Exception as exc:
        raise ValueError(f"{shown}/MLmodel is unreadable ({type(exc).__name__}: {exc})") from None
    fmt = str(flavor.get("serialization_format", ""))
    if fmt == "skops" and not path.is_file():
        raise ValueError(f"its model file {shown}/{path.name} is missing")
    if fmt == "skops" and not zipfile.is_zipfile(path):
        raise ValueError(
            f"its model file {shown}/{path.name} is unreadable (BadZipFile: not a complete skops "
            "file)"
        )
    return fmt, path


def local_model_problem(client: Any, run: Any) -> str | None:
    """What is wrong with the model files of ``run`` if they are local; None if they look whole."""
    if (folder := local_artifact_path(model_location(client, run))) is None:
        return None
    try:
        fmt, _ = _model_files(folder)
    except ValueError as exc:
        return str(exc)
    return None if fmt == "skops" else "the model is not in skops format"


def load_logged_model(uri: str, run_id: str) -> Any:
    """The scikit-learn pipeline logged in run ``run_id``, loaded only when every type it names
    is in the project's allowlist (so a model logged by someone else cannot run code here)."""
    mlflow = import_mlflow()

    from stance.training.model_files import UntrustedModelError, loads_checked

    remedy = "pick a run logged by this project with --run-id (list them with `stance runs`)"
    mlflow.set_tracking_uri(uri)
    run = read_run(uri, run_id)
    location = model_location(tracking_client(uri), run)
    shown = str(local_artifact_path(location) or location)
    label = f"run {run_id} (model {run.data.tags.get('model', run.info.run_name)!r})"

    def broken(what: str) -> StanceError:
        hint = moved_store_problem(uri, location) or (
            "The files were deleted, truncated or moved; log the model again with "
            "`snakemake --forcerun models` (or `stance train`), or choose another run with "
            "--run-id (see `stance runs`)"
        )
        return StanceError(f"{label}: {what}. {hint}")

    artifact = f"runs:/{run_id}/{MODEL_ARTIFACT}"
    with tempfile.TemporaryDirectory(prefix="stance-model-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=artifact, dst_path=tmp))
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else repr(exc)
            raise broken(f"its model cannot be read from {shown} ({first})") from None
        try:
            fmt, path = _model_files(local, shown)
        except ValueError as exc:
            raise broken(str(exc)) from None
        if fmt != "skops":
            raise UntrustedModelError(
                f"{label}: the model is not in skops format; it was not loaded (only models "
                f"logged by this project are loaded); {remedy}"
            )
        return loads_checked(path.read_bytes(), label, remedy)
