"""The findings stage: every corpus sentence's speaker and stance, the shares tables, figures."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stance.errors import StanceError
from stance.findings.estimate import Design
from stance.findings.figures import figure_title, plot_over_time, plot_speaker_shares
from stance.findings.predict import (
    ChosenModel,
    choose_model,
    gather_stances,
    read_people_table,
    speakers_of,
)
from stance.findings.shares import LABEL_SOURCE, estimator_for, stance_shares, top_groups
from stance.findings.statement import write_statement
from stance.io import atomic_path, spreadsheet_frame
from stance.labels.design import design_table, load_manifests, resolve_designs
from stance.labels.schema import load_schema
from stance.training.data import load_training_data

METADATA_COLUMNS = ["title", "outlet", "date", "url"]
# The shares tables, by the sentence columns whose values make a group (named by them joined).
GROUPINGS = [("speaker",), ("outlet",), ("month",), ("speaker", "month"), ("speaker", "outlet")]
PERIODS = ("before", "after")
MODEL_SOURCE = "model"  # the stance_source of a sentence counted by its prediction


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
    stances: Sequence[str]  # the chosen model's predictions, one file per shard
    speaker_oof: str = "results/speakers/oof_predictions.csv"
    labels_dir: str = "labels"
    comparison: str | None = None


@dataclass(frozen=True)
class FindingsOutputs:
    """The files the findings stage writes (rule findings)."""

    sentences: str
    by_speaker: str
    by_outlet: str
    by_month: str
    by_speaker_month: str
    by_speaker_outlet: str
    change: str
    design: str
    speaker_figure: str
    time_figure: str
    statement_md: str
    statement_html: str


@dataclass
class FindingsResult:
    """What the stage found: the sentence table, the shares tables and what the statement states."""

    sentences: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    model: ChosenModel
    speaker_summary: dict[str, Any]
    settings: dict[str, Any]
    design: pd.DataFrame  # one row per sample manifest, and one for the chosen labels
    design_warnings: list[str]
    change: pd.DataFrame


def resolve_stances(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` with ``stance`` (and its ``stance_source``): a hand label, else predicted."""
    hand = labels.drop_duplicates("sentence_id").set_index("sentence_id")["stance"]
    out = predictions.copy()
    labeled = out["sentence_id"].map(hand)
    out["stance"] = labeled.where(labeled.notna(), out["predicted"])
    out["stance_source"] = [LABEL_SOURCE if v else MODEL_SOURCE for v in labeled.notna()]
    return out


def month_of(dates: pd.Series) -> pd.Series:
    """``YYYY-MM`` of ISO dates (``2018-11-09``); missing or empty dates stay missing."""
    text = dates.fillna("").astype(str)
    return text.str.slice(0, 7).where(text.str.match(r"^\d{4}-\d{2}"), other=None)


def sentence_findings(
    inputs: FindingsInputs, chosen: ChosenModel, labels: pd.DataFrame
) -> pd.DataFrame:
    """One row per corpus sentence: text, metadata, speaker and stance with their sources."""
    corpus = pd.read_parquet(inputs.sentences)
    corpus = corpus.sort_values(["article_id", "position"], kind="stable").reset_index(drop=True)
    table = corpus[["sentence_id", "article_id", "position", "text"]].copy()
    articles = read_people_table(inputs.articles, sep="\t")
    articles = articles.reindex(columns=["article_id", *METADATA_COLUMNS], fill_value="")
    meta = articles.set_index("article_id").reindex(table["article_id"]).fillna("")
    table[METADATA_COLUMNS] = meta.to_numpy()
    table["month"] = month_of(table["date"])
    found = speakers_of(corpus, inputs.speakers).reindex(table["sentence_id"])
    table["predicted_speaker"] = found["predicted_speaker"].to_numpy()
    table["speaker_evidence"] = found["evidence"].to_numpy()
    table = pd.concat([table, gather_stances(table, list(inputs.stances), chosen)], axis=1)
    resolved = resolve_stances(table, labels[["sentence_id", "stance"]])
    # A hand-labeled speaker overrides the predicted one, as a hand-labeled stance does.
    named = labels.set_index("sentence_id").get("speaker", pd.Series(dtype=object))
    hand_speaker = table["sentence_id"].map(named[named.fillna("") != ""])
    resolved["speaker"] = hand_speaker.where(hand_speaker.notna(), table["predicted_speaker"])
    resolved["speaker_source"] = np.where(
        hand_speaker.notna(), LABEL_SOURCE, found["source"].astype(str).to_numpy()
    )
    columns = ["sentence_id", "article_id", "position", "text", *METADATA_COLUMNS, "month",
               "speaker", "speaker_source", "predicted_speaker", "speaker_evidence",
               "stance", "stance_source", "predicted",
               *[f"proba_{c}" for c in chosen.classes]]  # fmt: skip
    return resolved[columns]


