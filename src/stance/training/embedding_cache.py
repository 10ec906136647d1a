"""Sentence vectors on disk, keyed by encoder identity and normalised text: each encoded once.

Every batch of new vectors is one more ``.npz`` file under a fresh name, so two processes that
encode at once never overwrite each other; a damaged file is ignored and its texts encoded again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from stance.corpus.splitting import normalise
from stance.io import atomic_path

logger = logging.getLogger(__name__)

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
        if not self.folder.is_dir():
            return
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
            for key, value in zip(keys.tolist(), values, strict=True):
                self.vectors[str(key)] = value

    def _write(self, keys: Sequence[str], values: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"batch-{secrets.token_hex(8)}.npz"
        with atomic_path(self.folder / name) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, keys=np.asarray(keys, dtype="U32"), vectors=values.astype(np.float32))
        self.read_files.add(name)

    def lookup(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """The vectors of ``texts`` (rows in order, float64); ``encode`` gets the normalised
        texts not in the cache, each once, and its vectors are stored before returning."""
        normalised = [normalise(t) for t in texts]
        # The key of a sentence: BLAKE2b of its normalised text (32 hex digits).
        keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in normalised]
        with self.lock:
            if any(k not in self.vectors for k in keys):
                self._refresh()
            new = {k: t for k, t in zip(keys, normalised, strict=True) if k not in self.vectors}
            if new:
                values = np.asarray(encode(list(new.values())), dtype=np.float32)
                self._write(list(new), values)
                self.vectors.update(zip(new, values, strict=True))
                self.encoded += len(new)
            if not keys:
                return np.zeros((0, 0))
            return np.vstack([self.vectors[k] for k in keys]).astype(np.float64)


_CACHES: dict[tuple[str, str], VectorCache] = {}
_CACHES_LOCK = threading.Lock()


def vector_cache(identity: str) -> VectorCache:
    """The process's cache of one encoder identity (a folder name) under cache_root()."""
    root = cache_root().resolve()
    with _CACHES_LOCK:
        key = (str(root), identity)
        if key not in _CACHES:
            _CACHES[key] = VectorCache(root / identity)
        return _CACHES[key]


def encoded_count() -> int:
    """How many texts this process has encoded so far, over all encoders."""
    return sum(c.encoded for c in _CACHES.values())
