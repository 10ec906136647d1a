"""Out-of-fold speaker predictions grouped by article, with the leak guard, and their scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stance import stopping
from stance.speakers.attribution import attribute
from stance.speakers.learned import METHODS, decide, fit_model
from stance.speakers.mapping import SpeakerMapping
from stance.training.folds import grouped_folds
from stance.training.metrics import bootstrap_intervals, confusion, per_class_scores
from stance.training.settings import EvalSettings

# The two ways the mapping is used out of fold (the mapping was written reading every seed).
GUARDS = ("guarded", "unguarded")


@dataclass
class SpeakerOOF:
    """The out-of-fold speaker of each guard x method; per fold, the names the guard left out."""

    table: pd.DataFrame
    classes: list[str]
    dropped_names: dict[str, list[str]]
    fold_description: str
    notes: list[str]


def out_of_fold(
    corpus: pd.DataFrame,
    labeled: pd.DataFrame,
    mapping: SpeakerMapping,
    params: Mapping[str, Any],
    settings: EvalSettings,
    naming: Mapping[str, set[str]],
) -> SpeakerOOF:
    """Speaker predictions of every labeled sentence by each method, made without its article;
    with the guard, the mapping also loses the names no other article names (``naming``)."""
    classes = [c for c in mapping.speakers if c in set(labeled["speaker"])]
    rows = labeled[["sentence_id", "speaker"]].merge(
        corpus[["sentence_id", "article_id", "text"]], on="sentence_id", how="inner"
    )
    y = np.array([classes.index(s) for s in rows["speaker"]], dtype=np.int64)
    folds = grouped_folds(rows["article_id"].tolist(), y, classes, settings)
    table = rows.assign(fold=-1)
    for guard in GUARDS:
        for method in METHODS:
            table[f"{guard}_{method}"] = ""
            table[f"{guard}_{method}_evidence"] = ""
        table[f"{guard}_majority"] = ""
    dropped: dict[str, list[str]] = {}
    # The rules read one article at a time: only the labeled articles need reading per fold.
    labeled_articles = corpus[corpus["article_id"].isin(set(rows["article_id"]))]
    unguarded = attribute(labeled_articles, mapping).set_index("sentence_id")
    for f, (train, test) in enumerate(folds.splits):
        stopping.check()
        held_out = sorted(set(rows.loc[test, "article_id"]))
        table.loc[test, "fold"] = f
        gone = {name for name, articles in naming.items() if articles <= set(held_out)}
        dropped[",".join(held_out)] = sorted(gone & {e.name for e in mapping.entries})
        guarded = attribute(labeled_articles, mapping.without_names(gone)).set_index("sentence_id")
        for guard, features in zip(GUARDS, (guarded, unguarded), strict=True):
            train_x = features.loc[rows.loc[train, "sentence_id"]].reset_index()
            test_x = features.loc[rows.loc[test, "sentence_id"]].reset_index()
            model = fit_model(params, settings.seed, train_x, rows.loc[train, "speaker"])
            for method in METHODS:
                decided = decide(test_x, model, method)
                table.loc[test, f"{guard}_{method}"] = decided["predicted_speaker"].to_numpy()
                table.loc[test, f"{guard}_{method}_evidence"] = decided["evidence"].to_numpy()
        counts = rows.loc[train, "speaker"].value_counts()
        # Ties: the value that comes first in the schema (a fixed, label-free rule).
        top = min(counts[counts == counts.max()].index, key=classes.index)
        table.loc[test, [f"{guard}_majority" for guard in GUARDS]] = top
    return SpeakerOOF(table, classes, dropped, folds.description, list(folds.warnings))


def scores(
    gold: Sequence[str], predicted: Sequence[str], classes: Sequence[str], settings: EvalSettings
) -> dict[str, float]:
    """Accuracy and macro-F1 with bootstrap CIs (sentences resampled), per-speaker P/R/F1."""
    index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    y_true = np.array([index[g] for g in gold], dtype=np.int64)
    # A prediction outside ``classes`` (a speaker nobody labeled) counts as wrong for every class.
    y_pred = np.array([index.get(p, k) for p in predicted], dtype=np.int64)
    cm = confusion(y_true, y_pred, k + 1)
    per_class = dict(zip(("precision", "recall", "f1"), per_class_scores(cm), strict=True))
    out = {
        "accuracy": float(np.trace(cm) / len(y_true)),
        "macro_f1": float(per_class["f1"][:k].mean()),
    }
    for i, c in enumerate(classes):
        out |= {f"{what}_{c}": float(values[i]) for what, values in per_class.items()}
        out[f"support_{c}"] = float(cm[i].sum())
    intervals = bootstrap_intervals(y_true, y_pred, k + 1, {
        "accuracy": lambda cms: np.trace(cms, axis1=1, axis2=2) / len(y_true),
        "macro_f1": lambda cms: per_class_scores(cms)[2][:, :k].mean(axis=1),
    }, settings.n_bootstrap, settings.ci_level, settings.seed)  # fmt: skip
    for name, (low, high) in intervals.items():
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = low, high
    return out


def score_table(oof: SpeakerOOF, settings: EvalSettings) -> dict[str, dict[str, float]]:
    """Scores of every guard x method (and the majority baseline), keyed '<guard>_<method>'."""
    gold = oof.table["speaker"].tolist()
    return {
        f"{guard}_{m}": scores(gold, oof.table[f"{guard}_{m}"].tolist(), oof.classes, settings)
        for guard in GUARDS
        for m in (*METHODS, "majority")
    }


def confusion_frame(
    gold: Sequence[str], predicted: Sequence[str], classes: Sequence[str]
) -> pd.DataFrame:
    """Confusion counts as a table: rows hand speaker, columns predicted speaker."""
    columns = [*classes, *sorted(set(predicted) - set(classes))]
    cm = pd.crosstab(
        pd.Categorical(gold, categories=list(classes)),
        pd.Categorical(predicted, categories=columns),
        dropna=False,
    )
    cm.index.name = "speaker \\ predicted"
    return cm