def out_of_fold_columns(
    sentences: pd.DataFrame, inputs: FindingsInputs, chosen: ChosenModel, config: Mapping[str, Any]
) -> pd.DataFrame:
    """``oof_speaker`` and ``oof_stance``: each labeled sentence's out-of-fold predictions."""
    oof_speaker = read_people_table(inputs.speaker_oof).set_index("sentence_id")
    oof_speaker = oof_speaker["predicted_speaker"]
    oof_stance = chosen.oof.set_index("sentence_id")["predicted"]
    if "speaker" in chosen.features:
        from stance.speakers.stance_eval import out_of_fold_with_speakers
        from stance.training.models import spec_from_entry
        from stance.training.settings import EvalSettings

        entry = next(m for m in config["models"] if m["name"] == chosen.name)
        oof_stance = out_of_fold_with_speakers(
            load_training_data(inputs.dataset), oof_speaker.to_dict(), spec_from_entry(entry),
            EvalSettings.from_config(config),
        )  # fmt: skip
    labeled = sentences["stance_source"] == LABEL_SOURCE
    ids = sentences["sentence_id"]
    out = sentences.copy()
    out["oof_speaker"] = ids.map(oof_speaker).where(labeled)
    out["oof_stance"] = ids.map(oof_stance).where(labeled)
    missing = labeled & (out["oof_speaker"].isna() | out["oof_stance"].isna())
    if missing.any():
        raise StanceError(
            f"{int(missing.sum())} labeled sentence(s) have no out-of-fold prediction (first: "
            f"{ids[missing].iloc[0]}); run snakemake to retrain"
        )
    return out


