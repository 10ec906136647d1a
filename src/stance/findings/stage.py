"""The findings stage: every corpus sentence with a speaker and a stance, and the shares tables."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stance.errors import StanceError
from stance.findings.resolve import LABEL_SOURCE, month_of, resolve_stances
from stance.findings.shares import stance_shares
from stance.io import atomic_path, plain_frame, spreadsheet_frame

METADATA_COLUMNS = ["title", "outlet", "date", "url"]
# The groups of the shares tables, and the sentence column each one reads.
GROUPS = {"speaker": "speaker", "outlet": "outlet", "month": "month"}


@dataclass(frozen=True)
class FindingsInputs:
    """What the findings stage reads (rule findings)."""

    sentences: str
    articles: str
    speakers: str
    speaker_metrics: str
    dataset: str
    schema: str
    models_dir: str
    comparison: str | None = None


@dataclass(frozen=True)
class FindingsOutputs:
    """The files the findings stage writes (rule findings)."""

    sentences: str
    by_speaker: str
    by_outlet: str
    by_month: str
    speaker_figure: str
    time_figure: str
    statement_md: str
    statement_html: str


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


@dataclass
class FindingsResult:
    """What the stage found: the sentence table, the shares tables and the facts the statement
    states."""

    sentences: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    model: ChosenModel
    speaker_summary: dict[str, Any]
    settings: dict[str, Any]


def _read_people_table(path: Path | str, sep: str = ",") -> pd.DataFrame:
    """A table written for people (formula-guarded cells), with the exact texts restored."""
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise StanceError(f"{path}: not found; run snakemake to build it") from None
    return plain_frame(table)


def choose_model(models_dir: Path | str, name: str | None, comparison: str | None) -> ChosenModel:
    """The configured model, or the first row (best f_avg) of the comparison table."""
    how = "set in config findings.model"
    if name is None:
        if comparison is None:
            raise StanceError("findings.model is null and no comparison table was given")
        table = _read_people_table(comparison, sep="\t")
        if table.empty:
            raise StanceError(f"{comparison}: no model in the comparison; run snakemake")
        name = str(table["model"].iloc[0])
        how = f"best f_avg in {comparison}"
    folder = Path(models_dir) / name
    summary_path = folder / "metrics.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StanceError(f"{summary_path}: not found; run snakemake to train {name!r}") from None
    oof = _read_people_table(folder / "oof_predictions.csv")
    return ChosenModel(name, how, folder, summary, oof)


def _predict(model: Any, table: pd.DataFrame, chosen: ChosenModel) -> pd.DataFrame:
    """The model's stance (``predicted``) and class probabilities for every row of ``table``."""
    from stance.training.predict import predict_sentences

    out = predict_sentences(
        model, table, chosen.classes, chosen.features, f"{chosen.folder}/model.skops"
    )
    columns = ["stance", *(f"proba_{c}" for c in chosen.classes)]
    return out[columns].rename(columns={"stance": "predicted"}).reset_index(drop=True)


def _speakers(corpus: pd.DataFrame, path: str) -> pd.DataFrame:
    """The speaker stage's prediction of every corpus sentence (all present, or an error)."""
    predicted = pd.read_parquet(path)
    missing = ~corpus["sentence_id"].isin(predicted["sentence_id"])
    if missing.any():
        raise StanceError(
            f"{path} has no speaker for {int(missing.sum())} sentence(s) of the corpus (first: "
            f"{corpus.loc[missing, 'sentence_id'].iloc[0]}); run snakemake to update it"
        )
    return predicted.drop_duplicates("sentence_id").set_index("sentence_id")


def _articles(path: str) -> pd.DataFrame:
    table = _read_people_table(path, sep="\t")
    for c in METADATA_COLUMNS:
        if c not in table.columns:
            table[c] = ""
    return table.set_index("article_id")[METADATA_COLUMNS]


