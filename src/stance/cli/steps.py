"""The workflow's steps: what each Snakemake rule runs, with the configuration Snakemake resolved.

Each rule of ``workflow/rules/*.smk`` runs ``workflow/scripts/step.py``, which hands its job to
``run_job``: the step of the job's rule gets the job's inputs, outputs, params, threads and the
resolved configuration (config file + ``--configfile`` + ``--config``), never a re-read of
config/config.yaml, and everything it prints goes to the job's log as well as to the terminal.
The step functions take plain values, so they are tested without Snakemake.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from stance.environment import configure
from stance.errors import StanceError
from stance.io import atomic_open


def write_json(path: Path | str, data: Mapping[str, Any]) -> None:
    """A small JSON record, written atomically."""
    with atomic_open(path, encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")


# --------------------------------------------------------------------------- before any job


def check_workflow(config: dict, root: Path | str, config_file: str = "config/config.yaml") -> None:
    """What the Snakefile checks when it is read, before any job: the configuration Snakemake
    resolved (validated against the schema, defaults filled in), the model entries (kind,
    hyperparameter names and values) and a local SQLite MLflow store (not a database, corrupt).

    The model check imports scikit-learn (about a second) and the store check reads the whole
    store; both are remembered under .snakemake/stance/ (for the same model entries, training
    code and scikit-learn; for the same store file), so a no-op run skips them.
    """
    import hashlib

    from stance.codehash import code_digest
    from stance.config import validate_config
    from stance.tracking.store import check_store_file

    root = Path(root)
    validate_config(
        config,
        f"the configuration ({config_file} with any --configfile and --config)",
        root / "workflow/schemas/config.schema.yaml",
    )
    from importlib.metadata import version

    key = hashlib.sha256(
        json.dumps(config["models"], sort_keys=True, default=str).encode("utf-8")
        + code_digest("training").encode("ascii")
        # the value check is scikit-learn's own: another version checks again
        + version("scikit-learn").encode("ascii")
    ).hexdigest()[:16]
    checked_dir = root / ".snakemake" / "stance"
    checked = checked_dir / f"models-checked-{key}"
    if not checked.exists():
        from stance.training.models import model_specs

        model_specs(config)
        checked.parent.mkdir(parents=True, exist_ok=True)
        checked.touch()
    check_store_file(config, root, checked_dir)


# --------------------------------------------------------------------------- the steps


def split_shard(
    articles: Sequence[str],
    config: Mapping[str, Any],
    *,
    sentences: str,
    chrome: str,
    article_table: str,
    cache: str,
    label: str,
) -> None:
    """Split the articles of one shard (rule split_shard)."""
    from stance.corpus.stage import split_shard as split

    split(list(articles), dict(config), sentences, chrome, article_table, cache=cache, label=label)


def gather_sentences(
    sentences: Sequence[str],
    chrome: Sequence[str],
    articles: Sequence[str],
    *,
    out_sentences: str,
    out_chrome: str,
    out_articles: str,
) -> None:
    """Join the per-shard tables (rule gather_sentences)."""
    from stance.corpus.stage import gather

    gather(list(sentences), list(chrome), list(articles), out_sentences, out_chrome, out_articles)


def label_stage(
    sentences: str,
    config: Mapping[str, Any],
    *,
    schema: str,
    outputs: Mapping[str, str],
) -> None:
    """Validate the labels, resolve them, build the data set and summaries (rule labels)."""
    from stance.labels.stage import print_stage_summary, run_label_stage

    labels_config = config["labels"]
    result = run_label_stage(
        sentences,
        labels_config["dir"],
        schema,
        annotator_priority=labels_config["annotator_priority"],
        out_dataset=outputs["dataset"],
        out_unlabeled=outputs["unlabeled"],
        out_summary=outputs["summary"],
        out_summary_by_article=outputs["by_article"],
        out_agreement=outputs["agreement"],
        out_disagreements=outputs["disagreements"],
    )
    print_stage_summary(result, outputs["unlabeled"])


def report_abandoned(uri: str, experiment: str) -> None:
    """Mark FAILED the runs a killed process left RUNNING, and say which."""
    from stance.tracking.runs import close_abandoned_runs

    for run in close_abandoned_runs(uri, experiment):
        name = run.data.tags.get("model", run.info.run_name)
        print(
            f"note: run {run.info.run_id} ({name}) in {uri} was left unfinished by a killed or "
            "crashed process; marked FAILED (it is never used for predictions)"
        )


def tracking_store(config: Mapping[str, Any], root: Path | str, out: str) -> None:
    """Create (or open and check) the MLflow store and experiment, and mark FAILED the runs a
    crashed earlier run left unfinished (rule tracking_store, before any model is trained)."""
    from stance.tracking.store import init_store, resolve_tracking_uri

    uri, experiment = resolve_tracking_uri(config, root), config["mlflow"]["experiment"]
    experiment_id = init_store(uri, experiment)
    report_abandoned(uri, experiment)
    write_json(out, {"tracking_uri": uri, "experiment": experiment, "experiment_id": experiment_id})
    print(f"MLflow store {uri}: experiment {experiment!r} (id {experiment_id})")


def train_model(
    model: str, data: str, config: Mapping[str, Any], *, out_dir: str, threads: int
) -> None:
    """Evaluate one configured model and fit its final model (rule train_model)."""
    from stance.training.data import load_training_data
    from stance.training.models import get_spec
    from stance.training.run import result_line, settings_for
    from stance.training.run import train_model as train

    ev = train(
        load_training_data(data),
        get_spec(config, model),
        settings_for(config, threads),
        out_dir,
    )
    print(f"{result_line(ev)} -> {out_dir}")


def log_run(
    model_dir: str,
    data: str,
    config: Mapping[str, Any],
    root: Path | str,
    *,
    agreement: str | None,
    out: str,
) -> None:
    """Log one trained model to MLflow, or reuse an identical stored run (rule log_run)."""
    from stance.tracking.runs import log_evaluation_run
    from stance.tracking.store import resolve_tracking_uri
    from stance.training.artifacts import ARTIFACT_FILES, load_final_model, read_summary
    from stance.training.data import load_training_data

    uri, experiment = resolve_tracking_uri(config, root), config["mlflow"]["experiment"]
    folder = Path(model_dir)
    summary = read_summary(folder)
    labeled = load_training_data(data)
    if labeled.digest() != summary["data"]["sha256"]:
        raise StanceError(f"{data} changed since {folder} was trained; run snakemake again")
    # log_run jobs run one at a time after tracking_store, which runs only when its output is
    # missing: a run left RUNNING by a log_run job killed earlier is closed here too.
    report_abandoned(uri, experiment)
    info = log_evaluation_run(
        uri,
        experiment,
        summary,
        load_final_model(folder),
        [folder / name for name in ARTIFACT_FILES],
        labeled,
        config=config,
        root=root,
        source="snakemake",
        agreement=agreement,
        reuse_identical=True,
    )
    write_json(out, {"model": summary["model"], **info})
    if info["reused"]:
        print(
            f"{summary['model']}: run {info['run_id']} in {uri} already holds this result "
            "(same labels, config, commit, params and metrics); nothing new logged"
        )
    else:
        print(
            f"{summary['model']}: logged run {info['run_id']} to {uri} "
            f"(experiment {experiment!r}, workflow run {info['group']})"
        )


def compare_models(metrics: Sequence[str], runs: Sequence[str], out: str) -> None:
    """The comparison table of the configured models (rule compare_models)."""
    from stance.tracking.model_io import read_marker
    from stance.training.artifacts import read_summary
    from stance.training.comparison import comparison_table, write_comparison

    run_ids = {}
    for path in runs:
        marker = read_marker(path)
        run_ids[marker["model"]] = marker["run_id"]
    table = comparison_table([read_summary(p) for p in metrics], run_ids)
    write_comparison(table, out)
    shown = ["model", "f_avg", "f_avg_ci_low", "f_avg_ci_high", "macro_f1", "accuracy"]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


# --------------------------------------------------------------------------- Snakemake jobs


def _split_shard_job(job: Any) -> None:
    split_shard(
        list(job.input),
        job.config,
        sentences=job.output.sentences,
        chrome=job.output.chrome,
        article_table=job.output.articles,
        cache=job.params.cache,
        label=f"shard-{job.wildcards.shard}",
    )


def _gather_job(job: Any) -> None:
    gather_sentences(
        job.input.sentences,
        job.input.chrome,
        job.input.articles,
        out_sentences=job.output.sentences,
        out_chrome=job.output.chrome,
        out_articles=job.output.articles,
    )


def _labels_job(job: Any) -> None:
    outputs = dict(job.output.items())  # named outputs (iterating a Namedlist gives values)
    label_stage(job.input.sentences, job.config, schema=job.input.schema, outputs=outputs)


def _tracking_store_job(job: Any) -> None:
    tracking_store(job.config, Path.cwd(), job.output[0])


def _train_model_job(job: Any) -> None:
    train_model(
        job.wildcards.model,
        job.input.data,
        job.config,
        out_dir=str(Path(job.output.metrics).parent),
        threads=job.threads,
    )


def _log_run_job(job: Any) -> None:
    log_run(
        str(Path(job.input.metrics).parent),
        job.input.data,
        job.config,
        Path.cwd(),
        agreement=job.input.agreement,
        out=job.output[0],
    )


def _compare_job(job: Any) -> None:
    compare_models(job.input.metrics, job.input.runs, job.output[0])


JOBS = {
    "split_shard": _split_shard_job,
    "gather_sentences": _gather_job,
    "labels": _labels_job,
    "tracking_store": _tracking_store_job,
    "train_model": _train_model_job,
    "log_run": _log_run_job,
    "compare_models": _compare_job,
}


def _step_of(rule: str) -> Any:
    """The step of a rule: here, or in the speaker stage's steps."""
    from stance.speakers.steps import JOBS as SPEAKER_JOBS

    return JOBS.get(rule) or SPEAKER_JOBS.get(rule)


class _Tee:
    """A text stream that writes to several streams (the terminal and the job's log)."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def job_log(path: str | None) -> Iterator[None]:
    """Copy everything the job prints to stdout and stderr into its log file."""
    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "w", encoding="utf-8") as log,
        contextlib.redirect_stdout(_Tee(sys.stdout, log)),  # type: ignore[type-var]
        contextlib.redirect_stderr(_Tee(sys.stderr, log)),  # type: ignore[type-var]
    ):
        yield


def run_job(job: Any) -> None:
    """Run the step of a Snakemake job (the ``snakemake`` object of a ``script:``)."""
    configure()
    step = _step_of(job.rule)
    if step is None:
        raise SystemExit(f"error: no step for rule {job.rule!r} in stance.cli.steps.JOBS")
    with job_log(job.log[0] if len(job.log) else None):
        try:
            step(job)
        except StanceError as exc:
            # A user mistake: the message says what to do, a traceback would only hide it.
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        except Exception:
            # Anything else is a bug or a crash: its traceback goes to the log as well.
            traceback.print_exc()
            raise SystemExit(1) from None
