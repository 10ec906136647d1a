"""A logged model: the types and requirements logged with it, checked loading, run markers."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.tracking.store import MODEL_ARTIFACT, import_mlflow, store_error


def skops_trusted_types(model: Any, what: str = "the model to log") -> list[str]:
    """The types to log with ``model`` (skops_trusted_types); an error when it holds a type
    outside the allowlist (stance.training.model_files.ALLOWED_CLASSES)."""
    from stance.training.model_files import trusted_types

    return trusted_types(model, what)


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model (given explicitly: inferring them is slow)."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("scikit-learn", "numpy", "scipy", "skops")]


def load_logged_model(uri: str, run_id: str) -> Any:
    """The scikit-learn pipeline logged in run ``run_id``.

    The skops file is loaded only when every type it names is in the project's allowlist of
    classes (stance.training.model_files.ALLOWED_CLASSES, from this code, not from the run), so
    a model logged by someone else cannot run code here; any other model is refused.
    """
    mlflow = import_mlflow()
    import yaml

    from stance.training.model_files import UntrustedModelError, loads_checked

    what = f"run {run_id} in {uri}"
    remedy = "pick a run logged by this project with --run-id (list them with `stance runs`)"
    mlflow.set_tracking_uri(uri)
    with tempfile.TemporaryDirectory(prefix="stance-model-") as tmp:
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"runs:/{run_id}/{MODEL_ARTIFACT}", dst_path=tmp
                )
            )
        except Exception as exc:
            raise store_error(uri, f"downloading the model of run {run_id}", exc) from None
        try:
            meta = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise StanceError(
                f"{what}: the logged model has no readable MLmodel file ({exc}); {remedy}"
            ) from None
        flavor = ((meta or {}).get("flavors") or {}).get("sklearn") or {}
        if flavor.get("serialization_format") != "skops":
            raise UntrustedModelError(
                f"{what}: the model is not in skops format; it was not loaded (only models "
                f"logged by this project are loaded); {remedy}"
            )
        path = (local / str(flavor.get("pickled_model", ""))).resolve()
        if not path.is_file() or not path.is_relative_to(local.resolve()):
            raise UntrustedModelError(
                f"{what}: the MLmodel file names no model file inside the logged model; it "
                f"was not loaded; {remedy}"
            )
        return loads_checked(path.read_bytes(), what, remedy)


def read_marker(path: Path | str) -> dict[str, Any]:
    """A run marker written by `stance log-run` (results/models/<name>/mlflow_run.json)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StanceError(f"{path}: not found; run `stance log-run` for this model") from None
