"""Stance models that read the speaker, scored out of fold with hand vs predicted speakers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from stance.errors import StanceError
from stance.training.data import LabeledData
from stance.training.folds import grouped_folds
from stance.training.metrics import scored
from stance.training.models import SPEAKER, ModelSpec
from stance.training.settings import EvalSettings

COLUMNS = [
    "model", "speakers", "f_avg", "f_avg_ci_low", "f_avg_ci_high",
    "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high", "accuracy", "n_sentences",
]  # fmt: skip


def _out_of_fold(
    data: LabeledData,
    speakers: Sequence[Mapping[str, str] | None],
    specs: Sequence[ModelSpec],
    settings: EvalSettings,
) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """The stance class indices and the out-of-fold predictions per spec and per test speakers
    (None: the hand ones): the tables differ in the speaker only, one fit per fold serves all."""
    frame = data.frame.reset_index(drop=True)
    tests = []
    for lookup in speakers:
        missing = [] if lookup is None else [s for s in frame["sentence_id"] if s not in lookup]
        if missing:
            raise StanceError(
                f"{len(missing)} labeled sentence(s) have no out-of-fold predicted speaker (e.g. "
                f"{missing[0]}); run the speaker stage again (snakemake)"
            )
        tests.append(
            frame if lookup is None else frame.assign(**{SPEAKER: frame["sentence_id"].map(lookup)})
        )
    classes = list(data.classes)
    y = np.array([classes.index(s) for s in frame["stance"]], dtype=np.int64)
    folds = grouped_folds(frame["group"].tolist(), y, classes, settings)
    names = np.asarray(classes, dtype=object)
    out = []
    for spec in specs:
        preds = [np.full(len(frame), -1, dtype=np.int64) for _ in tests]
        for train, test in folds.splits:
            model = None
            if len(set(y[train].tolist())) > 1:
                model = spec.build(settings.seed)
                x = frame.iloc[train][spec.features].astype(str).reset_index(drop=True)
                model.fit(x, names[y[train]])
            for pred, table in zip(preds, tests, strict=True):
                x = table.iloc[test][spec.features].astype(str).reset_index(drop=True)
                found = [names[y[train][0]]] * len(test) if model is None else model.predict(x)
                pred[test] = [classes.index(c) for c in found]
        out.append(preds)
    return y, out


def stance_with_predicted_speakers(
    data: LabeledData,
    predicted: dict[str, pd.DataFrame],
    specs: Sequence[ModelSpec],
    settings: EvalSettings,
) -> pd.DataFrame:
    """f_avg, macro-F1 (bootstrap CIs) and accuracy out of fold of every model that reads the
    speaker, with hand and with each table of ``predicted`` speakers for the test article."""
    specs = [spec for spec in specs if SPEAKER in spec.features]
    lookups = [
        dict(zip(t["sentence_id"], t["predicted_speaker"], strict=True)) for t in predicted.values()
    ]
    y, preds = _out_of_fold(data, [None, *lookups], specs, settings)
    classes = list(data.classes)
    rows = []
    for spec, spec_preds in zip(specs, preds, strict=True):
        for label, pred in zip(["hand", *predicted], spec_preds, strict=True):
            m = scored(y, pred, classes, settings)  # COLUMNS keeps the figures shown
            rows.append({**m, "model": spec.name, "speakers": label, "n_sentences": len(y)})
    return pd.DataFrame(rows, columns=COLUMNS)


def out_of_fold_with_speakers(
    data: LabeledData, speakers: dict[str, str], spec: ModelSpec, settings: EvalSettings
) -> pd.Series:
    """The out-of-fold stance of every labeled sentence by ``spec`` trained on hand speakers and
    reading ``speakers`` (sentence_id -> speaker) for the test article."""
    _, ((pred,),) = _out_of_fold(data, [speakers], [spec], settings)
    ids = data.frame["sentence_id"].to_numpy()
    return pd.Series(np.asarray(data.classes, dtype=object)[pred], index=ids)
