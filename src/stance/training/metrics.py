"""Scores: confusion counts, f_avg, macro-F1, kappa, percentile bootstrap CIs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion counts: rows are true classes, columns predicted, in class order."""
    flat = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    actual = cm.sum(axis=1).astype(float)
    # An undefined ratio (nothing predicted / nothing to find) counts as 0, as zero_division=0.
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def _kappa(cm: np.ndarray) -> float:
    n = cm.sum()
    if n == 0:
        return 0.0
    po = np.trace(cm) / n
    pe = float((cm.sum(axis=0) * cm.sum(axis=1)).sum()) / (n * n)
    return 0.0 if pe >= 1.0 else float((po - pe) / (1.0 - pe))


def metrics_from_confusion(
    cm: np.ndarray, classes: Sequence[str], f_avg_classes: Sequence[str]
) -> dict[str, float]:
    """f_avg, macro_f1, accuracy, cohen_kappa and per-class precision/recall/F1."""
    precision, recall, f1 = _per_class(cm)
    idx = [list(classes).index(c) for c in f_avg_classes]
    n = cm.sum()
    out = {
        # SemEval-2016 task 6: the mean F1 of the two stance-taking classes (favor, against).
        "f_avg": float(np.mean(f1[idx])),
        "macro_f1": float(np.mean(f1)),
        "accuracy": float(np.trace(cm) / n) if n else 0.0,
        "cohen_kappa": _kappa(cm),
    }
    for k, name in enumerate(classes):
        out[f"precision_{name}"] = float(precision[k])
        out[f"recall_{name}"] = float(recall[k])
        out[f"f1_{name}"] = float(f1[k])
    return out


def compute_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], f_avg_classes: Sequence[str]
) -> dict[str, float]:
    """Metrics of class-index predictions (see metrics_from_confusion)."""
    return metrics_from_confusion(confusion(y_true, y_pred, len(classes)), classes, f_avg_classes)


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    f_avg_classes: Sequence[str],
    n_bootstrap: int,
    level: float,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CIs of f_avg and macro_f1, resampling sentences with replacement."""
    rng = np.random.default_rng(seed)
    n, k = len(y_true), len(classes)
    idx = [list(classes).index(c) for c in f_avg_classes]
    flat = np.asarray(y_true, dtype=np.int64) * k + np.asarray(y_pred, dtype=np.int64)
    f_avg = np.empty(n_bootstrap)
    macro = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        sample = flat[rng.integers(0, n, size=n)]
        cm = np.bincount(sample, minlength=k * k).reshape(k, k)
        f1 = _per_class(cm)[2]
        f_avg[b] = f1[idx].mean()
        macro[b] = f1.mean()
    tail = (1.0 - level) / 2.0
    return {
        name: (float(np.quantile(v, tail)), float(np.quantile(v, 1.0 - tail)))
        for name, v in (("f_avg", f_avg), ("macro_f1", macro))
    }
