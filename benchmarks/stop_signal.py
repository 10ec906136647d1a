"""How fast `snakemake` stops on SIGTERM or Ctrl-C while a long job runs in its process.

A copy of the project with N synthetic articles (benchmarks/synthetic.py) beside the seeds in
one shard; `snakemake --cores 2` starts, and once the shard's `attribute_shard` job has started
(its log file appears) the signal is sent. Measured: seconds from the signal to the exit of
`snakemake`, its exit code, and whether any output of the stopped job was left behind (it must
not be: outputs are written atomically and Snakemake removes those of a failed job).

    .venv/bin/python benchmarks/stop_signal.py --articles 10000 --signal TERM
    .venv/bin/python benchmarks/stop_signal.py --articles 10000 --signal INT

Results: benchmarks/results/stop_signal_<signal>.json and a line on stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
# The job stopped: the speaker rules over the one shard, and its outputs.
JOB_LOG = "logs/speakers/attribute-0.log"
JOB_OUTPUTS = (
    "results/speakers/attributed/shard-0.parquet",
    "results/speakers/attributed/shard-0.names.parquet",
)

from run import copy_project  # noqa: E402
from synthetic import write_corpus  # noqa: E402


def project_with_corpus(dest: Path, articles: int) -> None:
    """A copy of the project in ``dest`` (a new folder) with ``articles`` synthetic articles
    beside the seeds, all in one shard."""
    copy_project(dest)
    config = dest / "config" / "config.yaml"
    text = config.read_text(encoding="utf-8")
    shards = re.search(r"^  shards: \d+$", text, re.M)
    if shards is None:
        raise SystemExit(f"{config}: no 'shards:' setting under 'split:' to change")
    config.write_text(text.replace(shards.group(), "  shards: 1"), encoding="utf-8")
    extra = dest / "synthetic"
    write_corpus(extra, articles)
    for path in extra.iterdir():
        path.rename(dest / "seeds" / path.name)
    extra.rmdir()


def stop_during_attribution(
    project: Path,
    signum: int,
    cores: int = 2,
    wait: float = 1800,
    targets: tuple[str, ...] = JOB_OUTPUTS,
    delay: float = 2.0,
) -> dict:
    """Start snakemake (on ``targets``), send ``signum`` once the attribution job runs; the
    figures."""
    log = project / JOB_LOG
    # Output to a file: a pipe nobody reads fills up and blocks snakemake's logging.
    output = project / "snakemake.out"
    with open(output, "w", encoding="utf-8") as out_file:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "snakemake"), "--cores", str(cores), *targets],
            cwd=project, stdout=out_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        start = time.monotonic()
        while not log.exists():
            if proc.poll() is not None or time.monotonic() - start > wait:
                proc.kill()
                tail = output.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise SystemExit(f"the attribution job did not start:\n{tail}")
            time.sleep(0.2)
        time.sleep(delay)  # inside the job
        started = time.monotonic() - start
        proc.send_signal(signum)
        sent = time.monotonic()
        try:
            proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stopped = time.monotonic() - sent
    out = output.read_text(encoding="utf-8", errors="replace")
    left = [n for n in JOB_OUTPUTS if (project / n).exists()]
    return {
        "signal": signal.Signals(signum).name,
        "job_started_after_s": round(started, 1),
        "stopped_after_s": round(stopped, 2),
        "returncode": proc.returncode,
        "outputs_left": left,
        "log_tail": out[-1500:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--signal", choices=["TERM", "INT"], default="TERM")
    args = parser.parse_args()
    signum = getattr(signal, f"SIG{args.signal}")
    with tempfile.TemporaryDirectory(prefix="stance-stop-") as tmp:
        project = Path(tmp) / "project"
        project_with_corpus(project, args.articles)
        result = stop_during_attribution(project, signum)
    result["articles"] = args.articles
    print(
        f"{args.articles} articles, SIG{args.signal} {result['job_started_after_s']} s "
        f"after the start: snakemake exited after {result['stopped_after_s']} s with code "
        f"{result['returncode']}; outputs of the stopped job left: {result['outputs_left']}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"stop_signal_{args.signal}.json").write_text(
        json.dumps(result, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
