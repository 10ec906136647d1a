"""MLflow tracking: the store, one run per evaluated model, listing runs, loading logged models.

This is the only module of the project that imports mlflow. It sets the telemetry and verbosity
variables before the first import, so nothing leaves the machine and job logs stay readable.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from stance.errors import StanceError

# Forced: telemetry stays off whatever the environment says (DO_NOT_TRACK=1 does not work).
_FORCED_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
# Defaults a user may override in the environment.
_DEFAULT_ENV = {
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "HF_DATASETS_OFFLINE": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}
# Groups the runs of one workflow run; the Snakefile sets it once per `snakemake` call.
WORKFLOW_RUN_ENV = "STANCE_WORKFLOW_RUN"
MODEL_ARTIFACT = "model"
ROLE_TAG = "stance.role"
GROUP_TAG = "stance.workflow_run"
LOCKED_RETRIES = 40
# Module prefixes of the types a project model may contain (checked before loading one).
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")

T = TypeVar("T")


def quiet_environment() -> None:
    """Telemetry off, quiet output, datasets offline: call before importing mlflow."""
    os.environ.update(_FORCED_ENV)
    for key, value in _DEFAULT_ENV.items():
        os.environ.setdefault(key, value)


def _mlflow() -> Any:
    quiet_environment()
    import mlflow

    return mlflow


def project_root(config_path: Path | str) -> Path:
    """The project folder: the parent of the folder holding config.yaml."""
    return Path(config_path).resolve().parent.parent


def resolve_tracking_uri(config: Mapping[str, Any], root: Path | str) -> str:
    """MLFLOW_TRACKING_URI, else config mlflow.tracking_uri, else sqlite:///<root>/mlflow.db."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    configured = (config.get("mlflow") or {}).get("tracking_uri")
    if configured:
        return str(configured)
    return f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def _artifact_location(uri: str) -> str | None:
    # Beside a SQLite store: <store folder>/mlartifacts (not ./mlruns, which MLflow would take
    # for an old file store). Other stores (a server) choose their own.
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        return (db.resolve().parent / "mlartifacts").as_uri()
    return None


def _is_locked(exc: BaseException) -> bool:
    return "database is locked" in str(exc).lower()


