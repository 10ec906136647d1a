"""Bad input and rough conditions: unreadable corpus entries, stray bytes, file modes, broken
config under snakemake, label-file messages, spreadsheet-safe outputs, interrupted runs."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from helpers import HEADER, ROOT, SCHEMA, make_sentences, run_snakemake, write_csv

from stance.corpus.adding import add_sources
from stance.corpus.articles import discover, read_article
from stance.errors import StanceError
from stance.io import atomic_open, atomic_path, plain_cell, spreadsheet_cell
from stance.labels.files import load_labels
from stance.labels.schema import load_schema

FORMULA_TEXTS = [
    '=HYPERLINK("http://x.test","click") was the link.',
    "+1 555 0100 is the number they gave.",
    "-5 degrees was the temperature in Kabul.",
    "@taliban said the talks would resume.",
]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring the old one afterwards."""
    old = os.umask(0o022)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(old)


# --- (2) unreadable entries of the article folder ------------------------------------------------


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "001_a.txt").write_text("Talks resumed in Doha.\n", encoding="utf-8")
    return folder


def test_dangling_symlink_in_seeds_is_an_error(seeds: Path):
    (seeds / "005_x.txt").symlink_to("/nonexistent/005_x.txt")
    with pytest.raises(StanceError) as info:
        discover(seeds)
    message = str(info.value)
    assert f"{seeds / '005_x.txt'}: a symbolic link to /nonexistent/005_x.txt" in message
    assert "does not exist" in message and "delete it" in message


def test_folder_named_txt_in_seeds_is_an_error(seeds: Path):
    (seeds / "002_b.txt").mkdir()
    (seeds / "notes").mkdir()  # an ordinary sub-folder is still ignored
    with pytest.raises(StanceError) as info:
        discover(seeds)
    message = str(info.value)
    assert f"{seeds / '002_b.txt'}: a folder, not a file" in message and "rename it" in message
    assert "notes" not in message


def test_article_without_read_permission_is_an_error(seeds: Path, monkeypatch):
    # The tests run as root, for whom every permission check passes: simulate the check.
    locked = seeds / "003_c.txt"
    locked.write_text("Kabul rejected the deal.\n", encoding="utf-8")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: Path(p) != locked and real_access(p, m))
    with pytest.raises(StanceError) as info:
        discover(seeds)
    message = str(info.value)
    assert f"{locked}: cannot be read (no read permission)" in message and "chmod" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file without read permission")
def test_article_without_read_permission_is_an_error_for_real(seeds: Path):
    locked = seeds / "003_c.txt"
    locked.write_text("Kabul rejected the deal.\n", encoding="utf-8")
    locked.chmod(0)
    try:
        with pytest.raises(StanceError, match="no read permission"):
            discover(seeds)
    finally:
        locked.chmod(0o644)


def test_unreadable_entries_are_listed_together(seeds: Path):
    (seeds / "005_x.txt").symlink_to("/nonexistent")
    (seeds / "002_b.txt").mkdir()
    (seeds / "my article.txt").write_text("Text.", encoding="utf-8")
    with pytest.raises(StanceError) as info:
        discover(seeds)
    message = str(info.value)
    assert "005_x.txt" in message and "002_b.txt" in message and "my article.txt" in message


