"""Predicting the speaker of any sentence table with the rules, the mapping and the model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stance.speakers.attribution import attribute
from stance.speakers.learned import decide
from stance.speakers.mapping import SpeakerMapping, load_mapping


def mapping_from_config(config: Mapping[str, Any], root: Path | str = ".") -> SpeakerMapping:
    """The mapping file of config ``speakers.mapping``, checked against ``labels.schema``."""
    root = Path(root)
    return load_mapping(root / config["speakers"]["mapping"], root / config["labels"]["schema"])


def predict_speakers(
    sentences: pd.DataFrame, mapping: SpeakerMapping, model: Any, method: str
) -> pd.DataFrame:
    """predicted_speaker, evidence and source (rules / model) of every row, in table order
    (``article_id``, ``position`` and ``paragraph_start`` give the rules their context)."""
    attributed = attribute(sentences.reset_index(drop=True), mapping)
    return decide(attributed, model, method).reset_index(drop=True)
