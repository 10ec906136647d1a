"""Prodigy: choice tasks JSONL (IDs and suggestions in ``meta``) and its ``db-out`` answers.

Formats: https://prodi.gy/docs/api-interfaces#choice and https://prodi.gy/docs/recipes#db-out.
One task asks for every label field at once (``"choice_style": "multiple"``); each option ID is
``field:value``, and ``accept`` lists the chosen ones.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from stance.interop.common import (
    NOTE,
    QueueItem,
    ToolAnnotation,
    ToolRead,
    as_str,
    choice_values,
    own_records,
    read_jsonl,
)
from stance.interop.targets import Output
from stance.io import atomic_open
from stance.labels.schema import LabelSchema

NAME = "prodigy"
DEFAULT_OUT = "results/prodigy/tasks.jsonl"
HOW = "export the answers with `prodigy db-out DATASET > answers.jsonl`"


def task(item: QueueItem, schema: LabelSchema) -> dict[str, Any]:
    """One choice task: the sentence between its neighbours; a model suggestion goes in ``meta``
    only (never pre-selected in ``accept``, where it would come back as an answer)."""
    meta = item.ids()
    before, after = (
        f'<p style="color:#888">{html.escape(t)}</p>' if t else ""
        for t in (item.before, item.after)
    )
    s = item.suggestion
    if s is not None:
        meta["model_suggestion"] = f"{s.field}:{s.value} (p={s.score:.2f}, {s.model})"
    return {
        "text": item.text,
        "html": f"{before}<p><strong>{html.escape(item.text)}</strong></p>{after}",
        "options": [
            {"id": f"{f.name}:{v.name}", "text": f"{f.name}: {v.name} ({v.description})"}
            for f in schema.fields
            for v in f.values
        ],
        "config": {"choice_style": "multiple"},
        "meta": meta,
    }


# The keys of task(); db-out adds answer, accept and hashes, so answers are never taken for tasks.
_TASK_KEYS = ("text", "html", "options", "config", "meta")


def _is_tasks(text: str) -> bool:
    tasks = own_records(text, True, _TASK_KEYS, _TASK_KEYS)
    return tasks is not None and all(
        isinstance(t["meta"], dict) and "sentence_id" in t["meta"] for t in tasks
    )


def outputs(out: Path) -> list[Output]:
    """The file an export to ``out`` writes, with the test that a file is one."""
    return [(out, _is_tasks)]


def write_tasks(items: list[QueueItem], schema: LabelSchema, out: Path) -> list[Path]:
    """The JSONL source for ``prodigy mark``."""
    with atomic_open(out, encoding="utf-8") as fh:
        fh.writelines(json.dumps(task(i, schema), ensure_ascii=False) + "\n" for i in items)
    return [out]


def read_annotations(path: Path, schema: LabelSchema) -> ToolRead:
    """Accepted answers of a ``prodigy db-out`` file; ``reject`` and ``ignore`` are no label."""
    read = ToolRead()
    for where, obj in read_jsonl(path, "Prodigy", HOW):
        answer = obj.get("answer")
        if answer in ("reject", "ignore"):
            read.skipped.append(f"{where}: answer {answer!r}")
            continue
        if answer != "accept":
            read.problems.append(
                f"{where}: answer is {answer!r}, not 'accept', 'reject' or 'ignore': not an "
                f"answered task (is this the tasks file?); {HOW}"
            )
            continue
        chosen = obj.get("accept", [])
        if not isinstance(chosen, list):
            read.problems.append(f"{where}: 'accept' is not a list of option IDs; {HOW}")
            continue
        fix = "label the tasks written by `stance export --to prodigy`"
        values = choice_values(chosen, schema.field_names, where, "option", fix, read)
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
        note = (as_str(obj.get(NOTE)) or "").strip()
        read.annotations.append(ToolAnnotation.of(where, obj.get("text"), meta, values, note))
    return read
