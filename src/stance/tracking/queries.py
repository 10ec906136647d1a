"""Reading runs back: searching, the runs table, the run to predict with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from stance.errors import StanceError
from stance.tracking.store import ROLE_TAG, find_experiment_id, retry_locked, tracking_client


def _model_filter(model: str | None, extra: str | None, finished_only: bool = True) -> str:
    parts = [f"tags.`{ROLE_TAG}` = 'model'"]
    if finished_only:
        parts.append("attributes.status = 'FINISHED'")
    if model:
        if "'" in model:
            raise StanceError(f"model name {model!r} may not contain a quote")
        parts.append(f"tags.model = '{model}'")
    if extra:
        parts.append(f"({extra})" if " or " in extra.lower() else extra)
    return " and ".join(parts)


def search_model_runs(
    uri: str,
    experiment: str,
    *,
    model: str | None = None,
    filter_string: str | None = None,
    max_results: int = 1000,
    finished_only: bool = True,
) -> list[Any]:
    """Model runs of the experiment, newest first (MLflow Run objects).

    Only FINISHED runs (everything logged) unless ``finished_only`` is false: a RUNNING run may
    be one a killed process left half-logged, a FAILED one never got its model.
    """
    experiment_id = find_experiment_id(uri, experiment, create=False)
    client = tracking_client(uri)
    try:
        return retry_locked(
            client.search_runs,
            [experiment_id],
            filter_string=_model_filter(model, filter_string, finished_only),
            order_by=["attributes.start_time DESC"],
            max_results=max_results,
        )
    except Exception as exc:
        raise StanceError(
            f"cannot search runs with filter {filter_string!r}: {str(exc).splitlines()[0]}; "
            'use MLflow\'s syntax, e.g. "metrics.f_avg > 0.5" or "params.kind = \'tfidf_word\'"'
        ) from None


def _digest_of(run: Any) -> str:
    inputs = getattr(run, "inputs", None)
    for di in getattr(inputs, "dataset_inputs", None) or []:
        if any(t.key == "mlflow.data.context" and t.value == "training" for t in di.tags):
            return di.dataset.digest
    return run.data.tags.get("dataset_digest", "")


def runs_table(
    uri: str,
    experiment: str,
    *,
    model: str | None = None,
    filter_string: str | None = None,
    limit: int = 50,
    include_unfinished: bool = False,
) -> pd.DataFrame:
    """Logged model runs, newest first: model, status, data digest, f_avg and macro_f1 with CIs,
    ...; only FINISHED runs unless ``include_unfinished`` (RUNNING, FAILED, KILLED ones too)."""
    runs = search_model_runs(
        uri,
        experiment,
        model=model,
        filter_string=filter_string,
        max_results=limit,
        finished_only=not include_unfinished,
    )
    rows = []
    for run in runs:
        m, tags = run.data.metrics, run.data.tags

        def ci(name: str, m: dict = m) -> str:
            if name not in m:
                return ""
            return (
                f"{m[name]:.3f} [{m.get(name + '_ci_low', float('nan')):.3f}, "
                f"{m.get(name + '_ci_high', float('nan')):.3f}]"
            )

        commit = tags.get("git_commit", "")[:10]
        if commit and tags.get("git_dirty") == "true":
            commit += "+dirty"
        started = datetime.fromtimestamp(run.info.start_time / 1000).astimezone()
        rows.append(
            {
                "run_id": run.info.run_id,
                "model": tags.get("model", run.info.run_name),
                "status": run.info.status,
                "data": _digest_of(run),
                "cv": run.data.params.get("cv_scheme", ""),
                "f_avg [95% CI]": ci("f_avg"),
                "macro_f1 [95% CI]": ci("macro_f1"),
                "date": started.strftime("%Y-%m-%d %H:%M"),
                "commit": commit or "-",
            }
        )
    columns = [
        "run_id",
        "model",
        "status",
        "data",
        "cv",
        "f_avg [95% CI]",
        "macro_f1 [95% CI]",
        "date",
        "commit",
    ]
    return pd.DataFrame(rows, columns=columns)


def get_model_run(uri: str, experiment: str, run_id: str) -> Any:
    """The model run ``run_id`` (an MLflow Run); a clear error when it is missing, a parent, or
    not FINISHED (its logging failed or never ended, so its model may be missing)."""
    find_experiment_id(uri, experiment, create=False)
    client = tracking_client(uri)
    try:
        run = retry_locked(client.get_run, run_id)
    except Exception:
        raise StanceError(f"no run {run_id!r} in {uri}; list runs with `stance runs`") from None
    if run.data.tags.get(ROLE_TAG) != "model":
        raise StanceError(f"run {run_id} holds no model (it groups other runs); pick a child")
    if run.info.status != "FINISHED":
        raise StanceError(
            f"run {run_id} (model {run.data.tags.get('model', run.info.run_name)!r}) is "
            f"{run.info.status}: its logging did not finish, so its model may be missing; pick a "
            "finished run from `stance runs` (unfinished ones show with `stance runs --all`)"
        )
    return run
