"""Withheld seed articles: do the published shares hold the truth as often as they claim?

For every pair of the five seed articles (10 pairs), a copy of the project whose hand labels of
those two articles are withheld; the other three are recorded as a simple random sample of 3 of
the 5 articles, labeled in full (labels/samples/). `snakemake` runs on the copy, and
results/findings/stance_by_speaker.tsv is compared with the true shares: every seed sentence by
its hand label (labels/lead.csv), for the speakers with at least 5 sentences, three stances
each. Reported: mean absolute error of the published shares, of the raw counts (labels plus
predictions, counted as they are) and of the labeled articles alone, and how often the
published 95% intervals hold the true share.

    .venv/bin/python benchmarks/findings_pairs.py            # all 10 pairs (~10 minutes)
    .venv/bin/python benchmarks/findings_pairs.py --pairs 1  # the first pair only

Results: benchmarks/results/findings_pairs.json (--name) and a Markdown table on stdout. The
model the findings use is the best of the comparison, so the figures depend on the extras
installed (with `embeddings`, an encoder model usually wins).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
LABELS = "labels/lead.csv"
MIN_SENTENCES = 5

from run import copy_project  # noqa: E402


def truth(labels: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """True shares per speaker with at least MIN_SENTENCES hand-labeled sentences."""
    counts = labels.groupby(["speaker", "stance"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=classes, fill_value=0)
    counts = counts[counts.sum(axis=1) >= MIN_SENTENCES]
    return counts.div(counts.sum(axis=1), axis=0)


def withheld_project(dest: Path, held: tuple[str, ...], articles: list[str]) -> None:
    """A copy of the project in ``dest`` (a new folder) with the labels of ``held`` removed and
    the rest recorded as a simple random sample of articles."""
    copy_project(dest)
    labels = pd.read_csv(dest / LABELS, dtype=str, keep_default_na=False)
    article = labels["sentence_id"].str.split(":").str[0]
    labels[~article.isin(held)].to_csv(dest / LABELS, index=False)
    samples = dest / "labels" / "samples"
    shutil.rmtree(samples, ignore_errors=True)
    samples.mkdir(parents=True)
    kept = [a for a in articles if a not in held]
    manifest = {
        "unit": "article", "method": "srswor", "seed": None, "frame": articles, "sample": kept,
        "created": "2026-01-01T00:00:00+00:00",
        "note": f"benchmark: labels of {', '.join(held)} withheld",
    }  # fmt: skip
    (samples / "withheld.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def score(table: pd.DataFrame, true: pd.DataFrame, classes: list[str]) -> dict[str, list]:
    """Per (speaker, stance) cell of the truth: errors of the published, raw shares; covered."""
    out: dict[str, list] = {"cell": [], "published": [], "raw": [], "covered": [], "width": []}
    by = table.set_index("speaker")
    for speaker, row in true.iterrows():
        for c in classes:
            t = float(row[c])
            if speaker in by.index:
                r = by.loc[speaker]
                share, low, high = float(r[c]), float(r[f"{c}_low"]), float(r[f"{c}_high"])
                raw = float(r[f"raw_{c}"])
            else:  # nobody is found to be this speaker: no estimate, no interval
                share, low, high, raw = np.nan, np.nan, np.nan, np.nan
            out["cell"].append(f"{speaker}/{c}")
            out["published"].append(abs(share - t) if np.isfinite(share) else np.nan)
            out["raw"].append(abs(raw - t) if np.isfinite(raw) else np.nan)
            out["covered"].append(bool(low - 1e-9 <= t <= high + 1e-9))
            out["width"].append(high - low)
    return out


def labeled_alone(labels: pd.DataFrame, held: tuple[str, ...], true: pd.DataFrame,
                  classes: list[str]) -> list[float]:  # fmt: skip
    """Errors of the labeled articles' own shares (the sample alone, no predictions)."""
    article = labels["sentence_id"].str.split(":").str[0]
    kept = labels[~article.isin(held)]
    counts = kept.groupby(["speaker", "stance"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=classes, fill_value=0)
    errors = []
    for speaker, row in true.iterrows():
        if speaker in counts.index and counts.loc[speaker].sum() > 0:
            share = counts.loc[speaker] / counts.loc[speaker].sum()
            errors += [abs(float(share[c]) - float(row[c])) for c in classes]
        else:
            errors += [np.nan] * len(classes)
    return errors


def run_pair(held: tuple[str, ...], articles: list[str], labels: pd.DataFrame,
             true: pd.DataFrame, classes: list[str], cores: int) -> dict:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="stance-pairs-") as tmp:
        project = Path(tmp) / "project"
        withheld_project(project, held, articles)
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "snakemake"), "--cores", str(cores)],
            cwd=project, capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"snakemake failed for {held}:\n{proc.stdout}\n{proc.stderr}")
        table = pd.read_csv(project / "results/findings/stance_by_speaker.tsv", sep="\t")
        statement = (project / "results/findings/statement.md").read_text(encoding="utf-8")
    result = score(table, true, classes)
    result["labeled_alone"] = labeled_alone(labels, held, true, classes)
    model = next((ln for ln in statement.splitlines() if ln.startswith("- Stance model")), "")
    return {"held": list(held), "model": model, **result}


def summarise(runs: list[dict]) -> dict:
    def mean(key: str) -> float:
        return float(np.nanmean([v for r in runs for v in r[key]]))

    covered = [v for r in runs for v in r["covered"]]
    return {
        "pairs": len(runs),
        "cells": len(covered),
        "mae_published": mean("published"),
        "mae_raw": mean("raw"),
        "mae_labeled_alone": mean("labeled_alone"),
        "coverage": float(np.mean(covered)),
        "mean_width": mean("width"),
        "published_worse_than_raw_in": int(
            sum(np.nanmean(r["published"]) > np.nanmean(r["raw"]) + 1e-12 for r in runs)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10, help="how many of the 10 pairs")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--name", default="findings_pairs", help="results file name")
    args = parser.parse_args()
    labels = pd.read_csv(ROOT / LABELS, dtype=str, keep_default_na=False)
    classes = ["favor", "against", "none"]
    true = truth(labels, classes)
    articles = sorted(p.stem for p in (ROOT / "seeds").glob("*.txt"))
    runs = []
    print("| withheld | model | MAE published | MAE raw | MAE labeled alone | coverage |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for held in list(itertools.combinations(articles, 2))[: args.pairs]:
        r = run_pair(held, articles, labels, true, classes, args.cores)
        runs.append(r)
        model = r["model"].split("**")[1] if "**" in r["model"] else ""
        print(
            f"| {held[0][:3]}, {held[1][:3]} | {model} | {np.nanmean(r['published']):.3f} | "
            f"{np.nanmean(r['raw']):.3f} | {np.nanmean(r['labeled_alone']):.3f} | "
            f"{np.mean(r['covered']):.2f} |",
            flush=True,
        )
    summary = summarise(runs)
    print(json.dumps(summary, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(
        json.dumps({"summary": summary, "runs": runs}, indent=1, default=float) + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
