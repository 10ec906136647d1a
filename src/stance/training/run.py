"""Training configured models: evaluate, write each result folder, report progress (the one
training path: the workflow's ``train_model`` step and ``stance train`` both call it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from stance.training.artifacts import write_evaluation
from stance.training.comparison import with_ci
from stance.training.data import LabeledData, load_training_data
from stance.training.encoders import cache_root, encoded_count
from stance.training.evaluate import Evaluation, evaluate
from stance.training.extras import extra_of_kind, require_embeddings, runnable_entries
from stance.training.models import SPEAKER, ModelSpec, get_spec, model_specs
from stance.training.settings import EvalSettings

logger = logging.getLogger(__name__)


def settings_for(config: Mapping[str, Any], jobs: int | None = None) -> EvalSettings:
    """The evaluation settings of the config; ``jobs`` overrides evaluation.n_jobs."""
    settings = EvalSettings.from_config(config)
    return settings if jobs is None else replace(settings, n_jobs=jobs)


def specs_for(
    config: Mapping[str, Any], data: LabeledData, names: Sequence[str] | None = None
) -> tuple[list[ModelSpec], list[str]]:
    """The models ``names`` (default: all configured ones, and notes on those skipped for an
    input the data lacks or a missing extra; a named one is an error then)."""
    if names:
        specs = [get_spec(config, name) for name in names]
        for spec in specs:
            if extra_of_kind(spec.kind.name):
                require_embeddings(f"model {spec.name!r} (kind {spec.kind.name})")
        return specs, []
    specs, notes = [], []
    runnable = {str(e["name"]) for e in runnable_entries(config["models"], notes.append)}
    for spec in [s for s in model_specs(config) if s.name in runnable]:
        if SPEAKER in spec.features and not data.has_speaker:
            notes.append(f"skipping {spec.name}: {data.source} has no 'speaker' column")
        else:
            specs.append(spec)
    return specs, notes


def result_line(ev: Evaluation) -> str:
    """One line with a model's headline scores and their intervals."""
    s, m = ev.summary, ev.metrics
    return (
        f"{s['model']}: f_avg {with_ci(m, 'f_avg')}, macro_f1 {with_ci(m, 'macro_f1')} "
        f"({s['cv']['description']})"
    )


def train_model(
    data: LabeledData,
    spec: ModelSpec,
    settings: EvalSettings,
    out_dir: Path | str,
    test: LabeledData | None = None,
    shown_warnings: set[str] | None = None,
) -> Evaluation:
    """Evaluate one model, write its result folder, log progress and the warnings not yet in
    ``shown_warnings`` (models of one command share most of them; the set is updated)."""
    logger.info(
        f"{spec.name}: evaluating on {len(data.frame)} labeled sentences "
        f"({settings.n_jobs} thread(s)) ..."
    )
    started, encoded = time.perf_counter(), encoded_count()
    ev = evaluate(data, spec, settings, test)
    logger.info(f"{spec.name}: evaluated in {time.perf_counter() - started:.1f} s")
    if extra_of_kind(spec.kind.name):
        # How many sentences needed the encoder: 0 on a re-run, the new ones after new labels.
        logger.info(
            f"{spec.name}: {encoded_count() - encoded} sentence(s) encoded, the others from "
            f"the vector cache ({cache_root()})"
        )
    write_evaluation(ev, out_dir)
    shown = shown_warnings if shown_warnings is not None else set()
    for warning in ev.warnings:
        if warning not in shown:
            logger.warning(warning)
            shown.add(warning)
    return ev


def train_configured_model(
    data: Path | str, config: Mapping[str, Any], name: str, out_dir: Path | str, threads: int
) -> Evaluation:
    """Train the configured model ``name`` on the data set ``data``, results into ``out_dir``."""
    labeled = load_training_data(data)
    ev = train_model(labeled, get_spec(config, name), settings_for(config, threads), out_dir)
    logger.info(f"{result_line(ev)} -> {out_dir}")
    return ev
