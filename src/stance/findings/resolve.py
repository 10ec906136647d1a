"""Which stance each sentence counts with: its hand label where there is one, else the model's."""

from __future__ import annotations

import pandas as pd

LABEL_SOURCE = "label"
MODEL_SOURCE = "model"


def resolve_stances(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` (one row per sentence: ``sentence_id``, ``predicted``, ...) with
    ``stance``: the hand label in ``labels`` where there is one (``stance_source`` ``label``),
    else the prediction (``model``). Labels of sentences not in ``predictions`` are ignored."""
    hand = labels.drop_duplicates("sentence_id").set_index("sentence_id")["stance"]
    out = predictions.copy()
    labeled = out["sentence_id"].map(hand)
    out["stance"] = labeled.where(labeled.notna(), out["predicted"])
    out["stance_source"] = [LABEL_SOURCE if v else MODEL_SOURCE for v in labeled.notna()]
    return out


def month_of(dates: pd.Series) -> pd.Series:
    """``YYYY-MM`` of ISO dates (``2018-11-09``); missing or empty dates stay missing."""
    text = dates.fillna("").astype(str)
    return text.str.slice(0, 7).where(text.str.match(r"^\d{4}-\d{2}"), other=None)
