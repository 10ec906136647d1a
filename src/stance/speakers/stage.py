"""The speaker stage: attribution per shard, out-of-fold evaluation, speaker model, predictions."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import StanceError
from stance.io import atomic_open, atomic_path, spreadsheet_frame, write_json
from stance.speakers.apply import mapping_from_config
from stance.speakers.attribution import PARAGRAPH, attribute
from stance.speakers.evaluation import (
    GUARDS,
    confusion_frame,
    out_of_fold,
    score_table,
)
from stance.speakers.learned import METHODS, decide, fit_model
from stance.training.data import LabeledData, load_training_data
from stance.training.model_files import load_model, save_model
from stance.training.settings import EvalSettings

# The sentence table's columns the rules read.
CORPUS_COLUMNS = ["sentence_id", "article_id", "position", "text", PARAGRAPH]
# One row per (name of the mapping, article that names it).
NAMING_COLUMNS = ["name", "article_id"]
PREDICTED_COLUMNS = ["sentence_id", "predicted_speaker", "evidence", "source"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeakerOutputs:
    """The files the speaker stage writes (rule speakers)."""

    oof: str
    metrics: str
    metrics_table: str
    per_speaker: str
    confusion: str


def read_sentences(sentences: Path | str) -> pd.DataFrame:
    """The columns of a sentence table the rules read, by article and position."""
    corpus = pd.read_parquet(sentences, columns=CORPUS_COLUMNS)
    return corpus.sort_values(["article_id", "position"], kind="stable").reset_index(drop=True)


def attribute_shard(
    sentences: Path | str,
    config: Mapping[str, Any],
    root: Path | str,
    out: Path | str,
    names_out: Path | str,
) -> pd.DataFrame:
    """The rules' speaker, evidence and features of every sentence of one shard's table, and
    which of its articles name each name of the mapping (the leak guard reads it) (rule
    attribute_shard). No label is read: a change of labels leaves it as it is."""
    corpus = read_sentences(sentences)
    mapping = mapping_from_config(config, Path(root))
    attributed = attribute(corpus, mapping)
    with atomic_path(out) as tmp:
        attributed.to_parquet(tmp, index=False)
    naming = mapping.articles_naming(
        zip(corpus["article_id"].astype(str), corpus["text"].astype(str), strict=True)
    )
    pairs = sorted((name, a) for name, articles in naming.items() for a in articles)
    with atomic_path(names_out) as tmp:
        pd.DataFrame(pairs, columns=NAMING_COLUMNS, dtype=str).to_parquet(tmp, index=False)
    return attributed


def read_naming(paths: Sequence[Path | str]) -> dict[str, set[str]]:
    """The articles that name each name of the mapping, from the shards' name tables."""
    naming: dict[str, set[str]] = {}
    for path in paths:
        table = pd.read_parquet(path, columns=NAMING_COLUMNS)
        for name, article in zip(table["name"], table["article_id"], strict=True):
            naming.setdefault(name, set()).add(article)
    return naming


def _labeled_speakers(data: LabeledData) -> pd.DataFrame:
    if not data.has_speaker:
        raise StanceError(f"{data.source} has no 'speaker' column: label speakers first")
    return data.frame[["sentence_id", "speaker"]]


def _write_csv(frame: pd.DataFrame, path: str, sep: str = ",", for_people: bool = True) -> None:
    shown = spreadsheet_frame(frame) if for_people else frame
    with atomic_open(path, newline="", encoding="utf-8") as fh:
        shown.to_csv(fh, index=False, sep=sep, lineterminator="\n", float_format="%.4f")


def fit_speaker_model(
    sentences: Path | str,
    dataset: Path | str,
    config: Mapping[str, Any],
    root: Path | str,
    out: Path | str,
) -> None:
    """Fit the final speaker model on every label, from the rules' output over the labeled
    articles (``sentences``: their sentence table) with the whole mapping (rule speaker_model).
    The rules read one article at a time: the features are those of the corpus shards."""
    speaker_config = config["speakers"]
    data = load_training_data(dataset)
    labeled = _labeled_speakers(data)
    attributed = attribute(read_sentences(sentences), mapping_from_config(config, Path(root)))
    train_x = attributed.set_index("sentence_id").loc[labeled["sentence_id"]].reset_index()
    seed = EvalSettings.from_config(config).seed
    model = fit_model(dict(speaker_config["model"]), seed, train_x, labeled["speaker"])
    if isinstance(model, str) or model is None:
        raise StanceError(
            f"{data.source}: every labeled sentence has speaker {model!r}; the speaker model needs "
            "sentences of at least two speakers"
        )
    save_model(model, out)