def sentence_findings(
    inputs: FindingsInputs, chosen: ChosenModel, model: Any, labels: pd.DataFrame
) -> pd.DataFrame:
    """One row per corpus sentence: text, article metadata, speaker and its source, the model's
    stance and probabilities, and the stance counted (hand label over prediction) with its
    source. ``labels``: the final hand labels (sentence_id, stance, speaker when labeled)."""
    corpus = pd.read_parquet(inputs.sentences)
    corpus = corpus.sort_values(["article_id", "position"], kind="stable").reset_index(drop=True)
    table = corpus[["sentence_id", "article_id", "position", "text"]].copy()
    meta = _articles(inputs.articles).reindex(table["article_id"]).fillna("")
    for c in METADATA_COLUMNS:
        table[c] = meta[c].to_numpy()
    table["month"] = month_of(table["date"])
    found = _speakers(corpus, inputs.speakers).reindex(table["sentence_id"])
    table["predicted_speaker"] = found["predicted_speaker"].to_numpy()
    table["speaker_evidence"] = found["evidence"].to_numpy()
    # The stance model reads the predicted speaker, as it would for any unlabeled sentence.
    x = table.rename(columns={"predicted_speaker": "speaker"})
    predictions = _predict(model, x, chosen)
    table = pd.concat([table, predictions], axis=1)
    resolved = resolve_stances(table, labels[["sentence_id", "stance"]])
    # A hand-labeled speaker overrides the predicted one, as a hand-labeled stance does.
    if "speaker" in labels.columns:
        named = labels[labels["speaker"].fillna("") != ""].set_index("sentence_id")["speaker"]
    else:
        named = pd.Series(dtype=object)
    hand_speaker = table["sentence_id"].map(named)
    resolved["speaker"] = hand_speaker.where(hand_speaker.notna(), table["predicted_speaker"])
    resolved["speaker_source"] = np.where(
        hand_speaker.notna(), LABEL_SOURCE, found["source"].astype(str).to_numpy()
    )
    columns = ["sentence_id", "article_id", "position", "text", *METADATA_COLUMNS, "month",
               "speaker", "speaker_source", "predicted_speaker", "speaker_evidence",
               "stance", "stance_source", "predicted",
               *[f"proba_{c}" for c in chosen.classes]]  # fmt: skip
    return resolved[columns]


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The stage's settings: config ``findings`` (defaults from the config schema) and the seed."""
    findings = config["findings"]
    return {
        "model": findings["model"],
        "n_bootstrap": int(findings["n_bootstrap"]),
        "ci_level": float(findings["ci_level"]),
        "wide_half_width": float(findings["wide_half_width"]),
        "seed": int(config["seed"]),
    }


def _in_order(table: pd.DataFrame, column: str, order: Sequence[str]) -> pd.DataFrame:
    """Rows in the given order of ``column`` (values not listed after, as they were)."""
    rank = {v: i for i, v in enumerate(order)}
    key = table[column].map(lambda v: rank.get(v, len(rank)))
    return table.assign(_rank=key).sort_values("_rank", kind="stable").drop(columns="_rank")


def findings_tables(
    sentences: pd.DataFrame,
    classes: Sequence[str],
    oof: pd.DataFrame,
    settings: Mapping[str, Any],
    speaker_order: Sequence[str] = (),
) -> dict[str, pd.DataFrame]:
    """Shares per speaker, outlet and month (see stance.findings.shares.stance_shares)."""
    tables = {}
    for name, column in GROUPS.items():
        shares = stance_shares(
            sentences,
            column,
            classes,
            oof[["article_id", "stance", "predicted"]],
            n_boot=settings["n_bootstrap"],
            seed=settings["seed"],
            level=settings["ci_level"],
            wide_half_width=settings["wide_half_width"],
        )
        if name == "speaker":
            shares = _in_order(shares, column, speaker_order)
        tables[name] = shares.reset_index(drop=True)
    return tables


def _hand_labels(dataset: str) -> pd.DataFrame:
    from stance.training.data import load_training_data

    frame = load_training_data(dataset).frame
    return frame[[c for c in ("sentence_id", "stance", "speaker") if c in frame.columns]]


def _write_table(table: pd.DataFrame, path: str) -> None:
    with atomic_path(path) as tmp:
        spreadsheet_frame(table).to_csv(
            tmp, sep="\t", index=False, lineterminator="\n", float_format="%.4f"
        )


def run_findings_stage(
    inputs: FindingsInputs, outputs: FindingsOutputs, config: Mapping[str, Any]
) -> FindingsResult:
    """Predict the stance of every corpus sentence with the chosen model (hand labels override,
    counted as such), attach speakers and article metadata, and write the sentence table, the
    shares per speaker, outlet and month, the figures and the statement of what they carry."""
    from stance.findings.figures import plot_over_time, plot_speaker_shares
    from stance.findings.statement import write_statement
    from stance.labels.schema import load_schema
    from stance.training.artifacts import load_final_model

    settings = _settings(config)
    chosen = choose_model(inputs.models_dir, settings["model"], inputs.comparison)
    model = load_final_model(chosen.folder)
    labels = _hand_labels(inputs.dataset)
    unknown = sorted(set(labels["stance"]) - set(chosen.classes))
    if unknown:
        raise StanceError(
            f"{inputs.dataset}: stance value(s) {', '.join(unknown)} are not among the classes "
            f"of model {chosen.name!r} ({', '.join(chosen.classes)}); run snakemake to retrain"
        )
    sentences = sentence_findings(inputs, chosen, model, labels)
    with atomic_path(outputs.sentences) as tmp:
        sentences.to_parquet(tmp, index=False)
    speaker_order = load_schema(inputs.schema).field("speaker").names
    tables = findings_tables(sentences, chosen.classes, chosen.oof, settings, speaker_order)
    for name, path in (("speaker", outputs.by_speaker), ("outlet", outputs.by_outlet),
                       ("month", outputs.by_month)):  # fmt: skip
        _write_table(tables[name], path)
    speaker_summary = json.loads(Path(inputs.speaker_metrics).read_text(encoding="utf-8"))
    result = FindingsResult(sentences, tables, chosen, speaker_summary, settings)
    plot_speaker_shares(result, outputs.speaker_figure)
    plot_over_time(result, outputs.time_figure)
    write_statement(result, outputs.statement_md, outputs.statement_html)
    return result
