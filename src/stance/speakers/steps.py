"""The workflow steps of the speaker stage (rules speakers, speaker_stance, log_speakers)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.io import atomic_open

logger = logging.getLogger(__name__)


def speaker_model_entries(config: Mapping[str, Any], root: Path | str = ".") -> list[dict]:
    """The config entries of the stance models that read the speaker (rule speaker_stance's
    params). Knowing a kind's inputs imports scikit-learn (seconds); the answer is remembered
    under .snakemake/stance/ for the same entries and registry code, as the model check is."""
    import hashlib

    from stance.codehash import code_digest
    from stance.training.extras import runnable_entries

    # Models whose optional extra is missing are skipped everywhere (the Snakefile says so).
    entries = [dict(e) for e in runnable_entries(config["models"], lambda note: None)]
    key = hashlib.sha256(
        json.dumps(entries, sort_keys=True, default=str).encode("utf-8")
        + code_digest("training/models.py").encode("ascii")
    ).hexdigest()[:16]
    cache = Path(root) / ".snakemake" / "stance" / f"speaker-models-{key}.json"
    if cache.is_file():
        try:
            return json.loads(cache.read_text(encoding="utf-8"))
        except ValueError:
            pass  # damaged: answer again
    from stance.training.models import SPEAKER, spec_from_entry

    chosen = [e for e in entries if SPEAKER in spec_from_entry(e).features]
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(cache, encoding="utf-8") as fh:
        json.dump(chosen, fh, default=str)
    return chosen


def speakers_step(
    sentences: str,
    dataset: str,
    config: Mapping[str, Any],
    root: Path | str,
    outputs: Any,
    *,
    cache_dir: str | None = None,
    code: str = "",
) -> None:
    """Evaluate and apply speaker attribution (rule speakers)."""
    from stance.speakers.stage import SpeakerOutputs, run_speaker_stage

    run_speaker_stage(
        sentences,
        dataset,
        config,
        root,
        SpeakerOutputs(
            predicted=outputs["predicted"],
            oof=outputs["oof"],
            metrics=outputs["metrics"],
            metrics_table=outputs["metrics_table"],
            per_speaker=outputs["per_speaker"],
            confusion=outputs["confusion"],
            model=outputs["model"],
        ),
        cache_dir=cache_dir,
        code=code,
    )


def speaker_stance_step(dataset: str, oof: str, config: Mapping[str, Any], out: str) -> None:
    """Speaker-reading stance models, hand vs predicted speakers (rule speaker_stance)."""
    from stance.speakers.stage import write_stance_with_predicted

    table = write_stance_with_predicted(dataset, oof, config, out)
    if table.empty:
        logger.info("no configured model reads the speaker: nothing to compare")
    else:
        logger.info(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def log_speakers_step(
    metrics: str,
    model: str,
    artifacts: list[str],
    dataset: str,
    config: Mapping[str, Any],
    root: Path | str,
    out: str,
) -> None:
    """Log the speaker stage to MLflow (rule log_speakers)."""
    from stance.speakers.learned import FEATURES
    from stance.tracking.speakers import log_speaker_run
    from stance.tracking.store import resolve_tracking_uri
    from stance.training.data import load_training_data
    from stance.training.model_files import load_model

    summary = json.loads(Path(metrics).read_text(encoding="utf-8"))
    data = load_training_data(dataset)
    if data.digest() != summary["labels_sha256"]:
        raise StanceError(f"{dataset} changed since {metrics} was written; run snakemake again")
    uri, experiment = resolve_tracking_uri(config, root), config["mlflow"]["experiment"]
    params = {
        "method": summary["method"],
        "mapping": summary["mapping"],
        "mapping_entries": summary["mapping_entries"],
        "evaluation": summary["evaluation"],
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
    chosen = summary["scores"][f"guarded_{summary['method']}"]
    flat["accuracy"], flat["macro_f1"] = chosen["accuracy"], chosen["macro_f1"]
    import pandas as pd

    example = pd.DataFrame(
        {"text": ["The Taliban said foreign troops must leave."], "rule_speaker": ["taliban"],
         "rule_kind": ["attribution"], "first_mention": ["taliban"], "prev_speaker": ["none"]}
    )  # fmt: skip
    info = log_speaker_run(
        uri,
        experiment,
        params,
        flat,
        load_model(model),
        example,
        [metrics, *artifacts],
        config=config,
        root=root,
        labels_sha256=summary["labels_sha256"],
    )
    with atomic_open(out, encoding="utf-8") as fh:
        json.dump(info, fh, indent=2)
        fh.write("\n")
    logger.info(f"speakers: logged run {info['run_id']} to {uri}")


def _speakers_job(job: Any) -> None:
    speakers_step(
        job.input.sentences, job.input.data, job.config, Path.cwd(), dict(job.output.items()),
        cache_dir=job.params.cache_dir, code=job.params.code,
    )  # fmt: skip


def _speaker_stance_job(job: Any) -> None:
    speaker_stance_step(job.input.data, job.input.oof, job.config, job.output[0])


def _log_speakers_job(job: Any) -> None:
    log_speakers_step(
        job.input.metrics,
        job.input.model,
        [job.input.oof, job.input.metrics_table, job.input.per_speaker, job.input.confusion,
         job.input.mapping, job.input.stance],
        job.input.data,
        job.config,
        Path.cwd(),
        job.output[0],
    )  # fmt: skip


JOBS = {
    "speakers": _speakers_job,
    "speaker_stance": _speaker_stance_job,
    "log_speakers": _log_speakers_job,
}
