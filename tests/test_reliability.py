"""Bad input and rough conditions: unreadable corpus entries, stray bytes, file modes, broken
config under snakemake, label-file messages, spreadsheet-safe outputs, interrupted runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers import run_snakemake

from stance.corpus.articles import discover, read_article
from stance.errors import StanceError

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
