"""The workflow's steps: what each Snakemake rule runs, with the configuration Snakemake resolved.

``JOBS`` maps a rule to its step; ``stance.cli.jobs.run_step`` (the ``run:`` of every rule) hands
it the job. The step functions take plain values, so they are tested without Snakemake.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stance.io import atomic_open


def write_json(path: Path | str, data: Mapping[str, Any]) -> None:
    """A small JSON record, written atomically."""
    with atomic_open(path, encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")


# --------------------------------------------------------------------------- before any job


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


def gather_sentences(sentences: Sequence[str], *, out_sentences: str) -> None:
    """Join the per-shard sentence tables (rule gather_sentences)."""
    from stance.corpus.stage import gather_sentence_parts

    gather_sentence_parts(list(sentences), out_sentences)


def article_table(
    chrome: Sequence[str],
    articles: Sequence[str],
    metadata: str | None,
    *,
    out_chrome: str,
    out_articles: str,
) -> None:
    """Join the per-shard chrome and article tables with the metadata (rule article_table)."""
    from stance.corpus.stage import gather_article_tables

    meta = gather_article_tables(list(chrome), list(articles), out_chrome, out_articles, metadata)
    from_chrome = sorted(a for a, row in meta.items() if row["date_source"].startswith("chrome"))
    print(
        f"{len(meta)} article(s); {sum(bool(row['date']) for row in meta.values())} with a date"
        + (f", from a removed chrome line: {', '.join(from_chrome)}" if from_chrome else "")
    )


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


def train_models(
    data: str,
    config: Mapping[str, Any],
    *,
    models_dir: str,
    cache_dir: str,
    threads: int,
    code: str,
) -> Any:
    """Train every configured model whose result is not in the cache (first part of rule
    models); returns the labeled data."""
    from stance.training.data import load_training_data
    from stance.training.models import model_specs
    from stance.training.result_cache import ResultCache, result_key
    from stance.training.run import result_line, settings_for, train_model

    labeled = load_training_data(data)
    digest = labeled.digest()
    settings = settings_for(config, threads)
    cache = ResultCache(cache_dir)
    shown: set[str] = set()
    specs = model_specs(config)
    keys = {spec.name: result_key(config, spec.name, digest, code) for spec in specs}
    for spec in specs:
        out = Path(models_dir) / spec.name
        key = keys[spec.name]
        if cache.restore(spec.name, key, out):
            print(f"{spec.name}: same config, labels and code as its cached result; not re-trained")
            continue
        ev = train_model(labeled, spec, settings, out, shown_warnings=shown)
        cache.save(spec.name, key, out)
        print(f"{result_line(ev)} -> {out}")
    return labeled


def log_models(
    labeled: Any,
    config: Mapping[str, Any],
    root: Path | str,
    *,
    models_dir: str,
    agreement: str | None,
) -> list[dict[str, Any]]:
    """Log every configured model to MLflow, reusing a stored run that holds the same result
    (second part of rule models); writes each model's mlflow_run.json; returns their contents."""
    from stance.tracking.runs import log_evaluation_run
    from stance.tracking.store import resolve_tracking_uri
    from stance.training.artifacts import ARTIFACT_FILES, load_final_model, read_summary

    uri, experiment = resolve_tracking_uri(config, root), config["mlflow"]["experiment"]
    # This job is the only one that logs models and runs after tracking_store: a run left
    # RUNNING by an earlier job that was killed while logging is closed here too.
    report_abandoned(uri, experiment)
    markers = []
    for entry in config["models"]:
        folder = Path(models_dir) / entry["name"]
        summary = read_summary(folder)
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
        marker = {"model": summary["model"], **info}
        write_json(folder / "mlflow_run.json", marker)
        markers.append(marker)
        if info["reused"]:
            print(
                f"{summary['model']}: run {info['run_id']} in {uri} already holds this result "
                "(same labels, params, settings and metrics); nothing new logged"
            )
        else:
            print(
                f"{summary['model']}: logged run {info['run_id']} to {uri} "
                f"(experiment {experiment!r}, workflow run {info['group']})"
            )
    return markers


def compare_models(
    models_dir: str, names: Sequence[str], run_ids: Mapping[str, str], out: str
) -> tuple[Any, list[dict[str, Any]]]:
    """The comparison table of the configured models (part of rule models); returns it and
    the models' summaries."""
    from stance.training.artifacts import read_summary
    from stance.training.comparison import comparison_table, write_comparison

    summaries = [read_summary(Path(models_dir) / n) for n in names]
    table = comparison_table(summaries, run_ids)
    write_comparison(table, out)
    shown = ["model", "f_avg", "f_avg_ci_low", "f_avg_ci_high", "macro_f1", "accuracy"]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return table, summaries


