"""doccano: text classification JSONL in (metadata carries the IDs) and out, and its label types.

Formats: https://doccano.github.io/doccano/tutorial/#import-dataset and #export-data. doccano has
one label set per project, so a value is written ``field:value`` (``speaker:taliban``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from stance.interop.common import (
    QueueItem,
    ToolAnnotation,
    ToolRead,
    choice_values,
    own_records,
    read_jsonl,
)
from stance.interop.targets import Output
from stance.io import atomic_open, write_json
from stance.labels.schema import LabelSchema

NAME = "doccano"
DEFAULT_OUT = "results/doccano/tasks.jsonl"
HOW = "in doccano, Dataset > Export Dataset > JSONL"
# A fixed colour per field, so speaker and stance labels look different in doccano.
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def labels_path(out: Path) -> Path:
    """Where the label types go: beside the tasks file."""
    return out.with_name(f"{out.stem}.labels.json")


def label_types(schema: LabelSchema) -> list[dict[str, Any]]:
    """doccano's label-type import (Labels > Import): one ``field:value`` per value in schema
    order, with the schema's key as shortcut when no two values share one."""
    keys = Counter(v.key for f in schema.fields for v in f.values)
    return [
        {
            "text": f"{f.name}:{v.name}",
            "suffix_key": v.key if keys[v.key] == 1 else None,
            "background_color": _COLOURS[i % len(_COLOURS)],
            "text_color": "#ffffff",
        }
        for i, f in enumerate(schema.fields)
        for v in f.values
    ]


def record(item: QueueItem) -> dict[str, Any]:
    """One JSONL line: the text, and as metadata the IDs, the context and any model suggestion
    (metadata only: a ``label`` would arrive in doccano as if a person had given it)."""
    out: dict[str, Any] = {"text": item.text, **item.ids()}
    out["before"], out["after"] = item.before, item.after
    s = item.suggestion
    if s is not None:
        out["model_suggestion"] = f"{s.field}:{s.value} (p={s.score:.2f}, {s.model})"
    return out


# The keys of record(); doccano's export adds id and label, so an export is never taken for it.
_RECORD_KEYS = ("text", "sentence_id", "article_id", "position", "before", "after")
_LABEL_TYPE_KEYS = ("text", "suffix_key", "background_color", "text_color")


def _is_tasks(text: str) -> bool:
    return own_records(text, True, (*_RECORD_KEYS, "model_suggestion"), _RECORD_KEYS) is not None


def _is_label_types(text: str) -> bool:
    return bool(own_records(text, False, _LABEL_TYPE_KEYS, _LABEL_TYPE_KEYS))


def outputs(out: Path) -> list[Output]:
    """The files an export to ``out`` writes, each with the test that a file is one of them."""
    return [(out, _is_tasks), (labels_path(out), _is_label_types)]


def write_tasks(items: list[QueueItem], schema: LabelSchema, out: Path) -> list[Path]:
    """The JSONL to import and, beside it, the label types."""
    with atomic_open(out, encoding="utf-8") as fh:
        fh.writelines(json.dumps(record(i), ensure_ascii=False) + "\n" for i in items)
    write_json(labels_path(out), label_types(schema), indent=1)
    return [out, labels_path(out)]


def read_annotations(path: Path, schema: LabelSchema) -> ToolRead:
    """The labels of a doccano text classification export; an example without labels is none."""
    read = ToolRead()
    for where, obj in read_jsonl(path, "doccano", HOW):
        # The IDs are top-level keys of the export, or under its "meta".
        ids = {**obj["meta"], **obj} if isinstance(obj.get("meta"), dict) else obj
        raw = obj.get("label", obj.get("labels"))
        if raw is None or raw == []:
            read.skipped.append(f"{where}: no label")
            continue
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            read.problems.append(
                f"{where}: 'label' is not a list of label names (a sequence labeling or other "
                f"project?); export a text classification project: {HOW}"
            )
            continue
        fix = (
            "create the labels from the file written by `stance export --to doccano` "
            "(Labels > Import)"
        )
        values = choice_values(raw, schema.field_names, where, "label", fix, read)
        text = obj.get("text", obj.get("data"))
        read.annotations.append(ToolAnnotation.of(where, text, ids, values))
    return read
