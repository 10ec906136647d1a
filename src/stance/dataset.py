"""The label stage's outputs: the labeled Hugging Face data set, labeling queue and summaries."""

from __future__ import annotations

import os

# Set before datasets is imported: it reads them once, and nothing here may go online.
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

import csv
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import datasets
import pandas as pd

from stance.agreement import Agreement, compute_agreement, write_agreement
from stance.io import atomic_open, write_tsv
from stance.labels import (
    LabelSchema,
    LabelSet,
    Resolution,
    load_labels,
    load_schema,
    load_sentences,
    resolve_labels,
)

# The variable works only when set before datasets is first imported; it may have been earlier.
if os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1":
    datasets.disable_progress_bars()

LABELED_DATASET = Path("results/labeled_dataset")
UNLABELED_COLUMNS = ["sentence_id", "article_id", "position", "text"]


def dataset_features(schema: LabelSchema) -> datasets.Features:
    """Features of the labeled data set; label fields are ClassLabels in schema order."""
    features = {
        "sentence_id": datasets.Value("string"),
        "article_id": datasets.Value("string"),
        "position": datasets.Value("int32"),
        "text": datasets.Value("string"),
    }
    for f in schema.fields:
        features[f.name] = datasets.ClassLabel(names=f.names)
    features["n_annotators"] = datasets.Value("int32")
    return datasets.Features(features)


def build_dataset(
    sentences: pd.DataFrame, resolution: Resolution, schema: LabelSchema
) -> datasets.Dataset:
    """One row per labeled sentence, sorted by article_id and position."""
    table = sentences[UNLABELED_COLUMNS].merge(resolution.final, on="sentence_id", how="inner")
    table = table.sort_values(["article_id", "position"], kind="stable")
    features = dataset_features(schema)
    data: dict[str, list] = {
        "sentence_id": table["sentence_id"].astype(str).tolist(),
        "article_id": table["article_id"].astype(str).tolist(),
        "position": [int(p) for p in table["position"]],
        "text": table["text"].astype(str).tolist(),
    }
    for f in schema.fields:
        # Explicit ids: the ClassLabel order is the schema's, never the order values appear in.
        data[f.name] = [features[f.name].str2int(v) for v in table[f.name]]
    data["n_annotators"] = [int(n) for n in table["n_annotators"]]
    return datasets.Dataset.from_dict(data, features=features)


def save_dataset(dataset: datasets.Dataset, path: Path | str) -> None:
    """save_to_disk into a temporary folder beside path, then swap it in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    old = path.with_name(f".{path.name}.old")
    try:
        # One shard even when empty: an empty data set saved with no shard cannot be loaded.
        dataset.save_to_disk(str(tmp), num_shards=1)
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def load_labeled_dataset(path: Path | str = LABELED_DATASET) -> datasets.Dataset:
    """Load the labeled data set written by the label stage (``stance labels``)."""
    return datasets.load_from_disk(str(path))


def write_unlabeled(sentences: pd.DataFrame, resolution: Resolution, path: Path | str) -> int:
    """The labeling queue: sentences with no final label, in article order."""
    labeled = set(resolution.final["sentence_id"])
    queue = sentences[~sentences["sentence_id"].isin(labeled)]
    queue = queue.sort_values(["article_id", "position"], kind="stable")[UNLABELED_COLUMNS]
    with atomic_open(path, newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(UNLABELED_COLUMNS)
        writer.writerows(queue.itertuples(index=False, name=None))
    return len(queue)


def write_summary(resolution: Resolution, schema: LabelSchema, path: Path | str) -> None:
    """Counts of the first label field (rows) by the last (columns), with totals."""
    final = resolution.final
    row_field, col_field = schema.fields[0], schema.fields[-1]
    cols = col_field.names if len(schema.fields) > 1 else []
    rows = []
    for value in row_field.names:
        part = final[final[row_field.name] == value]
        counts = [int((part[col_field.name] == c).sum()) for c in cols]
        rows.append([value, *counts, len(part)])
    totals = [int((final[col_field.name] == c).sum()) for c in cols]
    rows.append(["total", *totals, len(final)])
    write_tsv(path, [row_field.name, *cols, "total"], rows)


def write_summary_by_article(
    sentences: pd.DataFrame, resolution: Resolution, schema: LabelSchema, path: Path | str
) -> None:
    """Per article: sentences, labeled, unlabeled, and labeled sentences per stance value."""
    stance = schema.fields[-1]
    table = sentences[["sentence_id", "article_id"]].merge(
        resolution.final, on="sentence_id", how="left"
    )
    rows = []
    for article_id, part in table.groupby("article_id", sort=True):
        labeled = part[part[stance.name].notna()]
        counts = [int((labeled[stance.name] == v).sum()) for v in stance.names]
        rows.append([article_id, len(part), len(labeled), len(part) - len(labeled), *counts])
    header = ["article_id", "sentences", "labeled", "unlabeled"]
    write_tsv(path, header + [f"{stance.name}_{v}" for v in stance.names], rows)


@dataclass
class StageResult:
    """What the label stage produced, for the command line summary."""

    sentences: int
    labeled: int
    unlabeled: int
    label_set: LabelSet
    agreement: Agreement


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
    dataset = build_dataset(sentences, resolution, schema)
    save_dataset(dataset, out_dataset)
    return StageResult(len(sentences), dataset.num_rows, unlabeled, label_set, agreement)
