"""The terminal labeling tool, driven through a real pseudo-terminal."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pexpect
import pytest
from helpers import SCHEMA

from stance.annotate.session import check_annotator, open_session, uncertainty
from stance.errors import StanceError
from stance.labels.design import read_manifest
from stance.labels.files import load_labels
from stance.labels.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30


@pytest.fixture(scope="module")
def sentence_table(tmp_path_factory) -> Path:
    from stance.config import load_config
    from stance.corpus.stage import split_shard

    out = tmp_path_factory.mktemp("split")
    config = load_config(ROOT / "config" / "config.yaml")
    split_shard(
        sorted((ROOT / "seeds").glob("*.txt")),
        config,
        out / "sentences.parquet",
        out / "chrome.tsv",
        out / "articles.tsv",
    )
    return out / "sentences.parquet"


@pytest.fixture
def project(tmp_path: Path, sentence_table: Path) -> Path:
    """A project folder with config, schema, the seed sentence table and no labels yet."""
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "config.yaml", tmp_path / "config")
    shutil.copytree(ROOT / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    (tmp_path / "labels").mkdir()
    shutil.copy(SCHEMA, tmp_path / "labels" / "schema.yaml")  # the tests' own schema
    (tmp_path / "results").mkdir()
    shutil.copy(sentence_table, tmp_path / "results" / "sentences.parquet")
    return tmp_path


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def spawn(project: Path, *args: str, ignore_sigint: bool = False) -> pexpect.spawn:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "xterm"}
    return pexpect.spawn(
        sys.executable,
        ["-m", "stance", "label", *args],
        cwd=str(project),
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(40, 120),
        # A program that ignores SIGINT passes that on to the session it starts.
        preexec_fn=_ignore_sigint if ignore_sigint else None,
    )


def test_ctrl_c_quits_a_session_started_by_a_program_that_ignores_it(project: Path):
    child = spawn(project, "--annotator", "sigint", ignore_sigint=True)
    child.expect(r"speaker\? \[")
    child.sendcontrol("c")
    child.expect("quit: every confirmed answer is saved")
    child.expect(pexpect.EOF)


def answer(child: pexpect.spawn, *keys: str) -> None:
    for key in keys:
        child.expect(r"\? \[")  # a field prompt
        child.send(key)
    child.expect("saved: ")


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def sentences(project: Path) -> pd.DataFrame:
    return pd.read_parquet(project / "results" / "sentences.parquet")


def test_label_undo_note_quit_and_resume(project: Path):
    table = sentences(project)
    first_article = table[table["article_id"] == table["article_id"].min()]
    child = spawn(project, "--annotator", "tester")
    child.expect("done 0 / remaining 120")
    answer(child, "t", "f")
    child.expect(r"\? \[")
    child.send("/")
    child.expect("note")
    child.sendline("reported speech rule")
    child.expect("note kept: reported speech rule")
    child.send("a")
    child.send("0")
    child.expect("saved: author / none")
    answer(child, "u", "x")
    child.expect(r"speaker\? \[")
    child.send("<")
    child.expect("undone")
    child.expect(r"speaker\? \[")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    path = project / "labels" / "tester.csv"
    rows = read_rows(path)
    assert [r["sentence_id"] for r in rows] == list(first_article["sentence_id"][:2])
    assert [(r["speaker"], r["stance"], r["note"]) for r in rows] == [
        ("taliban", "favor", ""),
        ("author", "none", "reported speech rule"),
    ]
    assert rows[0]["text"] == first_article["text"].iloc[0]
    # The file passes the workflow's label validation.
    schema = load_schema(project / "labels" / "schema.yaml")
    assert len(load_labels(project / "labels", table, schema).labels) == 2

    child = spawn(project, "--annotator", "tester")
    child.expect(rf"#{first_article['position'].iloc[2]}\D.*done 2 / remaining 118")
    child.expect(r"speaker\? \[")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    assert len(read_rows(path)) == 2


def test_killed_session_keeps_every_confirmed_answer(project: Path):
    child = spawn(project, "--annotator", "tester")
    for keys in [("t", "f"), ("n", "x"), ("g", "0")]:
        answer(child, *keys)
    child.expect(r"speaker\? \[")
    child.send("r")  # an answer being typed when the process dies
    child.kill(signal.SIGKILL)
    child.close()
    rows = read_rows(project / "labels" / "tester.csv")
    assert [(r["speaker"], r["stance"]) for r in rows] == [
        ("taliban", "favor"),
        ("nato", "against"),
        ("afghan_government", "none"),
    ]
    # No temporary file is left; the annotator's lock file may be (a killed holder cannot remove
    # it), but the kernel released its lock: the next session starts and resumes.
    left = [p.name for p in (project / "labels").iterdir() if p.name.startswith(".")]
    assert left in ([], [".tester.lock"]), left
    again = spawn(project, "--annotator", "tester")
    again.expect("done 3 / remaining")
    again.send("q")
    again.expect(pexpect.EOF)


def test_a_second_session_of_the_same_annotator_is_refused(project: Path):
    first = spawn(project, "--annotator", "tester")
    first.expect(r"speaker\? \[")
    second = spawn(project, "--annotator", "tester")
    second.expect(pexpect.EOF)
    second.close()
    assert second.exitstatus == 2
    assert "being changed by stance label --annotator tester" in second.before
    first.send("q")
    first.expect(pexpect.EOF)


def test_sample_is_recorded_shared_and_answers_stay_private(project: Path):
    child = spawn(project, "--annotator", "first", "--sample", "5", "--seed", "7")
    child.expect("labeling sample sentences-seed7")
    child.expect("remaining 5")
    for _ in range(5):
        answer(child, "o", "0")
    child.expect("nothing left to label")
    child.expect(pexpect.EOF)
    manifest = read_manifest(project / "labels" / "samples" / "sentences-seed7.json")
    assert manifest.unit == "sentence" and manifest.method == "srswor" and manifest.seed == 7
    assert len(manifest.sample) == 5 and len(manifest.frame) == len(sentences(project))
    assert "--sample 5 --seed 7" in manifest.command
    answered = [r["sentence_id"] for r in read_rows(project / "labels" / "first.csv")]
    assert answered == list(manifest.sample)  # in the order drawn
    # The same N and seed: the same sentences, though the first annotator labeled them since.
    second = spawn(project, "--annotator", "second", "--sample", "5", "--seed", "7")
    second.expect("recorded in")
    second.expect("done 0 / remaining 5")  # the first annotator's answers do not count here
    second.send("q")
    second.expect(pexpect.EOF)
    assert read_manifest(manifest.path) == manifest


def _session(project: Path, annotator: str = "new", **kwargs):
    notes: list[str] = []
    table = sentences(project)
    schema = load_schema(project / "labels" / "schema.yaml")
    session = open_session(annotator, schema, table, project / "labels", warn=notes.append,
                           **kwargs)  # fmt: skip
    return session, notes, table


def test_the_default_queue_is_what_nobody_has_labeled(project: Path):
    table = sentences(project)
    first = table.iloc[:6]
    rows = [[r.sentence_id, r.text, "taliban", "favor", "lead", ""] for r in first.itertuples()]
    with open(project / "labels" / "lead.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sentence_id", "text", "speaker", "stance", "annotator", "note"])
        w.writerows(rows)
    session, notes, _ = _session(project)
    assert session.queue == list(table["sentence_id"].iloc[6:])
    assert "labeling the queue" in notes[0] and "--relabel" in notes[0]
    again, notes, _ = _session(project, relabel=True)
    assert again.queue == list(table["sentence_id"])
    assert "also those others have labeled" in notes[0]
    # A sample is drawn from the queue only: never from lead's sentences.
    drawn, _, _ = _session(project, sample=10, seed=3)
    assert not set(drawn.queue) & set(first["sentence_id"])


def test_a_larger_sample_with_the_same_seed_extends_it(project: Path):
    small, _, _ = _session(project, sample=3, seed=5)
    large, _, _ = _session(project, sample=8, seed=5)
    assert large.queue[:3] == small.queue and len(large.queue) == 8
    manifest = read_manifest(project / "labels" / "samples" / "sentences-seed5.json")
    assert list(manifest.sample) == large.queue
    with pytest.raises(StanceError, match="at most"):
        _session(project, sample=10_000, seed=5)


def test_a_sample_of_articles_offers_whole_articles_in_the_order_drawn(project: Path):
    session, _, table = _session(project, sample=2, seed=1, unit="article")
    manifest = read_manifest(project / "labels" / "samples" / "articles-seed1.json")
    assert manifest.unit == "article" and len(manifest.sample) == 2
    expected = [s for a in manifest.sample
                for s in table.loc[table["article_id"] == a, "sentence_id"]]  # fmt: skip
    assert session.queue == expected
    with pytest.raises(StanceError, match="cannot be combined with --sample"):
        _session(project, sample=2, seed=1, unit="article", order="uncertain")


def test_empty_queue(project: Path):
    child = spawn(project, "--annotator", "x", "--sample", "1", "--seed", "1")
    answer(child, "a", "0")
    child.expect(pexpect.EOF)
    child = spawn(project, "--annotator", "x", "--sample", "1", "--seed", "1")
    child.expect("nothing left to label")
    child.expect(pexpect.EOF)


def run_cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stance", "label", *args],
        cwd=project,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )


def test_not_a_terminal(project: Path):
    proc = run_cli(project, "--annotator", "tester")
    assert proc.returncode == 2
    assert "needs an interactive terminal" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["../evil", "has space", "adjudication", "", "x" * 65])
def test_unsafe_annotator_names(project: Path, name: str):
    proc = run_cli(project, "--annotator", name)
    assert proc.returncode == 2 and "cannot be used" in proc.stderr
    with pytest.raises(StanceError):
        check_annotator(name)


def test_broken_label_file_is_reported(project: Path):
    (project / "labels" / "tester.csv").write_text(
        "sentence_id,text,speaker,stance,annotator\nnope:123,Some text,taliban,maybe,tester\n",
        encoding="utf-8",
    )
    child = spawn(project, "--annotator", "tester")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "tester.csv row 2" in child.before


def test_uncertain_order_follows_model_probabilities(project: Path):
    table = sentences(project).head(4)
    schema = load_schema(project / "labels" / "schema.yaml")
    probs = pd.DataFrame(
        {
            "favor": [0.9, 0.34, 0.5, 0.6],
            "against": [0.05, 0.33, 0.45, 0.2],
            "none": [0.05, 0.33, 0.05, 0.2],
        }
    )
    # margins: 0.85, 0.01, 0.05, 0.4 -> most uncertain first: rows 1, 2, 3, 0
    session = open_session(
        "t", schema, table, project / "labels", order="uncertain", probabilities=lambda work: probs
    )
    assert session.queue == list(table["sentence_id"].iloc[[1, 2, 3, 0]])
    assert list(uncertainty(probs).round(2)) == [0.15, 0.99, 0.95, 0.6]

    notes = []
    fallback = open_session(
        "t",
        schema,
        table,
        project / "labels",
        order="uncertain",
        probabilities=lambda work: None,
        warn=notes.append,
    )
    assert fallback.queue == list(table["sentence_id"])
    assert any("no trained model" in n for n in notes)
