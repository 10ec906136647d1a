"""Model suggestions for exported items: the best logged text-only model's stance, as a hint."""

from __future__ import annotations

import pandas as pd

from stance.errors import StanceError
from stance.interop.common import Suggestion


def model_suggestions(
    uri: str, experiment: str, items: pd.DataFrame, run_id: str | None = None
) -> dict[str, Suggestion]:
    """sentence_id -> the stance a logged model predicts, with its probability. The model is
    ``run_id``'s, else the best finished text-only one (as `stance predict` chooses)."""
    from stance.tracking.model_io import load_logged_model
    from stance.tracking.queries import select_run
    from stance.training.models import predict_sentences

    chosen = select_run(uri, experiment, run_id=run_id, available=["text"])
    if chosen["features"] != ["text"]:
        raise StanceError(
            f"model {chosen['model']!r} (run {chosen['run_id']}) also reads the speaker, which an "
            "unlabeled sentence does not have; pick a text-only run with --run-id "
            "(see `stance runs`) or export without --suggestions"
        )
    model = load_logged_model(uri, chosen["run_id"])
    name = f"{chosen['model']} (run {chosen['run_id']})"
    table = items[["sentence_id", "text"]].reset_index(drop=True)
    result = predict_sentences(model, table, chosen["classes"], chosen["features"], name)
    proba = [f"proba_{c}" for c in chosen["classes"]]
    out = {}
    for rec in result.to_dict("records"):
        score = max((float(rec[p]) for p in proba), default=0.0)
        out[rec["sentence_id"]] = Suggestion("stance", str(rec["stance"]), round(score, 4), name)
    return out
