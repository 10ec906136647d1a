"""BASIL (sentence-level media bias, three outlets) to one table of sentences: items.csv.

Fan, Bhatia, Rosenthal, Durmus, Huang, Lasher, Pustejovsky & Rush (2019), In Plain Sight: Media
Bias Through the Lens of Factual Reporting, EMNLP. 300 articles: 100 news events, each covered
by Fox News, The New York Times and The Huffington Post, with the annotators' spans of lexical
and informational bias. No licence is stated in the authors' repository (launchnlp/BASIL, the
2nd release, with corrected annotations): keep the data out of this project. Get it with

    git clone https://github.com/launchnlp/BASIL /tmp/basil

and then

    python benchmarks/external/basil.py /tmp/basil /tmp/basil_items.csv

It reads articles/<year>/<article>.json and annotations/<year>/<article>_ann.json of the
checkout and writes one row per sentence of an article's body (headlines are not sentences
here; empty strings in the body are dropped):

    item_id  <article>_s<k>: the article's file stem and the sentence's index in its body
    cluster  the article (<triplet-uuid>_<1|2|3>)
    group    the outlet: fox, nyt or hpo (the article's ``source``)
    text     the sentence
    label    none (no bias span), lex (lexical spans only) or inf (at least one informational
             span; a sentence with both kinds counts as inf)
    event    the news event (``triplet-uuid``) the three outlets' articles share

An annotation's id ``pK`` names the K-th sentence of the body, paragraphs flattened in order.
These labels come from the data set's annotators; nothing here labels a sentence.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

COLUMNS = ["item_id", "cluster", "group", "text", "label", "event"]


def _label(kinds: set[str]) -> str:
    if "inf" in kinds:
        return "inf"
    return "lex" if "lex" in kinds else "none"


def read(checkout: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per body sentence of every article (columns COLUMNS), and what was left out."""
    articles = checkout / "articles"
    paths = sorted(articles.rglob("*.json"), key=lambda p: p.relative_to(articles).as_posix())
    if not paths:
        raise SystemExit(f"no articles/*/*.json under {checkout}: is it a BASIL checkout?")
    counts = {"articles": len(paths), "both_lex_and_inf": 0, "out_of_range": 0, "title": 0}
    rows = []
    for path in paths:
        article = json.loads(path.read_text(encoding="utf-8"))
        relative = path.relative_to(articles)
        annotations = checkout / "annotations" / relative.parent / f"{path.stem}_ann.json"
        spans = json.loads(annotations.read_text(encoding="utf-8"))
        sentences = [s for paragraph in article["body-paragraphs"] for s in paragraph]
        kinds: dict[int, set[str]] = defaultdict(set)
        for span in spans.get("phrase-level-annotations", []):
            if span["id"] == "title":  # the headline is not a sentence of the body
                counts["title"] += 1
                continue
            k = int(span["id"].lstrip("p"))
            if k >= len(sentences):
                counts["out_of_range"] += 1
                continue
            kinds[k].add(span["bias"])
        for k, text in enumerate(sentences):
            found = kinds.get(k, set())
            counts["both_lex_and_inf"] += {"lex", "inf"} <= found
            rows.append(
                {"item_id": f"{path.stem}_s{k}", "cluster": path.stem,
                 "group": article["source"].lower(), "text": text.strip(),
                 "label": _label(found), "event": article["triplet-uuid"]}
            )  # fmt: skip
    table = pd.DataFrame(rows, columns=COLUMNS)
    empty = table["text"] == ""
    if (table.loc[empty, "label"] != "none").any():
        raise SystemExit("an empty sentence carries a bias span: the sentence ids do not line up")
    counts["empty_dropped"] = int(empty.sum())
    return table[~empty].reset_index(drop=True), counts


def convert(checkout: Path, out: Path) -> dict[str, int]:
    """Write the table of ``checkout``'s sentences to ``out``; its size and what was left out."""
    table, counts = read(checkout)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return {"sentences": len(table), **counts}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(convert(Path(sys.argv[1]), Path(sys.argv[2])))