def test_symlink_outside_the_corpus_is_a_warning(seeds: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere" / "article.txt"
    outside.parent.mkdir()
    outside.write_text("NATO ministers met.\n", encoding="utf-8")
    (seeds / "004_d.txt").symlink_to(outside)
    (seeds / "006_e.txt").symlink_to("001_a.txt")  # inside the folder: no warning
    found = discover(seeds)
    assert found.article_ids == ["001_a", "004_d", "006_e"]
    assert len(found.warnings) == 1
    assert f"{seeds / '004_d.txt'}: a symbolic link to {outside}" in found.warnings[0]
    assert "outside the article folder" in found.warnings[0]


@pytest.mark.e2e
def test_dangling_symlink_stops_snakemake(project_copy: Path):
    (project_copy / "seeds" / "005_x.txt").symlink_to("/nonexistent")
    proc = run_snakemake(project_copy, "results/sentences.parquet", "-n", check=False)
    assert proc.returncode == 1
    assert "seeds/005_x.txt: a symbolic link to /nonexistent, which does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- (5) NUL bytes anywhere in an article --------------------------------------------------------


def test_nul_byte_after_the_first_8_kb_is_rejected(tmp_path: Path):
    path = tmp_path / "long.txt"
    line = b"The talks in Doha resumed on Monday after a pause.\n"  # 51 bytes
    head = line * 200  # 10,200 bytes, past the first 8 KB
    path.write_bytes(head + b"Kabul \x00rejected the deal.\n" + line)
    with pytest.raises(StanceError) as info:
        read_article(path)
    message = str(info.value)
    assert f"{path}: looks like a binary file" in message
    assert f"line 201: byte {len(head) + 6} is a NUL byte" in message


def test_invalid_utf8_after_the_first_8_kb_is_rejected(tmp_path: Path):
    path = tmp_path / "long.txt"
    head = b"The talks in Doha resumed on Monday after a pause.\n" * 200
    path.write_bytes(head + "Caf\u00e9.\n".encode("latin-1"))
    with pytest.raises(StanceError, match=rf"line 201: byte {len(head) + 3} \(0xe9\)"):
        read_article(path)


# --- (6) atomic writes give ordinary file modes --------------------------------------------------


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_write_of_a_new_file_follows_the_umask(tmp_path: Path, umask, mask, expected):
    umask(mask)
    target = tmp_path / "out.csv"
    with atomic_open(target, encoding="utf-8") as fh:
        fh.write("a,b\n")
    assert mode_of(target) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path, umask):
    umask(0o077)
    target = tmp_path / "shared.csv"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o664)
    with atomic_path(target) as tmp:
        tmp.write_text("new\n", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert mode_of(target) == 0o664


def test_added_article_and_label_file_get_ordinary_modes(tmp_path: Path, umask):
    from stance.annotate.session import open_session

    umask(0o022)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    source = tmp_path / "new.txt"
    source.write_text("Talks resumed in Doha.\n", encoding="utf-8")
    add_sources([source], seeds)
    assert mode_of(seeds / "new.txt") == 0o644

    schema = load_schema(SCHEMA)
    labels = tmp_path / "labels"
    labels.mkdir()
    session = open_session("ann", schema, make_sentences(), labels)
    session.answer({"speaker": schema.values("speaker")[0], "stance": schema.values("stance")[0]})
    assert mode_of(labels / "ann.csv") == 0o644


def test_saved_data_set_folder_gets_an_ordinary_mode(tmp_path: Path, umask):
    import datasets

    from stance.labels.dataset import save_dataset

    umask(0o022)
    ds = datasets.Dataset.from_dict({"text": ["a", "b"]})
    save_dataset(ds, tmp_path / "labeled_dataset")
    assert mode_of(tmp_path / "labeled_dataset") == 0o755
    (tmp_path / "labeled_dataset").chmod(0o775)
    save_dataset(ds, tmp_path / "labeled_dataset")  # replacing keeps the folder's mode
    assert mode_of(tmp_path / "labeled_dataset") == 0o775


# --- (7) a broken config file under snakemake ----------------------------------------------------


@pytest.mark.e2e
def test_broken_config_yaml_under_snakemake_names_file_and_line(project_copy: Path):
    config = project_copy / "config" / "config.yaml"
    lines = config.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "seeds_dir: [seeds")  # an unclosed bracket on line 4
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_snakemake(project_copy, "results/sentences.parquet", "-n", check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("error: config/config.yaml: line ")
    assert "not valid YAML" in errors[0] and "fix the syntax there" in errors[0]
    assert "Traceback" not in proc.stderr and "WorkflowError" not in proc.stderr


# --- (10) label-file messages --------------------------------------------------------------------


def test_changed_long_text_shows_where_it_differs(tmp_path: Path):
    start = "The spokesman of the delegation told reporters in Doha on Monday evening that "
    end = " the agreed date in May, and that the talks would go on until then."
    old = start + "the Taliban would never accept foreign troops staying after" + end
    new = start + "the Taliban would never accept foreign troops staying past" + end
    article = {"a1": [new]}
    sentences = make_sentences(article)
    sid = sentences["sentence_id"][0]
    labels = tmp_path / "labels"
    write_csv(labels / "ann.csv", [[sid, old, "taliban", "against", "ann", ""]])
    with pytest.raises(StanceError) as info:
        load_labels(labels, sentences, load_schema(SCHEMA))
    message = str(info.value)
    pos = next(i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b)
    assert f"text no longer matches sentence '{sid}': they differ from character {pos + 1}" in (
        message
    )
    # Both texts are shown around the first difference, the rest elided with '…'.
    assert f"labeled '…{old[pos - 30 : pos + 40]}…', now '…{new[pos - 30 : pos + 40]}…'" in message
    assert "staying after" in message and "staying past" in message


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_label_file_with_another_delimiter_says_so(tmp_path: Path, delimiter: str, name: str):
    sentences = make_sentences()
    labels = tmp_path / "labels"
    labels.mkdir()
    path = labels / "ann.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(HEADER)
        writer.writerow([sentences["sentence_id"][0], sentences["text"][0], "taliban", "favor",
                         "ann", ""])  # fmt: skip
    with pytest.raises(StanceError) as info:
        load_labels(labels, sentences, load_schema(SCHEMA))
    message = str(info.value)
    assert f"{path} row 1: the columns are separated by {name}, not by commas" in message
    assert "save the file as comma-separated CSV" in message
    assert "missing column" not in message


# --- (11) spreadsheet-safe outputs for people ----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [*FORMULA_TEXTS, "'=1+1", "''@x", "\tx", "\rx", "'quoted,' he said.", "plain", "", "'", "=",
     "'-"],
)  # fmt: skip
def test_spreadsheet_cell_is_safe_and_exactly_reversible(text: str):
    safe = spreadsheet_cell(text)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert plain_cell(safe) == text
    if not text.lstrip("'").startswith(("=", "+", "-", "@", "\t", "\r")):
        assert safe == text  # ordinary texts are written as they are


