"""Speaker attribution of a sentence table: the config's mapping, the rules per article."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stance import stopping
from stance.speakers.learned import decide
from stance.speakers.mapping import SpeakerMapping, load_mapping
from stance.speakers.rules import attribute_article

PARAGRAPH = "paragraph_start"
# The columns the rules add to a sentence table (the learned model reads them as features).
RULE_COLUMNS = ["rule_speaker", "rule_evidence", "rule_kind", "first_mention", "prev_speaker"]


def attribute(sentences: pd.DataFrame, mapping: SpeakerMapping) -> pd.DataFrame:
    """The table with the rules' columns added, read per ``article_id`` in ``position`` order."""
    table = sentences.copy()
    articles = table["article_id"] if "article_id" in table else pd.Series("", index=table.index)
    order = table.assign(_article=articles.astype(str), _row=range(len(table)))
    sort_keys = ["_article", "_row"]
    if "position" in table:  # a CSV read as text gives "10" before "2": compare numbers
        order["_position"] = pd.to_numeric(table["position"], errors="coerce")
        sort_keys = ["_article", "_position", "_row"]
    order = order.sort_values(sort_keys, kind="stable")
    values: dict[str, dict] = {c: {} for c in RULE_COLUMNS}
    for _, rows in order.groupby("_article", sort=False):
        stopping.check()
        texts = rows["text"].astype(str).tolist()
        starts = [bool(v) for v in rows[PARAGRAPH]] if PARAGRAPH in rows else [False] * len(texts)
        found = attribute_article(texts, [True, *starts[1:]], mapping)
        previous = ["none", *(a.speaker for a in found[:-1])]
        for index, a, prev in zip(rows.index, found, previous, strict=True):
            row = (a.speaker, a.evidence, a.kind, a.first_mention, prev)
            for c, value in zip(RULE_COLUMNS, row, strict=True):
                values[c][index] = value
    for c in RULE_COLUMNS:
        table[c] = pd.Series(values[c])
    return table


def mapping_from_config(config: Mapping[str, Any], root: Path | str = ".") -> SpeakerMapping:
    """The mapping file of config ``speakers.mapping``, checked against ``labels.schema``."""
    root = Path(root)
    return load_mapping(root / config["speakers"]["mapping"], root / config["labels"]["schema"])


def predict_speakers(
    sentences: pd.DataFrame, mapping: SpeakerMapping, model: Any, method: str
) -> pd.DataFrame:
    """predicted_speaker, evidence and source (rules / model) of every row, in table order."""
    attributed = attribute(sentences.reset_index(drop=True), mapping)
    return decide(attributed, model, method).reset_index(drop=True)
