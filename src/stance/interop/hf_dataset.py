"""The labeled data set as a folder that `datasets.load_dataset(DIR)` reads: Parquet and a card.

Layout: https://huggingface.co/docs/datasets/repository_structure and
https://huggingface.co/docs/hub/datasets-cards (the card's YAML header names files and features).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from stance.environment import import_datasets
from stance.interop.targets import earlier_files, move_in
from stance.io import markdown_table, write_json
from stance.labels.agreement import ALPHA, COHEN, compute_agreement
from stance.labels.dataset import build_dataset
from stance.labels.files import load_labels
from stance.labels.resolution import resolve_labels
from stance.labels.schema import LabelSchema

TRAIN_FILE = "data/train.parquet"
ANNOTATIONS_FILE = "data/annotations.parquet"
MARKER = "Written by `stance export --dataset`"
# Every file an export may write (relative to its folder).
KNOWN_FILES = (
    "README.md",
    "GUIDELINES.md",
    "schema.yaml",
    "agreement.json",
    TRAIN_FILE,
    ANNOTATIONS_FILE,
)
LICENSE_NOTE = (
    "**License: to be filled in by the data set's owner before sharing.** The card says "
    "`license: other` until then. The sentences are quoted from news articles whose copyright "
    "lies with their publishers; check what you may share before publishing this data set."
)


@dataclass
class DatasetExport:
    """What `stance export --dataset` wrote."""

    path: Path
    rows: int
    annotations: int
    articles: int


def _feature_yaml(features: Any) -> list[dict[str, Any]]:
    """The ``dataset_info.features`` of a card, from datasets.Features."""
    datasets = import_datasets()
    out = []
    for name, feature in features.items():
        dtype = feature.dtype
        if isinstance(feature, datasets.ClassLabel):
            dtype = {"class_label": {"names": {str(i): n for i, n in enumerate(feature.names)}}}
        out.append({"name": name, "dtype": dtype})
    return out


def _agreement_text(report: dict[str, Any]) -> str:
    status = report.get("status")
    if status != "ok":
        return (
            f"Not measured: {status} ({len(report.get('annotators', []))} annotator(s), "
            f"{report.get('doubly_labeled', 0)} sentence(s) labeled by two or more)."
        )
    measure = {COHEN: "Cohen's kappa", ALPHA: "Krippendorff's alpha (nominal)"}.get(
        report["measure"], str(report["measure"])
    )
    rows = [
        [fname, "undefined" if r.get("value") is None else f"{r['value']:.3f}"]
        for fname, r in report["fields"].items()
    ]
    return (
        f"{report['doubly_labeled']} sentence(s) were labeled by two or more of "
        f"{len(report['annotators'])} annotators ({', '.join(report['annotators'])}); "
        f"{report['disagreements']} disagreement(s), {len(report.get('ties', []))} tie(s), "
        f"{report.get('adjudicated', 0)} adjudicated. Agreement ({measure}):\n\n"
        + markdown_table(["field", measure], rows)
        + "\n\nThe full report is `agreement.json`."
    )


def card(
    schema: LabelSchema,
    features: Any,
    train: pd.DataFrame,
    annotations: pd.DataFrame,
    agreement: dict[str, Any],
    has_guidelines: bool,
    nbytes: tuple[int, int] = (0, 0),
) -> str:
    """The dataset card: YAML metadata for `datasets` and the Hub, then the description."""
    fields = schema.field_names
    meta = {
        "license": "other",
        "language": ["en"],
        "task_categories": ["text-classification"],
        "pretty_name": f"Stance on the {schema.target}" if schema.target else "Stance",
        "size_categories": ["n<1K" if len(train) < 1000 else "1K<n<10K"],
        "configs": [
            {
                "config_name": "default",
                "default": True,
                "data_files": [{"split": "train", "path": TRAIN_FILE}],
            },
            {
                "config_name": "annotations",
                "data_files": [{"split": "train", "path": ANNOTATIONS_FILE}],
            },
        ],
        "dataset_info": [
            {
                "config_name": "default",
                "features": _feature_yaml(features),
                "splits": [{"name": "train", "num_bytes": nbytes[0], "num_examples": len(train)}],
            },
            {
                "config_name": "annotations",
                "features": [{"name": c, "dtype": "string"} for c in annotations.columns],
                "splits": [
                    {"name": "train", "num_bytes": nbytes[1], "num_examples": len(annotations)}
                ],
            },
        ],
    }
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    value_tables = []
    for f in schema.fields:
        counts = train[f.name].value_counts()
        rows = [
            [i, v.name, int(counts.get(v.name, 0)), v.description] for i, v in enumerate(f.values)
        ]
        value_tables.append(
            f"### `{f.name}`: {f.description}\n\n"
            + markdown_table(["id", "value", "sentences", "meaning"], rows)
        )
    per_article = []
    last = schema.fields[-1]
    for article, part in train.groupby("article_id", sort=True):
        counts = part[last.name].value_counts()
        per_article.append([article, len(part), *(int(counts.get(v, 0)) for v in last.names)])
    guidelines = (
        "The labeling rules are in [`GUIDELINES.md`](GUIDELINES.md); the allowed values, their "
        "order and descriptions in [`schema.yaml`](schema.yaml)."
        if has_guidelines
        else "The allowed values, their order and descriptions are in [`schema.yaml`](schema.yaml)."
    )
    return f"""---
{header}---