def test_label_outputs_neutralise_formulas_and_keep_exact_text(tmp_path: Path):
    import datasets
    from helpers import schema_values

    from stance.cli.predict import sentences_from_table
    from stance.labels.stage import run_label_stage

    articles = {"a1": FORMULA_TEXTS, "a2": ["Talks resumed in Doha.", "=1+1 is two."]}
    sentences = make_sentences(articles)
    sentences.to_parquet(tmp_path / "sentences.parquet", index=False)
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "schema.yaml").write_text(SCHEMA.read_text(encoding="utf-8"), encoding="utf-8")
    speaker, (favor, against, *_) = schema_values("speaker")[0], schema_values("stance")
    first, second = sentences.iloc[0], sentences.iloc[1]
    # Label files keep the exact text (they are compared with the sentence table).
    write_csv(
        labels / "ann.csv",
        [
            [first.sentence_id, first.text, speaker, favor, "ann", ""],
            [second.sentence_id, second.text, speaker, favor, "ann", ""],
        ],
    )
    write_csv(labels / "bob.csv", [[first.sentence_id, first.text, speaker, against, "bob", ""]])
    out = tmp_path / "results"
    run_label_stage(
        tmp_path / "sentences.parquet",
        labels,
        labels / "schema.yaml",
        out_dataset=out / "labeled_dataset",
        out_unlabeled=out / "unlabeled.csv",
        out_summary=out / "label_summary.tsv",
        out_summary_by_article=out / "label_summary_by_article.tsv",
        out_agreement=out / "agreement.json",
        out_disagreements=out / "disagreements.csv",
    )  # fmt: skip
    with open(out / "unlabeled.csv", newline="", encoding="utf-8") as fh:
        queue = list(csv.DictReader(fh))
    unlabeled = [t for t in sentences["text"] if t not in (first.text, second.text)]
    assert [r["text"] for r in queue] == [spreadsheet_cell(t) for t in unlabeled]
    assert [r["text"] for r in queue] == [
        "'-5 degrees was the temperature in Kabul.",
        "'@taliban said the talks would resume.",
        "Talks resumed in Doha.",
        "'=1+1 is two.",
    ]
    # Reading the queue back (stance predict --unlabeled) gives the exact texts.
    assert list(sentences_from_table(out / "unlabeled.csv")["text"]) == unlabeled
    with open(out / "disagreements.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["text"] for r in rows] == ["'" + first.text]
    # The data set keeps the exact text.
    dataset = datasets.load_from_disk(str(out / "labeled_dataset"))
    assert dataset["text"] == [first.text, second.text]


def test_chrome_report_neutralises_formulas_but_shard_tables_do_not(tmp_path: Path):
    from stance.corpus.stage import CHROME_COLUMNS, gather_article_tables
    from stance.io import write_tsv

    shard = tmp_path / "shard-0.chrome.tsv"
    write_tsv(shard, CHROME_COLUMNS, [["a1", 1, 0, 9, "menu", "=cmd|' /C calc'!A0"]])
    articles = tmp_path / "shard-0.articles.tsv"
    write_tsv(articles, ["article_id", "sentences", "chrome_lines"], [["a1", 0, 1]])
    report = tmp_path / "chrome_report.tsv"
    gather_article_tables([str(shard)], [str(articles)], report, tmp_path / "a.tsv")
    assert shard.read_text(encoding="utf-8").splitlines()[1].endswith("\t=cmd|' /C calc'!A0")
    # The report adds a used_as column after the text.
    assert (
        report.read_text(encoding="utf-8").splitlines()[1].split("\t")[5] == "'=cmd|' /C calc'!A0"
    )


def test_predict_csv_output_neutralises_formulas(tmp_path: Path, monkeypatch, capsys):
    import numpy as np

    import stance.tracking.model_io as model_io
    import stance.tracking.queries as queries
    from stance.cli.main import main

    seen: list[list[str]] = []

    class Model:
        classes_ = np.array(["against", "favor"])

        def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
            seen.append(list(x["text"]))
            return np.tile([0.25, 0.75], (len(x), 1))

        def predict(self, x: pd.DataFrame) -> list[str]:
            return ["favor"] * len(x)

    run = {"run_id": "r1", "model": "m", "metric": 0.5, "classes": ["favor", "against"],
           "features": ["text"]}  # fmt: skip
    monkeypatch.setattr(queries, "select_run", lambda *a, **k: run)
    monkeypatch.setattr(model_io, "load_logged_model", lambda uri, run_id: Model())
    monkeypatch.chdir(tmp_path)
    table = tmp_path / "in.csv"
    pd.DataFrame({"text": [spreadsheet_cell(t) for t in FORMULA_TEXTS]}).to_csv(table, index=False)
    config = str(ROOT / "config" / "config.yaml")
    assert main(["predict", "--config", config, "--table", str(table), "--out", "p.csv"]) == 0
    assert seen == [FORMULA_TEXTS]  # the model sees the exact texts
    with open(tmp_path / "p.csv", newline="", encoding="utf-8") as fh:
        written = [r["text"] for r in csv.DictReader(fh)]
    assert written == [spreadsheet_cell(t) for t in FORMULA_TEXTS]
    assert all(w.startswith("'") for w in written)
    capsys.readouterr()
    assert main(["predict", "--config", config, "--table", str(table)]) == 0  # to stdout
    printed = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [r["text"] for r in printed] == written


# --- (12) after an interrupted run ---------------------------------------------------------------


@pytest.mark.e2e
def test_a_killed_snakemake_is_recovered_as_the_readme_says(project_copy: Path):
    """kill -9 leaves Snakemake's lock behind: the next run says how to unlock, and after
    `snakemake --unlock` the run completes with the same outputs (the README's recipe)."""
    import signal
    import subprocess
    import sys
    import time

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## After an interrupted run", 1)[1].split("\n## ", 1)[0]
    assert "snakemake --unlock" in section
    target = "results/sentences.parquet"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", target, "--cores", "1"],
        cwd=project_copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    locks = project_copy / ".snakemake" / "locks"
    deadline = time.monotonic() + 120
    while not (locks.is_dir() and any(locks.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert any(locks.iterdir()), "snakemake was killed before it took its lock"
    # The next run stops and says what to do: unlock (the lock was written) or re-run the
    # incomplete files (killed before the lock was complete): the README names both.
    stopped = run_snakemake(project_copy, target, "--cores", "1", check=False)
    said = stopped.stdout + stopped.stderr
    assert stopped.returncode != 0 and ("--unlock" in said or "--rerun-incomplete" in said)
    assert "--rerun-incomplete" in section
    run_snakemake(project_copy, "--unlock")
    again = run_snakemake(project_copy, target, "--cores", "1", check=False)
    if again.returncode != 0:
        assert "--rerun-incomplete" in again.stdout + again.stderr
        run_snakemake(project_copy, target, "--cores", "1", "--rerun-incomplete")
    sentences = pd.read_parquet(project_copy / target)
    assert len(sentences) > 0 and sentences["sentence_id"].is_unique


def test_a_label_row_copied_from_the_queue_keeps_its_sentence(tmp_path: Path):
    # A text copied from results/unlabeled.csv carries the spreadsheet quote; it is the same
    # sentence. Any other change to the text is still reported.
    text = FORMULA_TEXTS[2]
    sentences = make_sentences({"a1": [text, "Talks resumed in Doha."]})
    sid = sentences.loc[0, "sentence_id"]
    schema = load_schema(SCHEMA)
    stance, speaker = schema.values("stance")[0], schema.values("speaker")[0]
    write_csv(
        tmp_path / "labels" / "ann.csv", [[sid, spreadsheet_cell(text), speaker, stance, "ann", ""]]
    )
    assert len(load_labels(tmp_path / "labels", sentences, schema).labels) == 1
    write_csv(
        tmp_path / "labels" / "ann.csv", [[sid, "'" + text + "!", speaker, stance, "ann", ""]]
    )
    with pytest.raises(StanceError, match="text no longer matches"):
        load_labels(tmp_path / "labels", sentences, schema)
