"""Stance shares per group with intervals from a bootstrap over articles, raw and corrected."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stance.errors import StanceError
from stance.findings.correction import acc_shares, confusion_by_article, error_rates
from stance.findings.resolve import LABEL_SOURCE, MODEL_SOURCE

# Flag a share whose interval reaches further than this from it (half the interval's width).
WIDE_HALF_WIDTH = 0.2


def _counts(
    table: pd.DataFrame, group: str, classes: Sequence[str]
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Articles, groups and sentence counts [article, group, class] of labels and predictions."""
    articles = sorted(table["article_id"].unique())
    groups = sorted(table[group].unique())
    a_index = table["article_id"].map({a: n for n, a in enumerate(articles)}).to_numpy()
    g_index = table[group].map({g: n for n, g in enumerate(groups)}).to_numpy()
    k_index = table["stance"].map({c: n for n, c in enumerate(classes)}).to_numpy()
    labeled = (table["stance_source"] == LABEL_SOURCE).to_numpy()
    shape = (len(articles), len(groups), len(classes))
    hand, model = np.zeros(shape), np.zeros(shape)
    np.add.at(hand, (a_index[labeled], g_index[labeled], k_index[labeled]), 1)
    np.add.at(model, (a_index[~labeled], g_index[~labeled], k_index[~labeled]), 1)
    return articles, groups, hand, model


def _check(table: pd.DataFrame, group: str, classes: Sequence[str]) -> None:
    missing = [c for c in ("article_id", group, "stance", "stance_source") if c not in table]
    if missing:
        raise StanceError(f"sentence stances: missing column(s) {', '.join(missing)}")
    unknown = sorted(set(table["stance"]) - set(classes))
    if unknown:
        raise StanceError(
            f"sentence stances: value(s) {', '.join(map(str, unknown))} not among "
            f"{', '.join(classes)}"
        )
    sources = sorted(set(table["stance_source"]) - {LABEL_SOURCE, MODEL_SOURCE})
    if sources:
        raise StanceError(f"sentence stances: unknown stance_source {', '.join(sources)}")


def _corrected(hand: np.ndarray, model: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Corrected counts [group, class]: hand labels as they are, predictions by ACC."""
    out = hand.copy()
    for g, counts in enumerate(model):
        n = counts.sum()
        if n > 0:
            out[g] += n * acc_shares(counts / n, rates)
    return out


def _shares(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)


def share_columns(group: str, classes: Sequence[str], corrected: bool = True) -> list[str]:
    """The columns of a :func:`stance_shares` table, in order."""
    columns = [group, "sentences", "articles", "labeled", "predicted"]
    columns += [f"labeled_{c}" for c in classes]
    for c in classes:
        columns += [f"raw_{c}", f"raw_{c}_low", f"raw_{c}_high"]
        if corrected:
            columns += [c, f"{c}_low", f"{c}_high"]
    return [*columns, "wide"]


def stance_shares(
    sentences: pd.DataFrame,
    group: str,
    classes: Sequence[str],
    oof: pd.DataFrame | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    wide_half_width: float = WIDE_HALF_WIDTH,
) -> pd.DataFrame:
    """Shares of each stance per value of ``group`` (a speaker, outlet or month column).

    ``sentences``: one row per sentence with ``article_id``, the group column, ``stance`` and
    ``stance_source`` (see :func:`stance.findings.resolve.resolve_stances`); sentences whose
    group is missing are left out. ``oof``: out-of-fold predictions of the model on labeled
    sentences (``article_id``, ``stance``, ``predicted``), from which the model's error rates are
    measured; without it only the raw shares are given.

    Per group: ``sentences``, ``articles``, ``labeled`` (hand labels, counted as they are) and
    ``predicted``; per stance ``c``: ``labeled_c`` (hand-labeled count), the raw share
    ``raw_c`` (labels and predictions counted as they are) with ``raw_c_low``/``raw_c_high``,
    and the share corrected for the model's errors ``c`` with ``c_low``/``c_high``; ``wide``
    lists the stances whose (corrected) interval reaches more than ``wide_half_width`` from the
    share. No sentence with a group value: a table with the columns and no rows.

    Intervals are percentile intervals of a bootstrap that resamples whole articles of the
    corpus (sentences of one article are not independent) and, independently, the articles the
    error rates were measured on (they are an estimate too). Seeded: the same input and seed
    give the same table.
    """
    _check(sentences, group, classes)
    table = sentences[sentences[group].notna() & (sentences[group].astype(str) != "")]
    if table.empty:
        return pd.DataFrame(columns=share_columns(group, classes, corrected=oof is not None))
    articles, groups, hand, model = _counts(table, group, classes)
    k = len(classes)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(articles), np.full(len(articles), 1 / len(articles)), n_boot)
    hand_b = np.einsum("ba,agk->bgk", weights, hand)
    model_b = np.einsum("ba,agk->bgk", weights, model)
    hand_all, model_all = hand.sum(axis=0), model.sum(axis=0)
    point_raw = _shares(hand_all + model_all)
    raw_b = _shares(hand_b + model_b)
    corrected = oof is not None
    if corrected:
        oof_articles, confusion = confusion_by_article(oof, classes)
        point = _shares(_corrected(hand_all, model_all, error_rates(confusion.sum(axis=0))))
        oof_w = rng.multinomial(
            len(oof_articles), np.full(len(oof_articles), 1 / len(oof_articles)), n_boot
        )
        rates_b = error_rates(np.einsum("bo,oij->bij", oof_w, confusion))
        corr_b = _shares(
            np.stack([_corrected(hand_b[b], model_b[b], rates_b[b]) for b in range(n_boot)])
        )
    tail = 100 * (1 - level) / 2
    with np.errstate(all="ignore"):
        raw_low, raw_high = np.nanpercentile(raw_b, [tail, 100 - tail], axis=0)
        if corrected:
            low, high = np.nanpercentile(corr_b, [tail, 100 - tail], axis=0)
    rows = []
    for g, name in enumerate(groups):
        in_group = (hand[:, g].sum(axis=1) + model[:, g].sum(axis=1)) > 0
        row: dict[str, object] = {
            group: name,
            "sentences": int(hand_all[g].sum() + model_all[g].sum()),
            "articles": int(in_group.sum()),
            "labeled": int(hand_all[g].sum()),
            "predicted": int(model_all[g].sum()),
        }
        for c in range(k):
            row[f"labeled_{classes[c]}"] = int(hand_all[g, c])
        for c in range(k):
            name_c = classes[c]
            row[f"raw_{name_c}"] = point_raw[g, c]
            row[f"raw_{name_c}_low"], row[f"raw_{name_c}_high"] = raw_low[g, c], raw_high[g, c]
            if corrected:
                row[name_c] = point[g, c]
                row[f"{name_c}_low"], row[f"{name_c}_high"] = low[g, c], high[g, c]
        lo, hi = (low, high) if corrected else (raw_low, raw_high)
        row["wide"] = ",".join(
            classes[c] for c in range(k) if (hi[g, c] - lo[g, c]) / 2 > wide_half_width
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=share_columns(group, classes, corrected))
