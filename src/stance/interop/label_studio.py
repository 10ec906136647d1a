"""Label Studio: tasks JSON with predictions, a labeling config from the schema, its JSON export.

Formats: https://labelstud.io/guide/tasks (import, with ``predictions`` for pre-annotations),
https://labelstud.io/guide/export.html#Label-Studio-JSON-format-of-annotated-tasks (export).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from stance.interop.common import NOTE, QueueItem, ToolAnnotation, ToolRead, as_str
from stance.io import atomic_open
from stance.labels.schema import LabelSchema

NAME = "label-studio"
DEFAULT_OUT = "results/label-studio/tasks.json"
HOW = "in Label Studio, Export > JSON (not JSON-MIN or CSV)"
# The object tag the label fields point to (to_name of every result).
TEXT_TAG = "text"


def config_path(out: Path) -> Path:
    """Where the labeling config goes: beside the tasks file."""
    return out.with_name(f"{out.stem}.label_config.xml")


def label_config(schema: LabelSchema) -> str:
    """The labeling interface: the sentence between its neighbours, one single choice per
    label field in schema order (with the schema's keys as hotkeys when no two share one), and
    a note."""
    keys = Counter(v.key for f in schema.fields for v in f.values)
    lines = [
        "<View>",
        '  <Text name="before" value="$before"/>',
        '  <Header value="Sentence to label:" size="5"/>',
        f'  <Text name="{TEXT_TAG}" value="$text"/>',
        '  <Text name="after" value="$after"/>',
    ]
    for f in schema.fields:
        lines.append(f'  <Header value={quoteattr(f"{f.name}: {f.description}")} size="5"/>')
        lines.append(
            f'  <Choices name="{f.name}" toName="{TEXT_TAG}" choice="single-radio" '
            'required="true" showInline="false">'
        )
        for v in f.values:
            hotkey = f" hotkey={quoteattr(v.key)}" if keys[v.key] == 1 else ""
            lines.append(
                f"    <Choice value={quoteattr(v.name)} hint={quoteattr(v.description)}{hotkey}/>"
            )
        lines.append("  </Choices>")
    lines += [
        f'  <TextArea name="{NOTE}" toName="{TEXT_TAG}" placeholder="note (optional)" '
        'maxSubmissions="1" editable="true"/>',
        "</View>",
    ]
    return "\n".join(lines) + "\n"


def task(item: QueueItem) -> dict[str, Any]:
    """One Label Studio task; a model suggestion is a prediction (shown, never a label)."""
    data = {"text": item.text, "before": item.before, "after": item.after, **item.ids()}
    out: dict[str, Any] = {"data": data}
    s = item.suggestion
    if s is not None:
        out["predictions"] = [
            {
                "model_version": f"suggestion: {s.model}",
                "score": s.score,
                "result": [
                    {
                        "from_name": s.field,
                        "to_name": TEXT_TAG,
                        "type": "choices",
                        "value": {"choices": [s.value]},
                    }
                ],
            }
        ]
    return out


def write_tasks(items: list[QueueItem], schema: LabelSchema, out: Path) -> list[Path]:
    """The tasks JSON and, beside it, the labeling config."""
    with atomic_open(out, encoding="utf-8") as fh:
        json.dump([task(i) for i in items], fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    with atomic_open(config_path(out), encoding="utf-8") as fh:
        fh.write(label_config(schema))
    return [out, config_path(out)]


def _user(annotation: dict[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("id") or "")
    return "" if who is None else str(who)


def read_annotations(path: Path, schema: LabelSchema, completed_by: str | None = None) -> ToolRead:
    """Human annotations of a Label Studio JSON export. ``predictions`` are never read; a
    cancelled (skipped) annotation and a task without annotations are no label."""
    from stance.interop.common import read_json

    data = read_json(path, "Label Studio", HOW)
    read = ToolRead()
    if not isinstance(data, list):
        read.problems.append(f"{path}: a JSON {type(data).__name__}, not a list of tasks; {HOW}")
        return read
    fields = schema.field_names
    for i, item in enumerate(data, start=1):
        where = f"{path} item {i}"
        if isinstance(item, dict) and item.get("id") is not None:
            where += f" (task id {item['id']})"
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            read.problems.append(f"{where}: no 'data' object, so not a Label Studio task; {HOW}")
            continue
        annotations = item.get("annotations")
        if annotations is None:
            annotations = item.get("completions", [])  # the name before Label Studio 1.0
        if not isinstance(annotations, list):
            read.problems.append(f"{where}: 'annotations' is not a list; {HOW}")
            continue
        human = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
        if completed_by is not None:
            human = [a for a in human if completed_by in (_user(a), str(a.get("completed_by")))]
        if not human:
            cancelled = len(annotations) - len(human)
            why = "skipped (cancelled) in Label Studio" if cancelled else "no annotation"
            if completed_by is not None and annotations:
                why = f"no annotation by {completed_by}"
            read.skipped.append(f"{where}: {why}")
            continue
        if len(human) > 1:
            users = ", ".join(_user(a) or "?" for a in human)
            read.problems.append(
                f"{where}: {len(human)} annotations (by users {users}); a label file holds one "
                "annotator's labels: import each user's annotations into their own file with "
                "--completed-by USER (the user's id or email)"
            )
            continue
        task_data = item["data"]
        values: dict[str, list[str]] = {f: [] for f in fields}
        note = ""
        for r in human[0].get("result") or []:
            name = r.get("from_name") if isinstance(r, dict) else None
            value = r.get("value") if isinstance(r, dict) else None
            if name in fields and isinstance(value, dict):
                values[name] += [str(c) for c in value.get("choices") or []]
            elif name == NOTE and isinstance(value, dict):
                note = " ".join(str(t) for t in value.get("text") or []).strip()
            else:
                read.problems.append(
                    f"{where}: a result from {name!r}, which is no label field "
                    f"({', '.join(fields)}) or {NOTE!r}; label with the config written by "
                    "`stance export --to label-studio`"
                )
        read.annotations.append(
            ToolAnnotation(
                where,
                as_str(task_data.get("text")),
                as_str(task_data.get("sentence_id")),
                as_str(task_data.get("article_id")),
                values,
                note,
            )
        )
    return read
