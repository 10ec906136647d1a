"""One writer at a time: the folder lock, and two `stance add` processes racing for one ID."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stance.corpus.adding import add_sources
from stance.corpus.articles import discover
from stance.corpus.metadata import read_metadata
from stance.errors import StanceError
from stance.locking import LOCK_FILE, folder_lock

ROOT = Path(__file__).parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

# Each process imports everything first, then waits for the same signal file, so that the adds
# run at the same moment instead of one after the other's start-up; each then adds its pages
# one by one (one `stance add` each), so the two race several times.
RACER = """
import sys, time
from pathlib import Path
import trafilatura  # noqa: F401  (imported before the start, like the CLI's own imports)
from stance.cli.main import main
go, config, pages = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
while not go.exists():
    time.sleep(0.001)
sys.exit(max(main(["add", "--config", config, page]) for page in pages))
"""
ROUNDS = 4

HOLDER = """
import sys
from stance.locking import folder_lock
with folder_lock(sys.argv[1], "stance add"):
    print("held", flush=True)
    sys.stdin.read()
"""

PAGE = """<html><head><title>{title}</title>
<meta property="og:type" content="article"></head><body><article><h1>{title}</h1>
<p>{text} The delegations met in Doha on Monday and talked for several hours.</p>
<p>Officials said that the next round of talks would begin before the end of the month.</p>
<p>Diplomats in the region expected a first result, but gave no date for an agreement.</p>
</article></body></html>"""


def _project(tmp_path: Path) -> tuple[Path, Path]:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a1.txt").write_text("An article already there.\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    text = (ROOT / "config" / "config.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("seeds_dir: seeds", f"seeds_dir: {seeds}"), encoding="utf-8")
    return seeds, config


def test_two_adds_at_once_both_add_their_article(tmp_path: Path):
    seeds, config = _project(tmp_path)
    go = tmp_path / "go"
    racers = []
    for name in ("alpha", "beta"):
        pages = []
        for n in range(ROUNDS):
            page = tmp_path / f"{name}{n}" / "kabul.html"  # every page asks for the ID kabul
            page.parent.mkdir()
            page.write_text(PAGE.format(title=f"Kabul {name}{n}", text=f"{name}{n}."), "utf-8")
            pages.append(str(page))
        racers.append(
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(go), str(config), *pages],
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    time.sleep(3)  # both processes have imported and wait for the signal
    go.touch()
    results = [proc.communicate(timeout=120) for proc in racers]
    assert [proc.returncode for proc in racers] == [0, 0], results
    ids = ["kabul"] + [f"kabul_{n}" for n in range(2, 2 * ROUNDS + 1)]
    out = "".join(stdout for stdout, _ in results)
    assert all(out.count(f"as {seeds}/{a}.txt ") == 1 for a in ids), out
    assert sorted(discover(seeds).article_ids) == sorted(["a1", *ids])
    # Every page's text and metadata row is there once: none lost, none written over.
    table = read_metadata(seeds / "articles.csv", {"a1", *ids})
    names = [f"{name}{n}" for name in ("alpha", "beta") for n in range(ROUNDS)]
    assert sorted(table[a]["title"] for a in ids) == sorted(f"Kabul {x}" for x in names)
    for a in ids:
        name = table[a]["title"].removeprefix("Kabul ")
        assert f"{name}." in (seeds / f"{a}.txt").read_text(encoding="utf-8")
    assert not (seeds / LOCK_FILE).exists()


def test_an_add_while_another_command_holds_the_lock_names_it(tmp_path: Path):
    seeds, _ = _project(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(seeds)],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        source = tmp_path / "kabul.txt"
        source.write_text("Talks in Kabul.\n", encoding="utf-8")
        with pytest.raises(StanceError) as err:
            add_sources([source], seeds, lock_wait_s=0.2)
        message = str(err.value)
        assert message.startswith(f"{seeds / LOCK_FILE}: {seeds} is being changed by stance add ")
        assert f"(process {holder.pid} on " in message and "run this command again" in message
        assert discover(seeds).article_ids == ["a1"]
    finally:
        holder.communicate("", timeout=30)
    # Released (and removed) when the holder ends: the next add goes through.
    assert not (seeds / LOCK_FILE).exists()
    add_sources([source], seeds, lock_wait_s=0.2)
    assert discover(seeds).article_ids == ["a1", "kabul"]


def test_a_lock_left_by_a_killed_command_does_not_block(tmp_path: Path):
    folder = tmp_path / "seeds"
    folder.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait(timeout=30)
    assert (folder / LOCK_FILE).exists()  # its file stays, but the kernel dropped its lock
    with folder_lock(folder, "test", wait_s=0) as path:
        assert path.read_text(encoding="utf-8").startswith(f"test (process {os.getpid()} on ")
    assert not path.exists()
    shutil.rmtree(folder)


def test_an_import_waits_for_nobody_and_refuses_while_the_annotator_labels(tmp_path: Path):
    from stance.locking import annotator_lock

    labels = tmp_path / "labels"
    labels.mkdir()
    with annotator_lock(labels, "jane", "stance label --annotator jane"):
        with (
            pytest.raises(StanceError, match=r"being changed by stance label --annotator jane"),
            annotator_lock(labels, "jane", "stance import --annotator jane"),
        ):
            pass
        # Another annotator is not held up.
        with annotator_lock(labels, "sam", "stance import --annotator sam"):
            pass
    assert not list(labels.iterdir())  # lock files go away
