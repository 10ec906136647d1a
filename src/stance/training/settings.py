"""Evaluation settings: the config's evaluation section and the seed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# Settings that change how fast models train, never what they learn: changing them re-runs nothing.
SPEED_SETTINGS = ("n_jobs", "fit_memory_mb", "final_fit_process_from")


def result_settings(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluation settings that shape results: all but the speed settings."""
    return {k: v for k, v in evaluation.items() if k not in SPEED_SETTINGS}


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class EvalSettings:
    """The ``evaluation`` section of a validated config (defaults from its schema), the seed."""

    seed: int
    scheme: str
    n_splits: int
    logo_max_groups: int
    stratified_n_splits: int
    # The secondary stratified K-fold runs only up to this many labeled sentences (None: always).
    stratified_max_sentences: int | None
    n_bootstrap: int
    ci_level: float
    f_avg_classes: tuple[str, ...]
    learning_curve: tuple[float, ...]
    # Learning-curve shares below 1.0 with more training sentences are not fit (None: all are).
    learning_curve_max_train: int | None
    n_jobs: int
    fit_memory_mb: int
    final_fit_process_from: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EvalSettings:
        """The settings of a validated config (its schema fills in the defaults)."""
        ev = config["evaluation"]
        cv = ev["cv"]
        return cls(
            seed=int(config["seed"]),
            scheme=cv["scheme"],
            n_splits=int(cv["n_splits"]),
            logo_max_groups=int(cv["logo_max_groups"]),
            stratified_n_splits=int(ev["stratified_n_splits"]),
            stratified_max_sentences=_optional_int(ev.get("stratified_max_sentences")),
            n_bootstrap=int(ev["n_bootstrap"]),
            ci_level=float(ev["ci_level"]),
            f_avg_classes=tuple(ev["f_avg_classes"]),
            learning_curve=tuple(float(x) for x in ev["learning_curve"]),
            learning_curve_max_train=_optional_int(ev["learning_curve_max_train"]),
            n_jobs=int(ev["n_jobs"]),
            fit_memory_mb=int(ev["fit_memory_mb"]),
            final_fit_process_from=_optional_int(ev.get("final_fit_process_from")),
        )

    def as_dict(self) -> dict[str, Any]:
        """The settings that shape results (all but SPEED_SETTINGS), as JSON values."""
        values = result_settings(asdict(self))
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
