"""The speaker stage: attribution per shard, out-of-fold evaluation, speaker model, predictions."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stance.environment import import_datasets
from stance.errors import StanceError
from stance.io import atomic_open, atomic_path, plain_frame, spreadsheet_frame, write_json
from stance.speakers.attribution import PARAGRAPH, attribute, mapping_from_config
from stance.speakers.evaluation import GUARDS, confusion_frame, out_of_fold, score_table
from stance.speakers.learned import METHODS, decide, fit_model
from stance.speakers.stance_eval import COLUMNS, stance_with_predicted_speakers
from stance.training.data import LabeledData, load_training_data
from stance.training.model_files import load_model, save_model
from stance.training.models import model_specs
from stance.training.settings import EvalSettings

# The sentence table's columns the rules read.
CORPUS_COLUMNS = ["sentence_id", "article_id", "position", "text", PARAGRAPH]
# One row per (name of the mapping, article that names it).
NAMING_COLUMNS = ["name", "article_id"]
PREDICTED_COLUMNS = ["sentence_id", "predicted_speaker", "evidence", "source"]
# The tables of rule speakers (written with their header only when there is no speaker label).
OOF_COLUMNS = [
    "sentence_id", "article_id", "text", "speaker", "predicted_speaker", "evidence",
    "predicted_speaker_unguarded", *(f"guarded_{m}" for m in METHODS), "fold",
]  # fmt: skip
SCORE_COLUMNS = ["accuracy", "accuracy_ci_low", "accuracy_ci_high",
                 "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high"]  # fmt: skip
PER_SPEAKER_COLUMNS = ["speaker", "support", *(
    f"{what}_{guard}" for guard in GUARDS for what in ("precision", "recall", "f1"))]  # fmt: skip
# What rule speaker_model writes instead of a model when there is no speaker label: this
# prefix, then why (the rules need no label, so the stage goes on without the model).
NO_MODEL = "no speaker model: "

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
    """The rules' output of one shard and its articles naming each name (rule attribute_shard)."""
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
    table = pd.concat([pd.read_parquet(path, columns=NAMING_COLUMNS) for path in paths])
    return table.groupby("name")["article_id"].agg(set).to_dict()


@dataclass(frozen=True)
class SpeakerLabels:
    """The labeled data set, its hand speakers and, without any, why the speaker stage skips."""

    data: LabeledData
    speakers: pd.DataFrame
    skipped: str = ""


def load_speaker_labels(dataset: Path | str, method: str) -> SpeakerLabels:
    """The hand speakers of the labeled data set (``method`` rules needs none)."""
    try:
        data = load_training_data(dataset)
    except StanceError:
        try:
            rows = import_datasets().load_from_disk(str(dataset)).num_rows
        except (FileNotFoundError, ValueError):
            rows = None
        if rows != 0:
            raise
        # No labeled sentence yet: an empty data set, whose digest is that of no row.
        data = LabeledData(pd.DataFrame(columns=["sentence_id", "group", "text", "stance"]), [],
                           str(dataset))  # fmt: skip
    skipped = ""
    if data.frame.empty:
        skipped = f"{data.source} has no labeled sentence"
    elif not data.has_speaker:
        skipped = f"{data.source} has no 'speaker' column"
    if skipped and method != "rules":
        raise StanceError(
            f"{skipped}: speakers.method {method!r} needs the speaker model, which learns from "
            "hand-labeled speakers; label speakers (labels/*.csv) or set speakers.method: rules"
        )
    columns = ["sentence_id", "speaker"]
    speakers = pd.DataFrame(columns=columns) if skipped else data.frame[columns]
    return SpeakerLabels(data, speakers, skipped)


def read_speaker_model(path: Path | str) -> Any:
    """The model rule speaker_model wrote, or None where it wrote why there is none."""
    with open(path, "rb") as fh:
        if fh.read(len(NO_MODEL)) == NO_MODEL.encode("utf-8"):
            return None
    return load_model(path)


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
    """Fit the final speaker model on every label, the whole mapping (rule speaker_model)."""
    speaker_config = config["speakers"]
    labels = load_speaker_labels(dataset, speaker_config["method"])
    if labels.skipped:
        note = f"{labels.skipped}: the speaker model is skipped (speakers.method rules needs none)"
        logger.info(f"note: {note}")
        with atomic_open(out, encoding="utf-8") as fh:
            fh.write(f"{NO_MODEL}{note}\n")
        return
    labeled = labels.speakers
    attributed = attribute(read_sentences(sentences), mapping_from_config(config, Path(root)))
    train_x = attributed.set_index("sentence_id").loc[labeled["sentence_id"]].reset_index()
    seed = EvalSettings.from_config(config).seed
    model = fit_model(dict(speaker_config["model"]), seed, train_x, labeled["speaker"])
    if isinstance(model, str) or model is None:
        raise StanceError(
            f"{labels.data.source}: every labeled sentence has speaker {model!r}; the speaker "
            "model needs sentences of at least two speakers"
        )
    save_model(model, out)


