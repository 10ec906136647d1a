"""GWSD (Global Warming Stance Dataset) to the tables `stance train` reads: train.csv, test.csv.

Luo, Card & Jurafsky (2020), Detecting Stance in Media on Global Warming, Findings of EMNLP.
Get GWSD.tsv from the authors' repository (yiweiluo/GWStance; no licence is stated there: keep
the data out of this project), then:

    python benchmarks/external/gwsd.py GWSD.tsv /tmp/gwsd
    stance train /tmp/gwsd/train.csv --test /tmp/gwsd/test.csv --out /tmp/gwsd/out

Stance toward the data set's one target, "climate change is a serious concern": agrees -> favor,
disagrees -> against, neutral -> none, by the largest of the authors' estimated label
probabilities (the 5 screening sentences have none and are left out). The split is the
authors' (column in_held_out_test). These labels come from the data set's annotators; nothing
here labels a sentence.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

STANCES = {"agree": "favor", "disagree": "against", "neutral": "none"}


def convert(source: Path, out_dir: Path) -> dict[str, int]:
    """Write train.csv and test.csv (sentence_id, text, stance) under out_dir; their sizes."""
    table = pd.read_csv(source, sep="\t").dropna(subset=list(STANCES))
    labels = table[list(STANCES)].astype(float).idxmax(axis=1).map(STANCES)
    out = pd.DataFrame(
        {"sentence_id": "gwsd-" + table["guid"].astype(str), "text": table["sentence"].astype(str),
         "stance": labels}
    )  # fmt: skip
    test = table["in_held_out_test"].astype(str).str.lower().isin(["true", "1"])
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, part in (("train", out[~test]), ("test", out[test])):
        part.to_csv(out_dir / f"{name}.csv", index=False)
        sizes[name] = len(part)
    return sizes


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(convert(Path(sys.argv[1]), Path(sys.argv[2])))
