"""Optional extras: which model kinds need one, whether it is installed, what to install if not."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stance.errors import StanceError

# Model kinds built on a pretrained sentence encoder (src/stance/training/models.py registers
# them); they need the `embeddings` extra. Kept here, away from scikit-learn and torch, so that
# reading the Snakefile stays quick.
ENCODER_KINDS = ("encoder", "encoder_tfidf", "encoder_speaker")
# The kinds that read the labeled speaker beside the text (models.py registers them with the
# speaker among their features; tests/test_models.py checks the two agree).
SPEAKER_KINDS = ("tfidf_word_speaker", "encoder_speaker")
EMBEDDINGS_EXTRA = "embeddings"
# The modules the extra brings; finding them does not import them (torch takes seconds).
EMBEDDINGS_MODULES = ("sentence_transformers", "torch")
INSTALL_HINT = (
    "install the optional extra: pip install -e '.[embeddings]' in the project folder "
    "with -c requirements.lock for the CPU-only torch (docs/training.md)"
)


class ExtraMissing(StanceError):
    """A model needs an optional extra that is not installed."""


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def missing_modules(extra: str = EMBEDDINGS_EXTRA) -> list[str]:
    """The modules of ``extra`` that cannot be found (empty: it is installed)."""
    if extra != EMBEDDINGS_EXTRA:
        raise ValueError(f"unknown extra {extra!r}")
    return [m for m in EMBEDDINGS_MODULES if not _found(m)]


def extra_of_kind(kind: str) -> str | None:
    """The optional extra a model kind needs, or None."""
    return EMBEDDINGS_EXTRA if kind in ENCODER_KINDS else None


def require_embeddings(what: str) -> None:
    """Raise ExtraMissing, naming ``what`` and how to install the extra, if it is missing."""
    missing = missing_modules()
    if missing:
        raise ExtraMissing(
            f"{what} needs a pretrained sentence encoder, but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed; {INSTALL_HINT}"
        )


def runnable_entries(
    entries: Sequence[Mapping[str, Any]], note: Callable[[str], Any] = print
) -> list[Mapping[str, Any]]:
    """The config model entries whose extra is installed; one note (given to ``note``, without
    a 'note:' prefix) names the others."""
    missing = missing_modules() if any(extra_of_kind(str(e.get("kind"))) for e in entries) else []
    if not missing:
        return list(entries)
    kept = [e for e in entries if not extra_of_kind(str(e.get("kind")))]
    skipped = [str(e.get("name")) for e in entries if extra_of_kind(str(e.get("kind")))]
    note(
        f"skipping model(s) {', '.join(skipped)}: they need the optional "
        f"'{EMBEDDINGS_EXTRA}' extra ({', '.join(missing)} not installed); to train them, "
        f"{INSTALL_HINT}"
    )
    return kept


def speaker_model_entries(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The runnable model entries whose kind reads the speaker (rule speaker_stance's models)."""
    runnable = runnable_entries(entries, lambda note: None)
    return [dict(e) for e in runnable if e.get("kind") in SPEAKER_KINDS]
