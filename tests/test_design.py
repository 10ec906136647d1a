"""The labeling design: sample manifests, their checks, drawing, extending and resolving them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stance.errors import StanceError
from stance.labels.design import (
    draw_sample,
    load_manifests,
    read_manifest,
    resolve_designs,
    sample_sentences,
)


def corpus(articles: int = 4, per: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        [(f"a{a}:{i}", f"a{a}", i) for a in range(articles) for i in range(per)],
        columns=["sentence_id", "article_id", "position"],
    )


def write(path: Path, **fields) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fields), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"unit": "word", "frame": ["a"], "sample": ["a"]}, "'unit' must be one of"),
        ({"unit": "article", "frame": ["a", "a"], "sample": ["a"]}, "lists 'a' twice"),
        ({"unit": "article", "frame": ["a"], "sample": ["b"]}, r"not in the frame \(first: b\)"),
        (
            {"unit": "article", "frame": ["a", "b"], "sample": ["a"], "method": "census"},
            "a census samples every unit",
        ),
        ({"unit": "article", "frame": "a", "sample": ["a"]}, "'frame' must be a list"),
        ({"unit": "article", "frame": ["a"], "sample": ["a"], "sead": 1}, "unknown field"),
        ({"unit": "article", "frame": ["a"], "sample": ["a"], "seed": "7"}, "'seed' must be"),
    ],
)
def test_a_bad_manifest_is_refused_naming_the_file_and_field(tmp_path, fields, message):
    path = write(tmp_path / "samples" / "x.json", **fields)
    with pytest.raises(StanceError, match=message) as err:
        read_manifest(path)
    assert str(path) in str(err.value)


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "samples" / "x.json"
    path.parent.mkdir()
    path.write_text('{\n  "unit": "article",\n  "frame": [1,,]\n}', encoding="utf-8")
    with pytest.raises(StanceError, match=r"x\.json: not valid JSON \(line 3"):
        read_manifest(path)


def test_draw_from_the_queue_reuse_and_extend(tmp_path):
    table = corpus()
    labeled = {"a0:0", "a0:1"}
    manifest, new = draw_sample(tmp_path, table, labeled, 5, seed=3)
    assert new and manifest.path == tmp_path / "samples" / "sentences-seed3.json"
    assert set(manifest.frame) == set(table["sentence_id"]) - labeled  # the queue
    assert len(manifest.sample) == 5 and manifest.method == "srswor"
    # Whatever is labeled since, the same N and seed give the same sample.
    again, new = draw_sample(tmp_path, table, labeled | set(manifest.sample), 5, seed=3)
    assert not new and again == manifest
    bigger, new = draw_sample(tmp_path, table, labeled | set(manifest.sample), 8, seed=3)
    assert new and bigger.sample[:5] == manifest.sample and bigger.frame == manifest.frame
    assert read_manifest(bigger.path) == bigger
    with pytest.raises(StanceError, match="frame of 18"):
        draw_sample(tmp_path, table, labeled, 19, seed=3)
    other, _ = draw_sample(tmp_path, table, labeled, 5, seed=4)
    assert other.sample != manifest.sample


def test_articles_are_drawn_whole_and_shown_in_the_order_drawn(tmp_path):
    table = corpus()
    manifest, _ = draw_sample(tmp_path, table, set(), 2, seed=1, unit="article")
    assert manifest.unit == "article" and len(manifest.frame) == 4
    ids = sample_sentences(manifest, table)
    assert ids == [f"{a}:{i}" for a in manifest.sample for i in range(5)]
    assert sample_sentences(manifest, table, 1) == ids[:5]


def test_each_sentence_belongs_to_the_latest_frame_and_units_count_when_complete(tmp_path):
    table = corpus(articles=6)
    write(tmp_path / "samples" / "old.json", unit="article", frame=["a0", "a1", "a2", "a3"],
          sample=["a0", "a1"], created="2026-01-01")  # fmt: skip
    write(tmp_path / "samples" / "new.json", unit="article", frame=["a3", "a4", "a5", "a9"],
          sample=["a4", "a5"], created="2026-02-01")  # fmt: skip
    manifests = load_manifests(tmp_path)
    assert [m.name for m in manifests] == ["old", "new"]
    # a0 labeled in full, a1 in part; a4 in full, a5 not at all.
    labeled = {f"a0:{i}" for i in range(5)} | {"a1:0"} | {f"a4:{i}" for i in range(5)}
    resolved = resolve_designs(manifests, table, labeled)
    by_article = pd.Series(resolved.design, index=table["article_id"]).groupby(level=0).first()
    assert by_article.to_dict() == {"a0": 0, "a1": 0, "a2": 0, "a3": 1, "a4": 1, "a5": 1}
    sampled = set(table.loc[resolved.sampled, "article_id"])
    assert sampled == {"a0", "a4"}
    old, new = resolved.reports
    assert (old.frame, old.drawn, old.complete, old.incomplete) == (4, 2, 1, 1)
    assert (new.frame, new.complete, new.incomplete, new.missing_frame) == (3, 1, 1, 1)
    assert any("new.json: 1 article(s) of its frame are no longer" in w for w in resolved.warnings)


def test_the_label_stage_reports_the_design(tmp_path):
    from stance.labels.stage import design_lines

    table = corpus()
    assert "no recorded sample" in design_lines(tmp_path, table, set())[0]
    write(tmp_path / "samples" / "s.json", unit="article", frame=["a0", "a1", "a2", "a3"],
          sample=["a1", "a2"])  # fmt: skip
    labeled = {f"a1:{i}" for i in range(5)} | {"a3:0"}
    lines = design_lines(tmp_path, table, labeled)
    assert lines[0] == (
        "design: sample s (srswor, articles): 2 of 4 drawn, 1 labeled in full, 1 not yet"
    )
    assert lines[1].startswith("design: 1 label(s) outside any recorded sample")
    write(tmp_path / "samples" / "bad.json", unit="article", frame=["a0"], sample=["zz"])
    with pytest.raises(StanceError, match=r"bad\.json"):
        design_lines(tmp_path, table, labeled)
