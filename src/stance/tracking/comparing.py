"""Comparing logged runs: params that differ, how each metric moved, a model across labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from stance.errors import StanceError
from stance.tracking.queries import get_model_run, metric_text, search_model_runs, start_date

# Tags that say what a run was trained on and with which code; compared like params.
IDENTITY_TAGS = ("dataset_digest", "labels_sha256", "config_hash", "git_commit", "git_dirty")
HEADLINE = ("f_avg", "macro_f1", "accuracy", "cohen_kappa")


def _short(run_id: str) -> str:
    return run_id[:8]


def differing_params(runs: Sequence[Any]) -> pd.DataFrame:
    """One row per param (or identity tag, as ``tag:NAME``) whose value is not the same in all
    runs; one column per run (its first 8 characters). A missing value shows as ``-``."""
    keys = sorted(set().union(*(r.data.params for r in runs)))
    values = {k: [r.data.params.get(k, "-") for r in runs] for k in keys}
    values |= {f"tag:{t}": [r.data.tags.get(t, "-") or "-" for r in runs] for t in IDENTITY_TAGS}
    # 12 hex digits tell label versions apart (as `stance runs --by-labels`).
    values["tag:labels_sha256"] = [v[:12] for v in values["tag:labels_sha256"]]
    rows = [[key, *vals] for key, vals in values.items() if len(set(vals)) > 1]
    return pd.DataFrame(rows, columns=["param", *(_short(r.info.run_id) for r in runs)])


def metric_differences(runs: Sequence[Any]) -> pd.DataFrame:
    """One row per metric (its interval bounds shown with it, not as rows): each run's value and
    its difference from the first run (``later - first``)."""
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
            _short(r.info.run_id): metric_text(r.data.metrics, name) for r in runs
        }
        for run in runs[1:]:
            m = run.data.metrics
            diff = m[name] - first[name] if name in m and name in first else math.nan
            label = f"{_short(run.info.run_id)} - {_short(runs[0].info.run_id)}"
            row[label] = "-" if math.isnan(diff) else f"{diff:+.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def compare_runs(uri: str, experiment: str, run_ids: Sequence[str]) -> dict[str, Any]:
    """The runs (model runs, FINISHED) side by side: ``runs`` (ID, model, date), ``params``
    (those that differ, see differing_params) and ``metrics`` (see metric_differences)."""
    if len(run_ids) < 2:
        raise StanceError("--compare needs at least two run IDs (see `stance runs`)")
    if len(set(run_ids)) < len(run_ids):
        raise StanceError("--compare: a run ID is given twice")
    runs = [get_model_run(uri, experiment, run_id) for run_id in run_ids]
    header = pd.DataFrame(
        {
            "run": [_short(r.info.run_id) for r in runs],
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
