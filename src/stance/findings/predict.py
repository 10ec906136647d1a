"""The stance model the findings use, the files of it they read, and its prediction per shard."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import StanceError
from stance.io import atomic_path, plain_frame

# Files of a model's result folder the findings stage reads (results/models/<name>/).
MODEL_INPUT_FILES = ("model.skops", "metrics.json", "oof_predictions.csv")
COMPARISON = "results/metrics/comparison.tsv"


@dataclass
class ChosenModel:
    """The stance model the findings use, with its scores and out-of-fold predictions."""

    name: str
    how: str  # why this model: configured, or best of the comparison
    folder: Path
    summary: dict[str, Any]
    oof: pd.DataFrame

    @property
    def classes(self) -> list[str]:
        return list(self.summary["classes"])

    @property
    def features(self) -> list[str]:
        return list(self.summary["features"])

    @property
    def columns(self) -> list[str]:
        """The columns of its predictions: ``predicted`` and one probability per class."""
        return ["predicted", *(f"proba_{c}" for c in self.classes)]


def findings_model_inputs(
    config: Mapping[str, Any], models_dir: str = "results/models"
) -> dict[str, Any]:
    """Named inputs of rule findings: ``model_files`` of the configured findings.model or (null)
    of every model, with ``comparison``, which says which is best (known only after training)."""
    names = [m["name"] for m in config["models"]]
    chosen = (config.get("findings") or {}).get("model")
    if chosen is not None and chosen not in names:
        raise StanceError(
            f"findings.model is {chosen!r}, which is not a configured model "
            f"({', '.join(names)}); set it to one of them in config/config.yaml, or to null for "
            "the model with the best f_avg"
        )
    files = [f"{models_dir}/{n}/{f}" for n in ([chosen] if chosen else names)
             for f in MODEL_INPUT_FILES]  # fmt: skip
    return {"model_files": files} if chosen else {"model_files": files, "comparison": COMPARISON}


def read_people_table(path: Path | str, sep: str = ",") -> pd.DataFrame:
    """A table written for people (formula-guarded cells), with the exact texts restored."""
    return plain_frame(pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False))


def choose_model(models_dir: Path | str, name: str | None, comparison: str | None) -> ChosenModel:
    """The configured model, or the first row (best f_avg) of the comparison table."""
    how = "set in config findings.model"
    if name is None:  # rule findings then reads the comparison (findings_model_inputs)
        table = read_people_table(comparison, sep="\t")
        if table.empty:
            raise StanceError(f"{comparison}: no model in the comparison; run snakemake")
        name = str(table["model"].iloc[0])
        how = f"best f_avg in {comparison}"
    # Rule findings and predict_stance declare these files as inputs: Snakemake checks they exist.
    folder = Path(models_dir) / name
    summary = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    oof = read_people_table(folder / "oof_predictions.csv")
    return ChosenModel(name, how, folder, summary, oof)


def _covering(table: pd.DataFrame, corpus: pd.DataFrame, what: str) -> pd.DataFrame:
    """``table`` by sentence_id, or an error naming ``what`` if it lacks one of ``corpus``."""
    table = table.drop_duplicates("sentence_id").set_index("sentence_id")
    missing = table.index.get_indexer(corpus["sentence_id"]) < 0
    if missing.any():
        raise StanceError(
            f"{what} lack {int(missing.sum())} sentence(s) of the corpus (first: "
            f"{corpus.loc[missing, 'sentence_id'].iloc[0]}); run snakemake to update them"
        )
    return table


def speakers_of(corpus: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    """The speaker stage's prediction of every sentence of ``corpus``, indexed by sentence_id."""
    return _covering(pd.read_parquet(path), corpus, f"the speakers in {path}")


def predict_stances(model: Any, table: pd.DataFrame, chosen: ChosenModel) -> pd.DataFrame:
    """The model's stance (``predicted``) and class probabilities for every row of ``table``."""
    from stance.training.models import predict_sentences

    out = predict_sentences(
        model, table, chosen.classes, chosen.features, f"{chosen.folder}/model.skops"
    )
    return out[["stance", *chosen.columns[1:]]].rename(columns={"stance": "predicted"})


def predict_shard(
    sentences: Path | str,
    speakers: Path | str,
    models_dir: Path | str,
    name: str | None,
    comparison: str | None,
    out: Path | str,
) -> pd.DataFrame:
    """The chosen model's prediction for every sentence of one shard, with its predicted speaker."""
    from stance.training.artifacts import load_final_model

    chosen = choose_model(models_dir, name, comparison)
    table = pd.read_parquet(sentences, columns=["sentence_id", "text"]).reset_index(drop=True)
    found = speakers_of(table, speakers).reindex(table["sentence_id"])
    table["speaker"] = found["predicted_speaker"].to_numpy()
    predicted = predict_stances(load_final_model(chosen.folder), table, chosen)
    predicted.insert(0, "sentence_id", table["sentence_id"].to_numpy())
    with atomic_path(out) as tmp:
        predicted.to_parquet(tmp, index=False)
    return predicted


def gather_stances(corpus: pd.DataFrame, shards: list[str], chosen: ChosenModel) -> pd.DataFrame:
    """The per-shard predictions of ``chosen`` for the sentences of ``corpus``, or an error."""
    parts = [pd.read_parquet(p) for p in shards]
    for path, part in zip(shards, parts, strict=True):
        if list(part.columns[1:]) != chosen.columns:
            raise StanceError(
                f"{path} holds the columns {', '.join(part.columns[1:])}, not the predictions "
                f"of model {chosen.name!r} ({', '.join(chosen.columns)}); run snakemake to "
                "update it"
            )
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["sentence_id"])
    table = _covering(table, corpus, f"the stance predictions ({len(shards)} shard file(s))")
    return table.reindex(corpus["sentence_id"])[chosen.columns].reset_index(drop=True)
