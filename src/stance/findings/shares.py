"""Stance shares per group (speaker, outlet, month or pairs of them), one row per group."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from stance.findings.estimate import Design, GroupEstimate, ShareEstimator

# ``stance_source`` of a sentence whose stance is a hand label (else the model's).
LABEL_SOURCE = "label"
# Flag a share whose interval reaches further than this from it (half the interval's width).
WIDE_HALF_WIDTH = 0.2

# What carried a group's shares (column ``estimate``).
EXACT = "exact"  # every sentence of the group is hand-labeled: no sampling error
SAMPLE = "sample"  # the rest estimated from a probability sample of labels (design-based)
THIN = "too few sampled units"  # the sample holds the group in fewer than two units: [0, 1]
UNCORRECTED = "uncorrected"  # some sentences only predicted, outside every sample's frame


def _keys(table: pd.DataFrame, columns: Sequence[str], speaker: str) -> np.ndarray:
    """Group key per sentence: the value (one column) or a tuple; None where one is missing."""
    parts = table[[speaker if c == "speaker" else c for c in columns]]
    missing = (parts.isna() | (parts.astype(str) == "")).any(axis=1).to_numpy()
    rows = parts.iloc[:, 0] if len(columns) == 1 else parts.itertuples(index=False, name=None)
    values = np.array(pd.Series(list(rows), dtype=object), dtype=object)
    values[missing] = None
    return values


def estimator_for(
    sentences: pd.DataFrame,
    columns: Sequence[str],
    classes: Sequence[str],
    designs: Sequence[Design],
) -> ShareEstimator:
    """The estimator of the sentences by ``columns`` (labeled ones: out-of-fold predictions)."""
    known = (sentences["stance_source"] == LABEL_SOURCE).to_numpy()
    speaker, stance = sentences["predicted_speaker"], sentences["predicted"]
    pred_speaker = sentences.get("oof_speaker", speaker).where(known, speaker)
    pred_stance = sentences.get("oof_stance", stance).where(known, stance)
    table = pd.DataFrame(
        {
            "known": known,
            "true_group": _keys(sentences, columns, "speaker"),
            "true_stance": sentences["stance"].where(known),
            "pred_group": _keys(sentences.assign(_pred=pred_speaker), columns, "_pred"),
            "pred_stance": pred_stance.to_numpy(),
            "design": sentences.get("design", -1),
            "unit": sentences["unit"] if "unit" in sentences else sentences["sentence_id"],
            "sampled": sentences.get("sampled", False),
        }
    )
    return ShareEstimator(table, classes, designs)


def _more_units(est: GroupEstimate, designs: Sequence[Design], half: float, level: float) -> int:
    """Roughly how many more units of the (first) open design bring every stance's interval
    within ``half`` of its share: the variance shrinks with 1/n - 1/N."""
    d = next((d for d in designs if d.n < d.frame_size), None)
    if d is None:  # the caller asks only for an informative estimate with a wide interval
        return 0
    z = stats.norm.ppf(0.5 + level / 2)
    now = 1 / d.n - 1 / d.frame_size
    s2 = float(np.nanmax(est.se) ** 2) / now if now > 0 else 0.0
    if s2 <= 0 or z * math.sqrt(s2 * now) <= half:
        return 0
    need = 1 / (half**2 / (z**2 * s2) + 1 / d.frame_size)
    return int(min(math.ceil(need), d.frame_size) - d.n)


def stance_shares(
    sentences: pd.DataFrame,
    columns: Sequence[str] | str,
    classes: Sequence[str],
    designs: Sequence[Design] = (),
    *,
    level: float = 0.95,
    wide_half_width: float = WIDE_HALF_WIDTH,
    order: Sequence[Hashable] = (),
) -> pd.DataFrame:
    """Shares of each stance per group (the values of ``columns``), one row per group in
    ``order``, then by name; docs/findings.md ("What a row holds") describes the columns."""
    columns = [columns] if isinstance(columns, str) else list(columns)
    est = estimator_for(sentences, columns, classes, designs)
    rank = {g: i for i, g in enumerate(order)}
    groups = sorted(est.groups(), key=lambda g: (rank.get(g, len(rank)), str(g)))
    known = (sentences["stance_source"] == LABEL_SOURCE).to_numpy()
    # The group a sentence is shown in: its ``speaker`` (the hand value, else the predicted one).
    shown = est.codes(_keys(sentences, columns, "speaker"))
    rows = []
    for g in groups:
        e = est.estimate(g)
        low, high = e.interval(level)
        in_group = shown == est.code(g)
        if not in_group.any() and np.isnan(e.shares).all():
            continue  # only the out-of-fold prediction of a labeled sentence names it
        row: dict[str, object] = dict(zip(columns, g if len(columns) > 1 else (g,), strict=True))
        counts = sentences.loc[in_group, "stance"].value_counts()
        raw = np.array([counts.get(c, 0) for c in classes], dtype=float)
        raw = raw / raw.sum() if raw.sum() else np.full(len(classes), np.nan)
        row.update(
            sentences=int(in_group.sum()),
            articles=sentences.loc[in_group, "article_id"].nunique(),
            labeled=int((in_group & known).sum()),
            predicted=int((in_group & ~known).sum()),
            uncorrected=e.uncorrected,
        )
        if e.uncorrected:
            kind = UNCORRECTED
        elif known.all():
            kind = EXACT
        elif not e.informative:
            kind = THIN
        else:
            kind = SAMPLE
        # lambda weighs predictions against the sample: it means something where both count.
        lam = ";".join(f"{v:.2f}" for v in e.lam.values()) if kind == SAMPLE else ""
        row.update(estimate=kind, design_units=e.design_units, **{"lambda": lam})
        labeled = sentences.loc[in_group & known, "stance"].value_counts()
        valid = kind != UNCORRECTED
        for k, c in enumerate(classes):
            row[f"labeled_{c}"] = int(labeled.get(c, 0))
            row[c] = e.shares[k]
            row[f"{c}_low"] = low[k] if valid else np.nan
            row[f"{c}_high"] = high[k] if valid else np.nan
            row[f"raw_{c}"] = raw[k]
        row["wide"] = ",".join(
            c for k, c in enumerate(classes)
            if valid and (high[k] - low[k]) / 2 > wide_half_width
        )  # fmt: skip
        row["more_units"] = (
            _more_units(e, designs, wide_half_width, level) if row["wide"] and kind == SAMPLE
            else 0
        )  # fmt: skip
        rows.append(row)
    header = [*columns, "sentences", "articles", "labeled", "predicted", "uncorrected",
              "estimate", "design_units", "lambda", *(f"labeled_{c}" for c in classes)]  # fmt: skip
    for c in classes:
        header += [c, f"{c}_low", f"{c}_high", f"raw_{c}"]
    return pd.DataFrame(rows, columns=[*header, "wide", "more_units"])


def top_groups(
    sentences: pd.DataFrame,
    table: pd.DataFrame,
    column: str,
    classes: Sequence[str],
    designs: Sequence[Design] = (),
    *,
    top: int,
    level: float = 0.95,
    wide_half_width: float = WIDE_HALF_WIDTH,
) -> pd.DataFrame:
    """``table`` cut to its ``top`` largest groups and a row estimating the rest as one group."""
    if len(table) <= top + 1:
        return table
    kept = set(table.nlargest(top, "sentences", keep="first")[column])
    other = f"other {len(table) - top} {column}s"
    pooled = sentences.copy()
    # Hand and predicted speakers pool alike: a sentence predicted in a pooled group is in it.
    for c in (column, "predicted_speaker", "oof_speaker") if column == "speaker" else (column,):
        if c in pooled:
            named = pooled[c].notna() & (pooled[c].astype(str) != "")
            pooled[c] = pooled[c].where(~named | pooled[c].isin(kept), other)
    rest = stance_shares(pooled, column, classes, designs, level=level,
                         wide_half_width=wide_half_width)  # fmt: skip
    shown = [table[table[column].isin(kept)], rest[rest[column] == other]]
    return pd.concat(shown, ignore_index=True)
