"""The uncertain-first labeling order: stance probabilities of the queue from the best model."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from stance.errors import StanceError
from stance.tracking.model_io import load_logged_model
from stance.tracking.queries import select_run
from stance.training.models import predict_sentences

logger = logging.getLogger(__name__)


def logged_model_probabilities(
    uri: str, experiment: str
) -> Callable[[pd.DataFrame], pd.DataFrame | None]:
    """A function giving the class probabilities of sentences from the best logged text-only
    model (finished runs only), or None when there is no such model or its files cannot be read
    (the session then keeps article order; the reason is printed)."""

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