# {meta["pretty_name"]}

Sentences of news articles about the war in Afghanistan, each labeled by hand with who speaks
(`speaker`) and what stance that speaker takes (`stance`) on the target: {schema.target}.
{MARKER} of the stance pipeline.

{LICENSE_NOTE}

## Loading

```python
import datasets

labeled = datasets.load_dataset("PATH/TO/THIS/FOLDER", split="train")
labeled.features["stance"].names  # {schema.values(fields[-1])}
per_annotator = datasets.load_dataset("PATH/TO/THIS/FOLDER", "annotations", split="train")
```

## Data

- `default` ({TRAIN_FILE}): {len(train)} labeled sentences from {train["article_id"].nunique()}
  articles, one row each, in article order: `sentence_id` (article ID and a hash of the
  normalised text), `article_id`, `position` (0-based in the article), `text`,
  {", ".join(f"`{f}`" for f in fields)} (class labels in the order below) and `n_annotators`. The
  label of a sentence with several annotators is the adjudicated one, else the majority per field,
  else the tie rule: {agreement.get("tie_rule", "see agreement.json")}.
- `annotations` ({ANNOTATIONS_FILE}): {len(annotations)} labels, one per sentence and annotator
  (`sentence_id`, {", ".join(f"`{f}`" for f in fields)}, `annotator`, `note`), values as text.

There is one split, `train`. Sentences of one article share topic, speakers and wording: split
by `article_id` (grouped cross-validation) when evaluating, never by sentence.

## Labels

{guidelines}

{(chr(10) * 2).join(value_tables)}

## Sentences per article

{markdown_table(["article_id", "labeled", *schema.values(fields[-1])], per_article)}

## Agreement between annotators

{_agreement_text(agreement)}
"""


def export_dataset(
    out: Path | str,
    sentences: pd.DataFrame,
    schema: LabelSchema,
    labels_dir: Path | str,
    *,
    annotator_priority: list[str] | None = None,
    guidelines: Path | str | None = None,
    sentences_source: str = "results/sentences.parquet",
    force: bool = False,
    protected: Mapping[str, Path] | None = None,
) -> DatasetExport:
    """Validate the labels as the label stage does, then write the folder (see targets)."""
    out = Path(out)
    has_guidelines = guidelines is not None and Path(guidelines).is_file()
    writing = [f for f in KNOWN_FILES if has_guidelines or f != "GUIDELINES.md"]
    ours = earlier_files(out, writing, KNOWN_FILES, MARKER, force=force, protected=protected or {})
    label_set = load_labels(labels_dir, sentences, schema, sentences_source=sentences_source)
    resolution = resolve_labels(label_set, schema, annotator_priority or [])
    agreement = compute_agreement(label_set, resolution, sentences, schema).report
    dataset = build_dataset(sentences, resolution, schema)
    fields = schema.field_names
    annotations = label_set.labels[["sentence_id", *fields, "annotator", "note"]]
    train = dataset.to_pandas()
    for f in fields:  # ids -> names for the card's counts
        train[f] = [dataset.features[f].int2str(int(i)) for i in train[f]]

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as name:
        tmp = Path(name)
        (tmp / "data").mkdir()
        dataset.to_parquet(str(tmp / TRAIN_FILE))
        per_annotator = import_datasets().Dataset.from_pandas(annotations, preserve_index=False)
        per_annotator.to_parquet(str(tmp / ANNOTATIONS_FILE))
        nbytes = (int(dataset.data.nbytes), int(per_annotator.data.nbytes))
        if has_guidelines:
            shutil.copyfile(guidelines, tmp / "GUIDELINES.md")
        shutil.copyfile(schema.path, tmp / "schema.yaml")
        write_json(tmp / "agreement.json", agreement)
        text = card(schema, dataset.features, train, annotations, agreement, has_guidelines, nbytes)
        (tmp / "README.md").write_text(text, encoding="utf-8")
        move_in(tmp, out, ours)
    return DatasetExport(out, len(train), len(annotations), int(train["article_id"].nunique()))
