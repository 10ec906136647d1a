"""The speaker stage: out-of-fold evaluation, the final speaker model, every sentence's speaker."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import StanceError
from stance.io import atomic_open, atomic_path, spreadsheet_frame
from stance.speakers.apply import mapping_from_config
from stance.speakers.attribution import PARAGRAPH, attribute, corpus_raw_texts, paragraph_starts
from stance.speakers.evaluation import (
    GUARDS,
    confusion_frame,
    out_of_fold,
    score_table,
)
from stance.speakers.learned import METHODS, decide, fit_model
from stance.training.data import LabeledData, load_training_data
from stance.training.model_files import save_model
from stance.training.result_cache import ResultCache
from stance.training.settings import EvalSettings

logger = logging.getLogger(__name__)

# The corpus columns the stage reads (with the paragraph starts of the article files).
CORPUS_COLUMNS = ["sentence_id", "article_id", "position", "text"]
OOF_COLUMNS = ["sentence_id", "article_id", "text", "speaker", "predicted_speaker", "evidence"]
PREDICTED_COLUMNS = ["sentence_id", "predicted_speaker", "evidence", "source"]


@dataclass(frozen=True)
class SpeakerOutputs:
    """The files the speaker stage writes (rule speakers)."""

    predicted: str
    oof: str
    metrics: str
    metrics_table: str
    per_speaker: str
    confusion: str
    model: str


def corpus_sentences(sentences: Path | str, seeds_dir: Path | str) -> pd.DataFrame:
    """The sentence table with ``paragraph_start`` (from the article files' line breaks)."""
    corpus = pd.read_parquet(sentences)
    raw = corpus_raw_texts(sorted(corpus["article_id"].astype(str).unique()), seeds_dir)
    corpus[PARAGRAPH] = paragraph_starts(corpus, raw)
    return corpus.sort_values(["article_id", "position"], kind="stable").reset_index(drop=True)


def _labeled_speakers(data: LabeledData) -> pd.DataFrame:
    if not data.has_speaker:
        raise StanceError(f"{data.source} has no 'speaker' column: label speakers first")
    return data.frame[["sentence_id", "speaker"]]


def _write_csv(frame: pd.DataFrame, path: str, sep: str = ",", for_people: bool = True) -> None:
    shown = spreadsheet_frame(frame) if for_people else frame
    with atomic_open(path, newline="", encoding="utf-8") as fh:
        shown.to_csv(fh, index=False, sep=sep, lineterminator="\n", float_format="%.4f")


def _frame_sha256(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


def stage_key(
    config: Mapping[str, Any],
    root: Path,
    corpus: pd.DataFrame,
    labeled: pd.DataFrame,
    code: str,
) -> dict[str, Any]:
    """What the stage's result depends on: the corpus, the hand *speakers* (not the stances),
    the mapping and label schema files, the speaker and evaluation settings, seed and code."""
    from stance.training.result_cache import SPEED_SETTINGS

    files = (config["speakers"]["mapping"], config["labels"]["schema"])
    return {
        "speakers": dict(config["speakers"]),
        "evaluation": {k: v for k, v in config["evaluation"].items() if k not in SPEED_SETTINGS},
        "seed": config["seed"],
        "corpus_sha256": _frame_sha256(corpus[[*CORPUS_COLUMNS, PARAGRAPH]]),
        "speakers_sha256": _frame_sha256(labeled),
        "files_sha256": [hashlib.sha256((root / f).read_bytes()).hexdigest() for f in files],
        "code": code,
    }


def _restored(cache: ResultCache, key: Mapping[str, Any], outputs: SpeakerOutputs, data: Any):
    """The summary of the cached result of ``key``, restored to ``outputs``; None if none."""
    targets = {Path(path).name: path for path in asdict(outputs).values()}
    if not cache.restore_files("speakers", key, targets):
        return None
    summary = json.loads(Path(outputs.metrics).read_text(encoding="utf-8"))
    # The stage read none of what changed, but the run it logs names the labels it came from.
    summary["labels_sha256"] = data.digest()
    with atomic_open(outputs.metrics, encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
        fh.write("\n")
    logger.info(
        "speakers: same corpus, hand speakers, mapping, settings and code as the cached result; "
        "not evaluated again"
    )
    return summary


def run_speaker_stage(
    sentences: Path | str,
    dataset: Path | str,
    config: Mapping[str, Any],
    root: Path | str,
    outputs: SpeakerOutputs,
    *,
    cache_dir: Path | str | None = None,
    code: str = "",
) -> dict[str, Any]:
    """Evaluate speaker attribution out of fold, fit the final speaker model on every label and
    predict the speaker of every corpus sentence; write the outputs. Returns the summary.

    With ``cache_dir``, the outputs are also kept there with what they were made from, and
    restored from there while that has not changed (e.g. after a change of stance labels only).
    """
    root = Path(root)
    speaker_config = config["speakers"]
    method, params = speaker_config["method"], dict(speaker_config["model"])
    settings = EvalSettings.from_config(config)
    mapping = mapping_from_config(config, root)
    corpus = corpus_sentences(sentences, root / config["seeds_dir"])
    data = load_training_data(dataset)
    labeled = _labeled_speakers(data)
    cache = ResultCache(cache_dir) if cache_dir is not None else None
    key = stage_key(config, root, corpus, labeled, code) if cache is not None else {}
    if cache is not None and (summary := _restored(cache, key, outputs, data)) is not None:
        return summary

    oof = out_of_fold(corpus, labeled, mapping, params, settings)
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

    # The final model and every corpus sentence: the whole mapping, every label.
    attributed = attribute(corpus, mapping)
    by_id = attributed.set_index("sentence_id")
    train_x = by_id.loc[labeled["sentence_id"]].reset_index()
    model = fit_model(params, settings.seed, train_x, labeled["speaker"])
    if isinstance(model, str) or model is None:
        raise StanceError(
            f"{data.source}: every labeled sentence has speaker {model!r}; the speaker model needs "
            "sentences of at least two speakers"
        )
    save_model(model, outputs.model)
    # The rules' output of the corpus is the one above: decide from it, do not read it again.
    predicted = decide(attributed.reset_index(drop=True), model, method).reset_index(drop=True)
    predicted.insert(0, "sentence_id", corpus["sentence_id"].to_numpy())
    with atomic_path(outputs.predicted) as tmp:
        predicted[PREDICTED_COLUMNS].to_parquet(tmp, index=False)

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
        "n_corpus_sentences": len(corpus),
        "labels_sha256": data.digest(),
        "scores": figures,
        "leak_guard_left_out": oof.dropped_names,
        "warnings": oof.notes,
        "settings": settings.as_dict(),
    }
    with atomic_open(outputs.metrics, encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
        fh.write("\n")
    if cache is not None:
        cache.save_files("speakers", key, {Path(p).name: p for p in asdict(outputs).values()})
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


def write_stance_with_predicted(
    dataset: Path | str, oof: Path | str, config: Mapping[str, Any], out: Path | str
) -> pd.DataFrame:
    """The stance models that read the speaker, scored with hand and with out-of-fold predicted
    speakers (rule speaker_stance)."""
    from stance.io import plain_frame
    from stance.speakers.stance_eval import stance_with_predicted_speakers
    from stance.training.extras import runnable_entries
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
        # Models whose optional extra is missing are skipped everywhere (the Snakefile says so).
        model_specs({**config, "models": runnable_entries(config["models"], lambda note: None)}),
        EvalSettings.from_config(config),
    )
    _write_csv(table, str(out), sep="\t", for_people=False)
    return table
