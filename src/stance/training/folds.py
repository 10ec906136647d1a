"""Cross-validation folds: grouped by article (primary) and stratified (secondary)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold

from stance.environment import caught_warnings
from stance.errors import StanceError
from stance.training.settings import EvalSettings

SCHEME_NAMES = {
    "leave_one_group_out": "leave one article out",
    "group_kfold": "GroupKFold by article",
    "stratified_kfold": "stratified K-fold over sentences (articles NOT kept apart)",
    "holdout": "train on one table, score on the other (--test)",
}
STRATIFIED_PREFIX = "stratified_"


@dataclass
class Folds:
    """A cross-validation plan: scheme name, splits as index arrays, what was adapted."""

    scheme: str
    splits: list[tuple[np.ndarray, np.ndarray]]
    warnings: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        if self.scheme == "holdout":
            return SCHEME_NAMES[self.scheme]
        return f"{SCHEME_NAMES[self.scheme]}, {len(self.splits)} folds"


def grouped_folds(
    groups: Sequence[str], y: np.ndarray, classes: Sequence[str], settings: EvalSettings
) -> Folds:
    """Folds that keep each article (group) wholly in train or in test."""
    groups = np.asarray(groups, dtype=object)
    unique = sorted(set(groups.tolist()))
    n_groups = len(unique)
    scheme = settings.scheme
    if scheme == "auto":
        scheme = "leave_one_group_out" if n_groups <= settings.logo_max_groups else "group_kfold"
    if n_groups < 2:
        raise StanceError(
            f"all {len(groups)} labeled sentences come from one article ({unique[0]!r}): "
            "cross-validation grouped by article needs at least 2 articles; label sentences "
            "of another article"
        )
    if scheme == "group_kfold":
        if n_groups < settings.n_splits:
            raise StanceError(
                f"evaluation.cv.n_splits is {settings.n_splits} but the labels come from only "
                f"{n_groups} articles: GroupKFold needs at least one article per fold; lower "
                f"n_splits to at most {n_groups}, or use scheme leave_one_group_out or auto"
            )
        splitter: Any = GroupKFold(n_splits=settings.n_splits)
    else:  # leave_one_group_out (the config schema allows no other)
        splitter = LeaveOneGroupOut()
    splits = [
        (np.asarray(tr), np.asarray(te))
        for tr, te in splitter.split(np.zeros(len(groups)), y, groups)
    ]
    notes: list[str] = []
    for k, name in enumerate(classes):
        mask = y == k
        count = int(mask.sum())
        in_groups = sorted(set(groups[mask].tolist()))
        if count == 0:
            notes.append(
                f"class {name!r} has no labeled sentence: it is never predicted and its F1 "
                "counts as 0 in macro_f1 (and in f_avg if it is one of f_avg_classes)"
            )
        elif len(in_groups) == 1:
            notes.append(
                f"class {name!r} occurs in one article only ({in_groups[0]}): when that article "
                f"is tested the model has seen no {name!r} sentence, so those {count} can't be "
                "predicted right"
            )
        elif count < len(splits):
            notes.append(
                f"class {name!r} has {count} labeled sentence(s), fewer than the {len(splits)} "
                f"folds (in {len(in_groups)} articles): most test folds hold none and its "
                "per-class scores rest on these few sentences"
            )
    return Folds(scheme, splits, notes)


def stratified_folds(y: np.ndarray, classes: Sequence[str], settings: EvalSettings) -> Folds:
    """Stratified K-fold over sentences; fewer folds when a class has fewer sentences than folds."""
    present = {k: c for k, c in enumerate(np.bincount(y).tolist()) if c > 0}
    smallest = min(present, key=lambda k: (present[k], k))
    k_folds = settings.stratified_n_splits
    notes: list[str] = []
    if present[smallest] < k_folds:
        adapted = max(2, present[smallest])
        what = f"uses {adapted} folds instead" if adapted < k_folds else f"keeps {k_folds} folds"
        if present[smallest] < 2:
            what += " (a class with one sentence is in the test part of one fold only)"
        notes.append(
            f"stratified K-fold: class {classes[smallest]!r} has {present[smallest]} labeled "
            f"sentence(s), fewer than evaluation.stratified_n_splits = {k_folds}; it {what}"
        )
        k_folds = adapted
    splitter = StratifiedKFold(n_splits=k_folds, shuffle=True, random_state=settings.seed)
    with caught_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = [
            (np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(np.zeros(len(y)), y)
        ]
    return Folds("stratified_kfold", splits, notes)
