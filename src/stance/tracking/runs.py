"""Logging model and speaker runs with provenance (reusing identical ones); closing crashed runs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import socket
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stance.environment import caught_warnings
from stance.labels.agreement import agreement_for_run
from stance.tracking.model_io import local_model_problem
from stance.tracking.store import (
    GROUP_TAG,
    MODEL_ARTIFACT,
    NO_MODEL_TAG,
    ROLE_TAG,
    SPEAKER_ROLE,
    WORKFLOW_RUN_ENV,
    import_mlflow,
    init_store,
    new_group_id,
    retry_locked,
    safe_group,
    store_errors,
    tracking_client,
)

# Set on a run left RUNNING by a killed process when a later workflow run marks it FAILED.
ABANDONED_TAG = "stance.abandoned"
# SHA-256 of a model's whole result (metrics.json: model, params, settings, data, metrics): two
# runs with the same value hold the same result, whatever else changed in the config.
RESULT_TAG = "stance.result_sha256"
# The host and process ID that logged a run (a RUNNING run of a live process is not abandoned).
OWNER_HOST_TAG = "stance.host"
OWNER_PID_TAG = "stance.pid"
NOTE_TAG = "mlflow.note.content"


def git_state(root: Path | str) -> tuple[str, str]:
    """(commit of root's repository, 'true'/'false': tracked files differ), '' outside one.
    GIT_OPTIONAL_LOCKS=0 (stance.environment) keeps the user's own git commands unblocked."""
    try:
        import git

        repo = git.Repo(Path(root), search_parent_directories=True)
        commit = repo.head.commit.hexsha
        dirty = repo.is_dirty(index=True, working_tree=True, untracked_files=False)
    except Exception:  # not a repository, no commit yet, no git executable, unreadable .git
        return "", ""
    return commit, "true" if dirty else "false"


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the configuration (canonical JSON), first 16 hex digits."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def run_tags(
    role: str,
    model: str,
    group: str | None,
    config: Mapping[str, Any] | None,
    root: Path | str,
    labels_sha256: str,
    note: str,
) -> dict[str, str]:
    """Every run's tags: role, group (default: the workflow run's, else new), model, code, note."""
    commit, dirty = git_state(root)
    return {
        ROLE_TAG: role,
        GROUP_TAG: safe_group(group or os.environ.get(WORKFLOW_RUN_ENV) or new_group_id()),
        "model": model,
        "git_commit": commit,
        "git_dirty": dirty,
        "config_hash": config_hash(config or {}),
        "labels_sha256": labels_sha256,
        NOTE_TAG: note,
    }


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
        "f_avg_classes": ",".join(settings["f_avg_classes"]),
        "n_sentences": text(data["n_sentences"]),
        "n_articles": text(data["n_articles"]),
        "data_source": data["source"],
    }
    # The two caps are absent from results made before they existed (no cap then: null).
    caps = ("learning_curve_max_train", "stratified_max_sentences")
    for key in ("seed", "n_bootstrap", "ci_level", "learning_curve", *caps):
        params[key] = text(settings.get(key))
    if data.get("test_source"):
        params["test_source"] = data["test_source"]
        params["n_test_sentences"] = text(data["n_test_sentences"])
    return params | {f"hp.{key}": text(value) for key, value in sorted(summary["params"].items())}


def group_parent(client: Any, experiment_id: str, group: str, label: str) -> str:
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
            NOTE_TAG: f"Models evaluated by one {label} ({group}); "
            "the child runs hold the results.",
        },
    )
    retry_locked(client.set_terminated, run.info.run_id)
    return run.info.run_id


