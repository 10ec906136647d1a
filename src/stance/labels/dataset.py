"""The labeled Hugging Face data set, the labeling queue and the label summaries."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from stance.environment import import_datasets
from stance.io import atomic_dir, atomic_open, spreadsheet_frame, write_tsv
from stance.labels.resolution import Resolution
from stance.labels.schema import SENTENCE_COLUMNS, LabelSchema

if TYPE_CHECKING:
    import datasets


def dataset_features(schema: LabelSchema) -> datasets.Features:
    """Features of the labeled data set; label fields are ClassLabels in schema order."""
    datasets = import_datasets()
    features = dict.fromkeys(SENTENCE_COLUMNS, datasets.Value("string"))
    features["position"] = datasets.Value("int32")
    for f in schema.fields:
        features[f.name] = datasets.ClassLabel(names=f.names)
    features["n_annotators"] = datasets.Value("int32")
    return datasets.Features(features)


def build_dataset(
    sentences: pd.DataFrame, resolution: Resolution, schema: LabelSchema
) -> datasets.Dataset:
    """One row per labeled sentence, sorted by article_id and position."""
    table = sentences[SENTENCE_COLUMNS].merge(resolution.final, on="sentence_id", how="inner")
    table = table.sort_values(["article_id", "position"], kind="stable")
    features = dataset_features(schema)
    data = table[list(features)].to_dict("list")
    # Casting the value names to the schema's ClassLabels gives the ids in schema order (never
    # the order values first appear in) and rejects a value outside the schema.
    datasets = import_datasets()
    if table.empty:  # datasets 5.2 leaves the features of an empty data set as they were on cast
        return datasets.Dataset.from_dict(data, features=features)
    as_text = datasets.Features(
        {k: datasets.Value("string") if k in schema.field_names else v for k, v in features.items()}
    )
    return datasets.Dataset.from_dict(data, features=as_text).cast(features)


def save_dataset(dataset: datasets.Dataset, path: Path | str) -> None:
    """save_to_disk into a temporary folder beside path, then swap it in."""
    with atomic_dir(path) as tmp:
        # One shard even when empty: an empty data set saved with no shard cannot be loaded.
        dataset.save_to_disk(str(tmp), num_shards=1)


def final_labels(path: Path | str, schema: LabelSchema) -> pd.DataFrame:
    """The final labels of a saved labeled data set: sentence_id and each field's value name."""
    dataset = import_datasets().load_from_disk(str(path))
    frame = pd.DataFrame({"sentence_id": dataset["sentence_id"]}, dtype=str)
    for f in schema.fields:
        frame[f.name] = [dataset.features[f.name].int2str(int(i)) for i in dataset[f.name]]
    return frame


def write_unlabeled(sentences: pd.DataFrame, final: pd.DataFrame, path: Path | str) -> int:
    """The labeling queue: the sentences (article order) with no final label, spreadsheet-safe."""
    queue = sentences.loc[~sentences["sentence_id"].isin(final["sentence_id"]), SENTENCE_COLUMNS]
    with atomic_open(path, newline="", encoding="utf-8") as fh:
        spreadsheet_frame(queue).to_csv(fh, index=False, lineterminator="\n")
    return len(queue)


def write_summary(resolution: Resolution, schema: LabelSchema, path: Path | str) -> None:
    """Counts of the first label field (rows) by the last (columns), with totals."""
    final = resolution.final
    row_field, col_field = schema.fields[0], schema.fields[-1]
    cols = col_field.names if len(schema.fields) > 1 else []
    parts = [(v, final[final[row_field.name] == v]) for v in row_field.names] + [("total", final)]
    rows = [[v, *(int((p[col_field.name] == c).sum()) for c in cols), len(p)] for v, p in parts]
    write_tsv(path, [row_field.name, *cols, "total"], rows, for_people=True)


def write_summary_by_article(
    sentences: pd.DataFrame, final: pd.DataFrame, schema: LabelSchema, path: Path | str
) -> None:
    """Per article: sentences, labeled, unlabeled, and labeled sentences per stance value."""
    stance = schema.fields[-1]
    table = sentences[["sentence_id", "article_id"]].merge(
        final[["sentence_id", stance.name]], on="sentence_id", how="left"
    )
    by_article = table.groupby("article_id", sort=True)[stance.name]
    total, labeled = by_article.size(), by_article.count()
    per_value = pd.crosstab(table["article_id"], table[stance.name]).reindex(
        index=total.index, columns=stance.names, fill_value=0
    )
    rows = pd.concat([total, labeled, total - labeled, per_value], axis=1).reset_index()
    header = ["article_id", "sentences", "labeled", "unlabeled"]
    header += [f"{stance.name}_{v}" for v in stance.names]
    write_tsv(path, header, rows.to_numpy().tolist(), for_people=True)
