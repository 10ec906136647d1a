"""The split stage's shards, cache and joined outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from stance.corpus.articles import assign_shards, shard_of
from stance.corpus.stage import gather_article_tables, gather_sentence_parts, split_shard


def run_shard(paths, config, out: Path, cache: Path | None):
    return split_shard(paths, config, out / "s.parquet", out / "c.tsv", out / "a.tsv", cache=cache)


def test_shards_are_fixed_by_article_id():
    ids = [f"article_{i}" for i in range(200)]
    shards = assign_shards(ids, 16)
    assert sorted(a for members in shards.values() for a in members) == sorted(ids)
    grown = assign_shards([*ids, "new_one"], 16)
    changed = [k for k in grown if grown[k] != shards.get(k)]
    assert changed == [shard_of("new_one", 16)]


def test_cache_resplits_only_changed_articles(tmp_path, config, project_root):
    seeds = tmp_path / "seeds"
    shutil.copytree(project_root / "seeds", seeds)
    paths = sorted(seeds.glob("*.txt"))
    cache = tmp_path / "cache.json"
    assert run_shard(paths, config, tmp_path / "first", cache) == (5, 0)
    first = pd.read_parquet(tmp_path / "first" / "s.parquet")

    edited = paths[2]
    edited.write_text(edited.read_text(encoding="utf-8") + "\nA new closing line.", "utf-8")
    assert run_shard(paths, config, tmp_path / "second", cache) == (1, 4)
    second = pd.read_parquet(tmp_path / "second" / "s.parquet")
    assert len(second) == len(first) + 1
    assert set(first["sentence_id"]) < set(second["sentence_id"])

    # Other split settings invalidate the cache.
    changed = {**config, "split": {**config["split"], "abbreviations": ["Gen"]}}
    assert run_shard(paths, changed, tmp_path / "third", cache) == (5, 0)


def test_cached_and_fresh_outputs_are_identical(tmp_path, config, project_root):
    paths = sorted((project_root / "seeds").glob("*.txt"))
    cache = tmp_path / "cache.json"
    run_shard(paths, config, tmp_path / "a", cache)
    run_shard(paths, config, tmp_path / "b", cache)
    run_shard(paths, config, tmp_path / "c", None)
    for name in ["s.parquet"]:
        a, b, c = (pd.read_parquet(tmp_path / d / name) for d in "abc")
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, c)
    for name in ["c.tsv", "a.tsv"]:
        texts = {(tmp_path / d / name).read_text(encoding="utf-8") for d in "abc"}
        assert len(texts) == 1


def test_gather_orders_and_counts(tmp_path, config, project_root):
    paths = sorted((project_root / "seeds").glob("*.txt"))
    run_shard(paths[3:], config, tmp_path / "x", None)
    run_shard(paths[:3], config, tmp_path / "y", None)
    parts = [tmp_path / d for d in "xy"]
    table = gather_sentence_parts(
        [str(p / "s.parquet") for p in parts], tmp_path / "sentences.parquet"
    )
    gather_article_tables(
        [str(p / "c.tsv") for p in parts],
        [str(p / "a.tsv") for p in parts],
        tmp_path / "chrome.tsv",
        tmp_path / "articles.tsv",
    )
    frame = table.to_pandas()
    assert list(frame["article_id"]) == sorted(frame["article_id"])
    articles = pd.read_csv(tmp_path / "articles.tsv", sep="\t")
    assert list(articles["article_id"]) == [p.stem for p in paths]
    assert articles["sentences"].sum() == len(frame)
    chrome = pd.read_csv(tmp_path / "chrome.tsv", sep="\t")
    assert articles["chrome_lines"].sum() == len(chrome)
