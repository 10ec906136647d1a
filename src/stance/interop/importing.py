"""A tool's export turned into labels/NAME.csv: matched to sentences, checked, written whole or not.

An annotation is matched by its ``sentence_id`` (its text must still be that sentence's), else by
its normalised text within its article, else within the corpus. Nothing is written while there
is a problem; an existing labels/NAME.csv is refused, or with ``merge`` appended to.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from stance.annotate.session import check_annotator
from stance.corpus.sources import lone_surrogate
from stance.corpus.splitting import normalise
from stance.errors import StanceError
from stance.interop.common import ToolAnnotation
from stance.interop.exporting import TOOLS
from stance.io import atomic_open, plain_cell
from stance.labels.files import _SentenceIndex, _where_texts_differ, load_labels, value_problem
from stance.labels.schema import LabelSchema, problem_lines


@dataclass
class ImportResult:
    """What an import wrote and what it left out."""

    path: Path
    added: int
    already_there: int
    skipped: list[str] = field(default_factory=list)  # annotations that are no label, and why
    by_text: int = 0  # annotations matched by text (no usable sentence_id in the export)


class _Sentences(_SentenceIndex):
    """The label checks' sentence index, with each sentence's text and its IDs by text alone."""

    def __init__(self, sentences: pd.DataFrame, source: str) -> None:
        super().__init__(sentences, source)
        self.text = dict(zip(sentences["sentence_id"], sentences["text"], strict=True))
        self.anywhere: dict[str, list[str]] = defaultdict(list)
        for sid, (_, norm) in self.by_id.items():
            self.anywhere[norm].append(sid)


def _match(ann: ToolAnnotation, index: _Sentences) -> tuple[str | None, str | None]:
    """(sentence_id, problem) for one annotation."""
    # A text copied from a table for spreadsheets may carry a leading quote (stance.io).
    norm = normalise(plain_cell(ann.text)) if ann.text else ""
    sid = ann.sentence_id
    # A sentence ID names its article before the colon; an item saying otherwise was edited.
    of_sid = index.by_id[sid][0] if sid in index.by_id else (sid or "").partition(":")[0]
    if sid and ":" in sid and ann.article_id and ann.article_id != of_sid:
        return (
            None,
            f"{ann.where}: sentence_id {sid!r} is a sentence of article {of_sid!r}, but the "
            f"item's article_id is {ann.article_id!r}; the item was edited: export the sentence "
            "again with `stance export` and label it there, or delete this item",
        )
    if sid and sid in index.by_id:
        current = index.by_id[sid][1]
        if norm and norm != current and normalise(ann.text or "") != current:
            return (
                None,
                f"{ann.where}: the text does not match sentence {sid!r} of {index.source}: "
                f"{_where_texts_differ(norm, current)}; the item was edited or the article "
                "changed: export the sentence again and label it there",
            )
        return sid, None
    if not norm:
        what = f"sentence_id {sid!r} is not in {index.source} and" if sid else "it has"
        return None, f"{ann.where}: {what} no text to find the sentence by"
    article = ann.article_id or (sid.split(":", 1)[0] if sid else None)
    if article:
        candidates = index.by_text.get((article, norm), [])
        scope = f"article {article!r}"
    else:
        candidates = index.anywhere.get(norm, [])
        scope = "any article"
    if len(candidates) == 1:
        return candidates[0], None
    shown = (ann.text or "")[:80] + ("…" if len(ann.text or "") > 80 else "")
    if not candidates:
        lead = f"sentence_id {sid!r} is not in {index.source}, and " if sid else ""
        return (
            None,
            f"{ann.where}: {lead}no sentence of {scope} has the text {shown!r} (unmatched); "
            "the article may have changed since the export: export again with `stance export` "
            "and label the new items, or delete this item",
        )
    return (
        None,
        f"{ann.where}: the text {shown!r} is sentence {' and '.join(map(repr, candidates))} "
        f"(ambiguous: it occurs {len(candidates)} times in {scope}); the item carries no "
        "sentence_id to tell them apart: label the items written by `stance export`, which "
        "carry it",
    )


def _character_problem(ann: ToolAnnotation) -> str | None:
    """A lone surrogate in a text of the item, which no UTF-8 label file can hold."""
    texts = {"text": ann.text, "note": ann.note, "sentence_id": ann.sentence_id}
    texts["article_id"] = ann.article_id
    texts |= {f"{f} value": v for f, chosen in ann.values.items() for v in chosen}
    for name, text in texts.items():
        at = lone_surrogate(text) if text else None
        if at is not None:
            return (
                f"{ann.where}: the {name} holds a lone surrogate (U+{ord(text[at]):04X}) at "
                f"character {at + 1}, which UTF-8 cannot encode (a broken emoji, or an escape "
                "such as \\ud800 in the file); correct it in the tool and export again"
            )
    return None


def _check_values(ann: ToolAnnotation, schema: LabelSchema) -> tuple[dict[str, str], list[str]]:
    labels: dict[str, str] = {}
    problems = []
    for fname in schema.field_names:
        chosen = ann.values.get(fname, [])
        if len(chosen) > 1:
            problems.append(
                f"{ann.where}: {len(chosen)} values of {fname} ({', '.join(chosen)}); choose one "
                f"of: {', '.join(schema.values(fname))}"
            )
            continue
        value = chosen[0] if chosen else ""
        what = value_problem(schema, fname, value)
        if what:
            if value == "":
                what = what.replace(f"{fname} is empty", f"no {fname} chosen", 1)
            problems.append(f"{ann.where}: {what}")
        labels[fname] = value
    return labels, problems


def import_labels(
    source: Path | str,
    tool: str,
    annotator: str,
    sentences: pd.DataFrame,
    schema: LabelSchema,
    labels_dir: Path | str,
    *,
    merge: bool = False,
    completed_by: str | None = None,
    sentences_source: str = "results/sentences.parquet",
) -> ImportResult:
    """Turn a tool's export into ``<labels_dir>/<annotator>.csv`` (see the module docstring),
    holding the annotator's lock from reading its labels to writing, as a labeling session does."""
    from stance.locking import annotator_lock

    source, labels_dir = Path(source), Path(labels_dir)
    check_annotator(annotator)
    if completed_by is not None and tool != "label-studio":
        raise StanceError("--completed-by applies to Label Studio exports only")
    extra = {} if completed_by is None else {"completed_by": completed_by}
    read = TOOLS[tool].read_annotations(source, schema, **extra)
    with annotator_lock(labels_dir, annotator, f"stance import --annotator {annotator}"):
        target = labels_dir / f"{annotator}.csv"
        problems = list(read.problems)

        # The existing labels must be valid, and this annotator's must all be in the target file.
        label_set = load_labels(labels_dir, sentences, schema, sentences_source=sentences_source)
        mine = label_set.labels[label_set.labels["annotator"] == annotator]
        others = sorted(set(mine["file"]) - {str(target)})
        if others:
            raise StanceError(
                f"labels of annotator {annotator!r} are already in {', '.join(others)}; the import "
                f"writes only {target}: move those rows there or import under another --annotator"
            )
        if target.exists() and not merge:
            raise StanceError(
                f"{target} already exists ({len(mine)} label(s)); nothing was written. Import "
                "with --merge to add the new labels to it (a sentence labeled in both must have "
                "the same label), or import under another --annotator"
            )
        existing = {r["sentence_id"]: r for r in mine.to_dict("records")}  # rows of the target file

        index = _Sentences(sentences, sentences_source)
        fields = schema.field_names
        new: dict[str, tuple[ToolAnnotation, dict[str, str]]] = {}
        already = by_text = 0
        for ann in read.annotations:
            bad_character = _character_problem(ann)
            if bad_character:
                problems.append(bad_character)
                continue
            labels, value_problems = _check_values(ann, schema)
            sid, problem = _match(ann, index)
            problems += value_problems
            if problem:
                problems.append(problem)
            if sid is None or value_problems:
                continue
            by_text += sid != ann.sentence_id  # matched by its text
            describe = ", ".join(f"{f}={labels[f]}" for f in fields)
            if sid in new:
                first, first_labels = new[sid]
                if first_labels != labels:
                    problems.append(
                        f"{ann.where}: labels sentence {sid!r} with {describe}, and {first.where} "
                        f"with {', '.join(f'{f}={first_labels[f]}' for f in fields)}; keep one of "
                        "the two annotations"
                    )
                continue  # the same label twice (e.g. answered in two sessions) is one label
            if sid in existing:
                row = existing[sid]
                if all(row[f] == labels[f] for f in fields):
                    already += 1
                    continue
                problems.append(
                    f"{ann.where}: labels sentence {sid!r} with {describe}, but {target} row "
                    f"{row['row']} has {', '.join(f'{f}={row[f]}' for f in fields)}; settle it: "
                    "correct the row or the annotation"
                )
                continue
            new[sid] = (ann, labels)
        if problems:
            raise StanceError(
                f"{len(problems)} problem(s) importing {source}; nothing was written to "
                f"{target}, so fix them and import again:\n{problem_lines(problems)}"
            )

        order = {sid: i for i, sid in enumerate(sentences["sentence_id"])}
        rows = [
            {
                "sentence_id": sid,
                "text": index.text[sid],
                **labels,
                "annotator": annotator,
                "note": ann.note,
            }
            for sid, (ann, labels) in sorted(new.items(), key=lambda kv: order[kv[0]])
        ]
        if not rows and not target.exists():
            # An empty label file would only block the next, correct import of this annotator.
            first = f", e.g. {read.skipped[0]}" if read.skipped else ""
            raise StanceError(
                f"{source}: no label to import ({len(read.skipped)} item(s) without a "
                f"label{first}); nothing was written, so {target} was not created: label the "
                "items in the tool and export again"
            )
        if rows:
            _write(target, rows, schema)
        return ImportResult(target, len(rows), already, list(read.skipped), by_text)


def _write(target: Path, rows: list[dict[str, str]], schema: LabelSchema) -> None:
    """The target file's rows as they are (when merging), then the new rows; atomically."""
    columns = [*schema.required_columns, *schema.optional_columns]
    old: list[list[str]] = []
    if target.exists():
        with open(target, newline="", encoding="utf-8-sig") as fh:
            old = list(csv.reader(fh))
    header = [c.strip() for c in old[0]] if old else columns
    header += [c for c in columns if c not in header]
    with atomic_open(target, newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(old[1:])
        writer.writerows([r.get(c, "") for c in header] for r in rows)
