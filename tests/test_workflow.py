"""End to end: the real snakemake on a temporary copy of the project (split stage)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers import run_snakemake

pytestmark = pytest.mark.e2e
TABLE = "results/sentences.parquet"
GOLD = Path(__file__).parent / "data" / "gold"


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Parse the 'Job stats' table that snakemake -n prints."""
    counts = {}
    in_table = False
    for line in dry_run_output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if m and m.group(1) != "total":
                counts[m.group(1)] = int(m.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    from helpers import copy_project

    project = copy_project(tmp_path_factory.mktemp("split") / "project")
    run_snakemake(project, TABLE, "results/chrome_report.tsv", "--cores", "2")
    return project


def test_sentence_table_meets_its_invariants(built: Path):
    import datasets

    table = pd.read_parquet(built / TABLE)
    assert list(table.columns) == [
        "sentence_id", "article_id", "position", "start", "end", "text", "paragraph_start",
    ]  # fmt: skip
    assert table["sentence_id"].is_unique
    gold_total = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in GOLD.glob("*.txt"))
    assert len(table) == gold_total
    for article_id, group in table.groupby("article_id"):
        raw = (built / "seeds" / f"{article_id}.txt").read_bytes().decode("utf-8")
        assert list(group["position"]) == list(range(len(group)))
        previous_end = None
        for row in group.itertuples():
            assert raw[row.start : row.end] == row.text
            gap = raw[previous_end : row.start] if previous_end is not None else "\n"
            assert row.paragraph_start == ("\n" in gap or "\r" in gap)
            previous_end = row.end
        gold = (GOLD / f"{article_id}.txt").read_text(encoding="utf-8").splitlines()
        assert list(group["text"]) == gold
    ds = datasets.Dataset.from_parquet(str(built / TABLE))
    assert ds.num_rows == len(table)


def test_chrome_report_lists_removed_lines(built: Path):
    report = pd.read_csv(built / "results/chrome_report.tsv", sep="\t")
    assert set(report["rule"]) >= {"navigation", "photo_caption", "icon_text", "timestamp"}
    assert len(report) == len(pd.read_csv(GOLD / "chrome.tsv", sep="\t"))


def test_second_run_does_nothing(built: Path):
    proc = run_snakemake(built, TABLE)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_adding_an_article_resplits_only_that_article(built: Path, tmp_path: Path, config):
    from stance.corpus.articles import shard_of

    project = tmp_path / "grown"
    shutil.copytree(built, project)
    (project / "seeds" / "005_new.txt").write_text(
        "NATO ministers met. They discussed the U.S. withdrawal plan.\n", encoding="utf-8"
    )
    proc = run_snakemake(project, TABLE, "-n")
    counts = job_counts(proc.stdout)
    assert counts.get("split_shard") == 1, proc.stdout
    shard = shard_of("005_new", config["split"]["shards"])
    assert f"wildcards: shard={shard}" in proc.stdout
    run_snakemake(project, TABLE)
    log = (project / "logs" / "split" / f"shard-{shard}.log").read_text(encoding="utf-8")
    assert "1 article(s) split" in log
    table = pd.read_parquet(project / TABLE)
    before = pd.read_parquet(built / TABLE)
    assert (table["article_id"] == "005_new").sum() == 2
    # Sentences of untouched articles keep their IDs.
    assert set(before["sentence_id"]) < set(table["sentence_id"])


