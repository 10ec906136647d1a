"""A labeling session: the queue and its order, answers, undo, notes and atomic saving."""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stance.errors import StanceError
from stance.io import atomic_open
from stance.labels.design import draw_sample, sample_sentences
from stance.labels.files import LabelSet, load_labels
from stance.labels.schema import ADJUDICATION_FILE, LabelSchema

logger = logging.getLogger(__name__)

ANNOTATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# Control keys of the labeling tool, by what they do; label keys from the schema must not use them.
CONTROL_KEYS = {" ": "skip", "<": "undo", "/": "note", "?": "help", "q": "quit"}


def check_annotator(name: str) -> None:
    """An annotator name is also a file name (labels/<name>.csv): keep it safe."""
    if not ANNOTATOR_NAME.fullmatch(name) or name == Path(ADJUDICATION_FILE).stem:
        raise StanceError(
            f"annotator name {name!r} cannot be used: it becomes the file labels/<name>.csv, so "
            "use 1-64 letters, digits, '_' or '-', starting with a letter or digit "
            "(and not 'adjudication'), e.g. --annotator jane_doe"
        )


def check_keys(schema: LabelSchema) -> None:
    """No value may use a control key (the schema checks that keys are single and distinct)."""
    problems = [
        f"{fld.name}.{v.name}: key {v.key!r} is the {CONTROL_KEYS.get(v.key, 'quit')} key of the "
        "labeling tool; choose another"
        for fld in schema.fields
        for v in fld.values
        if v.key in CONTROL_KEYS or v.key == "Q"
    ]
    if problems:
        raise StanceError(
            f"{schema.path}: keys cannot be used for labeling:\n  " + "\n  ".join(problems)
        )


def labeled_ids(label_set: LabelSet) -> set[str]:
    """Sentences somebody has labeled (or adjudicated): no longer in the queue."""
    return set(label_set.labels["sentence_id"]) | set(label_set.adjudication["sentence_id"])


def build_queue(
    sentences: pd.DataFrame,
    label_set: LabelSet,
    labels_dir: Path,
    *,
    sample: int | None = None,
    seed: int = 0,
    unit: str = "sentence",
    relabel: bool = False,
    command: str = "",
    annotator: str | None = None,
) -> tuple[list[str], str]:
    """The sentence IDs to label and what they are: the queue (nobody else has labeled them), all
    with ``relabel``, or the recorded random sample of the queue, in the order drawn."""
    labeled = labeled_ids(label_set)
    ordered = sentences.sort_values(["article_id", "position"], kind="stable")
    if sample is not None:
        manifest, new = draw_sample(
            labels_dir, ordered, labeled, sample, seed, unit=unit, command=command
        )
        ids = sample_sentences(manifest, ordered, sample)
        verb = "drew and recorded" if new else "recorded in"
        return ids, (
            f"labeling sample {manifest.name} ({verb} {manifest.path}): {sample} of "
            f"{len(manifest.frame)} {unit}s of the queue at the draw, in the order drawn"
        )
    if relabel:
        return list(ordered["sentence_id"]), (
            "labeling every sentence, also those others have labeled (--relabel: for agreement)"
        )
    # The annotator's own answers stay in (the session counts them as done: resuming).
    own = set(label_set.labels.loc[label_set.labels["annotator"] == annotator, "sentence_id"])
    others = labeled - own
    ids = [s for s in ordered["sentence_id"] if s not in others]
    return ids, (
        f"labeling the queue: {len(ids)} sentence(s) nobody else has labeled (--relabel also "
        "offers others' sentences, for agreement; --sample N --seed S a recorded random sample)"
    )


def uncertainty(probabilities: pd.DataFrame) -> pd.Series:
    """Margin-based uncertainty: 1 - (highest - second highest class probability)."""
    values = np.sort(probabilities.to_numpy(dtype=float), axis=1)
    margin = values[:, -1] - (values[:, -2] if values.shape[1] > 1 else 0.0)
    return pd.Series(1.0 - margin, index=probabilities.index)


def logged_model_probabilities(
    uri: str, experiment: str
) -> Callable[[pd.DataFrame], pd.DataFrame | None]:
    """Probabilities by the best logged text-only model; None without one (article order stays)."""
    from stance.tracking.model_io import load_logged_model
    from stance.tracking.queries import select_run
    from stance.training.models import predict_sentences

    def probabilities(sentences: pd.DataFrame) -> pd.DataFrame | None:
        try:
            chosen = select_run(uri, experiment, available=["text"])
        except StanceError:
            return None
        if chosen["features"] != ["text"]:
            return None
        try:
            model = load_logged_model(uri, chosen["run_id"])
        except StanceError as exc:  # refused (UntrustedModelError) or missing model files
            logger.info(f"note: {exc}; keeping article order")
            return None
        logger.info(
            f"order: least certain first, by model {chosen['model']!r} (run {chosen['run_id']})"
        )
        table = sentences[["sentence_id", "text"]].reset_index(drop=True)
        result = predict_sentences(model, table, chosen["classes"], chosen["features"])
        return result[[f"proba_{c}" for c in chosen["classes"]]]

    return probabilities


