"""Logging one evaluated model as an MLflow run, or reusing an identical one."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.labels.agreement import agreement_for_run
from stance.tracking.model_io import local_model_problem, pip_requirements, skops_trusted_types
from stance.tracking.provenance import config_hash, git_commit, git_dirty, new_group_id, safe_group
from stance.tracking.store import (
    GROUP_TAG,
    MODEL_ARTIFACT,
    ROLE_TAG,
    WORKFLOW_RUN_ENV,
    import_mlflow,
    init_store,
    retry_locked,
    store_error,
    tracking_client,
)


def _flat_params(summary: Mapping[str, Any]) -> dict[str, str]:
    def text(v: Any) -> str:
        return v if isinstance(v, str) else json.dumps(v)

    cv, data, settings = summary["cv"], summary["data"], summary["settings"]
    params = {
        "model": summary["model"],
        "kind": summary["kind"],
        "features": ",".join(summary["features"]),
        "classes": ",".join(summary["classes"]),
        "cv_scheme": cv["scheme"],
        "cv_folds": text(cv["n_folds"]),
        "stratified_folds": text(cv["stratified_n_folds"]),
        "seed": text(settings["seed"]),
        "n_bootstrap": text(settings["n_bootstrap"]),
        "ci_level": text(settings["ci_level"]),
        "f_avg_classes": ",".join(settings["f_avg_classes"]),
        "learning_curve": text(settings["learning_curve"]),
        "n_sentences": text(data["n_sentences"]),
        "n_articles": text(data["n_articles"]),
        "data_source": data["source"],
    }
    if data.get("test_source"):
        params["test_source"] = data["test_source"]
        params["n_test_sentences"] = text(data["n_test_sentences"])
    for key, value in sorted(summary["params"].items()):
        params[f"hp.{key}"] = text(value)
    return params


def _group_parent(client: Any, experiment_id: str, group: str, label: str) -> str:
    """The parent run of a group of runs, created on first use (callers are serialised)."""
    found = retry_locked(
        client.search_runs,
        [experiment_id],
        filter_string=f"tags.`{GROUP_TAG}` = '{group}' and tags.`{ROLE_TAG}` = 'group'",
        max_results=1,
    )
    if found:
        return found[0].info.run_id
    run = retry_locked(
        client.create_run,
        experiment_id,
        run_name=f"{label} {group}",
        tags={
            GROUP_TAG: group,
            ROLE_TAG: "group",
            "mlflow.note.content": f"Models evaluated by one {label} ({group}); "
            "the child runs hold the results.",
        },
    )
    retry_locked(client.set_terminated, run.info.run_id)
    return run.info.run_id


def _dataset_input(mlflow: Any, data: Any, name: str) -> Any:
    if data.dataset is None:
        return None
    with warnings.catch_warnings():
        # "can be interpreted in multiple ways" (a local path) and the hint that integer
        # columns cannot hold missing values: both harmless here.
        warnings.simplefilter("ignore", UserWarning)
        return mlflow.data.from_huggingface(
            data.dataset, source=str(data.source), name=name, targets="stance"
        )


def log_evaluation_run(
    uri: str,
    experiment: str,
    summary: Mapping[str, Any],
    model: Any,
    artifacts: Sequence[Path | str],
    data: Any,
    *,
    test: Any = None,
    config: Mapping[str, Any] | None = None,
    root: Path | str = ".",
    group: str | None = None,
    group_label: str = "workflow run",
    source: str = "snakemake",
    agreement: Path | str | None = None,
    reuse_identical: bool = False,
) -> dict[str, str]:
    """Log one evaluated model as a run: params, metrics, data set input, tags, artifacts, model.

    ``data`` (and ``test``) are evaluation.LabeledData; their ``datasets.Dataset`` becomes the
    run's MLflow dataset input, whose digest identifies the label version. Runs sharing
    ``group`` hang under one parent run. ``agreement`` (results/agreement.json of the label
    stage) adds the inter-annotator agreement of this label version as metrics, tags and an
    artifact. With ``reuse_identical``, a run of the same model with the same labels, config,
    commit, params and metrics already in the store is returned instead of logging a duplicate
    (the workflow re-trains after a change that leaves the labeled data as it was, such as a new
    unlabeled article). Returns run_id, experiment_id, tracking_uri, group, reused.
    """
    mlflow = import_mlflow()
    from mlflow.models import infer_signature

    group = safe_group(group or os.environ.get(WORKFLOW_RUN_ENV) or new_group_id())
    experiment_id = init_store(uri, experiment)
    client = tracking_client(uri)
    mlflow.set_tracking_uri(uri)
    root = Path(root)

    x = data.frame[summary["features"]].head(5).reset_index(drop=True)
    signature = infer_signature(x, model.predict(x))
    trusted = skops_trusted_types(model)
    from stance.training.models import CUSTOM_TYPES

    metadata = {"classes": list(summary["classes"]), "features": list(summary["features"])}
    custom = [t for t in trusted if t in CUSTOM_TYPES]
    if custom:
        # Not a pip package: the loading environment needs this project installed.
        metadata["requires_project_types"] = custom
    train_input = _dataset_input(mlflow, data, "labeled_sentences")
    test_input = _dataset_input(mlflow, test, "test_sentences") if test is not None else None
    digest = train_input.digest if train_input is not None else summary["data"]["sha256"][:8]
    tags = {
        ROLE_TAG: "model",
        GROUP_TAG: group,
        "model": summary["model"],
        "kind": summary["kind"],
        "source": source,
        "git_commit": git_commit(root),
        "git_dirty": git_dirty(root),
        "config_hash": config_hash(config or {}),
        "dataset_digest": digest,
        "labels_sha256": summary["data"]["sha256"],
        "mlflow.note.content": summary.get("description", ""),
    }
    agreement_metrics: dict[str, float] = {}
    if agreement is not None:
        agreement_tags, agreement_metrics = agreement_for_run(agreement)
        tags.update(agreement_tags)
        artifacts = [*artifacts, agreement]
    params = _flat_params(summary)
    metrics = {k: float(v) for k, v in summary["metrics"].items()} | agreement_metrics
    if reuse_identical:
        same = _identical_run(client, experiment_id, tags, params, metrics)
        if same is not None:
            return {
                "run_id": same.info.run_id,
                "experiment_id": experiment_id,
                "experiment": experiment,
                "tracking_uri": uri,
                "group": same.data.tags.get(GROUP_TAG, group),
                "parent_run_id": same.data.tags.get("mlflow.parentRunId", ""),
                "reused": True,
            }
    try:
        parent = _group_parent(client, experiment_id, group, group_label)
        run = retry_locked(
            mlflow.start_run,
            experiment_id=experiment_id,
            run_name=summary["model"],
            parent_run_id=parent,
            tags=tags,
        )
        with run:
            retry_locked(mlflow.log_params, params)
            retry_locked(mlflow.log_metrics, metrics)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # integer columns hint, see above
                if train_input is not None:
                    retry_locked(mlflow.log_input, train_input, context="training")
                if test_input is not None:
                    retry_locked(mlflow.log_input, test_input, context="evaluation")
            for path in artifacts:
                retry_locked(mlflow.log_artifact, str(path))
            retry_locked(
                mlflow.sklearn.log_model,
                model,
                name=MODEL_ARTIFACT,
                signature=signature,
                input_example=x.head(3),
                pip_requirements=pip_requirements(),
                serialization_format="skops",
                skops_trusted_types=trusted,
                metadata=metadata,
            )
            run_id = run.info.run_id
    except StanceError:
        raise
    except Exception as exc:
        raise store_error(uri, f"logging model {summary['model']!r}", exc) from None
    return {
        "run_id": run_id,
        "experiment_id": experiment_id,
        "experiment": experiment,
        "tracking_uri": uri,
        "group": group,
        "parent_run_id": parent,
        "reused": False,
    }


def _identical_run(
    client: Any,
    experiment_id: str,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    metrics: Mapping[str, float],
) -> Any | None:
    """A finished model run with the same identity tags, params and metrics, if any."""
    keys = ("model", "labels_sha256", "config_hash", "git_commit", "git_dirty")
    if any("'" in str(tags[k]) for k in keys):
        return None
    filter_string = " and ".join(
        [f"tags.`{ROLE_TAG}` = 'model'", "attributes.status = 'FINISHED'"]
        + [f"tags.`{k}` = '{tags[k]}'" for k in keys]
    )
    runs = retry_locked(client.search_runs, [experiment_id], filter_string=filter_string,
                  order_by=["attributes.start_time DESC"], max_results=50)  # fmt: skip
    for run in runs:
        if dict(run.data.params) != dict(params) or set(run.data.metrics) != set(metrics):
            continue
        same = all(math.isclose(run.data.metrics[k], v, rel_tol=1e-12, abs_tol=1e-12)
                   for k, v in metrics.items())  # fmt: skip
        # A run whose model files were deleted or damaged is not reused: the model is logged anew.
        if same and local_model_problem(client, run) is None:
            return run
    return None
