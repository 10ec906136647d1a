"""The whole workflow on the seed project plus synthetic articles: time per rule, memory, re-runs.

``python benchmarks/scale.py --sizes 1000 10000``: for each size, a copy of the project (seed
articles and hand labels) with that many synthetic articles added (``benchmarks/synthetic.py``)
runs ``snakemake --cores 2`` from clean; then, at the largest size, nothing to do, one new
article and one changed label. Every job's step time comes from ``benchmarks/jobtimes`` (the
jobs run in threads of the ``snakemake`` process); the peak memory is the process's. From the
per-shard jobs' mean time it estimates a corpus of ``--estimate`` articles on ``--nodes`` nodes.
Figures are printed as Markdown and saved in ``benchmarks/results/scale.json``. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import (  # noqa: E402
    SNAKEMAKE,
    change_one_label,
    copy_project,
    machine,
    save,
    version_time,
)
from synthetic import write_corpus  # noqa: E402

PER_SHARD = ("split_shard", "attribute_shard", "predict_speakers", "predict_stance")


def run_workflow(project: Path, times: Path, *args: str) -> dict:
    """One `snakemake --cores 2` in ``project``: wall time, peak memory, the jobs' step times."""
    times.unlink(missing_ok=True)
    env = {**os.environ, "STANCE_JOB_TIMES": str(times)}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "benchmarks" / "jobtimes"), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            [SNAKEMAKE, "--cores", "2", *args], cwd=project, env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            out.seek(0)
            raise SystemExit(f"snakemake failed in {project}:\n{out.read()[-5000:]}")
    jobs = []
    if times.exists():
        for rule, tag, began, ended, peak in csv.reader(times.open(), delimiter="\t"):
            seconds = float(ended) - float(began)
            jobs.append({"rule": rule, "wildcards": tag, "began": float(began),
                         "seconds": seconds, "peak_mb": float(peak)})  # fmt: skip
    return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, "jobs": jobs}


def per_rule(jobs: list[dict]) -> dict[str, dict]:
    """Jobs, summed step time and longest job per rule."""
    out: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "seconds": 0.0, "longest_s": 0.0})
    for job in jobs:
        row = out[job["rule"]]
        row["jobs"] += 1
        row["seconds"] += job["seconds"]
        row["longest_s"] = max(row["longest_s"], job["seconds"])
    return dict(out)


def add_articles(project: Path, n: int, seed: int) -> None:
    """``n`` synthetic articles beside the seed articles (no labels for them)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(Path(tmp) / "s", n, seed=seed)
        for path in (Path(tmp) / "s").glob("*.txt"):
            shutil.copyfile(path, project / "seeds" / path.name)


def show(name: str, run: dict) -> None:
    print(f"\n{name}: {run['wall_s']:.1f} s wall, peak {run['peak_mb']:,.0f} MB")
    print("| rule | jobs | step time, summed | longest job |")
    print("| --- | ---: | ---: | ---: |")
    for rule, row in sorted(per_rule(run["jobs"]).items(), key=lambda kv: -kv[1]["seconds"]):
        print(f"| {rule} | {row['jobs']} | {row['seconds']:.1f} s | {row['longest_s']:.1f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--estimate", type=int, default=100_000, help="articles to estimate")
    parser.add_argument("--nodes", type=int, default=10, help="cluster nodes to estimate")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    result: dict = {"sizes": {}, "command": "python benchmarks/scale.py --sizes "
                    + " ".join(map(str, args.sizes))}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        times = Path(tmp) / "times.tsv"
        for n in args.sizes:
            project = copy_project(Path(tmp) / f"p{n}")
            add_articles(project, n, seed=1)
            clean = run_workflow(project, times)
            show(f"{n:,} synthetic articles + seeds, from clean", clean)
            result["sizes"][n] = {"from_clean": clean}
            if n != max(args.sizes):
                shutil.rmtree(project)
                continue
            unit = version_time()
            noop = [run_workflow(project, times)["wall_s"] for _ in range(3)]
            print(
                f"\nnothing to do: {statistics.median(noop):.2f} s "
                f"({statistics.median(noop) / unit:.2f}x `snakemake --version`, {unit:.2f} s)"
            )
            (project / "seeds" / "999_new.txt").write_text(
                "NATO ministers met in Brussels on Tuesday. The Taliban said foreign troops must "
                "leave.\n\nThey discussed the U.S. withdrawal plan.\n",
                encoding="utf-8",
            )
            new_article = run_workflow(project, times)
            show("one new article", new_article)
            change_one_label(project)
            new_label = run_workflow(project, times)
            show("one changed label", new_label)
            result["sizes"][n].update(
                nothing_to_do_s=statistics.median(noop), version_s=unit,
                new_article=new_article, new_label=new_label,
            )  # fmt: skip
        if len(args.sizes) >= 2:
            result["estimate"] = estimate(result, args)
    save("scale", result)


def estimate(result: dict, args: argparse.Namespace) -> dict:
    """Each rule's summed step time as a + b x articles, through the two largest sizes, at
    ``--estimate`` articles; the per-shard rules' time spread over the shards and the nodes."""
    n1, n2 = sorted(args.sizes)[-2:]
    rules1 = per_rule(result["sizes"][n1]["from_clean"]["jobs"])
    rules2 = per_rule(result["sizes"][n2]["from_clean"]["jobs"])
    shards = rules2["split_shard"]["jobs"]
    waves = -(-shards // args.nodes)  # shards in turns of at most `nodes` at once
    rows, total = {}, 0.0
    for rule in rules2:
        t1, t2 = rules1.get(rule, {"seconds": 0.0})["seconds"], rules2[rule]["seconds"]
        slope = max((t2 - t1) / (n2 - n1), 0.0)
        at = max(t2 + slope * (args.estimate - n2), 0.0)
        wall = at / shards * waves if rule in PER_SHARD else at
        rows[rule] = {"summed_s": at, "wall_s": wall}
        total += wall
    print(
        f"\nestimate for {args.estimate:,} articles, {shards} shards on {args.nodes} nodes "
        f"(each rule's time as a + b x articles through {n1:,} and {n2:,}):"
    )
    print("| rule | step time, summed | on the cluster |")
    print("| --- | ---: | ---: |")
    for rule, row in sorted(rows.items(), key=lambda kv: -kv[1]["wall_s"]):
        print(f"| {rule} | {row['summed_s'] / 60:.1f} min | {row['wall_s'] / 60:.1f} min |")
    print(f"| all, one rule after another | | **{total / 60:.0f} min** |")
    return {"articles": args.estimate, "nodes": args.nodes, "shards": shards, "rules": rows,
            "total_s": total}  # fmt: skip


if __name__ == "__main__":
    main()
