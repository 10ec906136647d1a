"""The label stage: validate, resolve, measure agreement, write every output."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stance.labels.agreement import Agreement, compute_agreement, summary_line, write_agreement
from stance.labels.dataset import (
    LABELED_DATASET,
    build_dataset,
    save_dataset,
    write_summary,
    write_summary_by_article,
    write_unlabeled,
)
from stance.labels.design import load_manifests, resolve_designs
from stance.labels.files import LabelSet, load_labels, load_sentences
from stance.labels.resolution import resolve_labels
from stance.labels.schema import load_schema

logger = logging.getLogger(__name__)


@dataclass
class StageResult:
    """What the label stage produced, for the command line summary."""

    sentences: int
    labeled: int
    unlabeled: int
    label_set: LabelSet
    agreement: Agreement
    design: list[str]  # one line per recorded sample, and one for the labels without one


def run_label_stage(
    sentences_path: Path | str,
    labels_dir: Path | str,
    schema_path: Path | str,
    *,
    adjudication: Path | str | None = None,
    annotator_priority: list[str] | None = None,
    out_dataset: Path | str = LABELED_DATASET,
    out_unlabeled: Path | str = "results/unlabeled.csv",
    out_summary: Path | str = "results/label_summary.tsv",
    out_summary_by_article: Path | str = "results/label_summary_by_article.tsv",
    out_agreement: Path | str = "results/agreement.json",
    out_disagreements: Path | str = "results/disagreements.csv",
) -> StageResult:
    """Validate the labels, resolve final labels, and write every output of the stage.

    Nothing is written when the labels have a problem: the StanceError lists them all.
    """
    schema = load_schema(schema_path)
    sentences = load_sentences(sentences_path)
    label_set = load_labels(
        labels_dir, sentences, schema, adjudication, sentences_source=str(sentences_path)
    )
    resolution = resolve_labels(label_set, schema, annotator_priority or [])
    agreement = compute_agreement(label_set, resolution, sentences, schema)

    write_agreement(agreement, out_agreement, out_disagreements)
    unlabeled = write_unlabeled(sentences, resolution, out_unlabeled)
    write_summary(resolution, schema, out_summary)
    write_summary_by_article(sentences, resolution, schema, out_summary_by_article)
    design = design_lines(labels_dir, sentences, set(resolution.final["sentence_id"]))
    dataset = build_dataset(sentences, resolution, schema)
    save_dataset(dataset, out_dataset)
    return StageResult(len(sentences), dataset.num_rows, unlabeled, label_set, agreement, design)


def design_lines(labels_dir: Path | str, sentences, labeled: set[str]) -> list[str]:
    """The labeling design in a few lines: each recorded sample, and the labels outside them.
    A manifest with a problem stops the stage (file and field named)."""
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
    result: StageResult, unlabeled_path: Path | str, show: Callable[[str], None] = logger.info
) -> None:
    """Log the stage's warnings; ``show`` a summary of labels and agreement (a command: print)."""
    for warning in result.label_set.warnings:
        logger.warning(warning)
    annotators = result.label_set.annotators
    show(
        f"labels: {result.labeled} of {result.sentences} sentences labeled, "
        f"{result.unlabeled} unlabeled (queue: {unlabeled_path}); "
        f"{len(annotators)} annotator(s){': ' + ', '.join(annotators) if annotators else ''}; "
        f"{len(result.label_set.adjudication)} adjudicated"
    )
    show(summary_line(result.agreement.report))
    for line in result.design:
        show(line)