def log_model_and_metrics(
    mlflow: Any,
    model: Any,
    example: Any,
    trusted: list[str],
    metrics: Mapping[str, float],
    metadata: dict[str, Any] | None = None,
) -> None:
    """Log ``model`` in the active run (skops, trusting only ``trusted``), then the run's
    metrics linked to it: logged before the model, MLflow would copy them one query each."""
    from importlib.metadata import version

    from mlflow.models import infer_signature

    # Pinned explicitly: inferring the requirements is slow.
    pinned = [f"{p}=={version(p)}" for p in ("scikit-learn", "numpy", "scipy", "skops")]
    logged = retry_locked(
        mlflow.sklearn.log_model,
        model,
        name=MODEL_ARTIFACT,
        signature=infer_signature(example, model.predict(example)),
        input_example=example.head(3),
        pip_requirements=pinned,
        serialization_format="skops",
        skops_trusted_types=trusted,
        metadata=metadata,
    )
    retry_locked(mlflow.log_metrics, dict(metrics), model_id=logged.model_id)


def _dataset_input(mlflow: Any, data: Any, name: str) -> Any:
    if data.dataset is None:
        return None
    with caught_warnings():
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
    """Log one evaluated model as a run under the parent run of ``group``; returns its IDs. With
    ``reuse_identical``, a finished run with the same result (RESULT_TAG) is returned instead."""
    mlflow = import_mlflow()
    from stance.training.model_files import PROJECT_TYPES, trusted_types

    # Before the store or the model is used: only models of the project's own types are logged.
    trusted = trusted_types(model, f"model {summary['model']!r}")
    experiment_id = init_store(uri, experiment)
    client = tracking_client(uri)
    mlflow.set_tracking_uri(uri)

    x = data.frame[summary["features"]].head(5).reset_index(drop=True)
    metadata = {"classes": list(summary["classes"]), "features": list(summary["features"])}
    custom = [t for t in trusted if t in PROJECT_TYPES]
    if custom:
        # Not a pip package: the loading environment needs this project installed.
        metadata["requires_project_types"] = custom
    train_input = _dataset_input(mlflow, data, "labeled_sentences")
    test_input = _dataset_input(mlflow, test, "test_sentences") if test is not None else None
    labels_sha256, note = summary["data"]["sha256"], summary.get("description", "")
    digest = train_input.digest if train_input is not None else labels_sha256[:8]
    tags = run_tags("model", summary["model"], group, config, root, labels_sha256, note)
    group = tags[GROUP_TAG]
    tags |= {
        "kind": summary["kind"],
        "source": source,
        "dataset_digest": digest,
        RESULT_TAG: hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest(),
    }
    agreement_metrics: dict[str, float] = {}
    if agreement is not None:
        agreement_tags, agreement_metrics = agreement_for_run(agreement)
        tags.update(agreement_tags)
        artifacts = [*artifacts, agreement]
    params = _flat_params(summary)
    metrics = {k: float(v) for k, v in summary["metrics"].items()} | agreement_metrics
    info = {"experiment_id": experiment_id, "experiment": experiment, "tracking_uri": uri}
    if reuse_identical and (same := _identical_run(client, experiment_id, tags, params, metrics)):
        return info | {
            "run_id": same.info.run_id,
            "group": same.data.tags.get(GROUP_TAG, group),
            "parent_run_id": same.data.tags.get("mlflow.parentRunId", ""),
            "reused": True,
        }
    with store_errors(uri, f"logging model {summary['model']!r}"):
        parent = group_parent(client, experiment_id, group, group_label)
        run_id = retry_locked(
            mlflow.start_run,
            experiment_id=experiment_id,
            run_name=summary["model"],
            parent_run_id=parent,
            # The host and process logging it: a RUNNING run whose process is gone was abandoned.
            tags={**tags, OWNER_HOST_TAG: socket.gethostname(), OWNER_PID_TAG: str(os.getpid())},
        ).info.run_id
        # RUNNING until everything is logged, then FINISHED; an error marks it FAILED, a killed
        # process leaves it RUNNING until close_abandoned_runs marks it FAILED.
        try:
            retry_locked(mlflow.log_params, params)
            with caught_warnings():
                warnings.simplefilter("ignore", UserWarning)  # integer columns hint, see above
                for dataset, context in ((train_input, "training"), (test_input, "evaluation")):
                    if dataset is not None:
                        retry_locked(mlflow.log_input, dataset, context=context)
            for path in artifacts:
                retry_locked(mlflow.log_artifact, str(path))
            log_model_and_metrics(mlflow, model, x, trusted, metrics, metadata)
            _finish(mlflow, client, run_id, note)
        except BaseException:
            _end(mlflow, client, run_id, "FAILED")
            raise
    return info | {"run_id": run_id, "group": group, "parent_run_id": parent, "reused": False}


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
    """Log the speaker stage as a run, with its model or (``model`` None) why there is none."""
    mlflow = import_mlflow()
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
    with store_errors(uri, "logging the speaker stage"):
        run = retry_locked(
            mlflow.start_run, experiment_id=experiment_id, run_name="speakers", tags=tags
        )
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
                log_model_and_metrics(mlflow, model, example, trusted, scores)
        mlflow.end_run("FINISHED")
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    return {"run_id": run.info.run_id, "tracking_uri": uri, "experiment": experiment}