def _tables(oof: Any, figures: Mapping[str, Any], method: str) -> list[pd.DataFrame]:
    """The out-of-fold predictions, the scores, the per-speaker scores and the confusion."""
    chosen = f"guarded_{method}"
    table = oof.table
    oof_out = pd.DataFrame({
        **{c: table[c] for c in ("sentence_id", "article_id", "text", "speaker")},
        "predicted_speaker": table[chosen], "evidence": table[f"{chosen}_evidence"],
        "predicted_speaker_unguarded": table[f"unguarded_{method}"],
        **{f"guarded_{m}": table[f"guarded_{m}"] for m in METHODS}, "fold": table["fold"],
    }, columns=OOF_COLUMNS)  # fmt: skip
    rows = [
        {"leak_guard": guard == "guarded", "method": m,
         **{k: figures[f"{guard}_{m}"][k] for k in SCORE_COLUMNS}}
        for guard in GUARDS for m in (*METHODS, "majority")
    ]  # fmt: skip
    per = []
    for c in oof.classes:
        row: dict[str, Any] = {"speaker": c, "support": int(figures[chosen][f"support_{c}"])}
        for guard in GUARDS:
            for what in ("precision", "recall", "f1"):
                row[f"{what}_{guard}"] = figures[f"{guard}_{method}"][f"{what}_{c}"]
        per.append(row)
    cm = confusion_frame(table["speaker"].tolist(), table[chosen].tolist(), oof.classes)
    return [oof_out, pd.DataFrame(rows), pd.DataFrame(per, columns=PER_SPEAKER_COLUMNS), cm]


def run_speaker_stage(
    names: Sequence[Path | str],
    sentences: Path | str,
    dataset: Path | str,
    config: Mapping[str, Any],
    root: Path | str,
    outputs: SpeakerOutputs,
) -> dict[str, Any]:
    """Out-of-fold evaluation over the labeled articles and its outputs (rule speakers); without
    hand speakers, metrics.json says why and the tables have their header only."""
    speaker_config = config["speakers"]
    method, params = speaker_config["method"], dict(speaker_config["model"])
    settings = EvalSettings.from_config(config)
    mapping = mapping_from_config(config, Path(root))
    labels = load_speaker_labels(dataset, method)
    summary: dict[str, Any] = {
        "method": method,
        "params": params,
        "mapping": str(mapping.source),
        "mapping_entries": len(mapping.entries),
        "labels_sha256": labels.data.digest(),
        "settings": settings.as_dict(),
    }
    if labels.skipped:
        note = (
            f"{labels.skipped}: no out-of-fold figures of speaker attribution (the rules need "
            "no label; label speakers to measure them)"
        )
        logger.info(f"note: {note}")
        summary.update(evaluation="skipped", skipped=labels.skipped, classes=[], n_sentences=0,
                       scores={}, leak_guard_left_out={}, warnings=[note])  # fmt: skip
        tables = [
            pd.DataFrame(columns=OOF_COLUMNS),
            pd.DataFrame(columns=["leak_guard", "method", *SCORE_COLUMNS]),
            pd.DataFrame(columns=PER_SPEAKER_COLUMNS),
            confusion_frame([], [], []),
        ]
    else:
        oof = out_of_fold(read_sentences(sentences), labels.speakers, mapping, params, settings,
                          read_naming(names))  # fmt: skip
        figures = score_table(oof, settings)
        tables = _tables(oof, figures, method)
        summary.update(evaluation=oof.fold_description, classes=oof.classes,
                       n_sentences=len(oof.table), scores=figures,
                       leak_guard_left_out=oof.dropped_names, warnings=oof.notes)  # fmt: skip
    oof_out, scores, per_speaker, cm = tables
    _write_csv(oof_out, outputs.oof)
    _write_csv(scores, outputs.metrics_table, sep="\t", for_people=False)
    _write_csv(per_speaker, outputs.per_speaker, sep="\t", for_people=False)
    with atomic_open(outputs.confusion, newline="", encoding="utf-8") as fh:
        cm.to_csv(fh, sep="\t", lineterminator="\n")
    write_json(outputs.metrics, summary)
    for guard in GUARDS if not labels.skipped else ():
        f = summary["scores"][f"{guard}_{method}"]
        b = summary["scores"][f"{guard}_majority"]
        logger.info(
            f"speakers ({method}, {guard}): accuracy {f['accuracy']:.3f} "
            f"[{f['accuracy_ci_low']:.3f}, {f['accuracy_ci_high']:.3f}], macro_f1 "
            f"{f['macro_f1']:.3f} [{f['macro_f1_ci_low']:.3f}, {f['macro_f1_ci_high']:.3f}]; "
            f"majority accuracy {b['accuracy']:.3f}"
        )
    return summary


def predict_shard(
    attributed: Path | str,
    model: Path | str | None,
    config: Mapping[str, Any],
    out: Path | str,
) -> pd.DataFrame:
    """The speaker of every sentence of one shard by ``speakers.method`` (rule predict_speakers)."""
    method = config["speakers"]["method"]
    table = pd.read_parquet(attributed)
    speaker_model = None
    if method != "rules":
        speaker_model = read_speaker_model(model) if model else None
        if speaker_model is None:
            raise StanceError(
                f"speakers.method is {method!r} but there is no speaker model"
                + (f" ({model})" if model else "")
                + ": label speakers (labels/*.csv) or set speakers.method: rules"
            )
    predicted = decide(table, speaker_model, method).reset_index(drop=True)
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
    """The speaker-reading stance models scored with hand and predicted speakers (rule
    speaker_stance); without hand speakers, the table's header only."""
    labels = load_speaker_labels(dataset, config["speakers"]["method"])
    if labels.skipped:
        logger.info(f"note: {labels.skipped}: no stance model is scored with predicted speakers")
        table = pd.DataFrame(columns=COLUMNS)
    else:
        if not models:
            logger.info("no configured model reads the speaker: nothing to compare")
        predicted = plain_frame(pd.read_csv(oof, dtype=str, keep_default_na=False))
        unguarded = predicted.drop(columns="predicted_speaker").rename(
            columns={"predicted_speaker_unguarded": "predicted_speaker"}
        )
        table = stance_with_predicted_speakers(
            labels.data,
            {"predicted": predicted, "predicted_no_leak_guard": unguarded},
            model_specs({**config, "models": list(models)}) if models else [],
            EvalSettings.from_config(config),
        )
    _write_csv(table, str(out), sep="\t", for_people=False)
    return table
