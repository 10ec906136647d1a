"""The label stage: validate, resolve, measure agreement, write every output."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stance.labels.agreement import Agreement, compute_agreement, summary_line, write_agreement
from stance.labels.dataset import (
    build_dataset,
    final_labels,
    save_dataset,
    write_summary,
    write_summary_by_article,
    write_unlabeled,
)
from stance.labels.design import load_manifests, resolve_designs
from stance.labels.files import LabelSet, load_labels, load_sentences
from stance.labels.resolution import resolve_labels
from stance.labels.schema import LabelSchema, load_schema

logger = logging.getLogger(__name__)


@dataclass
class QueueResult:
    """What the queue outputs hold: the corpus's sentences, those unlabeled, the design."""

    sentences: int
    unlabeled: int
    design: list[str]  # one line per recorded sample, and one for the labels without one


@dataclass
class StageResult:
    """What the label stage produced, for the command line summary."""

    labeled: int
    label_set: LabelSet
    agreement: Agreement
    queue: QueueResult | None  # None: the queue outputs were not asked for


def run_label_stage(
    sentences_path: Path | str,
    labels_dir: Path | str,
    schema_path: Path | str,
    *,
    adjudication: Path | str | None = None,
    annotator_priority: list[str] | None = None,
    out_dataset: Path | str,
    out_summary: Path | str,
    out_agreement: Path | str,
    out_disagreements: Path | str,
    out_unlabeled: Path | str | None = None,
    out_summary_by_article: Path | str | None = None,
    sentences_source: str | None = None,
) -> StageResult:
    """Validate and resolve the labels, then write the data set, summary, agreement and (given
    both paths) the queue; nothing is written if a label is wrong."""
    schema = load_schema(schema_path)
    sentences = load_sentences(sentences_path)
    label_set = load_labels(
        labels_dir, sentences, schema, adjudication,
        sentences_source=sentences_source or str(sentences_path),
    )  # fmt: skip
    resolution = resolve_labels(label_set, schema, annotator_priority or [])
    agreement = compute_agreement(label_set, resolution, sentences, schema)

    write_agreement(agreement, out_agreement, out_disagreements)
    write_summary(resolution, schema, out_summary)
    queue = None
    if out_unlabeled is not None and out_summary_by_article is not None:
        queue = write_queue(sentences, resolution.final, schema, labels_dir, out_unlabeled,
                            out_summary_by_article)  # fmt: skip
    dataset = build_dataset(sentences, resolution, schema)
    save_dataset(dataset, out_dataset)
    return StageResult(dataset.num_rows, label_set, agreement, queue)


def run_queue_stage(
    sentences_path: Path | str,
    dataset_path: Path | str,
    labels_dir: Path | str,
    schema_path: Path | str,
    *,
    out_unlabeled: Path | str,
    out_summary_by_article: Path | str,
) -> QueueResult:
    """The queue outputs of the whole corpus from the labeled data set (rule label_queue)."""
    schema = load_schema(schema_path)
    sentences = load_sentences(sentences_path)
    final = final_labels(dataset_path, schema)
    return write_queue(sentences, final, schema, labels_dir, out_unlabeled, out_summary_by_article)


def write_queue(
    sentences: pd.DataFrame,
    final: pd.DataFrame,
    schema: LabelSchema,
    labels_dir: Path | str,
    out_unlabeled: Path | str,
    out_summary_by_article: Path | str,
) -> QueueResult:
    """The labeling queue, the per-article summary and the design of the recorded samples."""
    unlabeled = write_unlabeled(sentences, final, out_unlabeled)
    write_summary_by_article(sentences, final, schema, out_summary_by_article)
    design = design_lines(labels_dir, sentences, set(final["sentence_id"]))
    return QueueResult(len(sentences), unlabeled, design)


def design_lines(labels_dir: Path | str, sentences: pd.DataFrame, labeled: set[str]) -> list[str]:
    """The labeling design in a few lines: each recorded sample, and the labels outside them."""
    manifests = load_manifests(labels_dir)
    resolved = resolve_designs(manifests, sentences, labeled)
    lines = [
        f"design: sample {r.name} ({r.method}, {r.unit}s): {r.drawn} of {r.frame} drawn, "
        f"{r.complete} labeled in full" + (f", {r.incomplete} not yet" if r.incomplete else "")
        for r in resolved.reports
    ]
    chosen = len(labeled) - int(resolved.sampled.sum())
    lines.append(
        f"design: {chosen} label(s) outside any recorded sample (known values only, no evidence "
        "about the model's errors)"
        if manifests
        else "design: no recorded sample (labels/samples/): the findings cannot correct the "
        "model's errors; `stance label --sample N --seed S` draws and records one"
    )
    return [*lines, *(f"warning: {w}" for w in resolved.warnings)]


def print_stage_summary(
    result: StageResult, unlabeled_path: Path | str = "", show: Callable[[str], None] = logger.info
) -> None:
    """Log the stage's warnings; ``show`` its labels, agreement and queue (at unlabeled_path)."""
    for warning in result.label_set.warnings:
        logger.warning(warning)
    annotators = result.label_set.annotators
    queue = result.queue
    counts = (
        f"{result.labeled} of {queue.sentences} sentences labeled, {queue.unlabeled} unlabeled "
        f"(queue: {unlabeled_path})"
        if queue
        else f"{result.labeled} sentences labeled"
    )
    show(
        f"labels: {counts}; {len(annotators)} annotator(s)"
        f"{': ' + ', '.join(annotators) if annotators else ''}; "
        f"{len(result.label_set.adjudication)} adjudicated"
    )
    show(summary_line(result.agreement.report))
    for line in queue.design if queue else []:
        show(line)


def print_queue_summary(queue: QueueResult, unlabeled_path: Path | str) -> None:
    """Log the queue's size and the labeling design."""
    logger.info(
        f"queue: {queue.unlabeled} of {queue.sentences} sentences unlabeled ({unlabeled_path})"
    )
    for line in queue.design:
        logger.info(line)
