"""Benchmark harness: split throughput, workflow wall times, re-runs, training and MLflow logging.

Run from the repository root with the project's environment, e.g.
``.venv/bin/python benchmarks/run.py split workflow``; every figure is printed as a Markdown
table row and saved in ``benchmarks/results/<name>.json``. Benchmarks are not tests: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
# The console script, as users run it (python -m snakemake starts differently).
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
PROJECT_ITEMS = ["Snakefile", "workflow", "config", "profiles", "seeds", "labels"]

from synthetic import write_corpus  # noqa: E402


def machine() -> dict:
    with open("/proc/meminfo", encoding="utf-8") as fh:
        mem_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def save(name: str, data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout + proc.stderr


def snakemake(cwd: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ}
    env.pop("MLFLOW_TRACKING_URI", None)
    return timed([SNAKEMAKE, *args], cwd, env)


def copy_project(dest: Path, with_seeds: bool = True, source: Path = ROOT) -> Path:
    dest.mkdir(parents=True)
    for item in PROJECT_ITEMS:
        if item == "seeds" and not with_seeds:
            continue
        src = source / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / item)
    return dest


def bench_split(args: argparse.Namespace) -> None:
    """Split throughput in one process (characters and sentences per second)."""
    from stance.config import load_config
    from stance.corpus.splitting import compile_rules, split_article
    from stance.corpus.stage import splitter_from_config

    config = load_config(ROOT / "config" / "config.yaml")
    splitter = splitter_from_config(config)
    rules = compile_rules(config["split"]["chrome_rules"])
    with tempfile.TemporaryDirectory() as tmp:
        total = write_corpus(Path(tmp) / "seeds", args.articles, seed=1)
        texts = [p.read_text(encoding="utf-8") for p in sorted((Path(tmp) / "seeds").iterdir())]
    runs = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        n_sentences = sum(
            len(split_article(f"a{i}", t, splitter, rules)[0]) for i, t in enumerate(texts)
        )
        runs.append(time.perf_counter() - start)
    best = statistics.median(runs)
    result = {
        "articles": args.articles,
        "characters": total,
        "sentences": n_sentences,
        "seconds_median": best,
        "chars_per_s": total / best,
        "sentences_per_s": n_sentences / best,
        "command": f"python benchmarks/run.py split --articles {args.articles}",
    }
    save("split", result)
    print(
        f"| split stage, {args.articles:,} articles ({total / 1e6:.1f} M chars) | "
        f"{total / best / 1e6:.2f} M chars/s | {n_sentences / best:,.0f} sentences/s |"
    )


def bench_workflow(args: argparse.Namespace) -> None:
    """snakemake wall time from clean and with nothing to do, for corpora of several sizes."""
    target = args.target.split()
    rows = []
    version_runs = [timed([SNAKEMAKE, "--version"], ROOT)[0] for _ in range(args.repeat)]
    version = statistics.median(version_runs)
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            project = copy_project(Path(tmp) / "p", with_seeds=(n == 0))
            if n:
                # Synthetic articles have no hand labels: the label stage sees none.
                write_corpus(project / "seeds", n, seed=1)
                for label_file in (project / "labels").glob("*.csv"):
                    label_file.unlink()
            articles = len(list((project / "seeds").glob("*.txt")))
            clean, _ = snakemake(project, *target)
            noop = statistics.median(snakemake(project, *target)[0] for _ in range(args.repeat))
        rows.append({"articles": articles, "from_clean_s": clean, "nothing_to_do_s": noop})
        print(
            f"| {articles:,} articles | {clean:.1f} s from clean | {noop:.2f} s nothing to do "
            f"({noop / version:.2f}x `snakemake --version`) |"
        )
    save(
        "workflow",
        {
            "target": target,
            "snakemake_version_s": version,
            "rows": rows,
            "command": "python benchmarks/run.py workflow --sizes "
            + " ".join(map(str, args.sizes)),
        },
    )
    print(f"`snakemake --version`: {version:.2f} s")


def version_time(repeat: int = 3) -> float:
    """Median wall time of `snakemake --version`: the unit the workflow times are read in."""
    return statistics.median(timed([SNAKEMAKE, "--version"], ROOT)[0] for _ in range(repeat))


def measure_run(into: dict, project: Path, name: str) -> None:
    """One snakemake run of the project: its time, and as a multiple of `snakemake --version`."""
    unit = version_time()
    into[f"{name}_s"], _ = snakemake(project)
    into[f"{name}_version_s"] = unit
    into[f"{name}_x"] = into[f"{name}_s"] / unit


def change_one_label(project: Path) -> None:
    """Flip the stance of the first row of labels/lead.csv: a timing edit of a temporary copy,
    not a labeling decision."""
    path = project / "labels" / "lead.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["stance"] = "none" if rows[0]["stance"] != "none" else "favor"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def bench_rerun(args: argparse.Namespace) -> None:
    """Full workflow on the seed corpus: from clean, nothing to do, one new article, one label.

    Each time is also given as a multiple of `snakemake --version`, measured just before it, so
    that figures taken on a busy machine can be compared; the sequence runs `--repeat` times on
    fresh copies and the medians are reported.
    """
    source = Path(args.project).resolve() if args.project else ROOT
    names = ("from_clean", "nothing_to_do", "change_label", "add_article")
    rounds: list[dict] = []
    for _ in range(args.repeat):
        one: dict = {}
        with tempfile.TemporaryDirectory() as tmp:
            project = copy_project(Path(tmp) / "p", source=source)

            measure_run(one, project, "from_clean")
            measure_run(one, project, "nothing_to_do")
            change_one_label(project)
            measure_run(one, project, "change_label")
            (project / "seeds" / "900_bench.txt").write_text(
                "NATO ministers met in Brussels. They discussed the U.S. withdrawal plan.\n",
                encoding="utf-8",
            )
            measure_run(one, project, "add_article")
        rounds.append(one)
    result: dict = {"project": str(source), "rounds": rounds}
    for key in rounds[0]:
        result[key] = statistics.median(r[key] for r in rounds)
    result["command"] = (
        "python benchmarks/run.py rerun"
        + (f" --project {args.project}" if args.project else "")
        + f" --repeat {args.repeat}"
    )
    save(args.save_as or "rerun", result)
    for name in names:
        each = ", ".join(f"{r[f'{name}_x']:.1f}x" for r in rounds)
        print(
            f"| seed corpus, full workflow: {name} | {result[f'{name}_s']:.1f} s | "
            f"{result[f'{name}_x']:.1f}x (`--version` {result[f'{name}_version_s']:.2f} s; "
            f"each: {each}) |"
        )


def _tree_rss_mb(pid: int) -> float:
    """Resident memory (MB) of a process and its children (Linux /proc; 0 elsewhere)."""
    total = 0
    children = [
        c for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()
    ]
    for p in [str(pid), *children]:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def _sample_tree(pid: int, peak: list[float], stop: threading.Event) -> None:
    while not stop.wait(0.1):
        with contextlib.suppress(OSError):  # ended, or no /proc
            peak[0] = max(peak[0], _tree_rss_mb(pid))


def run_measured(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, float, str]:
    """Wall time (s), peak resident memory (MB) and processor time (user + system, s; a busy
    machine changes it less than the wall time) of one child process. The peak is the larger of
    the process's own and the sum over it and its children (sampled every 0.1 s), for the
    training that fits its final model in a process of its own."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        tree_peak, stop = [0.0], threading.Event()
        sampler = threading.Thread(target=_sample_tree, args=(proc.pid, tree_peak, stop))
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        stop.set()
        sampler.join()
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{text}")
    return elapsed, max(usage.ru_maxrss / 1024, tree_peak[0]), usage.ru_utime + usage.ru_stime, text


