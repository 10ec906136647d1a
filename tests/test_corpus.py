"""Bad input in the article folder: every case gets a message naming the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from stance.cli.main import main
from stance.corpus.articles import discover, read_article, safe_article_id
from stance.errors import StanceError


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "good_article.txt").write_text(
        "The Taliban demanded a withdrawal.\n", encoding="utf-8"
    )
    return folder


def test_discovers_txt_files_sorted(seeds: Path):
    (seeds / "another-01.txt").write_text("Text.", encoding="utf-8")
    assert discover(seeds).article_ids == ["another-01", "good_article"]


def test_name_with_spaces_is_an_error_with_a_suggested_name(seeds: Path):
    (seeds / "my article (1).txt").write_text("Text.", encoding="utf-8")
    with pytest.raises(StanceError) as err:
        discover(seeds)
    message = str(err.value)
    assert "my article (1).txt" in message
    assert "rename it" in message and "my_article_1.txt" in message


@pytest.mark.parametrize("name", ["-dash.txt", "umlaut-ü.txt", "semi;colon.txt"])
def test_unusual_characters_in_names_are_errors(seeds: Path, name: str):
    (seeds / name).write_text("Text.", encoding="utf-8")
    with pytest.raises(StanceError, match="rename it"):
        discover(seeds)


def test_non_txt_file_is_skipped_with_a_warning(seeds: Path):
    (seeds / "notes.docx").write_bytes(b"PK\x03\x04")
    (seeds / "UPPER.TXT").write_text("Text.", encoding="utf-8")
    (seeds / ".gitkeep").write_text("", encoding="utf-8")
    found = discover(seeds)
    assert found.article_ids == ["good_article"]
    assert len(found.warnings) == 2
    docx = next(w for w in found.warnings if "notes.docx" in w)
    assert "skipped" in docx and "notes.txt" in docx
    upper = next(w for w in found.warnings if "UPPER.TXT" in w)
    assert "rename it to UPPER.txt" in upper


def test_missing_folder(tmp_path: Path):
    with pytest.raises(StanceError, match="article folder not found"):
        discover(tmp_path / "nope")


@pytest.mark.parametrize("content", [b"", b"  \n\r\n\t"])
def test_empty_file(tmp_path: Path, content: bytes):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(StanceError, match=r"empty\.txt: the file is empty"):
        read_article(path)


def test_non_utf8_file_names_line_and_byte(tmp_path: Path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("First line.\nCaf\u00e9 au lait.\n".encode("latin-1"))
    with pytest.raises(StanceError) as err:
        read_article(path)
    message = str(err.value)
    assert "latin1.txt: line 2" in message and "0xe9" in message and "UTF-8" in message


def test_binary_file(tmp_path: Path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(StanceError, match=r"image\.txt: looks like a binary file"):
        read_article(path)


def test_bom_is_kept_so_offsets_match_the_file(tmp_path: Path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffHello there.".encode())
    assert read_article(path) == "\ufeffHello there."


def test_safe_article_id():
    assert safe_article_id("my article (1)") == "my_article_1"
    assert safe_article_id("***") == "article"


def run_split_cli(tmp_path: Path, project_root: Path, *paths: Path) -> int:
    """Run the split_shard step as a Snakemake job runs it; return its exit status."""
    from helpers import split_shard_job

    from stance.cli.jobs import StepFailed, run_job

    job = split_shard_job(tmp_path, list(paths), project_root / "config" / "config.yaml")
    try:
        run_job(job)
    except StepFailed:
        return 1
    return 0


def test_cli_reports_bad_file_without_traceback(tmp_path, project_root, capsys):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert run_split_cli(tmp_path, project_root, path) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "empty.txt" in err and "Traceback" not in err
    assert not (tmp_path / "out.parquet").exists()


def test_article_without_sentences_warns_and_is_kept(tmp_path, project_root, capsys):
    import pyarrow.parquet as pq

    path = tmp_path / "chrome_only.txt"
    path.write_text("Breaking News\nLoad More\n", encoding="utf-8")
    assert run_split_cli(tmp_path, project_root, path) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "chrome_only.txt: no sentences" in err
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 0
    assert (tmp_path / "out.tsv").read_text(encoding="utf-8").count("\n") == 3
    assert "chrome_only\t0\t2" in (tmp_path / "articles.tsv").read_text(encoding="utf-8")


def test_cli_reports_every_bad_file_of_a_shard(tmp_path, project_root, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01")
    good = tmp_path / "good.txt"
    good.write_text("Fine text.", encoding="utf-8")
    assert run_split_cli(tmp_path, project_root, good, empty, binary) == 1
    err = capsys.readouterr().err
    assert "empty.txt: the file is empty" in err and "binary.txt: looks like a binary" in err


def test_bad_config_is_reported_with_the_key(tmp_path, project_root):
    from stance.config import load_config

    bad = tmp_path / "config.yaml"
    text = (project_root / "config" / "config.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("seed: ", "seed: -"), encoding="utf-8")
    schema = project_root / "workflow" / "schemas" / "config.schema.yaml"
    from stance.config import load_yaml, validate_config

    with pytest.raises(StanceError, match=r"seed: .*minimum"):
        validate_config(load_yaml(bad), bad, schema)
    with pytest.raises(StanceError, match="file not found"):
        load_config(tmp_path / "missing.yaml")


def test_add_copies_under_a_safe_unused_id(seeds: Path, tmp_path: Path, capsys):
    src = tmp_path / "in" / "Kabul talks (draft).txt"
    src.parent.mkdir()
    src.write_text("NATO ministers met in Brussels.\n", encoding="utf-8")
    other = tmp_path / "in" / "good_article.txt"
    other.write_text("A different article.\n", encoding="utf-8")
    from stance.corpus.adding import add_sources

    added = add_sources([src, other], seeds).articles
    assert [a for _, a, _ in added] == ["Kabul_talks_draft", "good_article_2"]
    assert (seeds / "Kabul_talks_draft.txt").read_bytes() == src.read_bytes()
    assert discover(seeds).article_ids == ["Kabul_talks_draft", "good_article", "good_article_2"]


def test_add_refuses_duplicates_and_adds_nothing(seeds: Path, tmp_path: Path):
    from stance.corpus.adding import add_sources

    dup = tmp_path / "copy.txt"
    dup.write_bytes(b"\xef\xbb\xbfThe Taliban demanded a withdrawal.\r\n")  # BOM + CRLF: same text
    new = tmp_path / "new.txt"
    new.write_text("Something new.", encoding="utf-8")
    with pytest.raises(StanceError) as err:
        add_sources([new, dup], seeds)
    assert "copy.txt: same content as article 'good_article'" in str(err.value)
    assert not (seeds / "new.txt").exists()


def test_add_cli_reports_bad_files(tmp_path: Path, project_root: Path, capsys):
    import shutil

    project = tmp_path / "p"
    (project / "config").mkdir(parents=True)
    shutil.copy(project_root / "config" / "config.yaml", project / "config")
    shutil.copytree(project_root / "workflow" / "schemas", project / "workflow" / "schemas")
    (project / "seeds").mkdir()
    binary = tmp_path / "pic.txt"
    binary.write_bytes(b"\x00\x01\x02")
    import os

    cwd = os.getcwd()
    os.chdir(project)
    try:
        assert main(["add", str(binary), str(tmp_path / "missing.txt")]) == 2
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert "pic.txt: looks like a binary file" in err and "missing.txt" in err
    assert list((project / "seeds").iterdir()) == []