def test_bad_file_name_stops_with_a_message(project_copy: Path):
    (project_copy / "seeds" / "my article.txt").write_text("Text.", encoding="utf-8")
    proc = run_snakemake(project_copy, TABLE, "-n", check=False)
    assert proc.returncode != 0
    assert "seeds/my article.txt" in proc.stderr and "rename it" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_empty_article_fails_its_job_with_a_message(project_copy: Path):
    (project_copy / "seeds" / "blank.txt").write_bytes(b"")
    proc = run_snakemake(project_copy, TABLE, "--cores", "1", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "error: seeds/blank.txt: the file is empty" in out
    assert "Traceback" not in out


def test_labels_of_a_removed_article_stop_the_label_stage_with_the_row(project_copy: Path):
    # The label stage reads the labeled articles only: a label whose article is gone is still
    # reported with its file and row, never dropped.
    removed = sorted((project_copy / "seeds").glob("*.txt"))[0]
    removed.unlink()
    proc = run_snakemake(project_copy, "results/labeled_dataset", "--cores", "1", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert re.search(r"labels/lead\.csv row \d+: sentence_id '" + removed.stem, out), out[-3000:]
    assert f"article '{removed.stem}' has no sentences any more" in out
    assert "Traceback" not in out


def test_a_label_on_a_new_article_splits_the_labeled_articles_again(project_copy: Path):
    import csv

    import datasets

    from stance.corpus.splitting import sentence_id

    run_snakemake(project_copy, "results/labeled_dataset", "--cores", "1")
    plan = run_snakemake(project_copy, "results/labeled_dataset", "-n")
    assert "Nothing to be done" in plan.stdout + plan.stderr
    text = "The Taliban said foreign troops must leave."
    (project_copy / "seeds" / "900_new.txt").write_text(text + "\n", encoding="utf-8")
    with open(project_copy / "labels" / "ann.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sentence_id", "text", "speaker", "stance", "annotator", "note"])
        writer.writerow([sentence_id("900_new", text), text, "taliban", "favor", "ann", ""])
    run_snakemake(project_copy, "results/labeled_dataset", "--cores", "1")
    sentences = pd.read_parquet(project_copy / "results/labeled/sentences.parquet")
    assert "900_new" in set(sentences["article_id"])
    labeled = datasets.load_from_disk(str(project_copy / "results/labeled_dataset"))
    assert sentence_id("900_new", text) in set(labeled["sentence_id"])


def test_non_txt_file_is_skipped_with_a_warning(project_copy: Path):
    (project_copy / "seeds" / "notes.md").write_text("# notes", encoding="utf-8")
    proc = run_snakemake(project_copy, TABLE, "-n")
    assert "seeds/notes.md: skipped" in proc.stdout + proc.stderr


def planned_blocks(dry_run_output: str) -> list[tuple[str, str]]:
    """(rule, resources line) of every job a dry run plans."""
    blocks, rule = [], None
    for line in dry_run_output.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line):
            rule = m.group(1)
        elif rule and line.strip().startswith("resources:"):
            blocks.append((rule, line.strip()))
            rule = None
    return blocks


def test_slurm_plan_runs_the_corpus_jobs_per_shard_with_their_resources(project_copy: Path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    # A few more articles: the corpus spreads over most of its shards.
    for i in range(40):
        (project_copy / "seeds" / f"{100 + i:03d}_extra.txt").write_text(
            f"NATO ministers met in Brussels on day {i}. The Taliban said foreign troops must "
            "leave.\n\nThey discussed the withdrawal plan.\n",
            encoding="utf-8",
        )
    proc = run_snakemake(project_copy, "--profile", "profiles/slurm", "-n")
    counts = job_counts(proc.stdout)
    shards = counts["split_shard"]
    assert shards > 5, proc.stdout
    # Attribution and speaker prediction run per shard: a cluster runs the shards side by side.
    assert counts["attribute_shard"] == shards and counts["predict_speakers"] == shards
    assert counts["predict_stance"] == shards
    assert counts["speakers"] == counts["speaker_model"] == counts["gather_speakers"] == 1
    assert counts["train_model"] == counts["log_model"] >= 1
    # Every job the cluster runs declares its memory and run time (from its rule, not the
    # profile), so the executor can place it.
    local = {"all", "gather_sentences", "article_table", "tracking_store"}
    planned = [(rule, line) for rule, line in planned_blocks(proc.stdout) if rule not in local]
    assert {rule for rule, _ in planned} >= {
        "attribute_shard", "predict_speakers", "predict_stance", "train_model",
    }  # fmt: skip
    for rule, line in planned:
        assert "mem_mb=" in line and "runtime=" in line, (rule, line)