def bench_train(args: argparse.Namespace) -> None:
    """Training + full evaluation time and peak memory per model against labeled-set size."""
    from synthetic import write_label_table

    rows = []
    env = {**os.environ}
    env.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            table = Path(tmp) / f"labels_{n}.csv"
            write_label_table(table, n, seed=1)
            for model in args.models:
                cmd = [sys.executable, "-m", "stance", "train", str(table), "--model", model,
                       "--no-log", "--out", str(Path(tmp) / "out"),
                       "--config", str(ROOT / "config" / "config.yaml")]  # fmt: skip
                load = os.getloadavg()[0]
                seconds, peak_mb, cpu, _ = run_measured(cmd, ROOT, env)
                rows.append({"rows": n, "model": model, "seconds": seconds, "peak_mb": peak_mb,
                             "cpu_s": cpu, "load_before": load})  # fmt: skip
                print(
                    f"| {n:,} labeled sentences | {model} | {seconds:.1f} s | {peak_mb:,.0f} MB "
                    f"| {cpu:.1f} s processor | load {load:.2f} before |"
                )
    save(
        "train",
        {
            "rows": rows,
            "command": "python benchmarks/run.py train --rows "
            + " ".join(map(str, args.rows))
            + " --models "
            + " ".join(args.models),
        },
    )


