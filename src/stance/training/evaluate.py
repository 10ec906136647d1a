"""One model's evaluation: grouped CV, stratified CV, learning curve, final fit, report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report
from sklearn.pipeline import Pipeline

from stance.errors import StanceError
from stance.training.data import LabeledData
from stance.training.encoders import encoder_params
from stance.training.fitting import Fits, curve_plan, out_of_fold
from stance.training.folds import (
    SCHEME_NAMES,
    STRATIFIED_PREFIX,
    Folds,
    grouped_folds,
    stratified_folds,
)
from stance.training.metrics import confusion, scored
from stance.training.models import SPEAKER, TEXT, ModelSpec
from stance.training.settings import EvalSettings

# The learning curve's scores; the headline scores' bootstrap intervals are its band.
_CURVE = ["macro_f1", "f_avg", "accuracy"] + [
    f"{k}_ci_{e}" for k in ("macro_f1", "f_avg") for e in ("low", "high")
]


@dataclass
class Evaluation:
    """Everything one model's evaluation produced; ``summary`` is what metrics.json holds."""

    summary: dict[str, Any]
    oof: pd.DataFrame
    confusion: np.ndarray
    curve: pd.DataFrame
    report: str
    final_model: Pipeline

    @property
    def metrics(self) -> dict[str, float]:
        return self.summary["metrics"]

    @property
    def warnings(self) -> list[str]:
        return self.summary["warnings"]