def run_speaker_stage(
    names: Sequence[Path | str],
    sentences: Path | str,
    dataset: Path | str,
    config: Mapping[str, Any],
    root: Path | str,
    outputs: SpeakerOutputs,
) -> dict[str, Any]:
    """Evaluate speaker attribution out of fold over the labeled articles (``sentences``: their
    sentence table), the leak guard reading which articles of the corpus name each name
    (``names``: the shards' tables of rule attribute_shard); write the outputs (rule speakers).
    Returns the summary."""
    speaker_config = config["speakers"]
    method, params = speaker_config["method"], dict(speaker_config["model"])
    settings = EvalSettings.from_config(config)
    mapping = mapping_from_config(config, Path(root))
    data = load_training_data(dataset)
    labeled = _labeled_speakers(data)

    oof = out_of_fold(read_sentences(sentences), labeled, mapping, params, settings,
                      read_naming(names))  # fmt: skip
    figures = score_table(oof, settings)
    chosen = f"guarded_{method}"
    table = oof.table
    oof_out = table[["sentence_id", "article_id", "text", "speaker"]].copy()
    oof_out["predicted_speaker"] = table[chosen]
    oof_out["evidence"] = table[f"{chosen}_evidence"]
    oof_out["predicted_speaker_unguarded"] = table[f"unguarded_{method}"]
    for m in METHODS:
        oof_out[f"guarded_{m}"] = table[f"guarded_{m}"]
    oof_out["fold"] = table["fold"]
    _write_csv(oof_out, outputs.oof)

    rows = []
    for guard in GUARDS:
        for m in (*METHODS, "majority"):
            f = figures[f"{guard}_{m}"]
            rows.append({"leak_guard": guard == "guarded", "method": m, **{
                k: f[k] for k in ("accuracy", "accuracy_ci_low", "accuracy_ci_high",
                                  "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high")}})  # fmt: skip
    _write_csv(pd.DataFrame(rows), outputs.metrics_table, sep="\t", for_people=False)
    per = []
    for c in oof.classes:
        row: dict[str, Any] = {"speaker": c, "support": int(figures[chosen][f"support_{c}"])}
        for guard in GUARDS:
            for what in ("precision", "recall", "f1"):
                row[f"{what}_{guard}"] = figures[f"{guard}_{method}"][f"{what}_{c}"]
        per.append(row)
    _write_csv(pd.DataFrame(per), outputs.per_speaker, sep="\t", for_people=False)
    cm = confusion_frame(table["speaker"].tolist(), table[chosen].tolist(), oof.classes)
    with atomic_open(outputs.confusion, newline="", encoding="utf-8") as fh:
        cm.to_csv(fh, sep="\t", lineterminator="\n")

    summary = {
        "method": method,
        "params": params,
        "mapping": str(mapping.source),
        "mapping_entries": len(mapping.entries),
        "evaluation": oof.fold_description,
        "classes": oof.classes,
        "n_sentences": len(table),
        "labels_sha256": data.digest(),
        "scores": figures,
        "leak_guard_left_out": oof.dropped_names,
        "warnings": oof.notes,
        "settings": settings.as_dict(),
    }
    write_json(outputs.metrics, summary)
    for guard in GUARDS:
        f = figures[f"{guard}_{method}"]
        b = figures[f"{guard}_majority"]
        logger.info(
            f"speakers ({method}, {guard}): accuracy {f['accuracy']:.3f} "
            f"[{f['accuracy_ci_low']:.3f}, {f['accuracy_ci_high']:.3f}], macro_f1 "
            f"{f['macro_f1']:.3f} [{f['macro_f1_ci_low']:.3f}, {f['macro_f1_ci_high']:.3f}]; "
            f"majority accuracy {b['accuracy']:.3f}"
        )
    return summary


def predict_shard(
    attributed: Path | str, model: Path | str, config: Mapping[str, Any], out: Path | str
) -> pd.DataFrame:
    """The speaker of every sentence of one attributed shard, decided from the rules' output and
    the speaker model as ``speakers.method`` says (rule predict_speakers)."""
    table = pd.read_parquet(attributed)
    predicted = decide(table, load_model(model), config["speakers"]["method"])
    predicted = predicted.reset_index(drop=True)
    predicted.insert(0, "sentence_id", table["sentence_id"].to_numpy())
    with atomic_path(out) as tmp:
        predicted[PREDICTED_COLUMNS].to_parquet(tmp, index=False)
    return predicted


def gather_predicted(shards: Sequence[Path | str], out: Path | str) -> None:
    """The per-shard speaker predictions as one table (rule gather_speakers)."""
    parts = [pd.read_parquet(p) for p in shards] or [pd.DataFrame(columns=PREDICTED_COLUMNS)]
    table = pd.concat(parts, ignore_index=True)
    with atomic_path(out) as tmp:
        table[PREDICTED_COLUMNS].to_parquet(tmp, index=False)


def write_stance_with_predicted(
    dataset: Path | str,
    oof: Path | str,
    models: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
    out: Path | str,
) -> pd.DataFrame:
    """The stance models of the config entries ``models`` that read the speaker, scored with
    hand and with out-of-fold predicted speakers (rule speaker_stance)."""
    from stance.io import plain_frame
    from stance.speakers.stance_eval import stance_with_predicted_speakers
    from stance.training.models import model_specs

    predicted = plain_frame(pd.read_csv(oof, dtype=str, keep_default_na=False))
    table = stance_with_predicted_speakers(
        load_training_data(dataset),
        {
            "predicted": predicted[["sentence_id", "predicted_speaker"]],
            "predicted_no_leak_guard": predicted[
                ["sentence_id", "predicted_speaker_unguarded"]
            ].rename(columns={"predicted_speaker_unguarded": "predicted_speaker"}),
        },
        model_specs({**config, "models": list(models)}) if models else [],
        EvalSettings.from_config(config),
    )
    _write_csv(table, str(out), sep="\t", for_people=False)
    return table
