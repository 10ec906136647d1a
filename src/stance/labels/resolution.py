"""Final labels: adjudication, majority vote per field and the tie rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stance.labels.files import LabelSet
from stance.labels.schema import LabelSchema


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


def resolve_labels(
    label_set: LabelSet, schema: LabelSchema, priority: Sequence[str] = ()
) -> Resolution:
    """The final label per sentence: adjudicated, else per field the majority, else by TIE_RULE."""
    fields = schema.field_names
    rank = {name: i for i, name in enumerate(priority)}
    by_sentence = {sid: g.to_dict("records") for sid, g in label_set.labels.groupby("sentence_id")}
    adjudicated = {rec["sentence_id"]: rec for rec in label_set.adjudication.to_dict("records")}

    rows: list[dict] = []
    ties: list[Tie] = []
    for sid in sorted(set(by_sentence) | set(adjudicated)):
        recs = by_sentence.get(sid, [])
        recs.sort(key=lambda r: (rank.get(r["annotator"], len(rank)), r["annotator"]))
        row: dict[str, Any] = {"sentence_id": sid, "n_annotators": len(recs)}
        if sid in adjudicated or len(recs) == 1:
            given, how = (
                (adjudicated[sid], "adjudicated") if sid in adjudicated else (recs[0], "single")
            )
            rows.append(row | {f: given[f] for f in fields} | {"resolution": how})
            continue
        resolution = "unanimous"
        for fname in fields:
            counts = Counter(r[fname] for r in recs)
            top = max(counts.values())
            tied = [v for v, c in counts.items() if c == top]
            if len(counts) > 1 and resolution == "unanimous":
                resolution = "majority"
            # recs are in priority order, so on a tie the first one with a tied value decides.
            winner = next(r for r in recs if r[fname] in tied)
            row[fname] = winner[fname]
            if len(tied) == 1:
                continue
            resolution = "tie"
            votes = {
                v: [r["annotator"] for r in recs if r[fname] == v]
                for v in schema.values(fname)
                if v in counts
            }
            ties.append(Tie(sid, fname, votes, winner[fname], winner["annotator"]))
        row["resolution"] = resolution
        rows.append(row)
    columns = ["sentence_id", *fields, "n_annotators", "resolution"]
    types = {c: "int64" if c == "n_annotators" else str for c in columns}
    return Resolution(pd.DataFrame(rows, columns=columns).astype(types), ties)
