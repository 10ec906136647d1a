"""Scores: confusion counts, f_avg, macro-F1, kappa, percentile bootstrap CIs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from stance.training.settings import EvalSettings


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion counts: rows are true classes, columns predicted, in class order."""
    flat = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 per class of a confusion matrix, or of a stack of them."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    predicted = cm.sum(axis=-2).astype(float)
    actual = cm.sum(axis=-1).astype(float)
    # An undefined ratio (nothing predicted / nothing to find) counts as 0, as zero_division=0.
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def metrics_from_confusion(
    cm: np.ndarray, classes: Sequence[str], f_avg_classes: Sequence[str]
) -> dict[str, float]:
    """f_avg, macro_f1, accuracy, cohen_kappa and per-class precision/recall/F1."""
    precision, recall, f1 = per_class_scores(cm)
    idx = [list(classes).index(c) for c in f_avg_classes]
    n = cm.sum()
    accuracy = float(np.trace(cm) / n) if n else 0.0
    # Cohen's kappa: the agreement beyond chance (0 where chance explains it all, or no sentence).
    chance = float((cm.sum(axis=0) * cm.sum(axis=1)).sum()) / (n * n) if n else 1.0
    out = {
        # SemEval-2016 task 6: the mean F1 of the two stance-taking classes (favor, against).
        "f_avg": float(np.mean(f1[idx])),
        "macro_f1": float(np.mean(f1)),
        "accuracy": accuracy,
        "cohen_kappa": 0.0 if chance >= 1.0 else float((accuracy - chance) / (1.0 - chance)),
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


def bootstrap_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_classes: int,
    scores: Mapping[str, Callable[[np.ndarray], np.ndarray]],
    n_bootstrap: int,
    level: float,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of ``scores`` (each maps a stack of confusion counts to
    one value per resample), resampling the sentences with replacement; the draws are those of
    a loop over resamples, counted a stack of about two million sentences at a time."""
    rng = np.random.default_rng(seed)
    k = n_classes
    flat = np.asarray(y_true, dtype=np.int64) * k + np.asarray(y_pred, dtype=np.int64)
    n = len(flat)
    per_stack = max(1, 2_000_000 // max(n, 1))
    parts: dict[str, list[np.ndarray]] = {name: [] for name in scores}
    for start in range(0, n_bootstrap, per_stack):
        size = min(per_stack, n_bootstrap - start)
        picks = np.stack([rng.integers(0, n, size=n) for _ in range(size)])
        codes = flat[picks] + (np.arange(size, dtype=np.int64) * (k * k))[:, None]
        cms = np.bincount(codes.ravel(), minlength=size * k * k).reshape(size, k, k)
        for name, score in scores.items():
            parts[name].append(score(cms))
    tail = (1.0 - level) / 2.0
    bounds = {name: np.quantile(np.concatenate(v), [tail, 1.0 - tail]) for name, v in parts.items()}
    return {name: (float(low), float(high)) for name, (low, high) in bounds.items()}


def scored(
    y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], s: EvalSettings, prefix: str = ""
) -> dict[str, float]:
    """compute_metrics, with percentile bootstrap CIs of f_avg and macro_f1 (``*_ci_low``,
    ``*_ci_high``; sentences resampled with replacement), every name after ``prefix``."""
    m = compute_metrics(y_true, y_pred, classes, s.f_avg_classes)
    idx = [list(classes).index(c) for c in s.f_avg_classes]
    scores = {
        "f_avg": lambda cms: per_class_scores(cms)[2][:, idx].mean(axis=1),
        "macro_f1": lambda cms: per_class_scores(cms)[2].mean(axis=1),
    }
    ci = bootstrap_intervals(
        y_true, y_pred, len(classes), scores, s.n_bootstrap, s.ci_level, s.seed
    )
    for name, (low, high) in ci.items():
        m[f"{name}_ci_low"], m[f"{name}_ci_high"] = low, high
    return {f"{prefix}{k}": v for k, v in m.items()}