def design_columns(
    sentences: pd.DataFrame, labels_dir: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[Design], pd.DataFrame, list[str]]:
    """``design`` (the sample whose frame holds the sentence), ``unit`` and ``sampled`` of every
    sentence; the same with the estimator's design index; the designs, design table, warnings."""
    manifests = load_manifests(labels_dir)
    labeled = set(sentences.loc[sentences["stance_source"] == LABEL_SOURCE, "sentence_id"])
    resolved = resolve_designs(manifests, sentences, labeled)
    names = np.array([m.name for m in manifests] + [""], dtype=object)
    out = sentences.assign(
        design=names[resolved.design], unit=resolved.unit, sampled=resolved.sampled
    )
    designs = [Design(r.name, r.frame, r.complete) for r in resolved.reports]
    table = design_table(resolved, labeled)
    return out, out.assign(design=resolved.design), designs, table, resolved.warnings


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Config ``findings`` (validated by the config schema), with split_date as ``YYYY-MM-DD``
    (YAML reads an unquoted date as a date) and the numbers as the statement prints them."""
    findings = config["findings"]
    split = findings.get("split_date")
    try:
        split = None if split is None else dt.date.fromisoformat(str(split)).isoformat()
    except ValueError:
        raise StanceError(
            f"config findings.split_date is {str(split)!r}, not a date; write it as YYYY-MM-DD "
            "(e.g. 2019-02-25), or null for no split"
        ) from None
    return {
        **findings,
        "wide_half_width": float(findings["wide_half_width"]),
        "split_date": split,
        "figure_groups": int(findings["figure_groups"]),
    }


def period_change(
    frame: pd.DataFrame,
    classes: Sequence[str],
    designs: Sequence[Design],
    settings: Mapping[str, Any],
    speaker_order: Sequence[str] = (),
) -> pd.DataFrame:
    """Per speaker and stance: the shares before and after ``split_date``, their difference."""
    columns = ["speaker", "stance", "before", "after", "difference", "low", "high"]
    split, level = settings["split_date"], settings["ci_level"]
    dated = frame["date"].fillna("").astype(str).str.match(r"^\d{4}-\d{2}-\d{2}")
    if not split or not dated.any():
        return pd.DataFrame(columns=columns)
    before_split = frame["date"].astype(str) < str(split)
    frame = frame.assign(period=np.where(~dated, None, np.where(before_split, *PERIODS)))
    grouping = ("speaker", "period")
    by = stance_shares(frame, grouping, classes, designs, level=level).set_index(list(grouping))
    est = estimator_for(frame, grouping, classes, designs)
    rows = []
    for speaker in speaker_order:
        before, after = (speaker, PERIODS[0]), (speaker, PERIODS[1])
        if before not in by.index or after not in by.index:
            continue
        delta, low, high = est.difference(after, before, level)
        valid = not (by.loc[before, "uncorrected"] or by.loc[after, "uncorrected"])
        for k, c in enumerate(classes):
            rows.append({"speaker": speaker, "stance": c,
                         "before": by.loc[before, c], "after": by.loc[after, c],
                         "difference": delta[k], "low": low[k] if valid else np.nan,
                         "high": high[k] if valid else np.nan})  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _write_table(table: pd.DataFrame, path: str) -> None:
    with atomic_path(path) as tmp:
        spreadsheet_frame(table).to_csv(
            tmp, sep="\t", index=False, lineterminator="\n", float_format="%.4f"
        )


def run_findings_stage(
    inputs: FindingsInputs, outputs: FindingsOutputs, config: Mapping[str, Any]
) -> FindingsResult:
    """Write the sentence table, the shares tables, the figures and the statement."""
    settings = _settings(config)
    chosen = choose_model(inputs.models_dir, settings["model"], inputs.comparison)
    labeled = load_training_data(inputs.dataset).frame
    labels = labeled[[c for c in ("sentence_id", "stance", "speaker") if c in labeled.columns]]
    unknown = sorted(set(labels["stance"]) - set(chosen.classes))
    if unknown:
        raise StanceError(
            f"{inputs.dataset}: stance value(s) {', '.join(unknown)} are not among the classes "
            f"of model {chosen.name!r} ({', '.join(chosen.classes)}); run snakemake to retrain"
        )
    sentences = sentence_findings(inputs, chosen, labels)
    sentences = out_of_fold_columns(sentences, inputs, chosen, config)
    sentences, frame, designs, design, warnings = design_columns(sentences, inputs.labels_dir)
    with atomic_path(outputs.sentences) as tmp:
        sentences.to_parquet(tmp, index=False)
    speaker_order = load_schema(inputs.schema).field("speaker").names
    classes = chosen.classes
    options = {"level": settings["ci_level"], "wide_half_width": settings["wide_half_width"]}
    tables: dict[str, pd.DataFrame] = {}
    for g in GROUPINGS:
        name = "_".join(g)
        order = speaker_order if g == ("speaker",) else ()
        tables[name] = stance_shares(frame, g, classes, designs, order=order, **options)
        _write_table(tables[name], getattr(outputs, f"by_{name}"))
    change = period_change(frame, classes, designs, settings, speaker_order)
    _write_table(change, outputs.change)
    _write_table(design, outputs.design)
    speaker_summary = json.loads(Path(inputs.speaker_metrics).read_text(encoding="utf-8"))
    result = FindingsResult(
        sentences, tables, chosen, speaker_summary, settings, design, warnings, change
    )
    # The figures show the figure_groups groups with the most sentences and pool the rest.
    shown = {
        n: top_groups(
            frame, tables[n], n, classes, designs, top=settings["figure_groups"], **options
        )
        for n in ("speaker", "month")
    }
    title = figure_title(result)
    plot_speaker_shares(shown["speaker"], classes, title, outputs.speaker_figure)
    plot_over_time(shown["month"], classes, title, outputs.time_figure)
    write_statement(result, outputs.statement_md, outputs.statement_html)
    return result
