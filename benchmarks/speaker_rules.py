"""Speed of the speaker rules (src/stance/speakers/rules.py) as the mapping and the input grow.

Three measurements, each on deterministic input built from the seed sentences:

* ``names``: milliseconds per sentence of the rules with the project mapping plus synthetic names
  (100, 1,000 and 5,000 names by default), and the time to build the mapping's matcher;
* ``article``: one article of 20,000 sentences (one paragraph, so quotations may run long);
* ``line``: one sentence that is a whole one-line article of the given sizes in characters:
  seed sentences run together, and a text whose verbs of saying name no source ("The report
  was said to be late."), so that the rules look at every one of them.

    .venv/bin/python benchmarks/speaker_rules.py
    .venv/bin/python benchmarks/speaker_rules.py --names 100 1000 --sentences 5000 \
        --line-chars 100000 23000000 --timeout 60

A case that runs past ``--timeout`` seconds is reported as ``> timeout``. The figures are
printed as a Markdown table (and as JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from synthetic import make_sentence, seed_sentences  # noqa: E402

from stance.speakers.attribution import PARAGRAPH, attribute  # noqa: E402
from stance.speakers.mapping import load_mapping  # noqa: E402
from stance.speakers.rules import attribute_article  # noqa: E402

SCHEMA = ROOT / "labels" / "schema.yaml"
_PAIRS = "karimotalunesavidoherazipoanelorusimbaqu"  # two letters each
SYLLABLES = [_PAIRS[i : i + 2] for i in range(0, len(_PAIRS), 2)]


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout


def timed(fn, timeout: int) -> float | None:
    """Seconds ``fn()`` took, or None when it ran past ``timeout`` seconds."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    start = time.perf_counter()
    try:
        fn()
    except Timeout:
        return None
    finally:
        signal.alarm(0)
    return time.perf_counter() - start


def synthetic_names(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct made-up names: 1-3 words, a fifth of them in lower case (any case)."""
    names: set[str] = set()
    while len(names) < n:
        words = [
            "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
            for _ in range(rng.randint(1, 3))
        ]
        name = " ".join(w.capitalize() for w in words)
        names.add(name.lower() if rng.random() < 0.2 else name)
    return sorted(names)


def mapping_with(n_names: int, folder: Path):
    """The project mapping with ``n_names`` synthetic names added (as taliban / other)."""
    data = yaml.safe_load((ROOT / "labels" / "speakers.yaml").read_text(encoding="utf-8"))
    taken = {n for names in data["speakers"].values() for n in names or []}
    extra = [n for n in synthetic_names(n_names, random.Random(n_names)) if n not in taken]
    half = len(extra) // 2
    data["speakers"]["taliban"] = [*data["speakers"]["taliban"], *extra[:half]]
    data["speakers"]["other"] = [*(data["speakers"].get("other") or []), *extra[half:]]
    path = folder / f"speakers_{n_names}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_mapping(path, SCHEMA)


def bench_names(sizes: list[int], timeout: int) -> list[dict]:
    texts = seed_sentences()
    texts = [t for t in texts if t.strip()]
    starts = [i == 0 for i in range(len(texts))]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            start = time.perf_counter()
            mapping = mapping_with(n, Path(tmp))
            build = time.perf_counter() - start
            seconds = timed(lambda m=mapping: attribute_article(texts, starts, m), timeout)
            rows.append(
                {
                    "case": f"names: {n:,} (+ project mapping), {len(texts)} seed sentences",
                    "load_s": round(build, 3),
                    "seconds": None if seconds is None else round(seconds, 3),
                    "ms_per_sentence": None
                    if seconds is None
                    else round(1000 * seconds / len(texts), 3),
                }
            )
            print(rows[-1], file=sys.stderr)
    return rows


def long_article(n: int) -> list[str]:
    rng = random.Random(0)
    seeds = [t for t in seed_sentences() if t.strip()]
    return [make_sentence(rng, seeds) for _ in range(n)]


def bench_article(n_sentences: int, timeout: int) -> list[dict]:
    mapping = load_mapping(ROOT / "labels" / "speakers.yaml", SCHEMA)
    texts = long_article(n_sentences)
    # One paragraph: a quotation left open runs on over the following sentences.
    starts = [i == 0 for i in range(len(texts))]
    seconds = timed(lambda: attribute_article(texts, starts, mapping), timeout)
    # The same article as the stage reads it: a sentence table (attribute(), once per fold).
    table = pd.DataFrame(
        {"article_id": "a", "position": range(len(texts)), "text": texts, PARAGRAPH: starts}
    )
    in_table = timed(lambda: attribute(table, mapping), timeout)
    rows = []
    for what, secs in (("attribute_article", seconds), ("attribute, a sentence table", in_table)):
        rows.append(
            {
                "case": f"article: {n_sentences:,} sentences, one paragraph ({what})",
                "seconds": None if secs is None else round(secs, 3),
                "ms_per_sentence": None if secs is None else round(1000 * secs / n_sentences, 3),
            }
        )
        print(rows[-1], file=sys.stderr)
    return rows


def one_line(chars: int, unit: str | None = None) -> str:
    units = [unit] if unit else [t for t in seed_sentences() if t.strip()]
    parts, size, i = [], 0, 0
    while size < chars:
        parts.append(units[i % len(units)])
        size += len(parts[-1]) + 1
        i += 1
    return " ".join(parts)[:chars]


LINES = {"seed sentences": None, "no source": "The report was said to be late."}


def bench_line(sizes: list[int], timeout: int) -> list[dict]:
    mapping = load_mapping(ROOT / "labels" / "speakers.yaml", SCHEMA)
    rows = []
    for what, unit in LINES.items():
        for chars in sizes:
            text = one_line(chars, unit)
            seconds = timed(lambda t=text: attribute_article([t], [True], mapping), timeout)
            rows.append(
                {
                    "case": f"line: one sentence of {chars:,} characters ({what})",
                    "seconds": None if seconds is None else round(seconds, 3),
                }
            )
            print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--names", type=int, nargs="*", default=[100, 1000, 5000])
    parser.add_argument("--sentences", type=int, default=20000)
    parser.add_argument(
        "--line-chars", type=int, nargs="*", default=[50_000, 100_000, 200_000, 23_000_000]
    )
    parser.add_argument("--timeout", type=int, default=120, help="seconds per case")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows = bench_names(args.names, args.timeout)
    if args.sentences:
        rows += bench_article(args.sentences, args.timeout)
    rows += bench_line(args.line_chars, args.timeout)
    print("| case | seconds | ms per sentence |\n| --- | --- | --- |")
    for r in rows:
        secs = f"> {args.timeout}" if r["seconds"] is None else f"{r['seconds']:.3f}"
        per = r.get("ms_per_sentence")
        print(f"| {r['case']} | {secs} | {'' if per is None else f'{per:.3f}'} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
