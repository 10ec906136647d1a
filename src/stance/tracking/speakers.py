"""Logging the speaker stage as an MLflow run, and finding the latest one for predictions."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stance.environment import caught_warnings
from stance.errors import StanceError
from stance.tracking.model_io import log_model_and_metrics
from stance.tracking.runs import run_tags
from stance.tracking.store import (
    ROLE_TAG,
    find_experiment_id,
    import_mlflow,
    init_store,
    retry_locked,
    store_error,
    tracking_client,
)

# Speaker runs are not stance model runs: `stance runs` and the stance run selection skip them.
SPEAKER_ROLE = "speakers"
# On a speaker run logged without a speaker model (no hand speakers yet): why there is none.
NO_MODEL_TAG = "stance.no_speaker_model"


def log_speaker_run(
    uri: str,
    experiment: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    model: Any,
    example: Any,
    artifacts: Sequence[Path | str],
    *,
    config: Mapping[str, Any] | None = None,
    root: Path | str = ".",
    labels_sha256: str = "",
    no_model: str = "",
) -> dict[str, str]:
    """Log the speaker stage: params, metrics (out of fold), artifacts and the speaker model
    (skops, with the project's trusted types, as the stance models), or, with ``model`` None,
    ``no_model`` (why there is none) as a tag. Returns run_id and uri."""
    mlflow = import_mlflow()
    from mlflow.models import infer_signature

    from stance.training.model_files import trusted_types

    trusted = trusted_types(model, "the speaker model") if model is not None else []
    experiment_id = init_store(uri, experiment)
    mlflow.set_tracking_uri(uri)
    note = (
        "Speaker attribution: rules, name mapping and speaker model; metrics are out of fold, "
        "grouped by article (guarded_*: with the leak guard)."
    )
    tags = run_tags(SPEAKER_ROLE, "speakers", None, config, root, labels_sha256, note)
    if model is None:
        tags[NO_MODEL_TAG] = no_model or "no speaker model"
    try:
        run = retry_locked(
            mlflow.start_run, experiment_id=experiment_id, run_name="speakers", tags=tags
        )
    except Exception as exc:
        raise store_error(uri, "logging the speaker stage", exc) from None
    try:
        retry_locked(mlflow.log_params, {k: str(v) for k, v in params.items()})
        for path in artifacts:
            retry_locked(mlflow.log_artifact, str(path))
        scores = {k: float(v) for k, v in metrics.items()}
        if model is None:
            retry_locked(mlflow.log_metrics, scores)
        else:
            with caught_warnings():
                warnings.simplefilter("ignore", UserWarning)
                signature = infer_signature(example, model.predict(example))
                log_model_and_metrics(mlflow, model, signature, example, trusted, scores)
        mlflow.end_run("FINISHED")
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    return {"run_id": run.info.run_id, "tracking_uri": uri, "experiment": experiment}


def latest_speaker_run(uri: str, experiment: str) -> tuple[str, str] | None:
    """The run ID of the newest FINISHED speaker run and, if it logged no speaker model, why
    (else ""); None without such a run."""
    try:
        experiment_id = find_experiment_id(uri, experiment)
    except StanceError:  # no store or experiment yet: nothing logged
        return None
    client = tracking_client(uri)
    runs = retry_locked(
        client.search_runs,
        [experiment_id],
        filter_string=f"tags.`{ROLE_TAG}` = '{SPEAKER_ROLE}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None
    return runs[0].info.run_id, runs[0].data.tags.get(NO_MODEL_TAG, "")
