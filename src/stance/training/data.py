"""Labeled data for training: from the label stage's data set or any labeled table."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stance.environment import import_datasets
from stance.errors import StanceError
from stance.training.models import SPEAKER, TEXT

TABLE_FORMATS = {".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}


@dataclass
class LabeledData:
    """Labeled sentences ready for training: ``frame`` has sentence_id, group (the article, or
    None), text, stance and maybe speaker; ``classes`` in label-scheme order."""

    frame: pd.DataFrame
    classes: list[str]
    source: str
    dataset: Any = None  # the datasets.Dataset it came from (logged as the MLflow input)
    notes: list[str] = field(default_factory=list)

    @property
    def grouped(self) -> bool:
        return bool(self.frame["group"].notna().all())

    @property
    def has_speaker(self) -> bool:
        return SPEAKER in self.frame.columns

    def digest(self) -> str:
        """SHA-256 of every row's id, group, text and labels (covers all rows, unlike MLflow's)."""
        h = hashlib.sha256()
        cols = [c for c in ("sentence_id", "group", TEXT, SPEAKER, "stance") if c in self.frame]
        for row in self.frame[cols].itertuples(index=False, name=None):
            h.update(json.dumps([None if pd.isna(v) else str(v) for v in row]).encode("utf-8"))
        return h.hexdigest()


def _names_of(ds: Any, column: str) -> tuple[list[str] | None, list[Any]]:
    """(ClassLabel names or None, values as names when a ClassLabel, else as stored)."""
    feature = ds.features[column]
    values = ds[column][:]  # a list: iterating the Column formats row by row (slow)
    names = getattr(feature, "names", None)
    if names is not None:
        return list(names), [
            feature.int2str(v) if v is not None and v >= 0 else None for v in values
        ]
    return None, list(values)


def _blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, float) and math.isnan(value))


def from_dataset(
    ds: Any,
    source: str,
    *,
    group_columns: Sequence[str] = ("article_id",),
    class_hint: Sequence[str] | None = None,
) -> LabeledData:
    """LabeledData from a datasets.Dataset with columns text, stance (speaker, group optional);
    classes: the ClassLabel names, else ``class_hint`` when it holds every value, else sorted."""
    columns = list(ds.column_names)
    missing = [c for c in (TEXT, "stance") if c not in columns]
    if missing:
        raise StanceError(
            f"{source}: missing column(s) {', '.join(missing)}; a labeled table needs 'text' and "
            f"'stance' (optional: 'group', 'speaker', 'sentence_id'); found: {', '.join(columns)}"
        )
    if ds.num_rows == 0:
        raise StanceError(f"{source}: no labeled sentences; label some sentences first")
    notes: list[str] = []
    class_names, stance = _names_of(ds, "stance")
    texts = ds[TEXT][:]
    bad = [i for i, (t, s) in enumerate(zip(texts, stance, strict=True)) if _blank(t) or _blank(s)]
    if bad:
        rows = ", ".join(str(i + 1) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise StanceError(
            f"{source}: {len(bad)} row(s) with an empty text or stance (data rows {rows}); "
            "fill them in or remove them"
        )
    stance = [str(s).strip() for s in stance]
    if class_names is None:
        present = sorted(set(stance))
        if class_hint and set(present) <= set(class_hint):
            class_names = list(class_hint)
        else:
            class_names = present
            if class_hint:
                notes.append(
                    f"stance values {', '.join(sorted(set(present) - set(class_hint)))} are not "
                    "in the label scheme; classes are the values found, in alphabetical order"
                )
    frame = pd.DataFrame({"text": [str(t) for t in texts], "stance": stance})
    if "sentence_id" in columns:
        frame.insert(0, "sentence_id", [str(v) for v in ds["sentence_id"][:]])
    else:
        frame.insert(0, "sentence_id", [f"row-{i + 1}" for i in range(ds.num_rows)])
    group_col = next((c for c in group_columns if c in columns), None)
    if group_col is not None:
        groups = [None if _blank(g) else str(g) for g in ds[group_col][:]]
        if any(g is None for g in groups):
            raise StanceError(
                f"{source}: column {group_col!r} is empty in some rows; give every row its "
                "article (or drop the column to use ungrouped cross-validation)"
            )
    else:
        groups = [None] * ds.num_rows
    frame.insert(1, "group", pd.Series(groups, dtype=object))
    if SPEAKER in columns:
        _, speakers = _names_of(ds, SPEAKER)
        frame[SPEAKER] = ["" if _blank(s) else str(s) for s in speakers]
    if frame["sentence_id"].duplicated().any():
        dupes = frame.loc[frame["sentence_id"].duplicated(), "sentence_id"].head(5).tolist()
        raise StanceError(f"{source}: sentence_id repeated ({', '.join(dupes)}); make them unique")
    return LabeledData(frame, class_names, source, ds, notes)


def load_training_data(path: Path | str) -> LabeledData:
    """The label stage's data set (``save_to_disk`` folder, results/labeled_dataset)."""
    path = Path(path)
    if not path.is_dir():
        raise StanceError(f"{path}: labeled data set not found; run the label stage (snakemake)")
    try:
        ds = import_datasets().load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise StanceError(
            f"{path}: not a saved data set ({exc}); rebuild it with snakemake"
        ) from None
    return from_dataset(ds, str(path))


def load_table(
    path: Path | str, class_hint: Sequence[str] | None = None, cache_dir: Path | str | None = None
) -> LabeledData:
    """A labeled table (CSV, JSON Lines or Parquet) read with ``datasets.load_dataset``."""
    path = Path(path)
    builder = TABLE_FORMATS.get(path.suffix.lower())
    if builder is None:
        raise StanceError(
            f"{path}: unknown table format {path.suffix!r}; use .csv, .jsonl (JSON Lines) "
            "or .parquet"
        )
    if not path.is_file():
        raise StanceError(f"{path}: file not found")
    datasets = import_datasets()
    # A CSV keeps "NA", "None" and the like as text: only an empty cell is missing.
    kwargs = {"keep_default_na": False, "na_values": [""]} if builder == "csv" else {}
    try:
        ds = datasets.load_dataset(
            builder,
            data_files=str(path.resolve()),
            split="train",
            cache_dir=str(cache_dir) if cache_dir else None,
            **kwargs,
        )
    except Exception as exc:  # the builders raise many types for a malformed file
        raise StanceError(f"{path}: cannot read it as {builder}: {exc}") from None
    return from_dataset(ds, str(path), group_columns=("group", "article_id"), class_hint=class_hint)
