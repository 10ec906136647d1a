"""Deterministic synthetic corpora and label tables for benchmarks, built from seed-like text."""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "tests" / "data" / "gold"

ACTORS = [
    "The Taliban",
    "NATO",
    "The Pentagon",
    "Kabul",
    "Moscow",
    "The White House",
    "A Taliban spokesman",
    "The State Department",
    "Gen. Miller",
    "U.S. officials",
]
VERBS = ["said", "warned", "insisted", "claimed", "told reporters", "stressed"]
CLAIMS = [
    "that foreign troops must leave Afghanistan by May",
    "that the U.S. would keep 8,600 troops in the country",
    "that peace talks in Doha had made progress",
    "that violence had dropped in Helmand on Feb. 15",
    "that any withdrawal would put the gains of two decades at risk",
    "that the ceasefire would hold for seven days",
]
CHROME = [
    "Breaking News",
    "Load More",
    "FILE - Troops in Kabul.",
    "9 Nov, 2018 22:21",
    "Like this story? Share it with a friend!",
]


def seed_sentences() -> list[str]:
    """The hand-segmented seed sentences: real sentence shapes (quotes, initialisms, dashes)."""
    sentences: list[str] = []
    for path in sorted(GOLD.glob("*.txt")):
        sentences.extend(path.read_text(encoding="utf-8").splitlines())
    return sentences


def make_sentence(rng: random.Random, seeds: list[str]) -> str:
    if rng.random() < 0.6:
        return rng.choice(seeds)
    number = rng.randint(2, 40_000)
    return (
        f"{rng.choice(ACTORS)} {rng.choice(VERBS)} {rng.choice(CLAIMS)}, "
        f"{rng.choice(['citing', 'after', 'despite'])} {number:,} troops on the ground."
    )


def make_article(rng: random.Random, seeds: list[str], target_chars: int = 4000) -> str:
    lines = []
    if rng.random() < 0.3:
        lines.append(rng.choice(CHROME))
    lines.append(
        f"{rng.choice(ACTORS)} {rng.choice(['Weighs', 'Rejects', 'Welcomes'])} "
        f"Troop Withdrawal Plan {rng.randint(1, 999)}"
    )
    size = len(lines[-1])
    while size < target_chars:
        paragraph = " ".join(make_sentence(rng, seeds) for _ in range(rng.randint(1, 3)))
        lines.append(paragraph)
        size += len(paragraph) + 2
    if rng.random() < 0.3:
        lines.append(rng.choice(CHROME))
    return "\n\n".join(lines) + "\n"


def labeled_seed_sentences() -> list[tuple[str, str, str]]:
    """(text, speaker, stance) of the hand-labeled seed sentences."""
    import csv

    with open(ROOT / "labels" / "lead.csv", newline="", encoding="utf-8") as fh:
        return [(r["text"], r["speaker"], r["stance"]) for r in csv.DictReader(fh)]


def write_label_table(path: Path, n_rows: int, seed: int = 0, per_article: int = 30) -> None:
    """A synthetic labeled table (text, stance, speaker, group) of n_rows for training
    benchmarks: seed sentences with their hand labels, each varied by a random clause so that no
    two rows are identical. For timing only: these are not labels of real sentences."""
    import csv

    rng = random.Random(seed)
    seeds = labeled_seed_sentences()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "stance", "speaker", "group"])
        for i in range(n_rows):
            text, speaker, stance = rng.choice(seeds)
            clause = f"{rng.choice(ACTORS)} {rng.choice(VERBS)} {rng.choice(CLAIMS)}"
            varied = f"{text} {clause} ({rng.randint(1, 10**6)})."
            writer.writerow([varied, stance, speaker, f"syn_{i // per_article:06d}"])


def write_corpus(dest: Path, n_articles: int, seed: int = 0, target_chars: int = 4000) -> int:
    """Write n_articles synthetic articles to dest (emptied first); return total characters."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    rng = random.Random(seed)
    seeds = seed_sentences()
    total = 0
    for i in range(n_articles):
        text = make_article(rng, seeds, target_chars)
        (dest / f"syn_{i:06d}.txt").write_text(text, encoding="utf-8")
        total += len(text)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dest", type=Path, help="folder to write the articles to (emptied)")
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chars", type=int, default=4000, help="approximate article size")
    args = parser.parse_args()
    total = write_corpus(args.dest, args.articles, args.seed, args.chars)
    print(f"wrote {args.articles} articles, {total:,} characters, to {args.dest}")


if __name__ == "__main__":
    main()