def bench_mlflow(args: argparse.Namespace) -> None:
    """Time to log one model run (params, metrics, data set, artifacts, model) to SQLite."""
    from synthetic import write_label_table

    env = {**os.environ}
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "labels.csv"
        write_label_table(table, 1000, seed=1)
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        common = [
            sys.executable,
            "-m",
            "stance",
            "train",
            str(table),
            "--model",
            "word_lr",
            "--out",
            str(Path(tmp) / "out"),
            "--config",
            str(ROOT / "config" / "config.yaml"),
        ]
        unlogged, _, _, _ = run_measured([*common, "--no-log"], ROOT, env)
        first, _, _, _ = run_measured(common, ROOT, env)  # creates the store
        again = [run_measured(common, ROOT, env)[0] for _ in range(args.repeat)]
    per_run = statistics.median(again) - unlogged
    result = {"train_without_logging_s": unlogged, "first_run_with_new_store_s": first,
              "with_logging_s": again, "logging_per_run_s": per_run,
              "command": "python benchmarks/run.py mlflow"}  # fmt: skip
    save("mlflow", result)
    print(f"| MLflow logging of one model run (SQLite store) | {per_run:.1f} s |")
    print(f"| creating a new SQLite store + first run | {first - unlogged:.1f} s |")


def bench_model_file(args: argparse.Namespace) -> None:
    """Size, save and load time of a final model file: the project's TF-IDF block (vocabulary as
    arrays) against scikit-learn's own TfidfVectorizer (vocabulary as a dict), same fitted model."""
    import copy

    from sklearn.feature_extraction.text import TfidfVectorizer
    from synthetic import write_label_table

    from stance.config import load_config
    from stance.environment import configure
    from stance.training.data import load_table
    from stance.training.model_files import checked_dumps, loads_checked
    from stance.training.models import CompactTfidfVectorizer, get_spec

    configure()
    config = load_config(ROOT / "config" / "config.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "labels.csv"
        write_label_table(table, args.model_file_rows, seed=1)
        data = load_table(table, cache_dir=Path(tmp) / "hf")
    for name in args.models:
        spec = get_spec(config, name)
        model = spec.build(1).fit(data.frame[spec.features], data.frame["stance"])
        plain = copy.deepcopy(model)
        for _, block, _ in plain.named_steps["features"].transformers_:
            if isinstance(block, CompactTfidfVectorizer):
                block.__class__ = TfidfVectorizer  # the same fitted state, saved the usual way
        for how, fitted in (("TfidfVectorizer", plain), ("CompactTfidfVectorizer", model)):
            start = time.perf_counter()
            blob = checked_dumps(fitted, name)
            saved = time.perf_counter() - start
            start = time.perf_counter()
            loads_checked(blob, name)
            loaded = time.perf_counter() - start
            rows.append({"model": name, "vectorizer": how, "mb": len(blob) / 1e6,
                         "save_s": saved, "load_s": loaded})  # fmt: skip
            print(f"| {name} | {how} | {len(blob) / 1e6:.2f} MB | {saved:.2f} s | {loaded:.2f} s |")
    save("model_file", {"rows": rows, "labeled_rows": args.model_file_rows,
                        "command": "python benchmarks/run.py model_file"})  # fmt: skip


def _distribution_closure(requirements: list[str], extras: set[str] | None = None) -> set[str]:
    """Installed distributions that ``requirements`` pull in (names normalised), transitively."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [(r, set()) for r in requirements]
    while todo:
        text, wanted = todo.pop()
        req = Requirement(text)
        if req.marker is not None and not any(
            req.marker.evaluate({"extra": e}) for e in (wanted or {""})
        ):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [(r, set(req.extras)) for r in dist.requires or []]
    return seen


def _installed_mb(names: set[str]) -> float:
    from importlib import metadata

    total = 0
    for name in names:
        for file in metadata.distribution(name).files or []:
            path = file.locate()
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20


def bench_embeddings(args: argparse.Namespace) -> None:
    """The sentence-encoder family: install size of the `embeddings` extra, encode throughput
    (fresh process, 2 threads, no cache; then the same texts from the cache) and the wall time
    the encoder models add to a clean workflow run on the seed corpus."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = _distribution_closure(project["dependencies"])
    extra = _distribution_closure(project["optional-dependencies"]["embeddings"]) - base
    size_mb = _installed_mb(extra)
    print(
        f"| `embeddings` extra, installed size ({len(extra)} distributions) | {size_mb:,.0f} MB |"
    )
    encode_script = """
import os, sys, time
from stance.environment import configure
configure()
import torch
torch.set_num_threads(2)
from synthetic import write_label_table
import pandas as pd
from stance.training.encoders import encoded_count
from stance.training.encoders import SentenceEncoder
from pathlib import Path
path = Path(sys.argv[2]) / "labels.csv"
write_label_table(path, int(sys.argv[1]), seed=3)
texts = pd.read_csv(path)["text"].tolist()
start = time.perf_counter()
encoder = SentenceEncoder().fit(texts[:1])
loaded = time.perf_counter()
encoder.transform(texts)
done = time.perf_counter()
print(len(set(texts)), encoded_count(), loaded - start, done - loaded)
"""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        env["STANCE_EMBEDDING_CACHE"] = str(Path(tmp) / "cache")
        runs = {}
        for label in ("cold", "cached"):
            start = time.perf_counter()
            _, out = timed([sys.executable, "-c", encode_script, str(args.encode_rows), tmp],
                           ROOT, env)  # fmt: skip
            wall = time.perf_counter() - start
            unique, encoded, load_s, encode_s = out.strip().splitlines()[-1].split()
            runs[label] = {
                "texts": int(unique), "encoded": int(encoded), "load_s": float(load_s),
                "encode_s": float(encode_s), "process_s": wall,
            }  # fmt: skip
            rate = int(unique) / float(encode_s)
            print(f"| encode {unique} sentences, {label} cache ({encoded} encoded) | "
                  f"{rate:,.0f} sentences/s; first fit {float(load_s):.1f} s; "
                  f"process {wall:.1f} s |")  # fmt: skip
        clean = {}
        import yaml

        for label in ("without_encoder_models", "with_encoder_models"):
            copy = copy_project(Path(tmp) / label)
            if label == "without_encoder_models":
                config = yaml.safe_load((copy / "config/config.yaml").read_text())
                config["models"] = [
                    m for m in config["models"] if not m["kind"].startswith("encoder")
                ]
                (copy / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            clean[label], _ = snakemake(copy, "--cores", "2")
            print(f"| clean seed run, {label.replace('_', ' ')} | {clean[label]:.1f} s |")
    save(
        "embeddings",
        {
            "extra_distributions": sorted(extra),
            "extra_installed_mb": size_mb,
            "encode": runs,
            "clean_seed_run_s": clean,
            "command": f"python benchmarks/run.py embeddings --encode-rows {args.encode_rows}",
        },
    )


COMMANDS = {
    "model_file": bench_model_file,
    "split": bench_split,
    "workflow": bench_workflow,
    "rerun": bench_rerun,
    "train": bench_train,
    "mlflow": bench_mlflow,
    "embeddings": bench_embeddings,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benchmarks", nargs="+", choices=sorted(COMMANDS))
    parser.add_argument("--articles", type=int, default=2000, help="split: corpus size")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[1000, 10000, 100000],
        help="train: labeled-set sizes",
    )  # fmt: skip
    parser.add_argument(
        "--models", nargs="+", default=["word_lr", "word_char_lr", "word_char_svm"],
        help="train: configured models to time",
    )  # fmt: skip
    parser.add_argument(
        "--encode-rows", type=int, default=2000, help="embeddings: sentences to encode"
    )
    parser.add_argument(
        "--model-file-rows", type=int, default=1000, help="model_file: labeled-set size"
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[0, 1000, 10000],
        help="workflow: corpus sizes (0 = the seed corpus)",
    )
    parser.add_argument(
        "--target",
        default="results/sentences.parquet results/unlabeled.csv",
        help="workflow: snakemake targets (space separated)",
    )
    parser.add_argument(
        "--project", help="rerun: the checkout whose workflow is timed (default: this one)"
    )
    parser.add_argument("--save-as", help="rerun: name of the results file")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for name in args.benchmarks:
        COMMANDS[name](args)


if __name__ == "__main__":
    main()
