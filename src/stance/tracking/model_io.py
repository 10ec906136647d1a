"""Loading a logged model safely."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.tracking.store import MODEL_ARTIFACT, TRUSTED_PREFIXES, import_mlflow, store_error


def skops_trusted_types(model: Any) -> list[str]:
    import skops.io

    from stance.training.models import CUSTOM_TYPES

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in CUSTOM_TYPES]
    if foreign:
        raise StanceError(f"the model contains types outside the project: {', '.join(foreign)}")
    return sorted(untrusted)


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model (given explicitly: inferring them is slow)."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("scikit-learn", "numpy", "scipy", "skops")]


def load_logged_model(uri: str, run_id: str) -> Any:
    """The scikit-learn pipeline logged in run ``run_id``.

    The skops file is loaded trusting only scikit-learn, numpy, scipy and the project's own
    types (the list comes from this code, not from the model), so no other code can run.
    """
    mlflow = import_mlflow()
    import skops.io
    import yaml

    from stance.training.models import CUSTOM_TYPES

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
        meta = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))
        flavor = (meta.get("flavors") or {}).get("sklearn") or {}
        if flavor.get("serialization_format") != "skops":
            raise StanceError(
                f"run {run_id}: the model is not in skops format; only models logged by this "
                "project are loaded"
            )
        path = local / flavor["pickled_model"]
        untrusted = skops.io.get_untrusted_types(file=path)
        foreign = [
            t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in CUSTOM_TYPES
        ]
        if foreign:
            raise StanceError(
                f"run {run_id}: the model holds types this project does not trust: "
                f"{', '.join(foreign)}; not loading it"
            )
        return skops.io.load(path, trusted=untrusted)


def read_marker(path: Path | str) -> dict[str, Any]:
    """A run marker written by `stance log-run` (results/models/<name>/mlflow_run.json)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StanceError(f"{path}: not found; run `stance log-run` for this model") from None
