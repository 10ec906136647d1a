"""Optional extras: which model kinds need one, whether it is installed, what to install if not."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stance.errors import StanceError

# Model kinds built on a pretrained sentence encoder, which need the `embeddings` extra (listed
# here, away from scikit-learn and torch, so that reading the Snakefile stays quick).
ENCODER_KINDS = ("encoder", "encoder_tfidf", "encoder_speaker")
# The kinds that read the labeled speaker beside the text (tests/test_models.py checks that
# models.py agrees).
SPEAKER_KINDS = ("tfidf_word_speaker", "encoder_speaker")
# The modules the extra brings; finding them does not import them (torch takes seconds).
EMBEDDINGS_MODULES = ("sentence_transformers", "torch")
INSTALL_HINT = (
    "install the optional extra: pip install -e '.[embeddings]' in the project folder "
    "with -c requirements.lock for the CPU-only torch (docs/training.md)"
)


def missing_modules() -> list[str]:
    """The modules of the embeddings extra that cannot be found (empty: it is installed)."""
    return [m for m in EMBEDDINGS_MODULES if importlib.util.find_spec(m) is None]


def extra_of_kind(kind: str) -> str | None:
    """The optional extra a model kind needs, or None."""
    return "embeddings" if kind in ENCODER_KINDS else None


def require_embeddings(what: str) -> None:
    """A StanceError, naming ``what`` and how to install the extra, if it is missing."""
    missing = missing_modules()
    if missing:
        raise StanceError(
            f"{what} needs a pretrained sentence encoder, but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed; {INSTALL_HINT}"
        )


def runnable_entries(
    entries: Sequence[Mapping[str, Any]], note: Callable[[str], Any] = print
) -> list[Mapping[str, Any]]:
    """The config model entries whose extra is installed; one note (to ``note``) names the rest."""
    skipped = [e for e in entries if extra_of_kind(str(e.get("kind")))]
    missing = missing_modules() if skipped else []
    if not missing:
        return list(entries)
    note(
        f"skipping model(s) {', '.join(str(e.get('name')) for e in skipped)}: they need the "
        f"optional 'embeddings' extra ({', '.join(missing)} not installed); to train "
        f"them, {INSTALL_HINT}"
    )
    return [e for e in entries if not extra_of_kind(str(e.get("kind")))]


def speaker_model_entries(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The runnable model entries whose kind reads the speaker (rule speaker_stance's models)."""
    runnable = runnable_entries(entries, lambda note: None)
    return [dict(e) for e in runnable if e.get("kind") in SPEAKER_KINDS]