def models(
    data: str,
    config: Mapping[str, Any],
    root: Path | str,
    *,
    models_dir: str,
    cache_dir: str,
    agreement: str | None,
    comparison: str,
    figure: str,
    threads: int,
    code: str,
) -> None:
    """Train the models whose result changed, log every model to MLflow (an identical stored
    run is reused), write the comparison table and figure, and put the table and a description
    on the workflow run's parent run (rule models).

    One process for all models: each process would otherwise pay the imports of scikit-learn,
    datasets and MLflow and the opening of the store again, which cost more than training and
    logging the seed models themselves.
    """
    from stance.training.extras import runnable_entries

    # Models whose optional extra is missing are not outputs of the job (train.smk): skip them.
    config = {**config, "models": runnable_entries(config["models"], lambda m: print(f"note: {m}"))}
    labeled = train_models(
        data, config, models_dir=models_dir, cache_dir=cache_dir, threads=threads, code=code
    )
    markers = log_models(labeled, config, root, models_dir=models_dir, agreement=agreement)
    run_ids = {m["model"]: m["run_id"] for m in markers}
    names = [m["name"] for m in config["models"]]
    table, summaries = compare_models(models_dir, names, run_ids, comparison)
    plot_comparison(comparison, figure, config["evaluation"]["ci_level"])
    log_comparison(table, summaries, markers, config, root)


def log_comparison(
    table: Any,
    summaries: Sequence[Mapping[str, Any]],
    markers: Sequence[dict[str, Any]],
    config: Mapping[str, Any],
    root: Path | str,
) -> None:
    """The comparison table and its description on the parent run of the workflow run."""
    import os

    from stance.tracking.store import WORKFLOW_RUN_ENV, resolve_tracking_uri
    from stance.tracking.summary import log_group_summary, summary_group
    from stance.training.comparison import describe_comparison

    uri, experiment = resolve_tracking_uri(config, root), config["mlflow"]["experiment"]
    group = summary_group(list(markers), os.environ.get(WORKFLOW_RUN_ENV))
    parent = log_group_summary(uri, experiment, group, table, describe_comparison(table, summaries))
    print(f"comparison and description on parent run {parent} (workflow run {group}) in {uri}")


def plot_comparison(table: str, out: str, ci_level: float) -> None:
    """The figure of every model's f_avg and macro-F1 with intervals (part of rule models)."""
    from stance.training.comparison import read_comparison
    from stance.training.plots import plot_comparison as plot

    plot(read_comparison(table), out, ci_level)


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
    gather_sentences(job.input.sentences, out_sentences=job.output.sentences)


def _article_table_job(job: Any) -> None:
    metadata = getattr(job.input, "metadata", None)  # an empty list when there is no table
    article_table(
        job.input.chrome,
        job.input.articles,
        str(metadata) if metadata else None,
        out_chrome=job.output.chrome,
        out_articles=job.output.articles,
    )


def _labels_job(job: Any) -> None:
    outputs = dict(job.output.items())  # named outputs (iterating a Namedlist gives values)
    label_stage(job.input.sentences, job.config, schema=job.input.schema, outputs=outputs)


def _tracking_store_job(job: Any) -> None:
    tracking_store(job.config, Path.cwd(), job.output[0])


def _models_job(job: Any) -> None:
    models(
        job.input.data,
        job.config,
        Path.cwd(),
        models_dir=job.params.models_dir,
        cache_dir=job.params.cache_dir,
        agreement=job.input.agreement,
        comparison=job.output.comparison,
        figure=job.output.figure,
        threads=job.threads,
        code=job.params.code,
    )


def _findings_job(job: Any) -> None:
    from stance.findings.stage import FindingsInputs, FindingsOutputs, run_findings_stage
    from stance.findings.statement import summary_lines

    i = job.input
    inputs = FindingsInputs(
        i.sentences, i.articles, i.speakers, i.speaker_metrics, i.data, i.schema,
        models_dir=job.params.models_dir, speaker_oof=i.speaker_oof,
        labels_dir=job.config["labels"]["dir"], comparison=getattr(i, "comparison", None),
    )  # fmt: skip
    result = run_findings_stage(inputs, FindingsOutputs(**dict(job.output.items())), job.config)
    print("\n".join(summary_lines(result)))


JOBS = {
    "split_shard": _split_shard_job,
    "gather_sentences": _gather_job,
    "article_table": _article_table_job,
    "labels": _labels_job,
    "tracking_store": _tracking_store_job,
    "models": _models_job,
    "findings": _findings_job,
}
