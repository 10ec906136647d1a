"""Reading runs back: the runs table, comparing runs, the run to predict with, the speaker run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from stance.errors import StanceError
from stance.tracking.store import (
    NO_MODEL_TAG,
    ROLE_TAG,
    SPEAKER_ROLE,
    find_experiment_id,
    read_run,
    retry_locked,
    tracking_client,
)


def search_model_runs(
    uri: str,
    experiment: str,
    *,
    model: str | None = None,
    filter_string: str | None = None,
    max_results: int = 1000,
    finished_only: bool = True,
) -> list[Any]:
    """Model runs of the experiment, newest first; FINISHED ones only unless ``finished_only``."""
    experiment_id = find_experiment_id(uri, experiment)
    client = tracking_client(uri)
    parts = [f"tags.`{ROLE_TAG}` = 'model'"]
    if finished_only:
        parts.append("attributes.status = 'FINISHED'")
    if model:
        parts.append(f"tags.model = '{model}'")
    if filter_string:
        parts.append(f"({filter_string})" if " or " in filter_string.lower() else filter_string)
    try:
        if model and "'" in model:
            raise StanceError(f"model name {model!r} may not contain a quote")
        return retry_locked(
            client.search_runs,
            [experiment_id],
            filter_string=" and ".join(parts),
            order_by=["attributes.start_time DESC"],
            max_results=max_results,
        )
    except Exception as exc:
        raise StanceError(
            f"cannot search runs with filter {filter_string!r}: {str(exc).splitlines()[0]}; "
            'use MLflow\'s syntax, e.g. "metrics.f_avg > 0.5" or "params.kind = \'tfidf_word\'"'
        ) from None


LOCAL_TIME = datetime.now().astimezone().tzinfo
RUNS_COLUMNS = [
    "run_id", "model", "status", "data", "cv",
    "f_avg [95% CI]", "macro_f1 [95% CI]", "date", "commit",
]  # fmt: skip


def metric_text(metrics: Mapping[str, float], name: str, missing: str = "-") -> str:
    """'value [low, high]' of a logged metric and its interval (just the value without one)."""
    if name not in metrics:
        return missing
    low, high = metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")
    if low is None or high is None:
        return f"{metrics[name]:.3f}"
    return f"{metrics[name]:.3f} [{low:.3f}, {high:.3f}]"


def start_date(run: Any) -> str:
    """When ``run`` started, in local time."""
    return datetime.fromtimestamp(run.info.start_time / 1000, LOCAL_TIME).strftime("%Y-%m-%d %H:%M")


def runs_table(
    uri: str,
    experiment: str,
    *,
    model: str | None = None,
    filter_string: str | None = None,
    limit: int = 50,
    include_unfinished: bool = False,
) -> pd.DataFrame:
    """Logged model runs, newest first (FINISHED ones only unless ``include_unfinished``)."""
    runs = search_model_runs(
        uri,
        experiment,
        model=model,
        filter_string=filter_string,
        max_results=min(limit, 50000),  # one MLflow search returns at most 50,000 runs
        finished_only=not include_unfinished,
    )
    rows = []
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        commit = tags.get("git_commit", "")[:10]
        dirty = commit and tags.get("git_dirty") == "true"
        rows.append(
            [
                run.info.run_id,
                tags.get("model", ""),
                run.info.status,
                # The training data set's digest (the MLflow dataset input; also kept as a tag).
                tags.get("dataset_digest", ""),
                run.data.params.get("cv_scheme", ""),
                metric_text(metrics, "f_avg", missing=""),
                metric_text(metrics, "macro_f1", missing=""),
                start_date(run),
                f"{commit}+dirty" if dirty else commit or "-",
            ]
        )
    return pd.DataFrame(rows, columns=RUNS_COLUMNS)


def get_model_run(uri: str, experiment: str, run_id: str) -> Any:
    """The model run ``run_id``; a clear error when it is missing, a parent, or not FINISHED."""
    find_experiment_id(uri, experiment)
    run = read_run(uri, run_id)
    if run.data.tags.get(ROLE_TAG) != "model":
        raise StanceError(f"run {run_id} holds no model (it groups other runs); pick a child")
    if run.info.status != "FINISHED":
        raise StanceError(
            f"run {run_id} (model {run.data.tags.get('model', run.info.run_name)!r}) is "
            f"{run.info.status}: its logging did not finish, so its model may be missing; pick a "
            "finished run from `stance runs` (unfinished ones show with `stance runs --all`)"
        )
    return run


def select_run(
    uri: str,
    experiment: str,
    *,
    run_id: str | None = None,
    model: str | None = None,
    available: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The FINISHED run to predict with: ``run_id``; else the newest of ``model``; else, of each
    model's newest run (with inputs all ``available``, if any), the best f_avg (ties: newer)."""
    if run_id:
        run = get_model_run(uri, experiment, run_id)
    else:
        runs = search_model_runs(uri, experiment, model=model)
        if not runs:
            what = f" of model {model!r}" if model else ""
            raise StanceError(
                f"no finished run{what} in {uri}; run `snakemake` or `stance train` "
                "(`stance runs --all` lists unfinished ones)"
            )
        latest: dict[str, Any] = {}
        for r in runs:  # newest first
            latest.setdefault(r.data.tags.get("model", r.info.run_name), r)
        candidates = list(latest.values())
        if available is not None and not model:
            usable = [r for r in candidates if set(_listed(r, "features")) <= set(available)]
            candidates = usable or candidates
        run = max(
            candidates,
            key=lambda r: (r.data.metrics.get("f_avg", float("-inf")), r.info.start_time),
        )
    return {
        "run_id": run.info.run_id,
        "model": run.data.tags.get("model", run.info.run_name),
        "classes": _listed(run, "classes"),
        "features": _listed(run, "features"),
    }


