"""What the estimator needs of the labeled sentences: their out-of-fold predictions and the
labeling design each sentence belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stance.errors import StanceError
from stance.findings.estimate import Design
from stance.findings.predict import ChosenModel, read_people_table
from stance.findings.resolve import LABEL_SOURCE


def out_of_fold_columns(
    sentences: pd.DataFrame,
    speaker_oof: str,
    dataset: str,
    chosen: ChosenModel,
    config: Mapping[str, Any],
) -> pd.DataFrame:
    """``oof_speaker`` and ``oof_stance`` of every labeled sentence: what the speaker stage and
    the stance model say of it out of fold, i.e. of a sentence they never saw (empty for the
    others). A model that reads the speaker reads the out-of-fold predicted one here."""
    oof_speaker = read_people_table(speaker_oof).set_index("sentence_id")["predicted_speaker"]
    oof_stance = chosen.oof.set_index("sentence_id")["predicted"]
    if "speaker" in chosen.features:
        from stance.speakers.stance_eval import out_of_fold_with_speakers
        from stance.training.data import load_training_data
        from stance.training.models import spec_from_entry
        from stance.training.settings import EvalSettings

        entry = next(m for m in config["models"] if m["name"] == chosen.name)
        oof_stance = out_of_fold_with_speakers(
            load_training_data(dataset), oof_speaker.to_dict(), spec_from_entry(entry),
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
) -> tuple[pd.DataFrame, list[Design], pd.DataFrame, list[str]]:
    """``design`` (name of the sample whose frame holds the sentence, else empty), ``unit`` and
    ``sampled`` for every sentence; the estimator's designs; the design table; warnings."""
    from stance.labels.design import design_table, load_manifests, resolve_designs

    manifests = load_manifests(labels_dir)
    labeled = set(sentences.loc[sentences["stance_source"] == LABEL_SOURCE, "sentence_id"])
    resolved = resolve_designs(manifests, sentences, labeled)
    out = sentences.copy()
    names = np.array([m.name for m in manifests] + [""], dtype=object)
    out["design"] = names[resolved.design]
    out["unit"] = resolved.unit
    out["sampled"] = resolved.sampled
    designs = [Design(r.name, r.frame, r.complete) for r in resolved.reports]
    table = design_table(resolved, labeled, len(sentences))
    return out, designs, table, resolved.warnings