def evaluate(
    data: LabeledData, spec: ModelSpec, settings: EvalSettings, test: LabeledData | None = None
) -> Evaluation:
    """Evaluate one model on labeled data and fit its final model on all of it. Primary scores:
    grouped CV when every sentence has its article (group), else stratified K-fold with a
    warning; with ``test``, the model fit on ``data`` scored on ``test``."""
    classes = list(data.classes)
    if test is not None:
        extra = sorted(set(test.frame["stance"]) - set(classes))
        if extra:
            raise StanceError(
                f"{test.source}: stance value(s) {', '.join(extra)} do not occur in "
                f"{data.source} (classes: {', '.join(classes)}); the tables must share classes"
            )
    missing_f = [c for c in settings.f_avg_classes if c not in classes]
    if missing_f:
        raise StanceError(
            f"evaluation.f_avg_classes lists {', '.join(missing_f)}, not a stance class of "
            f"{data.source} (classes: {', '.join(classes)}); fix the config or the table"
        )
    for table, role in ((data, ""), (test, " (--test)")):
        if table is not None and SPEAKER in spec.features and not table.has_speaker:
            raise StanceError(
                f"model {spec.name!r} (kind {spec.kind.name}) also reads the speaker of each "
                f"sentence, but {table.source}{role} has no 'speaker' column; add one or "
                "choose a model that reads the text only"
            )
    notes: list[str] = list(data.notes)
    n_train = len(data.frame)
    frame = pd.concat([data.frame, *([] if test is None else [test.frame])], ignore_index=True)
    y = np.array([classes.index(s) for s in frame["stance"]], dtype=np.int64)
    trained = sorted(set(y[:n_train].tolist()))
    if len(trained) < 2:
        only = classes[trained[0]] if trained else "none"
        raise StanceError(
            f"every labeled sentence ({n_train}) has stance {only!r}: a classifier needs at least "
            f"two classes; label sentences of another stance ({', '.join(classes)}) first"
        )

    secondary: Folds | None = None
    if test is not None:
        folds = Folds("holdout", [(np.arange(n_train), np.arange(n_train, len(frame)))])
    elif data.grouped:
        folds = grouped_folds(frame["group"].tolist(), y, classes, settings)
        cap = settings.stratified_max_sentences
        if cap is None or len(frame) <= cap:
            secondary = stratified_folds(y, classes, settings)
        else:
            notes.append(
                f"the secondary stratified K-fold (stratified_* metrics) is not run: "
                f"{len(frame)} labeled sentences, more than evaluation.stratified_max_sentences "
                f"({cap}); the primary scores are those of the grouped CV"
            )
    else:
        folds = stratified_folds(y, classes, settings)
        notes.append(
            f"{data.source} has no group (article) column: the primary scores come from "
            "stratified K-fold over sentences, where sentences of one article can be in train "
            "and test; they overestimate the scores on new articles"
        )
    notes += folds.warnings

    fits = Fits(spec, frame[spec.features], y, classes, settings.seed)
    primary = [fits.fold(train, test) for train, test in folds.splits]
    # Fits.run chooses the order the fits run in; the order changes no result.
    final_fit = fits.final(np.arange(n_train))
    stratified = [fits.fold(tr, te) for tr, te in secondary.splits] if secondary else []
    # Learning curve: a share whose subsets are the whole training parts is the primary CV.
    curve: list[tuple[float, list[int], float]] = []
    plan, skipped = curve_plan(folds.splits, settings)
    if skipped:
        notes.append(
            f"learning curve: share(s) {', '.join(f'{f:g}' for f in skipped)} not fit, their "
            "training subsets would exceed evaluation.learning_curve_max_train "
            f"({settings.learning_curve_max_train} sentences)"
        )
    for fraction, subsets in plan:
        ids = [
            primary[f] if np.array_equal(subset, folds.splits[f][0]) else fits.fold(subset, test)
            for f, (subset, test) in enumerate(subsets)
        ]
        curve.append((fraction, ids, float(np.mean([len(subset) for subset, _ in subsets]))))
    fits.run(settings.n_jobs, settings.fit_memory_mb, settings.final_fit_process_from)

    def collected(ids: list[int], splits: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fits' out-of-fold predictions; their notes added in the order of ``ids``."""
        for i in ids:
            notes.extend(fits.notes(i))
        return out_of_fold(fits, ids, splits, len(frame), len(classes))

    # Warnings in the order a one-by-one run raises them: primary CV, stratified, curve, final.
    pred, proba, fold = collected(primary, folds.splits)
    tested = fold >= 0
    metrics = scored(y[tested], pred[tested], classes, settings)
    cm = confusion(y[tested], pred[tested], len(classes))
    if secondary is not None:
        notes += secondary.warnings
        s_pred, _, _ = collected(stratified, secondary.splits)
        metrics.update(scored(y, s_pred, classes, settings, STRATIFIED_PREFIX))
    rows = []
    for fraction, ids, size in curve:
        c_pred, _, _ = collected(ids, folds.splits)
        m = scored(y[tested], c_pred[tested], classes, settings)
        rows.append({"fraction": fraction, "train_sentences": size, **{k: m[k] for k in _CURVE}})
    notes.extend(fits.notes(final_fit))
    final = fits.result(final_fit)

    columns = [c for c in ("sentence_id", "group", TEXT, SPEAKER, "stance") if c in frame.columns]
    oof = frame.loc[tested, columns].rename(columns={"group": "article_id"}).reset_index(drop=True)
    oof["predicted"] = np.asarray(classes, dtype=object)[pred[tested]]
    for k, name in enumerate(classes):
        oof[f"proba_{name}"] = np.round(proba[tested, k], 6)
    oof["fold"] = fold[tested]

    summary: dict[str, Any] = {
        "model": spec.name,
        "kind": spec.kind.name,
        "description": spec.description or spec.kind.description,
        "features": spec.features,
        # the encoder kinds add the hash of the encoder files they were trained with
        "params": {**spec.params, **encoder_params(final)},
        "classes": classes,
        "cv": {
            "scheme": folds.scheme,
            "description": folds.description,
            "n_folds": len(folds.splits),
            "stratified_n_folds": len(secondary.splits) if secondary else None,
        },
        "data": {
            "source": data.source,
            "n_sentences": len(data.frame),
            "n_articles": int(data.frame["group"].nunique()) if data.grouped else None,
            "class_counts": {c: int((data.frame["stance"] == c).sum()) for c in classes},
            "sha256": data.digest(),
            "test_source": test.source if test is not None else None,
            "n_test_sentences": len(test.frame) if test is not None else None,
            "test_sha256": test.digest() if test is not None else None,
        },
        "settings": settings.as_dict(),
        "metrics": metrics,
        "warnings": list(dict.fromkeys(notes)),  # each fold repeats the same notes
    }
    report = _report_text(summary, y[tested], pred[tested], classes)
    return Evaluation(summary, oof, cm, pd.DataFrame(rows), report, final)


def _report_text(
    summary: dict[str, Any], y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]
) -> str:
    m, data = summary["metrics"], summary["data"]
    level = round(summary["settings"]["ci_level"] * 100)
    articles = f" from {data['n_articles']} articles" if data["n_articles"] else ""
    lines = [
        f"model: {summary['model']} (kind {summary['kind']}; features: "
        f"{', '.join(summary['features'])})",
        f"data: {data['source']}, {data['n_sentences']} sentences{articles}",
        f"evaluation: {summary['cv']['description']} (out-of-fold predictions)",
        "",
        classification_report(
            y_true,
            y_pred,
            labels=list(range(len(classes))),
            target_names=list(classes),
            digits=3,
            zero_division=0,
        ),
        f"f_avg    = {m['f_avg']:.3f}  ({level}% bootstrap CI {m['f_avg_ci_low']:.3f}-"
        f"{m['f_avg_ci_high']:.3f}; mean F1 of {', '.join(summary['settings']['f_avg_classes'])})",
        f"macro_f1 = {m['macro_f1']:.3f}  ({level}% bootstrap CI {m['macro_f1_ci_low']:.3f}-"
        f"{m['macro_f1_ci_high']:.3f})",
        f"accuracy = {m['accuracy']:.3f}   cohen_kappa = {m['cohen_kappa']:.3f}",
    ]
    if f"{STRATIFIED_PREFIX}f_avg" in m:
        lines += [
            "",
            f"secondary, {SCHEME_NAMES['stratified_kfold']}, "
            f"{summary['cv']['stratified_n_folds']} folds: stratified_f_avg = "
            f"{m['stratified_f_avg']:.3f}, stratified_macro_f1 = {m['stratified_macro_f1']:.3f}",
        ]
    if summary["warnings"]:
        lines += ["", "warnings:", *(f"  - {w}" for w in summary["warnings"])]
    return "\n".join(lines) + "\n"
