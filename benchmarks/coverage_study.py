"""Do the published 95% intervals of stance shares hold the truth 95% of the time?

Repeated sampling from corpora whose every sentence's true speaker (group) and stance are known.
Each repetition draws a probability sample of labels, gives the estimator of
``stance.findings.estimate`` the hand labels of the sample and the model's predictions for every
sentence, and compares each group's shares and 95% intervals with the true finite-population
shares (among all sentences whose true group is g, the share with true stance c). Three
estimators:

- ``published``: ``ShareEstimator.estimate(g)``, lambda tuned per design and group;
- ``labels alone``: the same with lambda fixed at 0 (the labeled sample alone), its own interval;
- ``raw counts``: hand labels for the sampled sentences and predictions for all others, counted
  as they are, with a percentile bootstrap over articles (1000 replicates), as the pipeline
  published before the design-based estimator.

Per setting and estimator: ``coverage`` (share of the (repetition, group, class) cells whose
interval holds the true share; an interval of [0, 1], which the estimator gives where too few
sampled units hold a group, counts as holding it), its Monte Carlo standard error
``sqrt(p (1 - p) / cells)`` (cells of one repetition are not independent, so take it as a lower
bound), the mean interval width and the mean absolute error of the point estimate. The JSON also
holds ``mc_se_by_rep`` (from the spread of the repetitions' coverages), coverage per class and
group, the share of informative intervals and the mean tuned lambda.

Part (a), synthetic corpora: 400 articles of 10-40 sentences; four speakers in shares that vary
between articles (Dirichlet, concentration 5 around 0.4/0.3/0.2/0.1), each with its own shares
of favor/against/none that vary between articles (Dirichlet, concentration 20 around the
speaker's); a model that gets the stance right with probability ``acc`` (else one of the other
two at random) and the speaker right with probability ``speaker_acc`` (else another speaker at
random), independently of whether the sentence is sampled (so its out-of-fold prediction is its
prediction). A new corpus every repetition. Samples: n whole articles of 400 (unit: article), or
n sentences of all sentences (unit: sentence).

Part (b), BASIL (Fan et al. 2019; real sentences, a real classifier): groups are the three
outlets, classes the bias labels none/lex/inf, units the 300 articles. Each repetition samples n
articles and fits TF-IDF (word 1-2 grams) + logistic regression on them: out-of-fold predictions
for the sampled sentences (GroupKFold(5) by article), the model fitted on the whole sample for
the rest. The outlet of a sentence is known, so only the stance is predicted. The truth is the
share of each label per outlet over all 7,977 sentences. Get the table with
benchmarks/external/basil.py (the data is never committed).

    .venv/bin/python benchmarks/coverage_study.py --basil /tmp/basil_items.csv  # 2 cores: ~5 min
    .venv/bin/python benchmarks/coverage_study.py --quick                         # smoke check

Results: a Markdown table per part on stdout; every figure in
benchmarks/results/coverage_study.json. Seeded: the same seed gives the same figures, whatever
``--jobs``. Nothing here asserts: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from stance.findings.estimate import Design, ShareEstimator  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ESTIMATOR_SOURCE = ROOT / "src" / "stance" / "findings" / "estimate.py"
LEVEL = 0.95
N_BOOT = 1000
ESTIMATORS = ("published", "labels alone", "raw counts")

# Part (a): the synthetic corpora.
STANCES = ("favor", "against", "none")
SPEAKERS = ("s1", "s2", "s3", "s4")
SPEAKER_SHARES = np.array([0.4, 0.3, 0.2, 0.1])
SPEAKER_CONCENTRATION = 5.0
STANCE_SHARES = np.array(  # per speaker: favor, against, none
    [[0.6, 0.1, 0.3], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.4, 0.4, 0.2]]
)
STANCE_CONCENTRATION = 20.0
ARTICLES = 400
SENTENCES_PER_ARTICLE = (10, 40)

# Part (b): BASIL.
BASIL_CLASSES = ("none", "lex", "inf")
FOLDS = 5


@dataclass(frozen=True)
class Setting:
    """One cell of the study: how the sample is drawn and how good the model is."""

    unit: str  # "article" or "sentence"
    n: int
    acc: float = float("nan")  # synthetic only
    speaker_acc: float = float("nan")  # synthetic only

    @property
    def name(self) -> str:
        units = "articles" if self.unit == "article" else "sentences"
        if np.isnan(self.acc):
            return f"n={self.n} {units}"
        return f"n={self.n} {units}, acc {self.acc:.1f}, speaker {self.speaker_acc:.1f}"


SYNTHETIC = [
    Setting("article", 10, 0.7, 1.0),
    Setting("article", 20, 0.7, 1.0),
    Setting("article", 40, 0.7, 1.0),
    Setting("article", 80, 0.7, 1.0),
    Setting("article", 40, 0.5, 1.0),
    Setting("article", 40, 0.9, 1.0),
    Setting("article", 20, 0.7, 0.7),
    Setting("article", 80, 0.7, 0.7),
    Setting("article", 10, 0.5, 0.7),
    Setting("sentence", 200, 0.7, 1.0),
    Setting("sentence", 800, 0.7, 1.0),
    Setting("sentence", 200, 0.5, 0.7),
    Setting("sentence", 800, 0.9, 0.7),
]
BASIL = [Setting("article", 15), Setting("article", 30), Setting("article", 60)]


# --- one repetition ------------------------------------------------------------------------


def _raw_bootstrap(
    article: np.ndarray, group: np.ndarray, stance: np.ndarray, shape: tuple[int, int], rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw count shares [group, class] and their percentile bootstrap interval over articles
    (whole articles resampled with replacement, N_BOOT replicates)."""
    codes, index = np.unique(article, return_inverse=True)
    counts = np.zeros((len(codes), *shape))
    np.add.at(counts, (index, group, stance), 1.0)
    weights = rng.multinomial(len(codes), np.full(len(codes), 1 / len(codes)), N_BOOT)
    boot = np.einsum("ba,agk->bgk", weights, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        point = counts.sum(axis=0) / counts.sum(axis=(0, 2))[:, None]
        shares = boot / boot.sum(axis=2, keepdims=True)
        tail = 100 * (1 - LEVEL) / 2
        low, high = np.nanpercentile(shares, [tail, 100 - tail], axis=0)
    return point, low, high


def _score(
    truth: np.ndarray,
    sampled: np.ndarray,
    unit: np.ndarray,
    article: np.ndarray,
    true_group: np.ndarray,
    true_stance: np.ndarray,
    pred_group: np.ndarray,
    pred_stance: np.ndarray,
    frame_size: int,
    classes: tuple[str, ...],
    rng,
) -> dict[str, dict[str, np.ndarray]]:
    """Every estimator's point, low, high [group, class] for one sample (codes: ints)."""
    groups = np.arange(truth.shape[0])
    names = np.array([f"g{g}" for g in groups], dtype=object)
    labels = np.array(classes, dtype=object)
    table = pd.DataFrame(
        {"known": sampled, "true_group": np.where(sampled, names[true_group], None),
         "true_stance": np.where(sampled, labels[true_stance], None),
         "pred_group": names[pred_group], "pred_stance": labels[pred_stance],
         "design": 0, "unit": unit, "sampled": sampled}
    )  # fmt: skip
    n_units = len(np.unique(unit[sampled]))
    est = ShareEstimator(table, classes, [Design("sample", frame_size=frame_size, n=n_units)])
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, lam in (("published", None), ("labels alone", {0: 0.0})):
        point, low, high = (np.full(truth.shape, np.nan) for _ in range(3))
        informative = np.zeros(len(groups), dtype=bool)
        lams = np.full(len(groups), np.nan)
        for g in groups:
            if est.code(names[g]) < 0:  # neither labeled nor predicted anywhere: no estimate
                low[g], high[g] = 0.0, 1.0
                continue
            e = est.estimate(names[g], lam=lam)
            point[g] = e.shares
            low[g], high[g] = e.interval(LEVEL)
            informative[g] = e.informative
            lams[g] = next(iter(e.lam.values()))
        out[name] = {"point": point, "low": low, "high": high, "informative": informative,
                     "lambda": lams}  # fmt: skip
    raw_group = np.where(sampled, true_group, pred_group)
    raw_stance = np.where(sampled, true_stance, pred_stance)
    point, low, high = _raw_bootstrap(article, raw_group, raw_stance, truth.shape, rng)
    out["raw counts"] = {"point": point, "low": low, "high": high,
                         "informative": np.ones(len(groups), dtype=bool)}  # fmt: skip
    return out


def _cells(truth: np.ndarray, result: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per estimator: covered, width, absolute error per [group, class] (nan intervals: [0, 1];
    a group that is not informative counts with its [0, 1] interval)."""
    cells = {}
    for name, r in result.items():
        low = np.where(np.isnan(r["low"]), 0.0, r["low"])
        high = np.where(np.isnan(r["high"]), 1.0, r["high"])
        covered = (low <= truth + 1e-12) & (truth <= high + 1e-12)
        cells[name] = np.stack([covered, high - low, np.abs(r["point"] - truth)])
    return cells


def _truth(group: np.ndarray, stance: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    counts = np.zeros(shape)
    np.add.at(counts, (group, stance), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / counts.sum(axis=1, keepdims=True)


def _draw(probs: np.ndarray, rng) -> np.ndarray:
    """One category per row of ``probs`` (rows sum to one)."""
    u = rng.random(len(probs))
    return np.minimum((probs.cumsum(axis=1) < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _mistake(values: np.ndarray, right: float, k: int, rng) -> np.ndarray:
    """Each value kept with probability ``right``, else replaced by one of the other k-1."""
    wrong = rng.random(len(values)) >= right
    return np.where(wrong, (values + rng.integers(1, k, len(values))) % k, values)


def synthetic_rep(setting: Setting, seed: np.random.SeedSequence) -> dict:
    rng = np.random.default_rng(seed)
    g, k = len(SPEAKERS), len(STANCES)
    sizes = rng.integers(SENTENCES_PER_ARTICLE[0], SENTENCES_PER_ARTICLE[1] + 1, ARTICLES)
    article = np.repeat(np.arange(ARTICLES), sizes)
    mix = rng.dirichlet(SPEAKER_CONCENTRATION * SPEAKER_SHARES, ARTICLES)
    true_group = _draw(mix[article], rng)
    stance_probs = np.stack(
        [rng.dirichlet(STANCE_CONCENTRATION * STANCE_SHARES[s], ARTICLES) for s in range(g)],
        axis=1,
    )  # [article, speaker, stance]
    true_stance = _draw(stance_probs[article, true_group], rng)
    pred_stance = _mistake(true_stance, setting.acc, k, rng)
    pred_group = _mistake(true_group, setting.speaker_acc, g, rng)
    truth = _truth(true_group, true_stance, (g, k))
    if setting.unit == "article":
        chosen = rng.choice(ARTICLES, setting.n, replace=False)
        sampled = np.isin(article, chosen)
        unit, frame = article, ARTICLES
    else:
        sampled = np.zeros(len(article), dtype=bool)
        sampled[rng.choice(len(article), setting.n, replace=False)] = True
        unit, frame = np.arange(len(article)), len(article)
    result = _score(truth, sampled, unit, article, true_group, true_stance, pred_group,
                    pred_stance, frame, STANCES, rng)  # fmt: skip
    return {"cells": _cells(truth, result), "result": result}


def basil_rep(setting: Setting, seed: np.random.SeedSequence, items: dict) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline

    def model():
        return make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
            LogisticRegression(class_weight="balanced", max_iter=1000),
        )

    rng = np.random.default_rng(seed)
    article, text, group, stance = items["article"], items["text"], items["group"], items["label"]
    chosen = rng.choice(items["article_ids"], setting.n, replace=False)
    sampled = np.isin(article, chosen)
    rows = np.flatnonzero(sampled)
    pred = np.empty(len(article), dtype=int)
    with threadpool_limits(1):
        for train, test in GroupKFold(FOLDS).split(rows, groups=article[rows]):
            pred[rows[test]] = (
                model().fit(text[rows[train]], stance[rows[train]]).predict(text[rows[test]])
            )
        rest = np.flatnonzero(~sampled)
        pred[rest] = model().fit(text[rows], stance[rows]).predict(text[rest])
    result = _score(items["truth"], sampled, article, article, group, stance, group, pred,
                    items["articles"], BASIL_CLASSES, rng)  # fmt: skip
    return {"cells": _cells(items["truth"], result), "result": result}


# --- aggregation and output ----------------------------------------------------------------


def summarise(setting: Setting, reps: list[dict], classes: tuple[str, ...]) -> list[dict]:
    rows = []
    for name in ESTIMATORS:
        cells = np.stack([r["cells"][name] for r in reps])  # [rep, 3, group, class]
        covered, width, error = cells[:, 0], cells[:, 1], cells[:, 2]
        p = float(covered.mean())
        row = {
            "setting": setting.name, **asdict(setting), "estimator": name, "reps": len(reps),
            "cells": int(covered.size), "coverage": p,
            "mc_se": float(np.sqrt(p * (1 - p) / covered.size)),
            # cells of one repetition share a sample: the s.e. from repetition means is honest
            "mc_se_by_rep": float(covered.mean(axis=(1, 2)).std(ddof=1) / np.sqrt(len(reps))),
            "mean_width": float(width.mean()), "mae": float(np.nanmean(error)),
            "coverage_by_class": dict(zip(classes, covered.mean(axis=(0, 1)).tolist(),
                                          strict=True)),
            "coverage_by_group": covered.mean(axis=(0, 2)).tolist(),
            "mae_by_class": dict(zip(classes, np.nanmean(error, axis=(0, 1)).tolist(),
                                     strict=True)),
            "informative": float(np.mean([r["result"][name]["informative"] for r in reps])),
        }  # fmt: skip
        if name == "published":
            row["mean_lambda"] = float(np.nanmean([r["result"][name]["lambda"] for r in reps]))
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| setting | estimator | coverage | MC s.e. | mean width | MAE |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['estimator']} | {r['coverage']:.3f} | {r['mc_se']:.3f} "
            f"| {r['mean_width']:.3f} | {r['mae']:.3f} |"
        )
    return "\n".join(lines)


def run_part(settings, rep, reps: int, seed: int, part: int, jobs: int, classes, **kw):
    rows = []
    for i, setting in enumerate(settings):
        seeds = np.random.SeedSequence([seed, part, i]).spawn(reps)
        out = Parallel(n_jobs=jobs)(delayed(rep)(setting, s, **kw) for s in seeds)
        rows += summarise(setting, out, classes)
    return rows


def load_basil(path: Path) -> dict:
    table = pd.read_csv(path)
    codes = {c: k for k, c in enumerate(BASIL_CLASSES)}
    outlets = sorted(table["group"].unique())
    group = table["group"].map({o: k for k, o in enumerate(outlets)}).to_numpy()
    label = table["label"].map(codes).to_numpy()
    return {
        "article": table["cluster"].to_numpy(dtype=str),
        "text": table["text"].to_numpy(dtype=object),
        "group": group,
        "label": label,
        "articles": int(table["cluster"].nunique()),
        "article_ids": np.unique(table["cluster"].to_numpy(dtype=str)),
        "outlets": outlets,
        "sentences": len(table),
        "truth": _truth(group, label, (len(outlets), len(BASIL_CLASSES))),
    }


def _source_hash() -> str:
    """The estimator's source as measured (it is being worked on: a result names its version)."""
    return hashlib.sha256(ESTIMATOR_SOURCE.read_bytes()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke check")
    parser.add_argument("--basil", type=Path, help="items.csv of benchmarks/external/basil.py")
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--reps", type=int, help="repetitions per synthetic setting (200)")
    parser.add_argument("--basil-reps", type=int, help="repetitions per BASIL setting (60)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (figures do not change)")
    parser.add_argument("--out", type=Path, default=RESULTS / "coverage_study.json")
    args = parser.parse_args()
    reps = args.reps or (10 if args.quick else 200)
    basil_reps = args.basil_reps or (3 if args.quick else 60)
    start = time.time()
    source = _source_hash()
    report: dict = {"seed": args.seed, "level": LEVEL, "bootstrap_replicates": N_BOOT,
                    "quick": args.quick, "jobs": args.jobs,
                    "estimate_py_sha256": source}  # fmt: skip
    print(f"estimate.py sha256 {source}\n")

    synthetic = run_part(SYNTHETIC, synthetic_rep, reps, args.seed, 0, args.jobs, STANCES)
    report["synthetic"] = {
        "articles": ARTICLES, "sentences_per_article": SENTENCES_PER_ARTICLE,
        "speaker_shares": SPEAKER_SHARES.tolist(), "speaker_concentration": SPEAKER_CONCENTRATION,
        "stance_shares": STANCE_SHARES.tolist(), "stance_concentration": STANCE_CONCENTRATION,
        "classes": STANCES, "reps": reps, "seconds": round(time.time() - start, 1),
        "rows": synthetic,
    }  # fmt: skip
    print(f"## (a) Synthetic corpora ({reps} repetitions per setting)\n")
    print(markdown(synthetic), end="\n\n", flush=True)

    if args.basil is None:
        report["basil"] = {"skipped": "no --basil PATH given"}
        print("## (b) BASIL\n\nSkipped: give --basil PATH (see benchmarks/external/basil.py).")
    else:
        mark = time.time()
        items = load_basil(args.basil)
        basil = run_part(BASIL, basil_rep, basil_reps, args.seed, 1, args.jobs, BASIL_CLASSES,
                         items=items)  # fmt: skip
        report["basil"] = {
            "path": str(args.basil), "sentences": items["sentences"],
            "articles": items["articles"], "groups": items["outlets"],
            "classes": BASIL_CLASSES, "truth": items["truth"].tolist(), "reps": basil_reps,
            "seconds": round(time.time() - mark, 1), "rows": basil,
        }  # fmt: skip
        print(f"## (b) BASIL ({basil_reps} repetitions per setting)\n")
        print(markdown(basil), end="\n\n")
    report["seconds"] = round(time.time() - start, 1)
    if _source_hash() != source:
        report["warning"] = "estimate.py changed during the run: the figures mix two versions"
        print(f"WARNING: {report['warning']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float) + "\n", encoding="utf-8")
    print(f"{report['seconds']:.0f} s; figures in {args.out}")


if __name__ == "__main__":
    main()