def _listed(run: Any, param: str) -> list[str]:
    """The names of a comma-separated param of ``run`` (none when it is missing)."""
    return [c for c in run.data.params.get(param, "").split(",") if c]


def latest_speaker_run(uri: str, experiment: str) -> tuple[str, str] | None:
    """(ID, why it has no speaker model or "") of the newest FINISHED speaker run, or None."""
    try:
        experiment_id = find_experiment_id(uri, experiment)
    except StanceError:  # no store or experiment yet: nothing logged
        return None
    runs = retry_locked(
        tracking_client(uri).search_runs,
        [experiment_id],
        filter_string=f"tags.`{ROLE_TAG}` = '{SPEAKER_ROLE}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None
    return runs[0].info.run_id, runs[0].data.tags.get(NO_MODEL_TAG, "")


# Tags that say what a run was trained on and with which code; compared like params.
IDENTITY_TAGS = ("dataset_digest", "labels_sha256", "config_hash", "git_commit", "git_dirty")
HEADLINE = ("f_avg", "macro_f1", "accuracy", "cohen_kappa")


def differing_params(runs: Sequence[Any]) -> pd.DataFrame:
    """Per param (or identity tag, ``tag:NAME``) that differs: its value per run (``-``: none)."""
    keys = sorted(set().union(*(r.data.params for r in runs)))
    values = {k: [r.data.params.get(k, "-") for r in runs] for k in keys}
    values |= {f"tag:{t}": [r.data.tags.get(t, "-") or "-" for r in runs] for t in IDENTITY_TAGS}
    # 12 hex digits tell label versions apart (as `stance runs --by-labels`).
    values["tag:labels_sha256"] = [v[:12] for v in values["tag:labels_sha256"]]
    rows = [[key, *vals] for key, vals in values.items() if len(set(vals)) > 1]
    return pd.DataFrame(rows, columns=["param", *(r.info.run_id[:8] for r in runs)])


def metric_differences(runs: Sequence[Any]) -> pd.DataFrame:
    """One row per metric: each run's value [CI] and its difference from the first run."""
    found = set().union(*(r.data.metrics for r in runs))
    # The headline scores first, then the rest by name.
    names = sorted(
        (n for n in found if not n.endswith(("_ci_low", "_ci_high"))),
        key=lambda n: (HEADLINE.index(n) if n in HEADLINE else len(HEADLINE), n),
    )
    first = runs[0].data.metrics
    rows = []
    for name in names:
        row = {"metric": name} | {
            r.info.run_id[:8]: metric_text(r.data.metrics, name) for r in runs
        }
        for run in runs[1:]:
            m = run.data.metrics
            diff = m[name] - first[name] if name in m and name in first else math.nan
            label = f"{run.info.run_id[:8]} - {runs[0].info.run_id[:8]}"
            row[label] = "-" if math.isnan(diff) else f"{diff:+.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def compare_runs(uri: str, experiment: str, run_ids: Sequence[str]) -> dict[str, Any]:
    """FINISHED model runs side by side: ``runs`` (ID, model, date), ``params``, ``metrics``."""
    if len(run_ids) < 2:
        raise StanceError("--compare needs at least two run IDs (see `stance runs`)")
    if len(set(run_ids)) < len(run_ids):
        raise StanceError("--compare: a run ID is given twice")
    runs = [get_model_run(uri, experiment, run_id) for run_id in run_ids]
    header = pd.DataFrame(
        {
            "run": [r.info.run_id[:8] for r in runs],
            "run_id": [r.info.run_id for r in runs],
            "model": [r.data.tags.get("model", "") for r in runs],
            "data": [r.data.tags.get("dataset_digest", "") for r in runs],
            "date": [start_date(r) for r in runs],
        }
    )
    return {"runs": header, "params": differing_params(runs), "metrics": metric_differences(runs)}


def scores_by_label_version(uri: str, experiment: str, model: str) -> pd.DataFrame:
    """A model's scores per label version, oldest first: its size, and f_avg and macro-F1 with
    intervals from the newest finished run on it (``runs``: how many; ``first logged``: when)."""
    runs = search_model_runs(uri, experiment, model=model)
    if not runs:
        raise StanceError(
            f"no finished runs of model {model!r}; list the models with `stance runs`"
        )
    versions: dict[str, list[Any]] = {}
    for run in sorted(runs, key=lambda r: r.info.start_time):
        tags = run.data.tags
        key = tags.get("labels_sha256") or tags.get("dataset_digest") or run.info.run_id
        versions.setdefault(key, []).append(run)
    rows = []
    for same in versions.values():
        newest, tags = same[-1], same[-1].data.tags
        params, metrics = newest.data.params, newest.data.metrics
        rows.append(
            {
                "first logged": start_date(same[0]),
                "data": tags.get("dataset_digest", ""),
                "labels_sha256": tags.get("labels_sha256", "")[:12],
                "labels": params.get("n_sentences", "-"),
                "articles": params.get("n_articles", "-").replace("null", "-"),
                "f_avg [95% CI]": metric_text(metrics, "f_avg"),
                "macro_f1 [95% CI]": metric_text(metrics, "macro_f1"),
                "runs": len(same),
                "run_id": newest.info.run_id,
            }
        )
    return pd.DataFrame(rows)
