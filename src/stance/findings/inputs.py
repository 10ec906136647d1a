"""Which model files the findings rule depends on (read when the workflow is parsed: no heavy
imports here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stance.errors import StanceError

# Files of a model's result folder the findings stage reads (results/models/<name>/).
MODEL_INPUT_FILES = ("model.skops", "metrics.json", "oof_predictions.csv")
COMPARISON = "results/metrics/comparison.tsv"


def findings_model_inputs(
    config: Mapping[str, Any], models_dir: str = "results/models"
) -> dict[str, Any]:
    """Named inputs of rule findings: ``model_files``, those of the configured findings.model;
    or, when it is null, the files of every configured model and ``comparison``, the table
    that says which is best (known only after training)."""
    names = [m["name"] for m in config["models"]]
    chosen = (config.get("findings") or {}).get("model")
    if chosen is not None and chosen not in names:
        raise StanceError(
            f"findings.model is {chosen!r}, which is not a configured model "
            f"({', '.join(names)}); set it to one of them in config/config.yaml, or to null for "
            "the model with the best f_avg"
        )
    files = [f"{models_dir}/{n}/{f}" for n in ([chosen] if chosen else names)
             for f in MODEL_INPUT_FILES]  # fmt: skip
    return {"model_files": files} if chosen else {"model_files": files, "comparison": COMPARISON}