def _owner_alive(tags: Mapping[str, str]) -> bool:
    """Whether the process that started a run is known to be still running (same host only)."""
    pid = tags.get(OWNER_PID_TAG, "")
    if tags.get(OWNER_HOST_TAG) != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except PermissionError:
        return True  # another user's process
    except OSError:  # ProcessLookupError among them: no such process
        return False
    return True


def _end(mlflow: Any, client: Any, run_id: str, status: str) -> None:
    """Mark the run ``status`` and close it as MLflow's active run (best effort on failure)."""
    try:
        retry_locked(client.set_terminated, run_id, status)
    except Exception:
        if status == "FINISHED":
            raise
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        with contextlib.suppress(Exception):
            mlflow.end_run(status)


def _finish(mlflow: Any, client: Any, run_id: str, note: str) -> None:
    """Mark a fully logged run FINISHED; undo an abandoned mark set while it was still logging."""
    if ABANDONED_TAG in retry_locked(client.get_run, run_id).data.tags:
        retry_locked(client.delete_tag, run_id, ABANDONED_TAG)
        retry_locked(client.set_tag, run_id, NOTE_TAG, note)
    _end(mlflow, client, run_id, "FINISHED")


def close_abandoned_runs(uri: str, experiment_id: str) -> list[Any]:
    """Mark FAILED, with a note, and return the runs left RUNNING by a process that is gone (the
    workflow's lock is held: a RUNNING run is a crashed one, or a live `stance train`'s)."""
    client = tracking_client(uri)
    with store_errors(uri, "searching unfinished runs"):
        running = retry_locked(
            client.search_runs,
            [experiment_id],
            filter_string="attributes.status = 'RUNNING'",
            max_results=1000,
        )
    closed = []
    for run in running:
        tags = run.data.tags
        if ROLE_TAG not in tags or _owner_alive(tags):
            continue
        started = datetime.fromtimestamp(run.info.start_time / 1000, UTC)
        note = (
            f"Marked FAILED on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: logging started "
            f"{started:%Y-%m-%d %H:%M} UTC never finished (the process was killed or crashed), "
            "so this run may lack metrics, artifacts or its model. The workflow logs the "
            "model again in a new run."
        )
        noted = "\n\n".join(filter(None, (note, tags.get(NOTE_TAG))))  # above an earlier note
        with store_errors(uri, f"marking abandoned run {run.info.run_id} FAILED"):
            retry_locked(client.set_tag, run.info.run_id, ABANDONED_TAG, note)
            retry_locked(client.set_tag, run.info.run_id, NOTE_TAG, noted)
            retry_locked(client.set_terminated, run.info.run_id, "FAILED")
        closed.append(run)
    return closed


def _identical_run(
    client: Any,
    experiment_id: str,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    metrics: Mapping[str, float],
) -> Any | None:
    """A finished model run with the same result, params and metrics (not commit or config
    hash: an unrelated change reproduces the same result), if any."""
    # The model names (config schema) and digests (hex) hold no quote that could break the filter.
    keys = ("model", "labels_sha256", RESULT_TAG)
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
