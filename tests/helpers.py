"""Helpers shared by the tests: synthetic data, label tables, copies of the project, snakemake."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from stance.corpus.splitting import sentence_id

ROOT = Path(__file__).resolve().parents[1]
# What a copy of the project needs to run the workflow; generated outputs are left behind.
PROJECT_ITEMS = ["Snakefile", "workflow", "config", "profiles", "seeds", "labels"]
# A label schema of the tests' own (the project's labels/schema.yaml may gain values freely).
SCHEMA = ROOT / "tests" / "data" / "label_schema.yaml"
HEADER = ["sentence_id", "text", "speaker", "stance", "annotator", "note"]
ARTICLES = {
    "a1": [
        "The Taliban urged a full withdrawal.",
        "The Pentagon wants to keep 8,600 troops.",
        "NATO ministers met in Brussels.",
        "Talks resumed in Doha.",
    ],
    "a2": [
        "Russia said it was time to go.",
        "Kabul rejected the deal.",
        "“We will not leave,” the general said.",
    ],
}


def make_sentences(articles: dict[str, list[str]] = ARTICLES) -> pd.DataFrame:
    """A sentence table like results/sentences.parquet for literal articles."""
    rows = []
    for article_id, texts in articles.items():
        offset = 0
        for position, text in enumerate(texts):
            rows.append(
                {
                    "sentence_id": sentence_id(article_id, text),
                    "article_id": article_id,
                    "position": position,
                    "start": offset,
                    "end": offset + len(text),
                    "text": text,
                }
            )
            offset += len(text) + 1
    table = pd.DataFrame(rows)
    table["position"] = table["position"].astype("int32")
    return table


def sid(article_id: str, position: int) -> str:
    return sentence_id(article_id, ARTICLES[article_id][position])


def row(article_id: str, position: int, speaker: str, stance: str, annotator: str) -> list[str]:
    """A label row for a sentence of ARTICLES, with its current text."""
    text = ARTICLES[article_id][position]
    return [sentence_id(article_id, text), text, speaker, stance, annotator, ""]


def write_csv(path: Path, rows: list[list[str]], header: list[str] | None = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


# Phrases that make the synthetic stances learnable; the class names come from the schema.
PHRASES = {
    0: ["all foreign troops must withdraw now", "bring the soldiers home", "end the occupation"],
    1: ["the troops must stay", "a withdrawal would be a grave mistake", "send more soldiers"],
    2: ["the meeting took place in Doha", "talks resumed on Monday", "the weather was cold"],
}


def schema_values(field: str, schema: Path = SCHEMA) -> list[str]:
    """Allowed values of a label field, in schema order (the tests' own schema by default)."""
    from stance.labels.schema import load_schema

    return load_schema(schema).values(field)


def make_dataset(
    n_articles: int = 4,
    per_article: int = 12,
    stance_ids: list[int] | None = None,
    seed: int = 0,
):
    """A small labeled data set with the label stage's features (synthetic sentences).

    Stance i of the schema cycles through the sentences of each article (or follows
    ``stance_ids``); the speaker goes with the stance, so the speaker feature carries signal.
    """
    import datasets

    stances = schema_values("stance")
    speakers = schema_values("speaker")
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {
        "sentence_id": [], "article_id": [], "position": [], "text": [],
        "speaker": [], "stance": [], "n_annotators": [],
    }  # fmt: skip
    k = 0
    for a in range(n_articles):
        article = f"{a:03d}_article"
        for p in range(per_article):
            s = stance_ids[k] if stance_ids is not None else (p + a) % len(stances)
            phrase = PHRASES[s % 3][int(rng.integers(0, 3))]
            rows["sentence_id"].append(f"{article}:{p:012x}")
            rows["article_id"].append(article)
            rows["position"].append(p)
            rows["text"].append(f"In article {a} the speaker said that {phrase} ({p}).")
            rows["speaker"].append(s % len(speakers))
            rows["stance"].append(s)
            rows["n_annotators"].append(1)
            k += 1
    features = datasets.Features(
        {
            "sentence_id": datasets.Value("string"),
            "article_id": datasets.Value("string"),
            "position": datasets.Value("int32"),
            "text": datasets.Value("string"),
            "speaker": datasets.ClassLabel(names=speakers),
            "stance": datasets.ClassLabel(names=stances),
            "n_annotators": datasets.Value("int32"),
        }
    )
    return datasets.Dataset.from_dict(rows, features=features)


def copy_project(dest: Path, items: list[str] = PROJECT_ITEMS) -> Path:
    """Copy the project's workflow files to dest, without results or caches."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in items:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / item)
    return dest


def run_module(project: Path, module: str, *args: str, timeout: float = 900):
    """``python -m module args`` of this environment in a project folder, with its own store."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)  # the copy uses its own store
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def run_snakemake(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real snakemake of this environment in a project folder."""
    proc = run_module(project, "snakemake", *args)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def assert_same_evaluation(a, b, x) -> None:
    """Two evaluations of one model agree: warnings, metrics, out-of-fold predictions, learning
    curve and the final model's probabilities on ``x``."""
    assert a.warnings == b.warnings
    assert a.metrics == b.metrics
    pd.testing.assert_frame_equal(a.oof, b.oof)
    pd.testing.assert_frame_equal(a.curve, b.curve)
    np.testing.assert_array_equal(a.final_model.predict_proba(x), b.final_model.predict_proba(x))


def split_shard_job(tmp_path: Path, inputs: list[Path], config_file: Path, log: Path | None = None):
    """A split_shard job as Snakemake hands it to stance.cli.jobs.run_job (outputs in tmp_path)."""
    from types import SimpleNamespace

    from stance.config import load_config

    return SimpleNamespace(
        rule="split_shard",
        input=[str(p) for p in inputs],
        output=SimpleNamespace(
            sentences=str(tmp_path / "out.parquet"),
            chrome=str(tmp_path / "out.tsv"),
            articles=str(tmp_path / "articles.tsv"),
        ),
        params=SimpleNamespace(cache=str(tmp_path / "cache.json")),
        wildcards=SimpleNamespace(shard="0"),
        log=[str(log)] if log else [],
        config=load_config(config_file),
    )
