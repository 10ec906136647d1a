"""Reading and validating label files against the sentence table, with file/row messages."""

from __future__ import annotations

import csv
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from stance.corpus.splitting import normalise
from stance.errors import StanceError
from stance.io import plain_cell
from stance.labels.schema import (
    ADJUDICATION_FILE,
    ADJUDICATION_OPTIONAL,
    SENTENCE_COLUMNS,
    LabelSchema,
    problem_lines,
)


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


def labeled_articles(paths: Iterable[Path | str]) -> set[str]:
    """The articles (sentence_id before ':') the label files name; for planning, so a file that
    cannot be read is left out here and the label stage reports it."""
    articles: set[str] = set()
    for path in paths:
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = csv.reader(fh)
                column = next(rows, []).index("sentence_id")
                articles.update(
                    row[column].split(":", 1)[0]
                    for row in rows
                    if len(row) > column and row[column]
                )
        except (OSError, UnicodeDecodeError, csv.Error, ValueError):
            continue
    return articles


def _where_texts_differ(old: str, new: str) -> str:
    """Where two texts first differ, and both texts around that point ('…' marks cuts): 30
    characters before it (cutting nothing, or a single character, at the front) and 40 after."""
    pos = len(os.path.commonprefix([old, new]))  # noqa: RUF071 (characters, not paths, here)
    start = pos - 30 if pos - 30 > 1 else 0
    end = pos + 40

    def window(text: str) -> str:
        shown = text[start:end].replace("\n", " ")
        return ("…" if start else "") + shown + ("…" if end < len(text) else "")

    return f"they differ from character {pos + 1} on: labeled {window(old)!r}, now {window(new)!r}"


def _delimiter_hint(header: list[str], required: Sequence[str]) -> str | None:
    """Which other delimiter a header row uses when the file is not comma-separated."""
    for delimiter, name in ((";", "semicolons"), ("\t", "tabs")):
        parts = {part.strip() for cell in header for part in cell.split(delimiter)}
        if any(delimiter in cell for cell in header) and parts & set(required):
            return name
    return None


def read_label_file(
    path: Path | str, required: Sequence[str], optional: Sequence[str] = ()
) -> tuple[pd.DataFrame | None, list[str], list[str]]:
    """Read one label CSV: all cells as str (stripped, but ``text``), plus ``file`` and ``row``
    (CSV row, header = 1). Returns (table or None when it cannot be used, problems, warnings)."""
    path = Path(path)
    expected = f"{', '.join(required)} (optional: {', '.join(optional) or 'none'})"
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            records = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        problem = f"{path}: byte {exc.start} is not valid UTF-8; save the file as CSV UTF-8"
        return None, [problem], []
    except csv.Error as exc:
        return None, [f"{path}: not a readable CSV file ({exc}); re-export it as CSV"], []
    if not records or not any(cell.strip() for cell in records[0]):
        problem = (
            f"{path} row 1: no header row; the first row must be: {expected}, or delete the "
            "empty file"
        )
        return None, [problem], []
    header = [c.strip() for c in records[0]]
    missing = [c for c in required if c not in header]
    delimiter = _delimiter_hint(header, required) if missing else None
    if delimiter:
        problem = (
            f"{path} row 1: the columns are separated by {delimiter}, not by commas; save "
            "the file as comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)'; in "
            f"LibreOffice: field delimiter ',') with the header: {expected}"
        )
        return None, [problem], []
    problems = []
    if missing:
        problems.append(
            f"{path} row 1: missing column(s) {', '.join(repr(c) for c in missing)}; the header "
            f"must have: {expected}"
        )
    dupes = sorted(c for c, n in Counter(header).items() if n > 1)
    if dupes:
        problems.append(
            f"{path} row 1: column(s) {', '.join(repr(c) for c in dupes)} appear more than once; "
            "keep one of each"
        )
    extra = [c for c in header if c and c not in required and c not in optional]
    ignored = f"column(s) {', '.join(extra)} are not part of the label scheme and are ignored"
    warnings = [f"{path}: {ignored}"] if extra else []
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
        rows.append((record + [""] * width)[:width])
        numbers.append(number)
    table = pd.DataFrame(rows, columns=header, dtype=str)
    stripped = [c for c in table.columns if c != "text"]
    table[stripped] = table[stripped].apply(lambda column: column.str.strip())
    table = table.assign(**dict.fromkeys([c for c in optional if c not in table.columns], ""))
    table.insert(0, "row", pd.Series(numbers, dtype="int64"))
    table.insert(0, "file", str(path))
    return table, problems, warnings


class _SentenceIndex:
    """Lookups into the sentence table (named ``source`` in messages) for checking label rows."""

    def __init__(self, sentences: pd.DataFrame, source: str) -> None:
        self.source = source
        self.articles = set(sentences["article_id"])
        keys = zip(sentences["article_id"], map(normalise, sentences["text"]), strict=True)
        # sentence_id -> (article_id, normalised text), and (article_id, normalised text) -> IDs
        self.by_id = dict(zip(sentences["sentence_id"], keys, strict=True))
        self.by_text: dict[tuple[str, str], list[str]] = defaultdict(list)
        for sid, key in self.by_id.items():
            self.by_text[key].append(sid)


