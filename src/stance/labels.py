"""The label scheme (labels/schema.yaml) and hand-label files: reading, validating, resolving."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stance.config import load_yaml
from stance.errors import StanceError
from stance.splitting import normalise

ADJUDICATION_FILE = "adjudication.csv"
# Columns every label file must have besides the label fields, and those of adjudication.csv.
ID_COLUMNS = ("sentence_id", "text", "annotator")
ADJUDICATION_OPTIONAL = ("note", "text")
SENTENCE_COLUMNS = ("sentence_id", "article_id", "position", "text")
# Problems listed in one error; the rest are counted, so a broken file gives a readable message.
MAX_PROBLEMS = 50
_SHOW_CHARS = 80

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


def load_sentences(path: Path | str) -> pd.DataFrame:
    """Read the sentence table (results/sentences.parquet) written by the split stage."""
    path = Path(path)
    if not path.is_file():
        raise StanceError(f"{path}: sentence table not found; run snakemake to build it first")
    table = pd.read_parquet(path)
    missing = [c for c in SENTENCE_COLUMNS if c not in table.columns]
    if missing:
        raise StanceError(
            f"{path}: not a sentence table (no {', '.join(missing)}); rebuild it with snakemake"
        )
    return table.sort_values(["article_id", "position"], kind="stable").reset_index(drop=True)


def label_files(labels_dir: Path | str, adjudication: Path | str | None = None) -> list[Path]:
    """The label files in labels_dir: every *.csv except the adjudication file."""
    labels_dir = Path(labels_dir)
    if not labels_dir.is_dir():
        raise StanceError(f"{labels_dir}: label folder not found; create it (it may stay empty)")
    skip = {(labels_dir / ADJUDICATION_FILE).resolve()}
    if adjudication is not None:
        skip.add(Path(adjudication).resolve())
    return [
        p
        for p in sorted(labels_dir.glob("*.csv"))
        if p.resolve() not in skip and not p.name.startswith(".")
    ]


def _short(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 1] + "…"


def read_label_file(
    path: Path | str, required: Sequence[str], optional: Sequence[str] = ()
) -> tuple[pd.DataFrame | None, list[str], list[str]]:
    """Read one label CSV: all cells as str, plus ``file`` and ``row`` (CSV row, header = 1).

    Returns (table or None when it cannot be used at all, problems, warnings). Cells are stripped
    of surrounding spaces, except ``text``, which is compared in normalised form anyway.
    """
    path = Path(path)
    problems: list[str] = []
    warnings: list[str] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            records = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        return (
            None,
            [f"{path}: byte {exc.start} is not valid UTF-8; save the file as CSV UTF-8"],
            warnings,
        )
    except csv.Error as exc:
        return None, [f"{path}: not a readable CSV file ({exc}); re-export it as CSV"], warnings
    if not records or not any(cell.strip() for cell in records[0]):
        return (
            None,
            [
                f"{path} row 1: no header row; the first row must be: {', '.join(required)}"
                f" (optional: {', '.join(optional)}), or delete the empty file"
            ],
            warnings,
        )
    header = [c.strip() for c in records[0]]
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(
            f"{path} row 1: missing column(s) {', '.join(repr(c) for c in missing)}; the header "
            f"must have: {', '.join(required)} (optional: {', '.join(optional) or 'none'})"
        )
    dupes = sorted(c for c, n in Counter(header).items() if n > 1)
    if dupes:
        problems.append(
            f"{path} row 1: column(s) {', '.join(repr(c) for c in dupes)} appear more than once; "
            "keep one of each"
        )
    extra = [c for c in header if c and c not in required and c not in optional]
    if extra:
        warnings.append(
            f"{path}: column(s) {', '.join(extra)} are not part of the label scheme and are ignored"
        )
    if missing or dupes:
        return None, problems, warnings

    rows: list[list[str]] = []
    numbers: list[int] = []
    width = len(header)
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line holds no label
        if len(record) > width and any(c.strip() for c in record[width:]):
            problems.append(
                f"{path} row {number}: {len(record)} cells but the header has {width}; a cell "
                "with a comma must be in double quotes: re-export the file as CSV"
            )
            continue
        record = (record + [""] * width)[:width]
        rows.append(record)
        numbers.append(number)
    table = pd.DataFrame(rows, columns=header, dtype=str)
    for col in table.columns:
        if col != "text":
            table[col] = table[col].str.strip()
    for col in optional:
        if col not in table.columns:
            table[col] = pd.Series([""] * len(table), dtype=str)
    table.insert(0, "row", pd.Series(numbers, dtype="int64"))
    table.insert(0, "file", pd.Series([str(path)] * len(table), dtype=str))
    return table, problems, warnings


@dataclass
class _SentenceIndex:
    """Lookups into the sentence table for checking label rows."""

    by_id: dict[str, tuple[str, str]]  # sentence_id -> (article_id, normalised text)
    by_text: dict[tuple[str, str], list[str]]  # (article_id, normalised text) -> sentence_ids
    articles: set[str]
    source: str

    @classmethod
    def build(cls, sentences: pd.DataFrame, source: str) -> _SentenceIndex:
        by_id: dict[str, tuple[str, str]] = {}
        by_text: dict[tuple[str, str], list[str]] = defaultdict(list)
        for sid, article, text in zip(
            sentences["sentence_id"], sentences["article_id"], sentences["text"], strict=True
        ):
            norm = normalise(text)
            by_id[sid] = (article, norm)
            by_text[(article, norm)].append(sid)
        return cls(by_id, dict(by_text), set(by_id[s][0] for s in by_id), source)


def _check_rows(
    table: pd.DataFrame, schema: LabelSchema, index: _SentenceIndex, need_annotator: bool
) -> list[str]:
    """Per-row problems: empty or unknown values, orphan IDs, changed texts."""
    problems: list[str] = []
    allowed = {f.name: f.names for f in schema.fields}
    keys = {f.name: {v.key: v.name for v in f.values} for f in schema.fields}
    for rec in table.to_dict("records"):
        where = f"{rec['file']} row {rec['row']}"
        sid = rec["sentence_id"]
        for fname, names in allowed.items():
            value = rec[fname]
            if value in names:
                continue
            if value == "":
                what = f"{fname} is empty"
            else:
                what = f"{fname} {value!r} is not an allowed value"
                hint = keys[fname].get(value) or next(
                    (n for n in names if n.casefold() == value.casefold()), None
                )
                if hint:
                    what += f" (did you mean {hint!r}?)"
            problems.append(f"{where}: {what}; use one of: {', '.join(names)} (see {schema.path})")
        if need_annotator and rec["annotator"] == "":
            problems.append(f"{where}: annotator is empty; fill in the name of who gave this label")
        if sid == "":
            problems.append(f"{where}: sentence_id is empty; copy it from {index.source}")
            continue
        text = rec.get("text", "")
        norm = normalise(text) if text else ""
        if sid not in index.by_id:
            article = sid.split(":", 1)[0]
            msg = (
                f"{where}: sentence_id {sid!r} is not in {index.source}: an orphan label (the "
                "article or the sentence splitter changed since it was labeled)"
            )
            candidates = index.by_text.get((article, norm), []) if norm else []
            if candidates:
                msg += (
                    f"; the same text is now sentence {' or '.join(repr(c) for c in candidates)}: "
                    "put that ID in the row"
                )
            elif article not in index.articles:
                msg += (
                    f"; article {article!r} has no sentences any more (removed or renamed?): "
                    "find the sentence by its text in another article or delete the row"
                )
            else:
                msg += (
                    f"; no sentence of article {article!r} has this text now: find the sentence "
                    "by its text in the sentence table, fix sentence_id and text, and check that "
                    "the label still applies, or delete the row"
                )
            problems.append(msg)
            continue
        current = index.by_id[sid][1]
        if norm == "":
            # Label files must carry the text (it finds orphans again); adjudication may omit it.
            if need_annotator:
                problems.append(
                    f"{where}: text is empty; copy the text of sentence {sid!r} from {index.source}"
                )
        elif norm != current:
            problems.append(
                f"{where}: text no longer matches sentence {sid!r}: labeled {_short(norm)!r}, "
                f"now {_short(current)!r}; check that the label still applies, then copy the "
                "current text into the row"
            )
    return problems


def _label_of(rec: dict, fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(rec[f] for f in fields)


def _describe(rec: dict, fields: Sequence[str]) -> str:
    return ", ".join(f"{f}={rec[f]}" for f in fields)


def _check_duplicates(table: pd.DataFrame, fields: Sequence[str], key: Sequence[str]) -> list[str]:
    """Repeated rows for one key (sentence and annotator, or sentence for adjudication)."""
    problems: list[str] = []
    groups: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for rec in table.to_dict("records"):
        if rec["sentence_id"] != "":
            groups[tuple(rec[k] for k in key)].append(rec)
    content = [c for c in table.columns if c not in ("file", "row")]
    for k, recs in groups.items():
        if len(recs) < 2:
            continue
        first = recs[0]
        who = f"annotator {k[1]!r} " if len(k) > 1 else ""
        whose = f"annotator {k[1]!r}, " if len(k) > 1 else ""
        if len({_label_of(r, fields) for r in recs}) > 1:
            listing = "; ".join(f"{r['file']} row {r['row']}: {_describe(r, fields)}" for r in recs)
            problems.append(
                f"{first['file']} row {first['row']}: {who}gave sentence {k[0]!r} "
                f"{len(recs)} different labels ({listing}); keep the right one, delete the others"
            )
            continue
        for r in recs[1:]:
            exact = all(r[c] == first[c] for c in content)
            what = "an exact duplicate" if exact else "a repeat (same labels)"
            problems.append(
                f"{r['file']} row {r['row']}: {what} of {first['file']} row {first['row']} "
                f"({whose}sentence {k[0]!r}); delete one of the two rows"
            )
    return problems


@dataclass
class LabelSet:
    """Validated hand labels: one row per sentence and annotator, and the adjudications."""

    labels: pd.DataFrame  # file, row, sentence_id, text, <fields>, annotator, note
    adjudication: pd.DataFrame  # file, row, sentence_id, <fields>, note, text
    files: list[Path]
    adjudication_file: Path | None
    warnings: list[str] = field(default_factory=list)

    @property
    def annotators(self) -> list[str]:
        return sorted(set(self.labels["annotator"]))


def _raise_problems(problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS]
    rest = len(problems) - len(shown)
    text = "\n".join(f"  {p}" for p in shown)
    if rest:
        text += f"\n  ... and {rest} more problem(s)"
    raise StanceError(
        f"{len(problems)} problem(s) in the label files; no label is dropped, so fix them "
        f"and run again:\n{text}"
    )


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    table = pd.DataFrame({c: pd.Series([], dtype=str) for c in columns})
    table["row"] = table["row"].astype("int64")
    return table


def load_labels(
    labels_dir: Path | str,
    sentences: pd.DataFrame,
    schema: LabelSchema,
    adjudication: Path | str | None = None,
    sentences_source: str = "results/sentences.parquet",
) -> LabelSet:
    """Read and validate every label file in labels_dir and the adjudication file.

    The adjudication file is ``adjudication`` if given (it must exist), else
    ``<labels_dir>/adjudication.csv`` when present. All problems of all files are collected and
    raised together as one StanceError.
    """
    labels_dir = Path(labels_dir)
    if adjudication is not None and not Path(adjudication).is_file():
        raise StanceError(f"{adjudication}: adjudication file not found; check the path")
    adj_path = Path(adjudication) if adjudication is not None else labels_dir / ADJUDICATION_FILE
    files = label_files(labels_dir, adj_path)
    index = _SentenceIndex.build(sentences, sentences_source)
    fields = schema.field_names
    problems: list[str] = []
    warnings: list[str] = []

    label_columns = ["file", "row", *schema.required_columns, *schema.optional_columns]
    tables = []
    for path in files:
        table, file_problems, file_warnings = read_label_file(
            path, schema.required_columns, schema.optional_columns
        )
        problems += file_problems
        warnings += file_warnings
        if table is None:
            continue
        problems += _check_rows(table, schema, index, need_annotator=True)
        tables.append(table[label_columns])
    labels = pd.concat(tables, ignore_index=True) if tables else _empty(label_columns)
    problems += _check_duplicates(labels, fields, ("sentence_id", "annotator"))

    adj_columns = ["file", "row", "sentence_id", *fields, *ADJUDICATION_OPTIONAL]
    adj = _empty(adj_columns)
    adj_file: Path | None = None
    if adj_path.is_file():
        adj_file = adj_path
        table, file_problems, file_warnings = read_label_file(
            adj_path, ["sentence_id", *fields], ADJUDICATION_OPTIONAL
        )
        problems += file_problems
        warnings += file_warnings
        if table is not None:
            problems += _check_rows(table, schema, index, need_annotator=False)
            problems += _check_duplicates(table, fields, ("sentence_id",))
            adj = table[adj_columns].reset_index(drop=True)
    _raise_problems(problems)
    return LabelSet(labels, adj, files, adj_file, warnings)


@dataclass(frozen=True)
class Tie:
    """A field of a sentence whose majority vote tied, and the value the tie rule chose."""

    sentence_id: str
    field: str
    votes: dict[str, list[str]]  # value -> annotators who gave it
    chosen: str
    chosen_annotator: str


@dataclass
class Resolution:
    """The final label of every labeled sentence, and the ties broken by rule."""

    final: pd.DataFrame  # sentence_id, <fields>, n_annotators, resolution
    ties: list[Tie]


def _annotator_order(priority: Sequence[str]) -> Any:
    rank = {name: i for i, name in enumerate(priority)}
    return lambda a: (rank.get(a, len(rank)), a)


def resolve_labels(
    label_set: LabelSet, schema: LabelSchema, priority: Sequence[str] = ()
) -> Resolution:
    """The final label per sentence.

    An adjudicated sentence takes the adjudication. Otherwise each field takes the value most
    annotators gave; on a tie, the value of the annotator ranked first by ``priority`` (config
    ``labels.annotator_priority``), annotators not in it coming after it in alphabetical order,
    among those who gave one of the tied values. ``resolution`` is one of: adjudicated, single,
    unanimous, majority, tie.
    """
    fields = schema.field_names
    order = _annotator_order(priority)
    by_sentence: dict[str, list[dict]] = defaultdict(list)
    for rec in label_set.labels.to_dict("records"):
        by_sentence[rec["sentence_id"]].append(rec)
    adjudicated = {rec["sentence_id"]: rec for rec in label_set.adjudication.to_dict("records")}

    rows: list[dict] = []
    ties: list[Tie] = []
    for sid in sorted(set(by_sentence) | set(adjudicated)):
        recs = sorted(by_sentence.get(sid, []), key=lambda r: order(r["annotator"]))
        row: dict[str, Any] = {"sentence_id": sid, "n_annotators": len(recs)}
        if sid in adjudicated:
            row.update({f: adjudicated[sid][f] for f in fields}, resolution="adjudicated")
            rows.append(row)
            continue
        if len(recs) == 1:
            row.update({f: recs[0][f] for f in fields}, resolution="single")
            rows.append(row)
            continue
        resolution = "unanimous"
        for fname in fields:
            counts = Counter(r[fname] for r in recs)
            top = max(counts.values())
            tied = [v for v, c in counts.items() if c == top]
            if len(counts) > 1 and resolution == "unanimous":
                resolution = "majority"
            if len(tied) == 1:
                row[fname] = tied[0]
                continue
            # recs are in priority order, so the first one with a tied value decides.
            winner = next(r for r in recs if r[fname] in tied)
            row[fname] = winner[fname]
            resolution = "tie"
            votes = {
                v: sorted((r["annotator"] for r in recs if r[fname] == v), key=order)
                for v in schema.values(fname)
                if v in counts
            }
            ties.append(Tie(sid, fname, votes, winner[fname], winner["annotator"]))
        row["resolution"] = resolution
        rows.append(row)
    columns = ["sentence_id", *fields, "n_annotators", "resolution"]
    final = pd.DataFrame(rows, columns=columns)
    for col in columns:
        final[col] = final[col].astype("int64" if col == "n_annotators" else str)
    return Resolution(final, ties)
