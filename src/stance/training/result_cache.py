"""The cache of model results: a model is trained again only when what shapes its result changed.

One workflow job trains every configured model. Snakemake deletes a job's outputs before it runs
it, so each model's last result folder is also kept under ``results/cache/train/<model>/``, with
the key it was made from: the model's config entry, the evaluation settings, the seed, the data
digest and the training code. A changed hyperparameter re-trains that model only; a changed
label changes the data digest and re-trains every model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
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
    """Result folders of models, each kept with the key it was made from (one per model)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def restore(self, model: str, key: Mapping[str, Any], out_dir: Path | str) -> bool:
        """Copy the cached result of ``model`` to ``out_dir`` if it was made from ``key``."""
        cached = self.root / model
        try:
            stored = json.loads((cached / KEY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False  # none yet, or damaged: train again
        if stored.get("sha256") != _digest(key) or not all(
            (cached / name).is_file() for name in RESULT_FILES
        ):
            return False
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in RESULT_FILES:
            # copyfile, not copy2: a fresh time stamp, so snakemake sees an up-to-date output.
            shutil.copyfile(cached / name, out_dir / name)
        return True

    def save(self, model: str, key: Mapping[str, Any], result_dir: Path | str) -> None:
        """Keep the result folder of ``model`` with its key (replacing the previous one)."""
        with atomic_dir(self.root / model) as tmp:
            for name in RESULT_FILES:
                shutil.copyfile(Path(result_dir) / name, tmp / name)
            record = {"sha256": _digest(key), "key": key}
            (tmp / KEY_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
