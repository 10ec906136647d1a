"""Stance models that read the speaker, scored out of fold with hand vs predicted speakers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stance.errors import StanceError
from stance.training.data import LabeledData
from stance.training.folds import grouped_folds
from stance.training.metrics import bootstrap_ci, compute_metrics
from stance.training.models import SPEAKER, ModelSpec
from stance.training.settings import EvalSettings

COLUMNS = [
    "model", "speakers", "f_avg", "f_avg_ci_low", "f_avg_ci_high",
    "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high", "accuracy", "n_sentences",
]  # fmt: skip


def _fit_predict(
    spec: ModelSpec,
    seed: int,
    train: pd.DataFrame,
    y: np.ndarray,
    tests: Sequence[pd.DataFrame],
) -> list[np.ndarray]:
    """Fit ``spec`` on ``train`` once; its predictions of each test table (they differ in the
    speaker column only, so one fit serves them all)."""
    if len(set(y.tolist())) == 1:
        return [np.full(len(test), y[0], dtype=object) for test in tests]
    model = spec.build(seed)
    model.fit(train[spec.features].astype(str).reset_index(drop=True), y)
    return [
        np.asarray(model.predict(test[spec.features].astype(str).reset_index(drop=True)))
        for test in tests
    ]


def stance_with_predicted_speakers(
    data: LabeledData,
    predicted: dict[str, pd.DataFrame],
    specs: Sequence[ModelSpec],
    settings: EvalSettings,
) -> pd.DataFrame:
    """For every model that reads the speaker: f_avg, macro-F1 (bootstrap CIs) and accuracy out
    of fold, once with the hand speakers of the test article (as in results/metrics) and once
    with out-of-fold predicted speakers, as on a new article (``predicted``: a label, e.g.
    "predicted", -> a table of sentence_id, predicted_speaker). Training always uses the hand
    speakers; the folds are the stance models'.
    """
    frame = data.frame.reset_index(drop=True)
    variants = [("hand", frame)]
    for label, table in predicted.items():
        lookup = dict(zip(table["sentence_id"], table["predicted_speaker"], strict=True))
        missing = [s for s in frame["sentence_id"] if s not in lookup]
        if missing:
            raise StanceError(
                f"{len(missing)} labeled sentence(s) have no out-of-fold predicted speaker (e.g. "
                f"{missing[0]}); run the speaker stage again (snakemake)"
            )
        variants.append(
            (label, frame.assign(**{SPEAKER: [lookup[s] for s in frame["sentence_id"]]}))
        )
    classes = list(data.classes)
    y = np.array([classes.index(s) for s in frame["stance"]], dtype=np.int64)
    folds = grouped_folds(frame["group"].tolist(), y, classes, settings)
    names = np.asarray(classes, dtype=object)
    rows = []
    for spec in specs:
        if SPEAKER not in spec.features:
            continue
        preds = {label: np.full(len(frame), -1, dtype=np.int64) for label, _ in variants}
        for train, test in folds.splits:
            outs = _fit_predict(
                spec, settings.seed, frame.iloc[train], names[y[train]],
                [test_frame.iloc[test] for _, test_frame in variants],
            )  # fmt: skip
            for (label, _), out in zip(variants, outs, strict=True):
                preds[label][test] = [classes.index(c) for c in out]
        for label, _ in variants:
            pred = preds[label]
            m = compute_metrics(y, pred, classes, settings.f_avg_classes)
            ci = bootstrap_ci(
                y, pred, classes, settings.f_avg_classes, settings.n_bootstrap,
                settings.ci_level, settings.seed,
            )  # fmt: skip
            rows.append(
                {
                    "model": spec.name,
                    "speakers": label,
                    "f_avg": m["f_avg"],
                    "f_avg_ci_low": ci["f_avg"][0],
                    "f_avg_ci_high": ci["f_avg"][1],
                    "macro_f1": m["macro_f1"],
                    "macro_f1_ci_low": ci["macro_f1"][0],
                    "macro_f1_ci_high": ci["macro_f1"][1],
                    "accuracy": m["accuracy"],
                    "n_sentences": len(frame),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def out_of_fold_with_speakers(
    data: LabeledData, speakers: dict[str, str], spec: ModelSpec, settings: EvalSettings
) -> pd.Series:
    """The stance of every labeled sentence predicted out of fold (the stance models' folds)
    by ``spec`` trained on hand speakers, reading ``speakers`` (sentence_id -> speaker, e.g.
    out-of-fold predicted ones) for the test article, as it would read a new article."""
    frame = data.frame.reset_index(drop=True)
    missing = [s for s in frame["sentence_id"] if s not in speakers]
    if missing:
        raise StanceError(
            f"{len(missing)} labeled sentence(s) have no out-of-fold predicted speaker (e.g. "
            f"{missing[0]}); run the speaker stage again (snakemake)"
        )
    test_frame = frame.assign(**{SPEAKER: [speakers[s] for s in frame["sentence_id"]]})
    classes = list(data.classes)
    y = np.array([classes.index(s) for s in frame["stance"]], dtype=np.int64)
    folds = grouped_folds(frame["group"].tolist(), y, classes, settings)
    names = np.asarray(classes, dtype=object)
    out = np.empty(len(frame), dtype=object)
    for train, test in folds.splits:
        (pred,) = _fit_predict(
            spec, settings.seed, frame.iloc[train], names[y[train]], [test_frame.iloc[test]]
        )
        out[test] = pred
    return pd.Series(out, index=frame["sentence_id"].to_numpy())
