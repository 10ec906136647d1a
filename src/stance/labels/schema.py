"""The label schema (labels/schema.yaml): the one place that knows the label fields and values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.config import load_yaml
from stance.errors import StanceError

ADJUDICATION_FILE = "adjudication.csv"
# Columns every label file must have besides the label fields, and those of adjudication.csv.
ID_COLUMNS = ("sentence_id", "text", "annotator")
ADJUDICATION_OPTIONAL = ("note", "text")
SENTENCE_COLUMNS = ("sentence_id", "article_id", "position", "text")
# Problems listed in one error; the rest are counted, so a broken file gives a readable message.
MAX_PROBLEMS = 50

TIE_RULE = (
    "majority vote per field; on a tie, the value of the annotator who comes first in config "
    "labels.annotator_priority, else of the alphabetically first annotator, among those who "
    "gave one of the tied values"
)


@dataclass(frozen=True)
class LabelValue:
    """One allowed value of a label field, with its one-key shortcut and description."""

    name: str
    key: str
    description: str = ""


@dataclass(frozen=True)
class LabelField:
    """A label field (speaker, stance) and its allowed values in schema order."""

    name: str
    description: str
    values: tuple[LabelValue, ...]

    @property
    def names(self) -> list[str]:
        """The allowed value names in schema order (the order of ClassLabel ids)."""
        return [v.name for v in self.values]


@dataclass(frozen=True)
class LabelSchema:
    """The label scheme read from labels/schema.yaml."""

    path: Path
    target: str
    fields: tuple[LabelField, ...]
    required_columns: tuple[str, ...]
    optional_columns: tuple[str, ...]

    @property
    def field_names(self) -> list[str]:
        """Label field names in schema order, e.g. ['speaker', 'stance']."""
        return [f.name for f in self.fields]

    def field(self, name: str) -> LabelField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def values(self, name: str) -> list[str]:
        """The allowed values of field ``name`` in schema order."""
        return self.field(name).names


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def load_schema(path: Path | str) -> LabelSchema:
    """Load labels/schema.yaml and check its structure; every problem is named with its key."""
    path = Path(path)
    data = load_yaml(path)
    problems: list[str] = []
    if not isinstance(data, dict):
        raise StanceError(f"{path}: the label schema must be a mapping with 'fields' and 'columns'")
    raw_fields = data.get("fields")
    fields: list[LabelField] = []
    if not isinstance(raw_fields, dict) or not raw_fields:
        problems.append("'fields' must be a mapping of field name to {description, values}")
        raw_fields = {}
    for fname, spec in raw_fields.items():
        where = f"fields.{fname}"
        if not isinstance(fname, str) or not fname.isidentifier():
            problems.append(f"{where}: the field name must be a word (letters, digits, '_')")
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), list):
            problems.append(f"{where}: must have a 'values' list")
            continue
        if not spec["values"]:
            problems.append(f"{where}.values: the list is empty; add at least one value")
        values: list[LabelValue] = []
        names: Counter[str] = Counter()
        keys: Counter[str] = Counter()
        for i, item in enumerate(spec["values"]):
            vwhere = f"{where}.values[{i}]"
            if not isinstance(item, dict):
                problems.append(f"{vwhere}: must be a mapping with name, key and description")
                continue
            name, key = item.get("name"), item.get("key")
            if not _is_text(name) or name != name.strip() or "," in name:
                problems.append(
                    f"{vwhere}: 'name' must be a non-empty string without commas or surrounding "
                    f"spaces (got {name!r})"
                )
                continue
            if not isinstance(key, str) or len(key) != 1:
                problems.append(
                    f"{vwhere} ({name}): 'key' must be a single character in quotes, "
                    f'e.g. key: "0" (got {key!r})'
                )
                key = ""
            names[name] += 1
            if key:
                keys[key] += 1
            desc = item.get("description", "")
            values.append(LabelValue(name, key, desc if isinstance(desc, str) else str(desc)))
        problems += [f"{where}: value '{n}' is listed {c} times" for n, c in names.items() if c > 1]
        problems += [f"{where}: key '{k}' is used {c} times" for k, c in keys.items() if c > 1]
        desc = spec.get("description", "")
        desc = desc if isinstance(desc, str) else str(desc)
        fields.append(LabelField(fname, desc, tuple(values)))

    columns = data.get("columns")
    required: list[str] = []
    optional: list[str] = []
    if not isinstance(columns, dict) or not isinstance(columns.get("required"), list):
        problems.append("'columns' must be a mapping with a 'required' list (and 'optional')")
    else:
        required = [str(c) for c in columns["required"]]
        optional = [str(c) for c in columns.get("optional") or []]
        for col in (*ID_COLUMNS, *(f.name for f in fields)):
            if col not in required:
                problems.append(f"columns.required: must list '{col}'")
    if problems:
        raise StanceError(
            f"{path}: the label schema is malformed:\n"
            + "\n".join(f"  {p}" for p in problems)
            + "\n  fix it following the structure described at the top of the file"
        )
    target = data.get("target", "")
    return LabelSchema(path, str(target), tuple(fields), tuple(required), tuple(optional))
