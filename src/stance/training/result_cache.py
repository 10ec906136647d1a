"""The cache of results: a model (or stage) runs again only when what shapes its result changed.

One workflow job trains every configured model. Snakemake deletes a job's outputs before it runs
it, so each model's last result folder is also kept under ``results/cache/train/<model>/``, with
the key it was made from: the model's config entry, the evaluation settings, the seed, the data
digest and the training code. A changed hyperparameter re-trains that model only; a changed
label changes the data digest and re-trains every model. The speaker stage keeps its files the
same way (``results/cache/speakers/``), keyed by what it reads: a changed stance label leaves it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stance.io import atomic_dir
from stance.training.artifacts import ARTIFACT_FILES, MODEL_FILE

KEY_FILE = "cache_key.json"
RESULT_FILES = (*ARTIFACT_FILES, MODEL_FILE)
# Settings that change how fast a model trains, never what it learns.
SPEED_SETTINGS = ("n_jobs", "fit_memory_mb")


def result_key(
    config: Mapping[str, Any], model: str, data_digest: str, code: str
) -> dict[str, Any]:
    """What a model's result depends on: its config entry, evaluation settings, seed, data, code."""
    entry = next(m for m in config["models"] if m["name"] == model)
    evaluation = {k: v for k, v in config["evaluation"].items() if k not in SPEED_SETTINGS}
    return {
        "model": entry,
        "evaluation": evaluation,
        "seed": config["seed"],
        "data_sha256": data_digest,
        "code": code,
    }


def _digest(key: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()


class ResultCache:
    """Results (a set of named files) kept with the key they were made from, one per name."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def restore(self, model: str, key: Mapping[str, Any], out_dir: Path | str) -> bool:
        """Copy the cached result folder of ``model`` to ``out_dir`` if it was made from ``key``."""
        return self.restore_files(model, key, {n: Path(out_dir) / n for n in RESULT_FILES})

    def save(self, model: str, key: Mapping[str, Any], result_dir: Path | str) -> None:
        """Keep the result folder of ``model`` with its key (replacing the previous one)."""
        self.save_files(model, key, {n: Path(result_dir) / n for n in RESULT_FILES})

    def has(self, model: str, key: Mapping[str, Any]) -> bool:
        """Whether ``restore`` would find a result of ``model`` made from ``key``."""
        return self._holds(model, key, RESULT_FILES)

    def _holds(self, name: str, key: Mapping[str, Any], files: Iterable[str]) -> bool:
        cached = self.root / name
        try:
            stored = json.loads((cached / KEY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False  # none yet, or damaged: run again
        return stored.get("sha256") == _digest(key) and all((cached / f).is_file() for f in files)

    def restore_files(
        self, name: str, key: Mapping[str, Any], targets: Mapping[str, Path | str]
    ) -> bool:
        """Copy each cached file of ``name`` to its target path if they were made from ``key``."""
        if not self._holds(name, key, targets):
            return False
        cached = self.root / name
        for file, target in targets.items():
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            # copyfile, not copy2: a fresh time stamp, so snakemake sees an up-to-date output.
            shutil.copyfile(cached / file, target)
        return True

    def save_files(
        self, name: str, key: Mapping[str, Any], sources: Mapping[str, Path | str]
    ) -> None:
        """Keep the files ``sources`` (cache name -> path) of ``name`` with their key."""
        with atomic_dir(self.root / name) as tmp:
            for file, source in sources.items():
                shutil.copyfile(source, tmp / file)
            record = {"sha256": _digest(key), "key": key}
            (tmp / KEY_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
