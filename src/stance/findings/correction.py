"""Adjusted classify-and-count: correcting predicted stance shares by the measured confusion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from stance.errors import StanceError

# Weight of the "shares sum to one" row in the constrained least squares (see acc_shares).
_SUM_WEIGHT = 1e3


def confusion_by_article(oof: pd.DataFrame, classes: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Out-of-fold confusion counts per article: (article IDs, array [article, true, predicted]).

    ``oof`` has one row per labeled sentence predicted by a model that never saw its article
    (columns ``article_id``, ``stance``: the hand label, ``predicted``), as the training stage
    writes to ``oof_predictions.csv``. Kept per article so that a bootstrap can resample the
    articles the error rates were measured on.
    """
    missing = [c for c in ("article_id", "stance", "predicted") if c not in oof.columns]
    if missing:
        raise StanceError(
            f"out-of-fold predictions: missing column(s) {', '.join(missing)}; use the "
            "oof_predictions.csv the training stage writes"
        )
    index = {c: k for k, c in enumerate(classes)}
    unknown = sorted((set(oof["stance"]) | set(oof["predicted"])) - set(index))
    if unknown:
        raise StanceError(
            f"out-of-fold predictions: stance value(s) {', '.join(map(str, unknown))} are not "
            f"among {', '.join(classes)}; predictions and labels must use the label schema"
        )
    articles = sorted(oof["article_id"].unique())
    where = {a: n for n, a in enumerate(articles)}
    counts = np.zeros((len(articles), len(classes), len(classes)))
    np.add.at(
        counts,
        (
            oof["article_id"].map(where).to_numpy(),
            oof["stance"].map(index).to_numpy(),
            oof["predicted"].map(index).to_numpy(),
        ),
        1,
    )
    return articles, counts


def error_rates(confusion: np.ndarray) -> np.ndarray:
    """Row-normalised confusion: entry [i, j] = P(predicted j | true i).

    A class that never occurs among the labels gets the identity row: its errors are unknown,
    so predictions of it are left as they are (and the class shows up in ``classes_unseen``).
    """
    totals = confusion.sum(axis=-1, keepdims=True)
    eye = np.broadcast_to(np.eye(confusion.shape[-1]), confusion.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, confusion / np.where(totals > 0, totals, 1), eye)


def classes_unseen(confusion: np.ndarray, classes: Sequence[str]) -> list[str]:
    """Classes with no labeled sentence in the confusion counts (no error rate measured)."""
    return [c for c, total in zip(classes, confusion.sum(axis=1), strict=True) if total == 0]


def acc_shares(predicted_shares: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The true shares p that best explain the predicted shares q: q = rates^T p.

    Solved as least squares with p >= 0 and sum(p) = 1 (the plain inverse can give negative
    shares when the error rates are noisy or the predicted shares are far from any mixture).
    """
    q = np.asarray(predicted_shares, dtype=float)
    k = len(q)
    a = np.vstack([rates.T, _SUM_WEIGHT * np.ones((1, k))])
    b = np.concatenate([q, [_SUM_WEIGHT]])
    p, _ = nnls(a, b)
    total = p.sum()
    return p / total if total > 0 else np.full(k, 1.0 / k)
