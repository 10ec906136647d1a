"""Shares estimated from a probability sample of hand labels plus predictions (design-based).

The target is a finite-population quantity: of the sentences in *these* articles whose speaker is
g, the share with stance c, ``theta = T[g, c] / T[g]``. Sentences with a hand label are known
values. The unknown rest is estimated with the model-assisted difference estimator of survey
sampling (Sarndal, Swensson & Wretman 1992, ch. 6), which is prediction-powered inference
(Angelopoulos et al. 2023) for a finite population sampled without replacement, with the power
tuning of PPI++ (Angelopoulos, Duchi & Zrnic 2023):

    T_hat = sum_known Y + lambda * sum_unknown Yhat
            + (N/n - 1) * sum_{u in s} (Y_u - lambda * Yhat_u)
            - sum_{known, not in s} (Y - lambda * Yhat)

per design (a simple random sample s of n units from a frame of N units: sentences, or whole
articles labeled in full). ``Y`` counts a sentence in cell (g, c) by its hand speaker and
stance, ``Yhat`` by its predicted speaker and stance (out of fold for labeled sentences), so the
rectifier sees speaker errors and stance errors alike. ``lambda`` in [0, 1] is chosen per
design and table to minimise the summed variance of its shares (0: the labeled sample alone;
1: plain PPI).

The variance is the design variance of a ratio (Taylor linearisation) with the finite population
correction ``1 - n/N``, from the sample's unit totals: clusters (articles) when articles were
sampled, so sentences of one article are never treated as independent. Intervals are t
intervals with n - 1 degrees of freedom. Labels outside any design are known values of their own
sentences and never evidence about the model's errors; unknown sentences outside every design's
frame are counted by their prediction and reported as uncorrected.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

# Fewer sampled units than this that hold a group (by hand label or prediction): the sample says
# nothing about the model's errors there, so its interval is [0, 1].
MIN_UNITS_IN_GROUP = 2


@dataclass(frozen=True)
class Design:
    """One probability sample as the estimator needs it: ``n`` of ``frame_size`` units drawn
    by simple random sampling without replacement (``n == frame_size``: a census)."""

    name: str
    frame_size: int
    n: int


@dataclass(frozen=True)
class Sample:
    """A design's sampled units for one group: totals per unit and rows per sentence,
    [unit or sentence, class], of Y (hand) and Yhat (predicted)."""

    y_units: np.ndarray
    yhat_units: np.ndarray
    y_rows: np.ndarray
    yhat_rows: np.ndarray

    @property
    def n(self) -> int:
        return len(self.y_units)

    def holding(self) -> int:
        """Sampled units that hold the group, by hand label or prediction."""
        return int(((self.y_units.sum(axis=1) + self.yhat_units.sum(axis=1)) > 0).sum())


@dataclass
class GroupEstimate:
    """Shares of one group with their standard errors and what carried them."""

    shares: np.ndarray  # per stance; nan when the group has no sentence at all
    se: np.ndarray  # per stance
    df: float  # degrees of freedom of the t interval (inf: no sampling error)
    known: int  # sentences with a hand label in the group (by their hand speaker)
    predicted: int  # unknown sentences in the group by their prediction
    uncorrected: int  # of those, outside every design's frame
    design_units: int  # sampled units that hold the group
    lam: dict[str, float]  # lambda per design
    informative: bool  # False: too few sampled units hold the group; interval [0, 1]

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        if not self.informative:
            return np.zeros_like(self.shares), np.ones_like(self.shares)
        t = stats.t.ppf(0.5 + level / 2, self.df) if np.isfinite(self.df) else 0.0
        low = np.clip(self.shares - t * self.se, 0.0, 1.0)
        high = np.clip(self.shares + t * self.se, 0.0, 1.0)
        return low, high


class ShareEstimator:
    """Design-based shares per group from one table of sentences.

    ``table`` has one row per corpus sentence with: ``known`` (bool: a hand label),
    ``true_group``/``true_stance`` (hand values; ignored where not known), ``pred_group``/
    ``pred_stance`` (the model's; out of fold for labeled sentences), ``design`` (index into
    ``designs`` of the frame the sentence belongs to, -1 for none), ``unit`` (its sampling unit
    in that design) and ``sampled`` (its unit is in the design's sample, labeled in full).
    """

    def __init__(
        self, table: pd.DataFrame, classes: Sequence[str], designs: Sequence[Design]
    ) -> None:
        self.classes = list(classes)
        self.designs = list(designs)
        self._known = table["known"].to_numpy(dtype=bool)
        # Groups (a value, or a tuple of values) as codes, in order of first appearance among
        # the hand groups of labeled sentences, then the predicted ones; -1: none (missing or
        # empty).
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
        # A design whose frame holds unknown sentences has sampling error in every group: an
        # unknown sentence may belong to any group, whatever its prediction says.
        self._open = [bool((unknown & (self._design == d)).any()) for d in range(len(designs))]
        self._lambdas: dict[int, float] = {}

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
        """Per sentence, one-hot stance rows [sentence, class] of Y (hand) and Yhat (predicted)
        for this group (all zero where the sentence is not in the group)."""
        n, k = len(self._known), len(self.classes)
        y = np.zeros((n, k))
        yhat = np.zeros((n, k))
        code = self.code(group)
        in_true = self._known & (self._tg == code) & (self._ts >= 0)
        y[np.flatnonzero(in_true), self._ts[in_true]] = 1.0
        in_pred = (self._pg == code) & (self._ps >= 0)
        yhat[np.flatnonzero(in_pred), self._ps[in_pred]] = 1.0
        return y, yhat

    def _sample(self, d: int, y: np.ndarray, yhat: np.ndarray) -> Sample:
        rows = np.flatnonzero(self._sampled & (self._design == d))
        units, index = np.unique(self._unit[rows], return_inverse=True)
        yu = np.zeros((len(units), y.shape[1]))
        yhu = np.zeros_like(yu)
        np.add.at(yu, index, y[rows])
        np.add.at(yhu, index, yhat[rows])
        return Sample(yu, yhu, y[rows], yhat[rows])

    def _tuned_lambda(self, d: int) -> float:
        """Design d's lambda: the value in [0, 1] that minimises the summed variance of every
        share of this table (all groups and stances), as PPI++ tunes one lambda for a vector
        of estimates ("overall"). One lambda for the table rests on all sampled sentences; one
        per group would rest on that group's few, and its noise costs more than it saves.

        Measured over the sampled sentences (many more than sampled articles), around the
        shares of the plain rectified estimate (lambda 1)."""
        if d not in self._lambdas:
            self._lambdas[d] = self._pooled_lambda(d)
        return self._lambdas[d]

    def _pooled_lambda(self, d: int) -> float:
        k = len(self.classes)
        n_groups = len(self._codes)
        rows = np.flatnonzero(self._sampled & (self._design == d))
        if len(rows) < 2 or n_groups == 0:
            return 1.0
        theta = _ratio_rows(self._plain_totals())
        eye = np.eye(k)
        tg, ts = self._tg[rows], self._ts[rows]
        pg, ps = self._pg[rows], self._ps[rows]
        has_true = (tg >= 0) & (ts >= 0)
        has_pred = (pg >= 0) & (ps >= 0)
        # Per row, its linearised hand value a (in its hand group) and predicted value b (in
        # its predicted group); zero in every other group.
        a = np.zeros((len(rows), k))
        b = np.zeros((len(rows), k))
        a[has_true] = eye[ts[has_true]] - theta[tg[has_true]]
        b[has_pred] = eye[ps[has_pred]] - theta[pg[has_pred]]
        sum_a = np.zeros((n_groups, k))
        sum_b = np.zeros((n_groups, k))
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

    def _plain_totals(self) -> np.ndarray:
        """Totals [group, class] of every group with lambda 1 (plain rectified predictions)."""
        k = len(self.classes)
        totals = np.zeros((len(self._codes), k))
        known = self._known & (self._tg >= 0) & (self._ts >= 0)
        np.add.at(totals, (self._tg[known], self._ts[known]), 1.0)
        predicted = (self._pg >= 0) & (self._ps >= 0)
        unknown = ~self._known & predicted
        np.add.at(totals, (self._pg[unknown], self._ps[unknown]), 1.0)
        for d, design in enumerate(self.designs):
            in_d = self._design == d
            sampled = self._sampled & in_d
            n = len(np.unique(self._unit[sampled]))
            expand = design.frame_size / n - 1.0 if n else 0.0
            other = self._known & in_d & ~self._sampled
            for rows, weight in ((sampled, expand), (other, -1.0)):
                y_rows = rows & known
                p_rows = rows & predicted
                np.add.at(totals, (self._tg[y_rows], self._ts[y_rows]), weight)
                np.add.at(totals, (self._pg[p_rows], self._ps[p_rows]), -weight)
        return totals

    def _parts(self, d: int, y: np.ndarray, yhat: np.ndarray, sample: Sample) -> dict:
        in_d = self._design == d
        known_other = self._known & in_d & ~self._sampled
        n = sample.n
        return {
            "yhat_unknown": yhat[~self._known & in_d].sum(axis=0),
            "y_sample": sample.y_units.sum(axis=0),
            "yhat_sample": sample.yhat_units.sum(axis=0),
            "y_known_other": y[known_other].sum(axis=0),
            "yhat_known_other": yhat[known_other].sum(axis=0),
            "expand": (self.designs[d].frame_size / n - 1.0) if n else 0.0,
        }

    def estimate(self, group: Hashable, lam: dict[int, float] | None = None) -> GroupEstimate:
        """The group's shares, their standard errors and what carried them. ``lam``: fixed
        lambdas per design index (comparisons, tests); by default each is tuned."""
        return self._estimate(group, lam)[0]

    def _estimate(self, group: Hashable, lam: dict[int, float] | None):
        y, yhat = self._cells(group)
        unknown = ~self._known
        fixed = y[self._known].sum(axis=0) + yhat[unknown & (self._design < 0)].sum(axis=0)
        samples = {d: self._sample(d, y, yhat) for d in range(len(self.designs))}
        parts = {d: self._parts(d, y, yhat, s) for d, s in samples.items()}
        holding = sum(s.holding() for s in samples.values())
        thin = any(
            self._open[d] and (s.holding() < MIN_UNITS_IN_GROUP or s.n < 2)
            and self.designs[d].n < self.designs[d].frame_size
            for d, s in samples.items()
        )  # fmt: skip
        lams = {
            d: float(lam[d]) if lam is not None and d in lam else self._tuned_lambda(d)
            for d in samples
        }
        if thin:
            # The sample says nothing about this group: the predictions as they are, and an
            # interval that claims nothing.
            lams = dict.fromkeys(samples, 1.0)
            totals = fixed + sum(p["yhat_unknown"] for p in parts.values())
        else:
            totals = fixed + sum(_design_total(parts[d], lams[d]) for d in samples)
        k = len(self.classes)
        shares = _clipped_shares(totals)
        var, df = np.zeros(k), np.inf
        total = max(float(totals.clip(min=0).sum()), 0.0)
        if not thin and total > 0:
            for d, s in samples.items():
                v, dd = self._variance(d, s, lams[d], shares)
                var += v
                df = min(df, dd)
        se = np.sqrt(var) / total if total > 0 else np.full(k, np.nan)
        est = GroupEstimate(
            shares, se, df, int(y.sum()), int(yhat[unknown].sum()),
            int(yhat[unknown & (self._design < 0)].sum()), holding,
            {self.designs[d].name: lams[d] for d in lams}, not thin,
        )  # fmt: skip
        return est, samples, lams, total

    def _variance(
        self, d: int, sample: Sample, lam: float, shares: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """Design d's variance of the group's linearised totals (divide by the group total
        squared for the shares' variance), and its degrees of freedom."""
        if not self._counts(d, sample):
            return np.zeros(len(self.classes)), np.inf
        frame_rows = self._frame_rows(d, sample)
        return _design_variance(
            self.designs[d].frame_size,
            frame_rows,
            _linearised(sample.y_units, sample.yhat_units, lam, shares),
            _linearised(sample.y_rows, sample.yhat_rows, lam, shares),
            _boundary_variance(sample, shares, frame_rows),
            sample.holding(),
        )

    def _counts(self, d: int, sample: Sample) -> bool:
        """Whether design d adds sampling error: its frame holds unknown sentences, it is not a
        census, and at least two units were sampled."""
        design = self.designs[d]
        return self._open[d] and design.n < design.frame_size and sample.n >= 2

    def _frame_rows(self, d: int, sample: Sample) -> float:
        """The frame's size in sentences, as the sample's sentences per unit suggest."""
        return self.designs[d].frame_size * len(sample.y_rows) / sample.n

    def difference(
        self, first: Hashable, second: Hashable, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per stance: share(first) - share(second) and its interval, from the same sample (the
        covariance of the two estimates through shared units is accounted for)."""
        e1, s1, l1, t1 = self._estimate(first, None)
        e2, s2, l2, t2 = self._estimate(second, None)
        k = len(self.classes)
        delta = e1.shares - e2.shares
        if not (e1.informative and e2.informative) or np.isnan(delta).any():
            return delta, np.full(k, -1.0), np.full(k, 1.0)
        var, df = np.zeros(k), np.inf
        for d in range(len(self.designs)):
            a, b = s1[d], s2[d]
            if not self._counts(d, a):
                continue
            frame_rows = self._frame_rows(d, a)

            units = (
                _linearised(a.y_units, a.yhat_units, l1[d], e1.shares) / t1
                - _linearised(b.y_units, b.yhat_units, l2[d], e2.shares) / t2
            )
            rows = (
                _linearised(a.y_rows, a.yhat_rows, l1[d], e1.shares) / t1
                - _linearised(b.y_rows, b.yhat_rows, l2[d], e2.shares) / t2
            )
            v, dd = _design_variance(
                self.designs[d].frame_size, frame_rows, units, rows,
                _boundary_variance(a, e1.shares, frame_rows) / t1**2
                + _boundary_variance(b, e2.shares, frame_rows) / t2**2,
                min(a.holding(), b.holding()),
            )  # fmt: skip
            var += v
            df = min(df, dd)
        t = stats.t.ppf(0.5 + level / 2, df) if np.isfinite(df) else 0.0
        half = t * np.sqrt(var)
        return delta, np.clip(delta - half, -1, 1), np.clip(delta + half, -1, 1)


def _design_variance(
    frame_size: float,
    frame_rows: float,
    units: np.ndarray,
    rows: np.ndarray,
    boundary: np.ndarray,
    holding: int,
) -> tuple[np.ndarray, float]:
    """The variance of an estimated total from the linearised values of the sampled ``units``
    (simple random sample of units), never below that of the same sampled sentences (``rows``)
    drawn one by one (with few sampled articles their own variance can be small by chance; a
    design effect below one is implausible for sentences of one article) nor below the
    ``boundary`` variance; and its degrees of freedom: the units that hold the group, less one
    (a group held by a few of many sampled units has few observations of its own)."""
    var = _srs_variance(units, frame_size)
    if len(rows) > len(units):
        var = np.maximum(var, _srs_variance(rows, frame_rows))
    return np.maximum(var, boundary), float(max(holding - 1, 1))


def _design_total(parts: dict, lam: float) -> np.ndarray:
    """A design's part of the totals: its unknown sentences' predictions, rectified."""
    return (
        lam * parts["yhat_unknown"]
        + parts["expand"] * (parts["y_sample"] - lam * parts["yhat_sample"])
        - (parts["y_known_other"] - lam * parts["yhat_known_other"])
    )


def _linearised(y: np.ndarray, yhat: np.ndarray, lam: float, shares: np.ndarray) -> np.ndarray:
    """Per unit, the linearised residual of each share: r_c - share_c * sum(r), r = Y - lam*Yhat."""
    resid = y - lam * yhat
    return resid - shares[None, :] * resid.sum(axis=1, keepdims=True)


def _srs_variance(values: np.ndarray, frame_size: float) -> np.ndarray:
    """Variance of the estimated frame total of ``values`` (rows: the n sampled units) under
    simple random sampling without replacement from ``frame_size`` units."""
    n = len(values)
    f = min(n / frame_size, 1.0)
    return frame_size**2 * (1 - f) * values.var(axis=0, ddof=1) / n


def _boundary_variance(sample: Sample, shares: np.ndarray, frame_rows: float) -> np.ndarray:
    """For a stance that none (or all) of the group's m hand-labeled sampled sentences have:
    the variance of m sentences drawn one by one with that share moved one sentence away from
    0 or 1 (Laplace). A share of 0 or 1 in a sample is no proof of one in the frame, but its
    residuals can all be zero. Zero for the other stances."""
    rows = len(sample.y_rows)
    counts = sample.y_rows.sum(axis=0)
    m = float(counts.sum())
    if rows < 2 or m == 0:
        return np.zeros_like(shares)
    observed = counts / m
    at_bound = (observed == 0) | (observed == 1)
    moved = (counts + 1) / (m + 2)
    f = min(rows / frame_rows, 1.0)
    var = frame_rows**2 * (1 - f) * (m / rows) * moved * (1 - moved) / rows
    return np.where(at_bound, var, 0.0)


def _ratio_rows(totals: np.ndarray) -> np.ndarray:
    """Shares per row of totals [group, class]; zeros for a row whose total is not positive."""
    sums = totals.sum(axis=1, keepdims=True)
    return np.where(sums > 0, totals / np.where(sums > 0, sums, 1.0), 0.0)


def _clipped_shares(totals: np.ndarray) -> np.ndarray:
    """Shares from estimated totals; a negative estimate (noise) counts as zero."""
    clipped = np.clip(totals, 0.0, None)
    return clipped / clipped.sum() if clipped.sum() > 0 else np.full_like(totals, np.nan)
