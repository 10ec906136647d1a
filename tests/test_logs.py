"""The package's messages go through logging: to a workflow job's log file and to the terminal."""

from __future__ import annotations

import ast
import logging
import threading
from pathlib import Path

from helpers import split_shard_job

import stance
from stance.cli.jobs import job_log, run_job

PACKAGE = Path(stance.__file__).parent
# The modules that print a command's own output (tables, answers, paths written); every other
# message of the package is logged.
PRINTING = {"cli/commands.py", "cli/main.py"}


def test_jobs_side_by_side_in_one_process_each_log_their_own_messages(tmp_path: Path, capsys):
    handlers = list(logging.getLogger().handlers)
    package = logging.getLogger("stance.training.run")
    library = logging.getLogger("some_library")
    both_inside = threading.Barrier(2)

    def job(name: str) -> None:
        with job_log(str(tmp_path / f"{name}.log")):
            both_inside.wait()
            for i in range(200):
                package.info(f"{name} {i}")
                package.warning(f"{name} warns {i}")
            library.warning(f"{name} from a library")
            both_inside.wait()

    threads = [threading.Thread(target=job, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("a", "b"):
        lines = (tmp_path / f"{name}.log").read_text(encoding="utf-8").splitlines()
        assert lines == [
            *(line for i in range(200) for line in (f"{name} {i}", f"warning: {name} warns {i}")),
            f"warning: {name} from a library",
        ]
    # The terminal shows the package's messages once each.
    shown = capsys.readouterr().err.splitlines()
    assert shown.count("a 0") == 1 and shown.count("warning: b warns 199") == 1
    assert logging.getLogger().handlers == handlers  # the jobs' handlers are gone


def test_a_step_logs_its_progress_and_warnings_to_the_job_log(
    tmp_path: Path, project_root: Path, capsys
):
    article = tmp_path / "chrome_only.txt"
    article.write_text("Breaking News\nLoad More\n", encoding="utf-8")
    log = tmp_path / "logs" / "split.log"
    job = split_shard_job(tmp_path, [article], project_root / "config" / "config.yaml", log)
    run_job(job)
    logged = log.read_text(encoding="utf-8")
    assert "warning: " in logged and "chrome_only.txt: no sentences left" in logged
    assert "shard-0: 1 article(s) split, 0 reused from cache" in logged
    assert capsys.readouterr().err.count("article(s) split") == 1  # and once on the terminal


def test_only_command_modules_print():
    printing = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
            for node in ast.walk(tree)
        ):
            printing.add(path.relative_to(PACKAGE).as_posix())
    assert printing <= PRINTING, "log with logging.getLogger(__name__), do not print"
