"""Design-based shares: the difference estimator with PPI++ tuning (docs/findings.md)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

# Fewer sampled units than this holding a group: the sample says nothing there (interval [0, 1]).
MIN_UNITS_IN_GROUP = 2


@dataclass(frozen=True)
class Design:
    """``n`` of ``frame_size`` units drawn without replacement (``n == frame_size``: a census)."""

    name: str
    frame_size: int
    n: int


@dataclass(frozen=True)
class Sample:
    """A design's sampled units for one group: Y (hand), Yhat (predicted) per unit and per row."""

    y_units: np.ndarray
    yhat_units: np.ndarray
    y_rows: np.ndarray
    yhat_rows: np.ndarray

    def holding(self) -> int:
        """Sampled units that hold the group, by hand label or prediction."""
        return int(((self.y_units.sum(axis=1) + self.yhat_units.sum(axis=1)) > 0).sum())


@dataclass
class GroupEstimate:
    """Shares of one group with their standard errors and what carried them."""

    shares: np.ndarray  # per stance; nan when the group has no sentence at all
    se: np.ndarray  # per stance
    df: float  # degrees of freedom of the t interval (inf: no sampling error)
    uncorrected: int  # unknown sentences predicted in the group outside every design's frame
    design_units: int  # sampled units that hold the group
    lam: dict[str, float]  # lambda per design
    informative: bool  # False: too few sampled units hold the group; interval [0, 1]

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        if not self.informative:
            return np.zeros_like(self.shares), np.ones_like(self.shares)
        t = stats.t.ppf(0.5 + level / 2, self.df) if np.isfinite(self.df) else 0.0
        half = t * self.se
        return np.clip(self.shares - half, 0.0, 1.0), np.clip(self.shares + half, 0.0, 1.0)


