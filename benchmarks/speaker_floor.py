"""The speaker rules beside a naive floor, out of fold on a project's hand speaker labels.

The naive rule: a sentence with a quotation mark or "said", "says", "told" or "according to"
is the speaker of the first mapped name in it; any other sentence (and one without a mapped
name) is ``author``. Both are scored on the labeled sentences of a project that has run
``snakemake`` (``results/speakers/oof_predictions.csv`` and ``metrics.json``), each with the
mapping the stage used for that sentence's fold: with the leak guard (the names that only the
held-out article names left out, as ``metrics.json`` lists them) and without it.

Scores, with percentile bootstrap intervals over sentences (the project's ``evaluation``
settings): speaker accuracy and macro-F1 (over the speaker values of the labels, as the stage
scores them) and attributed-vs-narration F1 (a sentence is attributed when its speaker is not
``author``; F1 of the attributed class).

    .venv/bin/python benchmarks/speaker_floor.py --project .

Prints a Markdown table (and writes JSON with ``--json FILE``).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from stance.config import load_config
from stance.speakers.attribution import mapping_from_config
from stance.speakers.evaluation import scores
from stance.speakers.mapping import NARRATION, SpeakerMapping
from stance.training.metrics import bootstrap_intervals, confusion, per_class_scores
from stance.training.settings import EvalSettings

_NAIVE_CUE = re.compile(r"[\"“”‘’]|\b(?:said|says|told|according to)\b", re.IGNORECASE)


def naive_speaker(text: str, mapping: SpeakerMapping) -> str:
    """The floor: a quotation mark or a common reporting word, then the first mapped name."""
    mentions = mapping.mentions(text) if _NAIVE_CUE.search(text) else []
    return mentions[0].entry.speaker if mentions else NARRATION


def attributed_f1(gold: list[str], predicted: list[str], settings: EvalSettings) -> dict:
    """F1 of "attributed" (speaker is not the author) against narration, with its interval."""
    y_true = np.array([g != NARRATION for g in gold], dtype=np.int64)
    y_pred = np.array([p != NARRATION for p in predicted], dtype=np.int64)
    f1 = float(per_class_scores(confusion(y_true, y_pred, 2))[2][1])
    (low, high), = bootstrap_intervals(
        y_true, y_pred, 2, {"f1": lambda cms: per_class_scores(cms)[2][:, 1]},
        settings.n_bootstrap, settings.ci_level, settings.seed,
    ).values()  # fmt: skip
    return {"attributed_f1": f1, "attributed_f1_ci_low": low, "attributed_f1_ci_high": high}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", default=".", help="a project that has run snakemake")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    root = Path(args.project).resolve()
    config = load_config(root / "config" / "config.yaml")
    settings = EvalSettings.from_config(config)
    mapping = mapping_from_config(config, root)
    oof = pd.read_csv(root / "results" / "speakers" / "oof_predictions.csv", dtype=str)
    metrics = json.loads((root / "results" / "speakers" / "metrics.json").read_text("utf-8"))
    classes = metrics["classes"]
    left_out = {
        article: set(names)
        for held_out, names in metrics["leak_guard_left_out"].items()
        for article in held_out.split(",")
    }
    guarded_naive = [
        naive_speaker(text, mapping.without_names(left_out.get(article, set())))
        for text, article in zip(oof["text"], oof["article_id"], strict=True)
    ]
    gold = oof["speaker"].tolist()
    rows = {
        ("rules", "on"): oof["predicted_speaker"].tolist(),
        ("naive", "on"): guarded_naive,
        ("rules", "off"): oof["predicted_speaker_unguarded"].tolist(),
        ("naive", "off"): [naive_speaker(t, mapping) for t in oof["text"]],
    }
    figures = {}
    print(
        "| method | leak guard | accuracy [95% CI] | macro-F1 [95% CI] | attributed F1 [95% CI] |"
    )
    print("| --- | --- | --- | --- | --- |")
    for (method, guard), predicted in rows.items():
        got = scores(gold, predicted, classes, settings) | attributed_f1(gold, predicted, settings)
        figures[f"{method}_guard_{guard}"] = got
        cells = [
            f"{got[k]:.3f} [{got[k + '_ci_low']:.3f}, {got[k + '_ci_high']:.3f}]"
            for k in ("accuracy", "macro_f1", "attributed_f1")
        ]
        print(f"| {method} | {guard} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
