"""The speaker stage's MLflow run: its params and metrics from the stage's summary."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import StanceError
from stance.io import write_json

logger = logging.getLogger(__name__)


def log_speaker_stage(
    metrics: str,
    model: str,
    artifacts: list[str],
    dataset: str,
    config: Mapping[str, Any],
    root: Path | str,
    out: str,
) -> None:
    """Log the speaker stage to MLflow (rule log_speakers); without hand speakers, no model."""
    from stance.speakers.learned import FEATURES
    from stance.speakers.stage import load_speaker_labels, read_speaker_model
    from stance.tracking.runs import log_speaker_run
    from stance.tracking.store import resolve_tracking_uri

    summary = json.loads(Path(metrics).read_text(encoding="utf-8"))
    labels = load_speaker_labels(dataset, summary["method"])
    if labels.data.digest() != summary["labels_sha256"]:
        raise StanceError(f"{dataset} changed since {metrics} was written; run snakemake again")
    uri, experiment = resolve_tracking_uri(config, root), config["mlflow"]["experiment"]
    params = {
        **{k: summary[k] for k in ("method", "mapping", "mapping_entries", "evaluation")},
        "n_sentences": summary["n_sentences"],
        "features": ",".join(FEATURES),
        "classes": ",".join(summary["classes"]),
        **{f"hp.{k}": json.dumps(v) for k, v in summary["params"].items()},
    }
    flat = {}
    for variant, figures in summary["scores"].items():
        for name in ("accuracy", "macro_f1"):
            for suffix in ("", "_ci_low", "_ci_high"):
                flat[f"{variant}_{name}{suffix}"] = figures[f"{name}{suffix}"]
    chosen = summary["scores"].get(f"guarded_{summary['method']}")
    if chosen:
        flat["accuracy"], flat["macro_f1"] = chosen["accuracy"], chosen["macro_f1"]
    example = pd.DataFrame(
        {"text": ["The Taliban said foreign troops must leave."], "rule_speaker": ["taliban"],
         "rule_kind": ["attribution"], "first_mention": ["taliban"], "prev_speaker": ["none"]}
    )  # fmt: skip
    info = log_speaker_run(
        uri,
        experiment,
        params,
        flat,
        read_speaker_model(model),
        example,
        [metrics, *artifacts],
        config=config,
        root=root,
        labels_sha256=summary["labels_sha256"],
        no_model=summary.get("skipped", ""),
    )
    write_json(out, info)
    logger.info(f"speakers: logged run {info['run_id']} to {uri}")