class ShareEstimator:
    """Design-based shares per group from one row per corpus sentence: ``known`` (a hand label),
    ``true_group``/``true_stance`` (hand values), ``pred_group``/``pred_stance`` (out of fold
    where known), ``design`` (index into ``designs``, -1: none), ``unit`` and ``sampled``."""

    def __init__(
        self, table: pd.DataFrame, classes: Sequence[str], designs: Sequence[Design]
    ) -> None:
        self.classes = list(classes)
        self.designs = list(designs)
        self._known = table["known"].to_numpy(dtype=bool)
        # Group codes in order of first appearance, hand then predicted; -1: none (or empty).
        named = np.concatenate([table["true_group"].to_numpy(dtype=object)[self._known],
                                table["pred_group"].to_numpy(dtype=object)])  # fmt: skip
        index, values = pd.factorize(named)
        kept = values != ""
        renumbered = np.append(np.where(kept, np.cumsum(kept) - 1, -1), -1)
        codes = renumbered[index]
        self._codes: dict[Hashable, int] = {v: i for i, v in enumerate(values[kept])}
        self._tg = np.full(len(self._known), -1)
        self._tg[self._known] = codes[: int(self._known.sum())]
        self._pg = codes[int(self._known.sum()) :]
        stances = pd.Index(self.classes)
        self._ts = stances.get_indexer(table["true_stance"])
        self._ps = stances.get_indexer(table["pred_stance"])
        self._design = table["design"].to_numpy(dtype=int)
        self._sampled = table["sampled"].to_numpy(dtype=bool) & self._known
        self._unit = table["unit"].astype(str).to_numpy()
        unknown = ~self._known
        # A frame with unknown sentences adds sampling error to every group (any may hold them).
        frames = [self._design == d for d in range(len(designs))]
        self._open = [bool((unknown & f).any()) for f in frames]
        # The difference estimator as weights per sentence of its hand value (_wy) and prediction
        # (_wp, plus _wl times its design's lambda): a sampled unit stands for frame_size / n
        # units; a frame's other sentences (chosen labels too) count by their prediction.
        in_frame = self._design >= 0
        sizes = [len(np.unique(self._unit[self._sampled & f])) for f in frames]
        expand = [d.frame_size / n - 1.0 if n else 0.0 for d, n in zip(designs, sizes, strict=True)]
        expand = np.array([*expand, 0.0])[self._design]
        self._wy = np.where(self._sampled, 1.0 + expand, self._known & ~in_frame)
        self._wp = (unknown & ~in_frame).astype(float)
        self._wl = np.where(self._sampled, -expand, in_frame)
        self._lambdas = [self._tuned_lambda(d) for d in range(len(designs))]

    def groups(self) -> list[Hashable]:
        """Every group named by a hand label or a prediction, in order of first appearance."""
        return list(self._codes)

    def code(self, group: Hashable) -> int:
        return self._codes.get(group, -2)

    def codes(self, groups: np.ndarray) -> np.ndarray:
        """:meth:`code` of every group of an array (missing: -2)."""
        index, values = pd.factorize(groups)
        return np.array([*map(self.code, values), -2], dtype=int)[index]

    def _cells(self, group: Hashable) -> tuple[np.ndarray, np.ndarray]:
        """One-hot Y (hand) and Yhat (predicted) [sentence, class] of this group's sentences."""
        eye = np.eye(len(self.classes))
        code = self.code(group)
        y = eye[self._ts] * ((self._tg == code) & (self._ts >= 0))[:, None]
        yhat = eye[self._ps] * ((self._pg == code) & (self._ps >= 0))[:, None]
        return y, yhat

    def _sample(self, d: int, y: np.ndarray, yhat: np.ndarray) -> Sample:
        rows = np.flatnonzero(self._sampled & (self._design == d))
        units, index = np.unique(self._unit[rows], return_inverse=True)
        totals = np.zeros((len(units), 2, y.shape[1]))  # per unit: Y, Yhat
        np.add.at(totals, index, np.stack([y[rows], yhat[rows]], axis=1))
        return Sample(totals[:, 0], totals[:, 1], y[rows], yhat[rows])

    def _tuned_lambda(self, d: int) -> float:
        """Design d's lambda in [0, 1], minimising the summed variance of every share of the
        table around the shares of lambda 1 (PPI++ "overall": one per group would be noise)."""
        k = len(self.classes)
        n_groups = len(self._codes)
        rows = np.flatnonzero(self._sampled & (self._design == d))
        if len(rows) < 2 or n_groups == 0:
            return 1.0
        # Totals [group, class] of every group with lambda 1.
        totals = np.zeros((n_groups, k))
        t, p = (self._tg >= 0) & (self._ts >= 0), (self._pg >= 0) & (self._ps >= 0)
        np.add.at(totals, (self._tg[t], self._ts[t]), self._wy[t])
        np.add.at(totals, (self._pg[p], self._ps[p]), (self._wp + self._wl)[p])
        sums = totals.sum(axis=1, keepdims=True)
        theta = np.where(sums > 0, totals / np.where(sums > 0, sums, 1.0), 0.0)
        eye = np.eye(k)
        tg, ts = self._tg[rows], self._ts[rows]
        pg, ps = self._pg[rows], self._ps[rows]
        has_true = (tg >= 0) & (ts >= 0)
        has_pred = (pg >= 0) & (ps >= 0)
        # Per row, its linearised hand value a and predicted value b, each in its own group.
        a = np.where(has_true[:, None], eye[ts] - theta[tg], 0.0)
        b = np.where(has_pred[:, None], eye[ps] - theta[pg], 0.0)
        sum_a, sum_b = np.zeros((2, n_groups, k))
        np.add.at(sum_a, tg[has_true], a[has_true])
        np.add.at(sum_b, pg[has_pred], b[has_pred])
        same = has_true & has_pred & (tg == pg)
        n = len(rows)
        # Sum over groups of the centred cross products and of the centred squares of b.
        cross = float((a[same] * b[same]).sum() - (sum_a * sum_b).sum() / n)
        square = float((b[has_pred] ** 2).sum() - (sum_b**2).sum() / n)
        if square <= 0:
            return 0.0
        return float(np.clip(cross / square, 0.0, 1.0))

    def estimate(self, group: Hashable, lam: dict[int, float] | None = None) -> GroupEstimate:
        """The group's shares and standard errors; ``lam``: fixed lambdas per design index."""
        return self._estimate(group, lam)[0]

    def _estimate(self, group: Hashable, lam: dict[int, float] | None):
        y, yhat = self._cells(group)
        unknown = ~self._known
        samples = {d: self._sample(d, y, yhat) for d in range(len(self.designs))}
        thin = any(
            self._open[d] and s.holding() < MIN_UNITS_IN_GROUP
            and self.designs[d].n < self.designs[d].frame_size
            for d, s in samples.items()
        )  # fmt: skip
        if thin:
            # The sample says nothing about this group: the predictions as they are.
            lams = dict.fromkeys(samples, 1.0)
            totals = self._known @ y + unknown @ yhat
        else:
            lams = {
                d: float(lam[d]) if lam is not None and d in lam else self._lambdas[d]
                for d in samples
            }
            wp = self._wp + self._wl * np.array([*lams.values(), 0.0])[self._design]
            totals = self._wy @ y + wp @ yhat
        k = len(self.classes)
        clipped = np.clip(totals, 0.0, None)
        total = float(clipped.sum())
        shares = clipped / total if total > 0 else np.full(k, np.nan)
        var, df = np.zeros(k), np.inf
        if not thin and total > 0:
            var, df = self._variance([(samples, lams, shares, 1.0)])
        se = np.sqrt(var) / total if total > 0 else np.full(k, np.nan)
        est = GroupEstimate(
            shares, se, df, int(yhat[unknown & (self._design < 0)].sum()),
            sum(s.holding() for s in samples.values()),
            {self.designs[d].name: lams[d] for d in lams}, not thin,
        )  # fmt: skip
        return est, samples, lams, total

    def _variance(self, terms: list[tuple]) -> tuple[np.ndarray, float]:
        """The variance and degrees of freedom of a sum of linearised totals, one per term
        (samples and lambdas per design, shares, divisor). Per design never below that of the
        same sentences drawn one by one: few sampled articles can agree by chance."""
        var, df = np.zeros(len(self.classes)), np.inf
        for d, design in enumerate(self.designs):
            parts = [(samples[d], lams[d], shares, t) for samples, lams, shares, t in terms]
            first = parts[0][0]
            n = len(first.y_units)
            if not (self._open[d] and design.n < design.frame_size and n >= 2):
                continue
            frame_rows = design.frame_size * len(first.y_rows) / n
            units = sum(
                _linearised(s.y_units, s.yhat_units, lam, sh) / t for s, lam, sh, t in parts
            )
            rows = sum(_linearised(s.y_rows, s.yhat_rows, lam, sh) / t for s, lam, sh, t in parts)
            v = _srs_variance(units, design.frame_size)
            if len(rows) > len(units):
                v = np.maximum(v, _srs_variance(rows, frame_rows))
            boundary = sum(_boundary_variance(s, sh, frame_rows) / t**2 for s, _, sh, t in parts)
            var += np.maximum(v, boundary)
            df = min(df, float(max(min(s.holding() for s, *_ in parts) - 1, 1)))
        return var, df

    def difference(
        self, first: Hashable, second: Hashable, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per stance: share(first) - share(second) and its interval (shared units covary)."""
        e1, s1, l1, t1 = self._estimate(first, None)
        e2, s2, l2, t2 = self._estimate(second, None)
        delta = e1.shares - e2.shares
        if not (e1.informative and e2.informative) or np.isnan(delta).any():
            return delta, np.full_like(delta, -1.0), np.full_like(delta, 1.0)
        var, df = self._variance([(s1, l1, e1.shares, t1), (s2, l2, e2.shares, -t2)])
        t = stats.t.ppf(0.5 + level / 2, df) if np.isfinite(df) else 0.0
        half = t * np.sqrt(var)
        return delta, np.clip(delta - half, -1, 1), np.clip(delta + half, -1, 1)


def _linearised(y: np.ndarray, yhat: np.ndarray, lam: float, shares: np.ndarray) -> np.ndarray:
    """Per unit, the linearised residual of each share: r_c - share_c * sum(r), r = Y - lam*Yhat."""
    resid = y - lam * yhat
    return resid - shares[None, :] * resid.sum(axis=1, keepdims=True)


def _srs_variance(values: np.ndarray, frame_size: float) -> np.ndarray:
    """Variance of the estimated frame total of ``values`` (n units drawn without replacement)."""
    n = len(values)
    f = min(n / frame_size, 1.0)
    return frame_size**2 * (1 - f) * values.var(axis=0, ddof=1) / n


def _boundary_variance(sample: Sample, shares: np.ndarray, frame_rows: float) -> np.ndarray:
    """For a stance that none (or all) of the group's m hand-labeled sampled sentences have
    (residuals all zero, yet no proof of 0 or 1 in the frame): the variance of m sentences drawn
    one by one with that share moved one sentence away from 0 or 1 (Laplace); else zero."""
    rows = len(sample.y_rows)
    counts = sample.y_rows.sum(axis=0)
    m = float(counts.sum())
    if rows < 2 or m == 0:
        return np.zeros_like(shares)
    at_bound = (counts == 0) | (counts == m)
    moved = (counts + 1) / (m + 2)
    f = min(rows / frame_rows, 1.0)
    var = frame_rows**2 * (1 - f) * (m / rows) * moved * (1 - moved) / rows
    return np.where(at_bound, var, 0.0)