@dataclass
class LabelingSession:
    """The state of one annotator's session, independent of the terminal."""

    annotator: str
    schema: LabelSchema
    sentences: pd.DataFrame  # the whole sentence table, for context
    queue: list[str]  # sentence IDs to label, in order
    path: Path
    # Every row of the annotator's file: sentence_id, text, the label fields and note.
    answers: list[dict[str, str]] = field(default_factory=list)
    undo_stack: list[str] = field(default_factory=list)  # IDs answered in this session
    skipped: set[str] = field(default_factory=set)
    total: int = 0

    def __post_init__(self) -> None:
        self.by_id = self.sentences.set_index("sentence_id", drop=False)
        answered = {a["sentence_id"] for a in self.answers}
        self.queue = [sid for sid in self.queue if sid not in answered]

    @property
    def done(self) -> int:
        return self.total - len(self.queue)

    def current(self) -> str | None:
        return next((sid for sid in self.queue if sid not in self.skipped), None)

    def answer(self, labels: dict[str, str], note: str = "") -> None:
        """Save the answer to the current sentence (the terminal asks only while there is one)."""
        sid = self.current()
        text = self.by_id.loc[sid, "text"]
        self.answers.append({"sentence_id": sid, "text": text, **labels, "note": note})
        self.save()
        self.queue.remove(sid)
        self.undo_stack.append(sid)

    def undo(self) -> str | None:
        """Remove the last answer of this session and put its sentence first in the queue."""
        if not self.undo_stack:
            return None
        sid = self.undo_stack.pop()
        self.answers = [a for a in self.answers if a["sentence_id"] != sid]
        self.save()
        self.queue.insert(0, sid)
        self.skipped.discard(sid)
        return sid

    def save(self) -> None:
        """Rewrite the annotator's file atomically: it is always complete and parseable."""
        columns = [*self.schema.required_columns, *self.schema.optional_columns]
        with atomic_open(self.path, newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({**a, "annotator": self.annotator} for a in self.answers)


def open_session(
    annotator: str,
    schema: LabelSchema,
    sentences: pd.DataFrame,
    labels_dir: Path,
    order: str = "article",
    sample: int | None = None,
    probabilities: Callable[[pd.DataFrame], pd.DataFrame | None] | None = None,
    warn: Callable[[str], None] = logger.info,
    **queue: Any,
) -> LabelingSession:
    """Check the labels, then build the queue (:func:`build_queue` with ``queue``) in ``order``."""
    check_keys(schema)
    if sample is not None and order != "article":
        raise StanceError(
            f"--order {order} cannot be combined with --sample: a sample is labeled in the "
            "order drawn, so that a sample labeled in part is still a random sample"
        )
    path = labels_dir / f"{annotator}.csv"
    label_set = load_labels(labels_dir, sentences, schema)
    mine = label_set.labels[label_set.labels["annotator"] == annotator]
    others = sorted(set(mine["file"]) - {str(path)})
    if others:
        raise StanceError(
            f"labels of annotator {annotator!r} are also in {', '.join(others)}; this tool writes "
            f"only {path}: move those rows there (same columns) or use another annotator name"
        )
    kept = ["sentence_id", "text", *schema.field_names, "note"]
    answers = mine.sort_values("row").reindex(columns=kept, fill_value="").to_dict("records")
    ids, description = build_queue(
        sentences, label_set, labels_dir, sample=sample, annotator=annotator, **queue
    )
    warn(description)
    if order == "uncertain":
        work = sentences.set_index("sentence_id", drop=False).loc[ids].reset_index(drop=True)
        probs = probabilities(work) if probabilities else None
        if probs is None:
            warn(
                "note: no trained model found, so the queue is in article order; run "
                "`snakemake` to train one, then use --order uncertain"
            )
        else:
            scores = uncertainty(probs.set_axis(list(work["sentence_id"]), axis=0))
            # Most uncertain first; ties keep article order (stable sort).
            ids = list(scores.sort_values(ascending=False, kind="stable").index)
    return LabelingSession(annotator, schema, sentences, ids, path, answers, total=len(ids))
