"""The step of each workflow rule (``STEPS``), importing its stage only when run (quick no-ops)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def split_shard(job: Any) -> None:
    """Split the articles of one shard into sentences."""
    from stance.corpus.stage import split_shard as split

    o = job.output
    split(list(job.input), dict(job.config), o.sentences, o.chrome, o.articles,
          cache=job.params.cache, label=f"shard-{job.wildcards.shard}")  # fmt: skip


def labeled_sentences(job: Any) -> None:
    """Split the articles that the hand labels name."""
    from stance.corpus.stage import split_shard as split

    split(list(job.input), dict(job.config), job.output.sentences, cache=job.params.cache,
          label="labeled articles")  # fmt: skip


def gather_sentences(job: Any) -> None:
    """Join the per-shard sentence tables."""
    from stance.corpus.stage import gather_sentence_parts

    gather_sentence_parts(list(job.input.sentences), job.output.sentences)


def article_table(job: Any) -> None:
    """Join the per-shard chrome and article tables with the metadata table."""
    from stance.corpus.stage import gather_article_tables

    metadata = job.input.get("metadata")  # an empty list when there is no table
    meta = gather_article_tables(list(job.input.chrome), list(job.input.articles),
                                 job.output.chrome, job.output.articles,
                                 str(metadata) if metadata else None)  # fmt: skip
    from_chrome = sorted(a for a, row in meta.items() if row["date_source"].startswith("chrome"))
    logger.info(
        f"{len(meta)} article(s); {sum(bool(row['date']) for row in meta.values())} with a date"
        + (f", from a removed chrome line: {', '.join(from_chrome)}" if from_chrome else "")
    )


def labels(job: Any) -> None:
    """Validate the labels, resolve them, build the data set and the summary."""
    from stance.labels.stage import print_stage_summary, run_label_stage

    settings, o = job.config["labels"], job.output
    result = run_label_stage(
        job.input.sentences, settings["dir"], job.input.schema,
        annotator_priority=settings["annotator_priority"], out_dataset=o.dataset,
        out_summary=o.summary, out_agreement=o.agreement, out_disagreements=o.disagreements,
        sentences_source="results/sentences.parquet",
    )  # fmt: skip
    print_stage_summary(result)


def label_queue(job: Any) -> None:
    """The labeling queue of the corpus, the per-article summary and the labeling design."""
    from stance.labels.stage import print_queue_summary, run_queue_stage

    o = job.output
    queue = run_queue_stage(job.input.sentences, job.input.data, job.config["labels"]["dir"],
                            job.input.schema, out_unlabeled=o.unlabeled,
                            out_summary_by_article=o.by_article)  # fmt: skip
    print_queue_summary(queue, o.unlabeled)


def tracking_store(job: Any) -> None:
    """Create (or open and check) the MLflow store and experiment; close abandoned runs."""
    from stance.tracking.workflow import open_store

    open_store(job.config, Path.cwd(), job.output[0])


def train_model(job: Any) -> None:
    """Train and evaluate one configured model; write its result folder."""
    from stance.training.run import train_configured_model

    folder = Path(job.output.confusion).parent
    train_configured_model(job.input.data, job.config, job.wildcards.model, folder, job.threads)


def log_model(job: Any) -> None:
    """Log one model's result to MLflow (a stored run with the same result is reused)."""
    from stance.tracking.workflow import log_model_folder

    log_model_folder(Path(job.output[0]).parent, job.input.data, job.config, Path.cwd(),
                     agreement=job.input.agreement)  # fmt: skip


def compare_models(job: Any) -> None:
    """The comparison table and figure, and both on the workflow run's parent run."""
    from stance.tracking.workflow import compare_logged_models

    compare_logged_models([Path(p).parent for p in job.input.runs], job.config, Path.cwd(),
                          job.output.comparison, job.output.figure)  # fmt: skip


def attribute_shard(job: Any) -> None:
    """The attribution rules over one shard's sentences (no label is read)."""
    from stance.speakers.stage import attribute_shard as attribute

    attribute(job.input.sentences, job.config, Path.cwd(), job.output.attributed,
              job.output.names)  # fmt: skip


def speaker_model(job: Any) -> None:
    """The final speaker model, fit on every label."""
    from stance.speakers.stage import fit_speaker_model

    fit_speaker_model(job.input.sentences, job.input.data, job.config, Path.cwd(),
                      job.output[0])  # fmt: skip


def speakers(job: Any) -> None:
    """Out-of-fold evaluation of speaker attribution."""
    from stance.speakers.stage import SpeakerOutputs, run_speaker_stage

    run_speaker_stage(list(job.input.names), job.input.sentences, job.input.data, job.config,
                      Path.cwd(), SpeakerOutputs(**dict(job.output.items())))  # fmt: skip


def predict_speakers(job: Any) -> None:
    """The speaker of every sentence of one shard, from its attribution and the speaker model."""
    from stance.speakers.stage import predict_shard

    # No model input where speakers.method is rules (speakers.smk).
    predict_shard(job.input.attributed, job.input.get("model"), job.config, job.output[0])


def gather_speakers(job: Any) -> None:
    """Join the per-shard speaker predictions."""
    from stance.speakers.stage import gather_predicted

    gather_predicted(list(job.input.shards), job.output[0])


def speaker_stance(job: Any) -> None:
    """The stance models that read the speaker, with hand vs predicted speakers."""
    from stance.speakers.stage import write_stance_with_predicted

    table = write_stance_with_predicted(job.input.data, job.input.oof, job.params.models,
                                        job.config, job.output[0])  # fmt: skip
    if not table.empty:
        logger.info(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def log_speakers(job: Any) -> None:
    """Log the speaker stage to MLflow."""
    from stance.speakers.logged import log_speaker_stage

    i = job.input
    log_speaker_stage(i.metrics, i.model, [i.oof, i.metrics_table, i.per_speaker, i.confusion,
                      i.mapping, i.stance], i.data, job.config, Path.cwd(),
                      job.output[0])  # fmt: skip


def predict_stance(job: Any) -> None:
    """The chosen stance model's prediction for every sentence of one shard."""
    from stance.findings.predict import predict_shard

    i = job.input
    predict_shard(i.sentences, i.speakers, job.params.models_dir, job.params.model,
                  i.get("comparison"), job.output[0])  # fmt: skip


def findings(job: Any) -> None:
    """Speaker and stance of every sentence; shares with intervals; figures; the statement."""
    from stance.findings.stage import FindingsInputs, FindingsOutputs, run_findings_stage
    from stance.findings.statement import summary_lines

    i = job.input
    inputs = FindingsInputs(
        i.sentences, i.articles, i.speakers, i.speaker_metrics, i.data, i.schema,
        models_dir=job.params.models_dir, stances=list(i.stances), speaker_oof=i.speaker_oof,
        labels_dir=job.config["labels"]["dir"], comparison=i.get("comparison"),
    )  # fmt: skip
    result = run_findings_stage(inputs, FindingsOutputs(**dict(job.output.items())), job.config)
    logger.info("\n".join(summary_lines(result)))


# Every function of this module is the step of the rule of the same name.
STEPS: dict[str, Callable[[Any], None]] = {
    name: step
    for name, step in list(globals().items())
    if inspect.isfunction(step) and step.__module__ == __name__
}
