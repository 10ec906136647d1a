"""The label schema (labels/schema.yaml): the one place that knows the label fields and values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import jsonschema

from stance.config import load_yaml
from stance.errors import StanceError

ADJUDICATION_FILE = "adjudication.csv"
# Columns every label file must have besides the label fields, and those of adjudication.csv.
ID_COLUMNS = ("sentence_id", "text", "annotator")
ADJUDICATION_OPTIONAL = ("note", "text")
SENTENCE_COLUMNS = ["sentence_id", "article_id", "position", "text"]
# Problems listed in one error; the rest are counted, so a broken file gives a readable message.
MAX_PROBLEMS = 50


def problem_lines(problems: list[str]) -> str:
    """The first MAX_PROBLEMS problems, one indented line each, and how many more there are."""
    shown = problems[:MAX_PROBLEMS]
    text = "\n".join(f"  {p}" for p in shown)
    if len(problems) > len(shown):
        text += f"\n  ... and {len(problems) - len(shown)} more problem(s)"
    return text


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
        return {f.name: f for f in self.fields}[name]

    def values(self, name: str) -> list[str]:
        """The allowed values of field ``name`` in schema order."""
        return self.field(name).names


# The structure of a label schema file, checked by JSON Schema; code checks only the rules that
# relate entries to each other (unique names and keys, the columns a label file must have).
STRUCTURE = Path(__file__).with_name("label_schema.schema.yaml")


# What to write instead, by the key a structural error is about.
_HINTS = {
    "key": 'write a single character in quotes, e.g. key: "0"',
    "name": "write a non-empty name without commas or surrounding spaces",
    "values": "list the allowed values, each with name, key and description",
}


def load_schema(path: Path | str) -> LabelSchema:
    """Load labels/schema.yaml and check it; every problem is named with its key."""
    path = Path(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise StanceError(f"{path}: the label schema must be a mapping with 'fields' and 'columns'")
    validator = jsonschema.Draft202012Validator(load_yaml(STRUCTURE))
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        keys = [str(p) for p in err.absolute_path]
        # A missing key is named in the message ("'values' is a required property").
        about = err.message.split("'")[1] if err.validator == "required" else (keys or [""])[-1]
        hint = f" ({_HINTS[about]})" if about in _HINTS else ""
        problems.append(f"{'.'.join(keys) or '(top level)'}: {err.message}{hint}")
    fields: list[LabelField] = []
    if not problems:
        for fname, spec in data["fields"].items():
            values = tuple(
                LabelValue(v["name"], v["key"], v.get("description", "")) for v in spec["values"]
            )
            for attr, what in (("name", "value '{}' is listed"), ("key", "key '{}' is used")):
                counts = Counter(getattr(v, attr) for v in values).items()
                problems += [
                    f"fields.{fname}: {what.format(n)} {c} times" for n, c in counts if c > 1
                ]
            fields.append(LabelField(fname, spec.get("description", ""), values))
        problems += [
            f"columns.required: must list '{col}'"
            for col in (*ID_COLUMNS, *(f.name for f in fields))
            if col not in data["columns"]["required"]
        ]
    if problems:
        raise StanceError(
            f"{path}: the label schema is malformed:\n{problem_lines(problems)}\n"
            "  fix it following the structure described at the top of the file"
        )
    required, optional = data["columns"]["required"], data["columns"].get("optional", [])
    return LabelSchema(
        path, data.get("target", ""), tuple(fields), tuple(required), tuple(optional)
    )


# The labeling guidelines beside the label files: a '## `field`' section per label field, with
# a '### `value`' section per value (labels/GUIDELINES.md).
GUIDELINES_FILE = "GUIDELINES.md"


def guideline_problems(schema: LabelSchema, guidelines: Path | str) -> list[str]:
    """The fields and values ``guidelines`` has no section for, and its unknown value sections."""
    path = Path(guidelines)
    if not path.is_file():
        return [
            f"{path}: not found; write the labeling guidelines there, a '## `field`' section "
            f"per field of {schema.path} with a '### `value`' section per value"
        ]
    # field -> (line of its section, {value: line of its section})
    sections: dict[str, tuple[int, dict[str, int]]] = {}
    field = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        level = len(line) - len(line.lstrip("#"))
        named = line.split("`")[1] if level in (2, 3) and line.count("`") >= 2 else None
        if level == 2:
            field = named if named in schema.field_names else None
            if field:
                sections[field] = (number, {})
        elif level == 3 and field and named:
            sections[field][1][named] = number
    problems = []
    for f in schema.fields:
        if f.name not in sections:
            problems.append(
                f"{path}: no section for field '{f.name}' of {schema.path}; add '## `{f.name}`: "
                f"{f.description}' with a '### `value`' section for each of its values"
            )
            continue
        at, described = sections[f.name]
        problems += [
            f"{path}:{at}: {f.name} value '{v.name}' of {schema.path} has no section; "
            f"add '### `{v.name}`' under '## `{f.name}`' with its description "
            f"({v.description or 'see the schema'}) and examples from the articles"
            for v in f.values
            if v.name not in described
        ]
        problems += [
            f"{path}:{line}: '### `{name}`' under '## `{f.name}`' names no {f.name} value of "
            f"{schema.path}; add the value to the schema or rename or remove the section"
            for name, line in described.items()
            if name not in f.names
        ]
    return problems