def value_problem(schema: LabelSchema, fname: str, value: str) -> str | None:
    """What is wrong with ``value`` of label field ``fname`` and how to fix it, or None."""
    names = schema.values(fname)
    if value in names:
        return None
    if value == "":
        what = f"{fname} is empty"
    else:
        what = f"{fname} {value!r} is not an allowed value"
        keys = {v.key: v.name for v in schema.field(fname).values}
        hint = keys.get(value) or next((n for n in names if n.casefold() == value.casefold()), None)
        if hint:
            what += f" (did you mean {hint!r}?)"
    return f"{what}; use one of: {', '.join(names)} (see {schema.path})"


def _check_rows(
    table: pd.DataFrame, schema: LabelSchema, index: _SentenceIndex, need_annotator: bool
) -> list[str]:
    """Per-row problems: empty or unknown values, orphan IDs, changed texts."""
    problems: list[str] = []
    for rec in table.to_dict("records"):
        where = f"{rec['file']} row {rec['row']}"
        sid = rec["sentence_id"]
        found = (value_problem(schema, fname, rec[fname]) for fname in schema.field_names)
        problems += [f"{where}: {what}" for what in found if what]
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
        # Label files must carry the text (it finds orphans again); adjudication may omit it.
        if norm == "" and need_annotator:
            problems.append(
                f"{where}: text is empty; copy the text of sentence {sid!r} from {index.source}"
            )
        elif norm and norm != current and normalise(plain_cell(text)) != current:
            # A text copied from results/unlabeled.csv may carry its spreadsheet formula guard.
            problems.append(
                f"{where}: text no longer matches sentence {sid!r}: "
                f"{_where_texts_differ(norm, current)}; check that the label still applies, "
                "then copy the current text into the row"
            )
    return problems


def _check_duplicates(table: pd.DataFrame, fields: Sequence[str], key: Sequence[str]) -> list[str]:
    """Repeated rows for one key (sentence and annotator, or sentence for adjudication)."""
    problems: list[str] = []
    content = [c for c in table.columns if c not in ("file", "row")]
    for k, part in table[table["sentence_id"] != ""].groupby(list(key), sort=False):
        recs = part.to_dict("records")
        if len(recs) < 2:
            continue
        first = recs[0]
        who = f"annotator {k[1]!r} " if len(k) > 1 else ""
        whose = f"annotator {k[1]!r}, " if len(k) > 1 else ""
        if len({tuple(r[f] for f in fields) for r in recs}) > 1:
            listing = "; ".join(
                f"{r['file']} row {r['row']}: {', '.join(f'{f}={r[f]}' for f in fields)}"
                for r in recs
            )
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
    warnings: list[str] = field(default_factory=list)

    @property
    def annotators(self) -> list[str]:
        return sorted(set(self.labels["annotator"]))


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
    """Read and check every label file and the adjudication file; all problems in one error."""
    labels_dir = Path(labels_dir)
    if adjudication is not None and not Path(adjudication).is_file():
        raise StanceError(f"{adjudication}: adjudication file not found; check the path")
    adj_path = Path(adjudication) if adjudication is not None else labels_dir / ADJUDICATION_FILE
    index = _SentenceIndex(sentences, sentences_source)
    fields = schema.field_names
    problems: list[str] = []
    warnings: list[str] = []

    def read(path: Path, required: Sequence[str], optional: Sequence[str]) -> pd.DataFrame | None:
        """The checked table of a label file (of the adjudication file: no annotator column)."""
        table, file_problems, file_warnings = read_label_file(path, required, optional)
        problems.extend(file_problems)
        warnings.extend(file_warnings)
        if table is not None:
            problems.extend(_check_rows(table, schema, index, "annotator" in required))
        return table

    label_columns = ["file", "row", *schema.required_columns, *schema.optional_columns]
    tables = [
        read(path, schema.required_columns, schema.optional_columns)
        for path in label_files(labels_dir, adj_path)
    ]
    tables = [table[label_columns] for table in tables if table is not None]
    labels = pd.concat(tables, ignore_index=True) if tables else _empty(label_columns)
    problems += _check_duplicates(labels, fields, ("sentence_id", "annotator"))

    adj_columns = ["file", "row", "sentence_id", *fields, *ADJUDICATION_OPTIONAL]
    required = ["sentence_id", *fields]
    table = read(adj_path, required, ADJUDICATION_OPTIONAL) if adj_path.is_file() else None
    adj = _empty(adj_columns) if table is None else table[adj_columns].reset_index(drop=True)
    if table is not None:
        problems += _check_duplicates(table, fields, ("sentence_id",))
    if problems:
        raise StanceError(
            f"{len(problems)} problem(s) in the label files; no label is dropped, so fix them "
            f"and run again:\n{problem_lines(problems)}"
        )
    return LabelSet(labels, adj, warnings)
