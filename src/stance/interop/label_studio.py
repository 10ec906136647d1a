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

from stance.errors import decode_utf8, parse_json, read_bytes
from stance.interop.common import NOTE, QueueItem, ToolAnnotation, ToolRead, own_records
from stance.interop.targets import Output
from stance.io import atomic_open, write_json
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
    """The labeling interface: the sentence between its neighbours, one single choice per label
    field (the schema's keys as hotkeys where unique), and a note."""
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
    s = item.suggestion
    if s is None:
        return {"data": data}
    choice = {"from_name": s.field, "to_name": TEXT_TAG, "type": "choices"}
    choice["value"] = {"choices": [s.value]}
    prediction = {"model_version": f"suggestion: {s.model}", "score": s.score, "result": [choice]}
    return {"data": data, "predictions": [prediction]}


_DATA_KEYS = ("text", "before", "after", "sentence_id", "article_id", "position")


def _is_tasks(text: str) -> bool:
    # Tasks with only ``data`` and ``predictions``: Label Studio's export adds ``annotations``.
    tasks = own_records(text, False, ("data", "predictions"), ("data",))
    return tasks is not None and all(
        isinstance(t["data"], dict) and {"text", "sentence_id"} <= set(t["data"]) <= set(_DATA_KEYS)
        for t in tasks
    )


def _is_config(text: str) -> bool:
    # Every config written by label_config begins so; one written by hand hardly would.
    return text.startswith('<View>\n  <Text name="before" value="$before"/>\n')


def outputs(out: Path) -> list[Output]:
    """The files an export to ``out`` writes, each with the test that a file is one of them."""
    return [(out, _is_tasks), (config_path(out), _is_config)]


def write_tasks(items: list[QueueItem], schema: LabelSchema, out: Path) -> list[Path]:
    """The tasks JSON and, beside it, the labeling config."""
    write_json(out, [task(i) for i in items], indent=1)
    with atomic_open(config_path(out), encoding="utf-8") as fh:
        fh.write(label_config(schema))
    return [out, config_path(out)]


def _user(annotation: dict[str, Any], full: bool = False) -> str:
    """Who made an annotation ("?" when unknown); ``full``: the id and the email, if both."""
    who = annotation.get("completed_by")
    if not isinstance(who, dict):
        return "?" if who is None else str(who) or "?"
    if full and who.get("id") is not None and who.get("email"):
        return f"{who['id']} ({who['email']})"
    return str(who.get("email") or who.get("id") or "") or "?"


def _user_forms(annotation: dict[str, Any]) -> set[str]:
    """The user's id and email (lower case) that --completed-by matches: Export > JSON gives
    only the id, API snapshots an object with id and email."""
    who = annotation.get("completed_by")
    forms = [who.get("id"), who.get("email")] if isinstance(who, dict) else [who]
    return {str(f).strip().lower() for f in forms if isinstance(f, int | str) and str(f).strip()}


def _shown(value: Any) -> str:
    text = json.dumps(value)  # ASCII: shows any odd character escaped
    return text if len(text) <= 40 else text[:40] + "…"


def _strings(value: Any) -> list[str] | None:
    """A text or a list of texts (numbers taken as their text); None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    return None


def _result(
    annotation: dict[str, Any], where: str, fields: list[str], read: ToolRead
) -> tuple[dict[str, list[str]], str] | None:
    """The values per label field and the note of an annotation; None when malformed."""
    result = annotation.get("result")
    if not isinstance(result, list | None):
        read.problems.append(f"{where}: 'result' is {_shown(result)}, not a list; {HOW}")
        return None
    values: dict[str, list[str]] = {f: [] for f in fields}
    notes: list[str] = []
    problems = len(read.problems)
    for r in result or []:
        name, value = (r.get("from_name"), r.get("value")) if isinstance(r, dict) else (None, None)
        if name not in (*fields, NOTE) or not isinstance(value, dict):
            read.problems.append(
                f"{where}: a result from {name!r}, which is no label field "
                f"({', '.join(fields)}) or {NOTE!r}; label with the config written by "
                "`stance export --to label-studio`"
            )
            continue
        key = "text" if name == NOTE else "choices"
        if (chosen := _strings(value.get(key))) is None:
            shown = _shown(value.get(key))
            read.problems.append(
                f"{where}: the note is {shown}, not a text or a list of texts; {HOW}"
                if name == NOTE
                else f"{where}: the choices of {name} are {shown}, not a list of values; {HOW}"
            )
            continue
        (notes if name == NOTE else values[name]).extend(chosen)
    if len(read.problems) > problems:
        return None
    return values, " ".join(notes).strip()


def read_annotations(path: Path, schema: LabelSchema, completed_by: str | None = None) -> ToolRead:
    """Human annotations (never ``predictions``) of a Label Studio JSON export, only those of
    the user ``completed_by`` when given; a cancelled annotation or none is no label."""
    text = decode_utf8(read_bytes(path), path, HOW, bom=True)
    data = parse_json(text, path, f"this is not a Label Studio export: {HOW}")
    read = ToolRead()
    if not isinstance(data, list):
        read.problems.append(f"{path}: a JSON {type(data).__name__}, not a list of tasks; {HOW}")
        return read
    if data and not any(isinstance(i, dict) and isinstance(i.get("data"), dict) for i in data):
        # JSON-MIN and CSV-like exports: one line for the file, not the same line per item.
        read.problems.append(
            f"{path}: none of its {len(data)} item(s) has a 'data' object, so this is not "
            f"Label Studio's JSON export (JSON-MIN has flat items without annotations); {HOW}"
        )
        return read
    wanted = None if completed_by is None else completed_by.strip().lower()
    users: set[str] = set()  # every user with an annotation, for a --completed-by that fits none
    matched = 0  # tasks with an annotation by --completed-by
    for i, item in enumerate(data, start=1):
        where = f"{path} item {i}"
        if isinstance(item, dict) and item.get("id") is not None:
            where += f" (task id {item['id']})"
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            read.problems.append(f"{where}: no 'data' object, so not a Label Studio task; {HOW}")
            continue
        # "completions": the name before Label Studio 1.0
        annotations = item.get("annotations") or item.get("completions", [])
        if not isinstance(annotations, list):
            read.problems.append(f"{where}: 'annotations' is not a list; {HOW}")
            continue
        human = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
        users |= {_user(a, full=True) for a in human}
        if wanted is not None:
            human = [a for a in human if wanted in _user_forms(a)]
            matched += bool(human)
        if not human:
            why = "skipped (cancelled) in Label Studio" if annotations else "no annotation"
            if completed_by is not None and annotations:
                why = f"no annotation by {completed_by}"
            read.skipped.append(f"{where}: {why}")
            continue
        if len(human) > 1:
            users_here = ", ".join(_user(a) for a in human)
            read.problems.append(
                f"{where}: {len(human)} annotations (by users {users_here}); a label file holds "
                "one annotator's labels: import each user's annotations into their own file with "
                "--completed-by USER (the user's id or email)"
            )
            continue
        chosen = _result(human[0], where, schema.field_names, read)
        if chosen is None:
            continue
        read.annotations.append(
            ToolAnnotation.of(where, item["data"].get("text"), item["data"], *chosen)
        )
    if wanted is not None and not matched:
        held = ", ".join(sorted(users)) if users else "nobody (it holds no annotation)"
        read.problems.append(
            f"{path}: no annotation by {completed_by!r} (--completed-by); its annotations are "
            f"by {held}: give one of these (Export > JSON names users by their numeric id, "
            "API snapshots also by email)"
        )
    return read
