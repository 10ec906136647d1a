"""The ``stance`` command line: one sub-command per workflow step or user task."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from stance.errors import StanceError

Handler = Callable[[argparse.Namespace], int | None]


def _cmd_split(args: argparse.Namespace) -> None:
    from stance.config import load_config
    from stance.sentences import split_shard

    split_shard(
        args.inputs,
        load_config(args.config),
        args.sentences,
        args.chrome,
        args.articles,
        cache=args.cache,
        label=args.label,
    )


def _cmd_gather(args: argparse.Namespace) -> None:
    from stance.sentences import gather

    gather(
        args.sentences,
        args.chrome,
        args.articles,
        args.out_sentences,
        args.out_chrome,
        args.out_articles,
    )


def _cmd_check_corpus(args: argparse.Namespace) -> None:
    from stance.config import load_config
    from stance.corpus import discover

    found = discover(load_config(args.config)["seeds_dir"])
    for warning in found.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{len(found.article_ids)} article(s)")


def _cmd_add(args: argparse.Namespace) -> None:
    from stance.config import load_config
    from stance.corpus import add_articles

    seeds_dir = load_config(args.config)["seeds_dir"]
    for source, article_id in add_articles(args.files, seeds_dir):
        print(f"added {source} as {seeds_dir}/{article_id}.txt (article ID {article_id})")
    print("run `snakemake` to split the new article(s)")


def _cmd_labels(args: argparse.Namespace) -> None:
    from stance.agreement import summary_line
    from stance.config import load_config
    from stance.dataset import run_label_stage

    labels_config = load_config(args.config)["labels"]
    result = run_label_stage(
        args.sentences,
        args.labels_dir or labels_config["dir"],
        args.schema or labels_config["schema"],
        adjudication=args.adjudication,
        annotator_priority=labels_config.get("annotator_priority", []),
        out_dataset=args.out_dataset,
        out_unlabeled=args.out_unlabeled,
        out_summary=args.out_summary,
        out_summary_by_article=args.out_summary_by_article,
        out_agreement=args.out_agreement,
        out_disagreements=args.out_disagreements,
    )
    for warning in result.label_set.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    annotators = result.label_set.annotators
    print(
        f"labels: {result.labeled} of {result.sentences} sentences labeled, "
        f"{result.unlabeled} unlabeled (queue: {args.out_unlabeled}); "
        f"{len(annotators)} annotator(s){': ' + ', '.join(annotators) if annotators else ''}; "
        f"{len(result.label_set.adjudication)} adjudicated"
    )
    print(summary_line(result.agreement.report))


def _cmd_label(args: argparse.Namespace) -> int:
    from pathlib import Path

    from stance.config import load_config
    from stance.labeling import check_annotator, open_session, run_terminal
    from stance.labels import load_schema, load_sentences

    check_annotator(args.annotator)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise StanceError(
            "stance label needs an interactive terminal (its input or output is redirected). "
            "Run it in a terminal; to add labels from a script, write rows to "
            f"labels/{args.annotator}.csv in the format of labels/GUIDELINES.md, and "
            "`snakemake` validates them"
        )
    config = load_config(args.config)
    labels_config = config["labels"]
    schema = load_schema(labels_config["schema"])
    sentences = load_sentences(args.sentences)
    session = open_session(
        args.annotator,
        schema,
        sentences,
        Path(labels_config["dir"]),
        order=args.order,
        sample=args.sample,
        seed=args.seed,
        probabilities=_latest_model_probabilities(args.config, config),
    )
    if session.current() is None:
        print(f"nothing left to label for {args.annotator} ({session.total} sentences done)")
        return 0
    return run_terminal(session, sys.stdin, sys.stdout)


def _latest_model_probabilities(config_path: str, config: dict):
    """Class probabilities of the queue from the best logged text-only model, or None."""

    def probabilities(sentences):
        from stance.evaluation import predict_sentences
        from stance.tracking import load_logged_model, select_run

        uri, experiment = _tracking(config_path, config)
        try:
            chosen = select_run(uri, experiment, available=["text"])
            if chosen["features"] != ["text"]:
                return None
            model = load_logged_model(uri, chosen["run_id"])
        except StanceError:
            return None
        print(
            f"order: least certain first, by model {chosen['model']!r} (run {chosen['run_id']})",
            file=sys.stderr,
        )
        table = sentences[["sentence_id", "text"]].reset_index(drop=True)
        result = predict_sentences(model, table, chosen["classes"], chosen["features"])
        return result[[f"proba_{c}" for c in chosen["classes"]]]

    return probabilities


def _tracking(config_path: str, config: dict) -> tuple[str, str]:
    from stance.tracking import project_root, resolve_tracking_uri

    return resolve_tracking_uri(config, project_root(config_path)), config["mlflow"]["experiment"]


def _write_json(path: str, data: dict) -> None:
    import json

    from stance.io import atomic_open

    with atomic_open(path, encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")


def _print_warnings(messages: Sequence[str]) -> None:
    for message in messages:
        print(f"warning: {message}", file=sys.stderr)


def _cmd_init_tracking(args: argparse.Namespace) -> None:
    from stance.config import load_config
    from stance.tracking import init_store

    config = load_config(args.config)
    uri, experiment = _tracking(args.config, config)
    experiment_id = init_store(uri, experiment)
    if args.out:
        _write_json(
            args.out,
            {"tracking_uri": uri, "experiment": experiment, "experiment_id": experiment_id},
        )
    print(f"MLflow store {uri}: experiment {experiment!r} (id {experiment_id})")


def _settings(config: dict, jobs: int | None):
    """The evaluation settings of the config; ``jobs`` (--jobs) overrides evaluation.n_jobs."""
    from dataclasses import replace

    from stance.evaluation import EvalSettings

    settings = EvalSettings.from_config(config)
    return settings if jobs is None else replace(settings, n_jobs=jobs)


def _cmd_train_model(args: argparse.Namespace) -> None:
    from stance.config import load_config
    from stance.evaluation import evaluate, load_labeled_dataset, write_evaluation
    from stance.models import get_spec

    config = load_config(args.config)
    spec = get_spec(config, args.model)
    data = load_labeled_dataset(args.data)
    settings = _settings(config, args.jobs)
    # Progress for the job log: evaluation is the long part of the workflow.
    print(
        f"{spec.name}: evaluating on {len(data.frame)} labeled sentences "
        f"({settings.n_jobs} thread(s)) ...",
        file=sys.stderr,
    )
    started = time.perf_counter()
    ev = evaluate(data, spec, settings)
    print(f"{spec.name}: evaluated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    write_evaluation(ev, args.out)
    _print_warnings(ev.warnings)
    m = ev.metrics
    print(
        f"{spec.name}: {ev.summary['cv']['description']}: f_avg {m['f_avg']:.3f} "
        f"[{m['f_avg_ci_low']:.3f}, {m['f_avg_ci_high']:.3f}], macro_f1 {m['macro_f1']:.3f} "
        f"[{m['macro_f1_ci_low']:.3f}, {m['macro_f1_ci_high']:.3f}] -> {args.out}"
    )


def _cmd_log_run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from stance.config import load_config
    from stance.evaluation import (
        ARTIFACT_FILES,
        load_final_model,
        load_labeled_dataset,
        read_summary,
    )
    from stance.tracking import log_evaluation_run, project_root

    config = load_config(args.config)
    uri, experiment = _tracking(args.config, config)
    model_dir = Path(args.model_dir)
    summary = read_summary(model_dir)
    data = load_labeled_dataset(args.data)
    if data.digest() != summary["data"]["sha256"]:
        raise StanceError(
            f"{args.data} changed since {model_dir} was trained; run `stance train-model` again"
        )
    info = log_evaluation_run(
        uri,
        experiment,
        summary,
        load_final_model(model_dir),
        [model_dir / name for name in ARTIFACT_FILES],
        data,
        config=config,
        root=project_root(args.config),
        group=args.group,
        source="snakemake",
        agreement=args.agreement,
        reuse_identical=True,
    )
    if args.out:
        _write_json(args.out, {"model": summary["model"], **info})
    if info["reused"]:
        print(
            f"{summary['model']}: run {info['run_id']} in {uri} already holds this result "
            "(same labels, config, commit, params and metrics); nothing new logged"
        )
    else:
        print(
            f"{summary['model']}: logged run {info['run_id']} to {uri} "
            f"(experiment {experiment!r}, workflow run {info['group']})"
        )


def _cmd_compare(args: argparse.Namespace) -> None:
    from stance.evaluation import comparison_table, read_summary, write_comparison
    from stance.tracking import read_marker

    run_ids = {}
    for path in args.runs:
        marker = read_marker(path)
        run_ids[marker["model"]] = marker["run_id"]
    table = comparison_table([read_summary(p) for p in args.metrics], run_ids)
    write_comparison(table, args.out)
    shown = ["model", "f_avg", "f_avg_ci_low", "f_avg_ci_high", "macro_f1", "accuracy"]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _cmd_runs(args: argparse.Namespace) -> None:
    from stance.config import load_config
    from stance.tracking import runs_table

    config = load_config(args.config)
    uri, experiment = _tracking(args.config, config)
    table = runs_table(
        uri, experiment, model=args.model, filter_string=args.filter, limit=args.limit
    )
    if args.tsv:
        print(table.to_csv(sep="\t", index=False, lineterminator="\n"), end="")
    elif table.empty:
        print(f"no model runs in {uri} (experiment {experiment!r}) match")
    else:
        print(table.to_string(index=False))


def _cmd_predict(args: argparse.Namespace) -> None:
    import pandas as pd

    from stance.config import load_config
    from stance.evaluation import (
        UNLABELED_QUEUE,
        predict_sentences,
        sentences_from_articles,
        sentences_from_table,
        sentences_from_texts,
    )
    from stance.io import atomic_open
    from stance.tracking import load_logged_model, select_run

    config = load_config(args.config)
    uri, experiment = _tracking(args.config, config)
    sources = [bool(args.text), bool(args.articles), bool(args.table), bool(args.unlabeled)]
    if sum(sources) != 1:
        raise StanceError(
            "give exactly one input: --text TEXT, --articles FILE..., --table CSV or --unlabeled"
        )
    if args.text:
        table = sentences_from_texts(args.text, config)
    elif args.articles:
        table = sentences_from_articles(args.articles, config)
    else:
        table = sentences_from_table(args.table or args.unlabeled or UNLABELED_QUEUE)
    if args.speaker is not None:
        table["speaker"] = args.speaker
    chosen = select_run(
        uri, experiment, run_id=args.run_id, model=args.model, available=list(table.columns)
    )
    model = load_logged_model(uri, chosen["run_id"])
    name = f"model {chosen['model']!r} (run {chosen['run_id']})"
    result = predict_sentences(model, table, chosen["classes"], chosen["features"], name)
    print(f"{name}: {len(result)} sentence(s)", file=sys.stderr)
    if args.out == "-":
        result.to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        with atomic_open(args.out, newline="", encoding="utf-8") as fh:
            result.to_csv(fh, index=False, lineterminator="\n")
        counts = pd.Series(result["stance"]).value_counts().to_dict() if len(result) else {}
        print(f"wrote {args.out}: {counts}", file=sys.stderr)


def _cmd_train(args: argparse.Namespace) -> None:
    from pathlib import Path

    from stance.config import load_config
    from stance.evaluation import (
        ARTIFACT_FILES,
        comparison_table,
        evaluate,
        load_table,
        write_comparison,
        write_evaluation,
    )
    from stance.labels import load_schema
    from stance.models import SPEAKER, get_spec, model_specs
    from stance.tracking import log_evaluation_run, new_group_id, project_root

    config = load_config(args.config)
    root = project_root(args.config)
    schema_path = root / config["labels"]["schema"]
    hint = load_schema(schema_path).values("stance") if schema_path.is_file() else None
    cache = root / ".hf_cache" / "datasets"
    data = load_table(args.data, hint, cache)
    test = load_table(args.test, hint, cache) if args.test else None
    if args.model:
        specs = [get_spec(config, name) for name in args.model]
    else:
        specs = model_specs(config)
        readable = [s for s in specs if SPEAKER not in s.features or data.has_speaker]
        for s in specs:
            if s not in readable:
                print(
                    f"note: skipping {s.name}: {args.data} has no 'speaker' column", file=sys.stderr
                )
        specs = readable
    settings = _settings(config, args.jobs)
    out = Path(args.out)
    group = new_group_id()
    summaries, run_ids = [], {}
    shown: set[str] = set()
    if not args.no_log:
        uri, experiment = _tracking(args.config, config)
    for spec in specs:
        ev = evaluate(data, spec, settings, test)
        write_evaluation(ev, out / spec.name)
        _print_warnings([w for w in ev.warnings if w not in shown])
        shown.update(ev.warnings)
        summaries.append(ev.summary)
        m = ev.metrics
        line = (
            f"{spec.name}: f_avg {m['f_avg']:.3f} [{m['f_avg_ci_low']:.3f}, "
            f"{m['f_avg_ci_high']:.3f}], macro_f1 {m['macro_f1']:.3f} "
            f"[{m['macro_f1_ci_low']:.3f}, {m['macro_f1_ci_high']:.3f}] "
            f"({ev.summary['cv']['description']})"
        )
        if not args.no_log:
            info = log_evaluation_run(
                uri,
                experiment,
                ev.summary,
                ev.final_model,
                [out / spec.name / name for name in ARTIFACT_FILES],
                data,
                test=test,
                config=config,
                root=root,
                group=group,
                group_label="stance train",
                source="stance train",
            )
            run_ids[spec.name] = info["run_id"]
            line += f", run {info['run_id']}"
        print(line)
    write_comparison(comparison_table(summaries, run_ids), out / "comparison.tsv")
    print(f"results in {out}/ (comparison.tsv, one folder per model)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stance", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--config", default="config/config.yaml", help="project configuration")
        return p

    p = add("split", _cmd_split, "split article files into sentences (workflow step)")
    p.add_argument("inputs", nargs="*", help="article .txt files; the file stem is the ID")
    p.add_argument("--sentences", required=True, help="output Parquet of sentences")
    p.add_argument("--chrome", required=True, help="output TSV of removed chrome lines")
    p.add_argument("--articles", required=True, help="output TSV of per-article counts")
    p.add_argument("--cache", help="cache of earlier splits, to re-split only what changed")
    p.add_argument("--label", default="split", help="name used in progress messages")

    p = add("gather", _cmd_gather, "join per-shard sentence tables (workflow step)")
    p.add_argument("--sentences", nargs="*", default=[], help="per-shard Parquet files")
    p.add_argument("--chrome", nargs="*", default=[], help="per-shard chrome TSV files")
    p.add_argument("--articles", nargs="*", default=[], help="per-shard article TSV files")
    p.add_argument("--out-sentences", required=True)
    p.add_argument("--out-chrome", required=True)
    p.add_argument("--out-articles", required=True)

    p = add("add", _cmd_add, "copy article files into the corpus under safe IDs")
    p.add_argument("files", nargs="+", help="plain-text (UTF-8) article files")

    p = add("labels", _cmd_labels, "validate hand labels and build the labeled data set")
    p.add_argument("--sentences", default="results/sentences.parquet", help="sentence table")
    p.add_argument("--labels-dir", help="folder of label CSVs (default: config labels.dir)")
    p.add_argument("--schema", help="label scheme (default: config labels.schema)")
    p.add_argument(
        "--adjudication", help="adjudication CSV (default: <labels-dir>/adjudication.csv if any)"
    )
    p.add_argument("--out-dataset", default="results/labeled_dataset")
    p.add_argument("--out-unlabeled", default="results/unlabeled.csv")
    p.add_argument("--out-summary", default="results/label_summary.tsv")
    p.add_argument("--out-summary-by-article", default="results/label_summary_by_article.tsv")
    p.add_argument("--out-agreement", default="results/agreement.json")
    p.add_argument("--out-disagreements", default="results/disagreements.csv")

    p = add("label", _cmd_label, "label sentences in the terminal, one key per answer")
    p.add_argument("--annotator", required=True, help="your name; labels go to labels/NAME.csv")
    p.add_argument(
        "--order",
        choices=["article", "uncertain"],
        default="article",
        help="article order, or the sentences the latest model is least sure about first",
    )
    p.add_argument("--sample", type=int, help="label a reproducible sample of N sentences")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample (share it)")
    p.add_argument("--sentences", default="results/sentences.parquet")

    p = add(
        "init-tracking",
        _cmd_init_tracking,
        "create the MLflow store and experiment once (workflow step)",
    )
    p.add_argument("--out", help="JSON file recording the store and experiment")

    p = add(
        "train-model",
        _cmd_train_model,
        "evaluate one configured model and fit it on all labels (workflow step)",
    )
    p.add_argument("--model", required=True, help="name of a model in config models")
    p.add_argument("--data", default="results/labeled_dataset", help="labeled data set folder")
    p.add_argument("--out", required=True, help="result folder, e.g. results/models/NAME")
    p.add_argument(
        "--jobs", type=_positive, help="threads for the fits (default: evaluation.n_jobs)"
    )

    p = add("log-run", _cmd_log_run, "log a trained model's results to MLflow (workflow step)")
    p.add_argument("--agreement", help="agreement.json of the label stage, logged with the run")
    p.add_argument("--model-dir", required=True, help="folder written by train-model")
    p.add_argument("--data", default="results/labeled_dataset", help="labeled data set folder")
    p.add_argument("--out", help="JSON file recording the run ID")
    p.add_argument(
        "--group",
        help="ID shared by the runs of one workflow run "
        "(default: $STANCE_WORKFLOW_RUN, else a new one)",
    )

    p = add("compare", _cmd_compare, "table of the models' scores side by side (workflow step)")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json of each model")
    p.add_argument("--runs", nargs="*", default=[], help="mlflow_run.json of each model")
    p.add_argument("--out", required=True, help="output TSV")

    p = add("runs", _cmd_runs, "list logged model runs, newest first")
    p.add_argument("--model", help="only runs of this model")
    p.add_argument("--filter", help='MLflow search filter, e.g. "metrics.f_avg > 0.5"')
    p.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    p.add_argument("--tsv", action="store_true", help="tab-separated output")

    p = add("predict", _cmd_predict, "predict the stance of sentences with a logged model")
    p.add_argument("--run-id", help="the run whose model to use (see `stance runs`)")
    p.add_argument(
        "--model",
        help="the newest run of this model (default: of the newest run "
        "of each model, the one with the best f_avg)",
    )
    p.add_argument("--text", action="append", help="a text to split and classify (repeatable)")
    p.add_argument("--articles", nargs="+", help="article files, split like the corpus")
    p.add_argument("--table", help="CSV with a 'text' column (and 'speaker' if the model needs it)")
    p.add_argument(
        "--unlabeled",
        nargs="?",
        const="results/unlabeled.csv",
        help="the labeling queue (default results/unlabeled.csv)",
    )
    p.add_argument("--speaker", help="speaker of every input sentence (for speaker models)")
    p.add_argument("--out", default="-", help="output CSV (default: standard output)")

    p = add(
        "train",
        _cmd_train,
        "train and evaluate the configured models on any labeled table (CSV/JSONL/Parquet)",
    )
    p.add_argument(
        "data",
        help="table with columns text, stance (optional: group, speaker, "
        "sentence_id); see docs/training.md",
    )
    p.add_argument("--test", help="score on this table instead of cross-validating")
    p.add_argument("--model", action="append", help="only this configured model (repeatable)")
    p.add_argument("--out", default="results/train", help="result folder (default results/train)")
    p.add_argument("--no-log", action="store_true", help="do not log runs to MLflow")
    p.add_argument(
        "--jobs", type=_positive, help="threads for the fits (default: evaluation.n_jobs)"
    )

    add("check-corpus", _cmd_check_corpus, "list problems with the article folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except StanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