def _retry(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call fn, retrying while SQLite says 'database is locked' (one writer at a time)."""
    delay = 0.2
    for attempt in range(LOCKED_RETRIES):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not _is_locked(exc) or attempt == LOCKED_RETRIES - 1:
                raise
            print(
                f"tracking store busy (database is locked); retrying in {delay:.1f}s",
                file=sys.stderr,
            )
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)
    raise AssertionError("unreachable")


def _client(uri: str) -> Any:
    mlflow = _mlflow()
    return mlflow.MlflowClient(tracking_uri=uri)


def _wrap(uri: str, what: str, exc: Exception) -> StanceError:
    return StanceError(
        f"MLflow store {uri}: {what} failed: {str(exc).splitlines()[0] if str(exc) else exc!r}; "
        "check MLFLOW_TRACKING_URI / config mlflow.tracking_uri"
    )


def init_store(uri: str, experiment: str) -> str:
    """Create the store (if new) and the experiment (if missing); return the experiment ID.

    Run this once before parallel jobs log to a new SQLite store: its schema set-up breaks when
    several processes create it at once.
    """
    try:
        client = _client(uri)
        found = _retry(client.get_experiment_by_name, experiment)
        if found is not None:
            if found.lifecycle_stage != "active":
                raise StanceError(
                    f"experiment {experiment!r} in {uri} is deleted; restore it in the MLflow "
                    "UI or choose another name in config mlflow.experiment"
                )
            return found.experiment_id
        return _retry(client.create_experiment, experiment, _artifact_location(uri))
    except StanceError:
        raise
    except Exception as exc:
        if "already exists" in str(exc):
            return _client(uri).get_experiment_by_name(experiment).experiment_id
        raise _wrap(uri, "opening the store", exc) from None


def _experiment_id(uri: str, experiment: str, create: bool) -> str:
    if create:
        return init_store(uri, experiment)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        # Opening a missing SQLite store would create an empty one: say what to do instead.
        raise StanceError(
            f"no MLflow store at {uri} yet: nothing has been logged; run `snakemake` or "
            "`stance train` first (or set MLFLOW_TRACKING_URI / config mlflow.tracking_uri)"
        )
    try:
        found = _retry(_client(uri).get_experiment_by_name, experiment)
    except Exception as exc:
        raise _wrap(uri, "reading the store", exc) from None
    if found is None:
        raise StanceError(
            f"no experiment {experiment!r} in {uri}: nothing has been logged yet; run "
            "`snakemake` or `stance train` first"
        )
    return found.experiment_id


# --------------------------------------------------------------------------- provenance


def _git_dir(root: Path) -> Path | None:
    for base in (root, *root.parents):
        dot = base / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():  # a worktree: "gitdir: <path>"
            text = dot.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                return (base / text.split(":", 1)[1].strip()).resolve()
    return None


def git_commit(root: Path | str) -> str:
    """The commit checked out in root's repository, read from .git (no git process), or ''."""
    gdir = _git_dir(Path(root).resolve())
    if gdir is None:
        return ""
    try:
        head = (gdir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        common = gdir
        if (gdir / "commondir").is_file():
            common = (gdir / (gdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for base in (gdir, common):
            if (base / ref).is_file():
                return (base / ref).read_text(encoding="utf-8").strip()
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    except OSError:
        return ""
    return ""


def git_dirty(root: Path | str) -> str:
    """'true' when tracked files differ from the commit, 'false', or '' when unknown.

    Runs a read-only ``git status`` that takes no lock on the repository.
    """
    import subprocess

    root = Path(root)
    if _git_dir(root.resolve()) is None:
        return ""
    try:
        proc = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if proc.returncode != 0:
        return ""
    return "true" if proc.stdout.strip() else "false"


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the configuration (canonical JSON), first 16 hex digits."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def new_group_id() -> str:
    """An ID for the runs logged by one command or workflow run: UTC time plus a random part."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


# --------------------------------------------------------------------------- logging


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


def _skops_trusted(model: Any) -> list[str]:
    import skops.io

    from stance.models import CUSTOM_TYPES

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in CUSTOM_TYPES]
    if foreign:
        raise StanceError(f"the model contains types outside the project: {', '.join(foreign)}")
    return sorted(untrusted)


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model (given explicitly: inferring them is slow)."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("scikit-learn", "numpy", "scipy", "skops")]


def _group_parent(client: Any, experiment_id: str, group: str, label: str) -> str:
    """The parent run of a group of runs, created on first use (callers are serialised)."""
    found = _retry(
        client.search_runs,
        [experiment_id],
        filter_string=f"tags.`{GROUP_TAG}` = '{group}' and tags.`{ROLE_TAG}` = 'group'",
        max_results=1,
    )
    if found:
        return found[0].info.run_id
    run = _retry(
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
    _retry(client.set_terminated, run.info.run_id)
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
    mlflow = _mlflow()
    from mlflow.models import infer_signature

    group = safe_group(group or os.environ.get(WORKFLOW_RUN_ENV) or new_group_id())
    experiment_id = init_store(uri, experiment)
    client = _client(uri)
    mlflow.set_tracking_uri(uri)
    root = Path(root)

    x = data.frame[summary["features"]].head(5).reset_index(drop=True)
    signature = infer_signature(x, model.predict(x))
    trusted = _skops_trusted(model)
    from stance.models import CUSTOM_TYPES

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
        report = json.loads(Path(agreement).read_text(encoding="utf-8"))
        tags["agreement_status"] = str(report.get("status"))
        tags["agreement_measure"] = str(report.get("measure"))
        tags["annotators"] = ",".join(report.get("annotators", []))
        agreement_metrics["agreement_doubly_labeled"] = float(report.get("doubly_labeled", 0))
        agreement_metrics["agreement_disagreements"] = float(report.get("disagreements", 0))
        for name, result in (report.get("fields") or {}).items():
            if result.get("value") is not None:
                agreement_metrics[f"agreement_{name}"] = float(result["value"])
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
        run = _retry(
            mlflow.start_run,
            experiment_id=experiment_id,
            run_name=summary["model"],
            parent_run_id=parent,
            tags=tags,
        )
        with run:
            _retry(mlflow.log_params, params)
            _retry(mlflow.log_metrics, metrics)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # integer columns hint, see above
                if train_input is not None:
                    _retry(mlflow.log_input, train_input, context="training")
                if test_input is not None:
                    _retry(mlflow.log_input, test_input, context="evaluation")
            for path in artifacts:
                _retry(mlflow.log_artifact, str(path))
            _retry(
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
        raise _wrap(uri, f"logging model {summary['model']!r}", exc) from None
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
    runs = _retry(client.search_runs, [experiment_id], filter_string=filter_string,
                  order_by=["attributes.start_time DESC"], max_results=50)  # fmt: skip
    for run in runs:
        if dict(run.data.params) != dict(params) or set(run.data.metrics) != set(metrics):
            continue
        if all(math.isclose(run.data.metrics[k], v, rel_tol=1e-12, abs_tol=1e-12)
               for k, v in metrics.items()):  # fmt: skip
            return run
    return None


# --------------------------------------------------------------------------- reading


def _model_filter(model: str | None, extra: str | None) -> str:
    parts = [f"tags.`{ROLE_TAG}` = 'model'"]
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
) -> list[Any]:
    """Model runs of the experiment, newest first (MLflow Run objects)."""
    experiment_id = _experiment_id(uri, experiment, create=False)
    client = _client(uri)
    try:
        return _retry(
            client.search_runs,
            [experiment_id],
            filter_string=_model_filter(model, filter_string),
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
) -> pd.DataFrame:
    """Logged model runs, newest first: model, data digest, f_avg and macro_f1 with CIs, ..."""
    runs = search_model_runs(
        uri, experiment, model=model, filter_string=filter_string, max_results=limit
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
        "data",
        "cv",
        "f_avg [95% CI]",
        "macro_f1 [95% CI]",
        "date",
        "commit",
    ]
    return pd.DataFrame(rows, columns=columns)


def select_run(
    uri: str,
    experiment: str,
    *,
    run_id: str | None = None,
    model: str | None = None,
    metric: str = "f_avg",
    available: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The run to predict with: ``run_id``; else the newest run of ``model``; else, of the newest
    run of every model, the one with the highest ``metric`` (ties: the newer). Without run_id and
    model, only models whose input columns are all in ``available`` (when given) are chosen."""
    if run_id:
        _experiment_id(uri, experiment, create=False)
        client = _client(uri)
        try:
            run = _retry(client.get_run, run_id)
        except Exception:
            raise StanceError(f"no run {run_id!r} in {uri}; list runs with `stance runs`") from None
        if run.data.tags.get(ROLE_TAG) != "model":
            raise StanceError(f"run {run_id} holds no model (it groups other runs); pick a child")
    else:
        runs = search_model_runs(uri, experiment, model=model)
        if not runs:
            what = f" of model {model!r}" if model else ""
            raise StanceError(f"no logged run{what} in {uri}; run `snakemake` or `stance train`")
        latest: dict[str, Any] = {}
        for r in runs:  # newest first
            latest.setdefault(r.data.tags.get("model", r.info.run_name), r)
        candidates = list(latest.values())
        if available is not None and not model:

            def usable(r: Any) -> bool:
                needed = [c for c in r.data.params.get("features", "").split(",") if c]
                return all(c in available for c in needed)

            candidates = [r for r in candidates if usable(r)] or candidates
        run = max(
            candidates,
            key=lambda r: (r.data.metrics.get(metric, float("-inf")), r.info.start_time),
        )
    return {
        "run_id": run.info.run_id,
        "model": run.data.tags.get("model", run.info.run_name),
        "metric": run.data.metrics.get(metric),
        "classes": [c for c in run.data.params.get("classes", "").split(",") if c],
        "features": [c for c in run.data.params.get("features", "").split(",") if c],
    }


def load_logged_model(uri: str, run_id: str) -> Any:
    """The scikit-learn pipeline logged in run ``run_id``.

    The skops file is loaded trusting only scikit-learn, numpy, scipy and the project's own
    types (the list comes from this code, not from the model), so no other code can run.
    """
    mlflow = _mlflow()
    import skops.io
    import yaml

    from stance.models import CUSTOM_TYPES

    mlflow.set_tracking_uri(uri)
    with tempfile.TemporaryDirectory(prefix="stance-model-") as tmp:
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"runs:/{run_id}/{MODEL_ARTIFACT}", dst_path=tmp
                )
            )
        except Exception as exc:
            raise _wrap(uri, f"downloading the model of run {run_id}", exc) from None
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


def safe_group(text: str) -> str:
    """A group ID usable inside an MLflow filter string."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "-", text)[:100]
