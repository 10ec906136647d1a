"""The user commands of `stance`: one function per command of stance.cli.main."""

from __future__ import annotations

import argparse
import contextlib
import logging
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from stance.config import load_config
from stance.errors import StanceError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


def _tracking(config_path: str, config: dict) -> tuple[str, str]:
    from stance.tracking.store import project_root, resolve_tracking_uri

    return resolve_tracking_uri(config, project_root(config_path)), config["mlflow"]["experiment"]


def check_corpus(args: argparse.Namespace) -> None:
    from stance.corpus.articles import discover
    from stance.corpus.metadata import metadata_path, read_metadata

    seeds_dir = load_config(args.config)["seeds_dir"]
    found = discover(seeds_dir)
    for warning in found.warnings:
        logger.warning(warning)
    table = read_metadata(metadata_path(seeds_dir), set(found.article_ids))
    print(f"{len(found.article_ids)} article(s), {len(table)} with a metadata row")


def check(args: argparse.Namespace) -> int:
    from stance.labels.schema import GUIDELINES_FILE, guideline_problems, load_schema

    labels_config = load_config(args.config)["labels"]
    schema = load_schema(labels_config["schema"])
    guidelines = Path(labels_config["dir"]) / GUIDELINES_FILE
    problems = guideline_problems(schema, guidelines)
    for problem in problems:
        logger.error(problem)
    if problems:
        return 1
    counts = ", ".join(f"{f.name}: {len(f.values)}" for f in schema.fields)
    print(f"{guidelines} describes every value of {schema.path} ({counts})")
    return 0


def add(args: argparse.Namespace) -> None:
    from stance.corpus.adding import add_sources

    seeds_dir = load_config(args.config)["seeds_dir"]
    added = add_sources(args.files, seeds_dir)
    for warning in added.warnings:
        logger.warning(warning)
    for source, article_id, row in added.articles:
        known = ", ".join(f"{k} {row[k]!r}" for k in ("title", "outlet", "date", "url") if row[k])
        print(
            f"added {source} as {seeds_dir}/{article_id}.txt (article ID {article_id})"
            + (f"; {known}" if known else "")
        )
    print("run `snakemake` to split the new article(s)")


def labels(args: argparse.Namespace) -> None:
    from stance.labels.stage import print_stage_summary, run_label_stage

    labels_config = load_config(args.config)["labels"]
    result = run_label_stage(
        args.sentences,
        args.labels_dir or labels_config["dir"],
        args.schema or labels_config["schema"],
        adjudication=args.adjudication,
        annotator_priority=labels_config["annotator_priority"],
        **{name: path for name, path in vars(args).items() if name.startswith("out_")},
    )
    print_stage_summary(result, args.out_unlabeled, show=print)


def label(args: argparse.Namespace) -> int:
    from stance.annotate.session import check_annotator, logged_model_probabilities, open_session
    from stance.annotate.terminal import run_terminal
    from stance.labels.files import load_sentences
    from stance.labels.schema import load_schema
    from stance.locking import annotator_lock

    check_annotator(args.annotator)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise StanceError(
            "stance label needs an interactive terminal (its input or output is redirected). "
            "Run it in a terminal; to add labels from a script, write rows to "
            f"labels/{args.annotator}.csv in the format of labels/GUIDELINES.md, and "
            "`snakemake` validates them"
        )
    config = load_config(args.config)
    labels_dir = Path(config["labels"]["dir"])
    with annotator_lock(labels_dir, args.annotator, f"stance label --annotator {args.annotator}"):
        session = open_session(
            args.annotator,
            load_schema(config["labels"]["schema"]),
            load_sentences(args.sentences),
            labels_dir,
            order=args.order,
            sample=args.sample,
            seed=args.seed,
            probabilities=logged_model_probabilities(*_tracking(args.config, config)),
            unit=args.unit,
            relabel=args.relabel,
            command=_command_line(),
        )
        if session.current() is None:
            print(f"nothing left to label for {args.annotator} ({session.total} sentences done)")
            return 0
        return run_terminal(session, sys.stdin, sys.stdout)


def _command_line() -> str:
    """The command as typed, for the record of a drawn sample."""
    return " ".join(["stance", *map(shlex.quote, sys.argv[1:])])


def _print_table(table: pd.DataFrame, tsv: bool) -> None:
    if tsv:
        print(table.to_csv(sep="\t", index=False, lineterminator="\n"), end="")
    else:
        print(table.to_string(index=False))


def runs(args: argparse.Namespace) -> None:
    from stance.tracking.queries import compare_runs, runs_table, scores_by_label_version

    uri, experiment = _tracking(args.config, load_config(args.config))
    if args.compare and args.by_labels:
        raise StanceError("give --compare or --by-labels, not both")
    if args.compare:
        found = compare_runs(uri, experiment, args.compare)
        if not args.tsv:
            print(found["runs"].to_string(index=False))
            print()
            if found["params"].empty:
                print("params: the same in every run (tags too)")
            else:
                print("params that differ:")
                print(found["params"].to_string(index=False))
            print()
            first = found["runs"]["run"].iloc[0]
            print(f"metrics [95% CI], and the difference from run {first}:")
        _print_table(found["metrics"], args.tsv)
        return
    if args.by_labels:
        table = scores_by_label_version(uri, experiment, args.by_labels)
        if not args.tsv:
            print(f"{args.by_labels}: scores per label version, oldest first")
        _print_table(table, args.tsv)
        return
    table = runs_table(
        uri,
        experiment,
        model=args.model,
        filter_string=args.filter,
        limit=args.limit,
        include_unfinished=args.all,
    )
    if table.empty and not args.tsv:
        which = "model runs" if args.all else "finished model runs (--all: unfinished too)"
        print(f"no {which} in {uri} (experiment {experiment!r}) match")
    else:
        _print_table(table, args.tsv)


def _write_predictions(frame: pd.DataFrame, out: str) -> None:
    """A CSV for people: formula-like texts are quoted (--table reads them back exactly)."""
    from stance.io import atomic_open, spreadsheet_frame

    stdout = contextlib.nullcontext(sys.stdout)
    with stdout if out == "-" else atomic_open(out, newline="", encoding="utf-8") as fh:
        spreadsheet_frame(frame).to_csv(fh, index=False, lineterminator="\n")


def predict(args: argparse.Namespace) -> None:
    from stance.cli.predict import (
        add_speakers,
        sentences_from_articles,
        sentences_from_table,
        sentences_from_texts,
    )
    from stance.tracking.store import project_root

    config = load_config(args.config)
    uri, experiment = _tracking(args.config, config)
    if sum(map(bool, (args.text, args.articles, args.table, args.unlabeled))) != 1:
        raise StanceError(
            "give exactly one input: --text TEXT, --articles FILE..., --table CSV or --unlabeled"
        )
    if args.speakers_only and (args.speaker or args.run_id or args.model):
        raise StanceError(
            "--speakers-only predicts speakers with no stance model: leave out --speaker, "
            "--run-id and --model"
        )
    if args.text:
        table = sentences_from_texts(args.text, config)
    elif args.articles:
        table = sentences_from_articles(args.articles, config)
    else:
        table = sentences_from_table(args.table or args.unlabeled)
    table = add_speakers(table, config, project_root(args.config), uri, experiment, args.speaker,
                         need_mapping=args.speakers_only)  # fmt: skip
    if args.speakers_only:
        _write_predictions(table, args.out)
        counts = table["speaker"].value_counts().to_dict()
        logger.info(f"speakers ({config['speakers']['method']}) of {len(table)} sentence(s): "
                    f"{counts}")  # fmt: skip
        return
    from stance.tracking.model_io import load_logged_model
    from stance.tracking.queries import select_run
    from stance.training.models import predict_sentences

    chosen = select_run(
        uri, experiment, run_id=args.run_id, model=args.model, available=list(table.columns)
    )
    model = load_logged_model(uri, chosen["run_id"])
    name = f"model {chosen['model']!r} (run {chosen['run_id']})"
    result = predict_sentences(model, table, chosen["classes"], chosen["features"], name)
    logger.info(f"{name}: {len(result)} sentence(s)")
    _write_predictions(result, args.out)
    if args.out != "-":
        logger.info(f"wrote {args.out}: {result['stance'].value_counts().to_dict()}")


def train(args: argparse.Namespace) -> None:
    from stance.labels.schema import load_schema
    from stance.tracking.runs import log_evaluation_run
    from stance.tracking.store import new_group_id, project_root
    from stance.tracking.summary import log_group_summary
    from stance.training.artifacts import ARTIFACT_FILES
    from stance.training.comparison import comparison_table, describe_comparison, write_comparison
    from stance.training.data import load_table
    from stance.training.run import result_line, settings_for, specs_for, train_model

    config = load_config(args.config)
    root = project_root(args.config)
    schema_path = root / config["labels"]["schema"]
    hint = load_schema(schema_path).values("stance") if schema_path.is_file() else None
    cache = root / ".hf_cache" / "datasets"
    data = load_table(args.data, hint, cache)
    test = load_table(args.test, hint, cache) if args.test else None
    specs, skipped = specs_for(config, data, args.model)
    for note in skipped:
        logger.info(f"note: {note}")
    settings = settings_for(config, args.jobs)
    out = Path(args.out)
    group = new_group_id()
    summaries, run_ids = [], {}
    shown: set[str] = set()
    if not args.no_log:
        uri, experiment = _tracking(args.config, config)
    for spec in specs:
        ev = train_model(data, spec, settings, out / spec.name, test, shown)
        summaries.append(ev.summary)
        line = result_line(ev)
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
    table = comparison_table(summaries, run_ids)
    write_comparison(table, out / "comparison.tsv")
    if run_ids:  # logged
        parent = log_group_summary(
            uri, experiment, group, table, describe_comparison(table, summaries),
            group_label="stance train",
        )  # fmt: skip
        print(f"comparison on parent run {parent}")
    print(f"results in {out}/ (comparison.tsv, one folder per model)")


def export(args: argparse.Namespace) -> None:
    from stance.interop.targets import protected_folders
    from stance.labels.files import load_labels, load_sentences
    from stance.labels.schema import load_schema

    config = load_config(args.config)
    labels_config = config["labels"]
    protected = protected_folders(config, args.config)
    if args.dataset:
        from stance.interop.hf_dataset import export_dataset

        queue_only = ("--out", "--sample", "--annotator", "--unlabeled", "--suggestions")
        if args.unit != "sentence":
            raise StanceError("--unit: only with --to and --sample, not with --dataset")
        given = [
            o for o in queue_only if getattr(args, o[2:].replace("-", "_")) not in (None, False)
        ]
        if given:
            raise StanceError(
                f"{', '.join(given)}: only with --to (a queue export), not with --dataset"
            )
        done = export_dataset(
            args.dataset,
            load_sentences(args.sentences),
            load_schema(labels_config["schema"]),
            labels_config["dir"],
            annotator_priority=labels_config["annotator_priority"],
            guidelines=Path(labels_config["dir"]) / "GUIDELINES.md",
            sentences_source=args.sentences,
            force=args.force,
            protected=protected,
        )
        print(
            f"wrote {done.path}/: {done.rows} labeled sentences from {done.articles} article(s), "
            f"{done.annotations} annotator label(s); load it with "
            f"datasets.load_dataset({str(done.path)!r})"
        )
        return

    from stance.annotate.session import build_queue, labeled_ids
    from stance.interop.exporting import TOOLS, check_export, model_suggestions, queue_items

    # Checked first: a refused --out must not leave a newly recorded sample behind either.
    out = Path(args.out or TOOLS[args.to].DEFAULT_OUT)
    check_export(args.to, out, force=args.force, protected=protected)
    schema = load_schema(labels_config["schema"])
    sentences = load_sentences(args.sentences)
    skip: set[str] = set()
    sample_ids = None
    if args.annotator or args.unlabeled or args.sample is not None:
        label_set = load_labels(
            labels_config["dir"], sentences, schema, sentences_source=args.sentences
        )
        labels = label_set.labels
        if args.unlabeled:
            skip |= labeled_ids(label_set)
        if args.annotator:
            skip |= set(labels.loc[labels["annotator"] == args.annotator, "sentence_id"])
        if args.sample is not None:
            ids, description = build_queue(
                sentences, label_set, Path(labels_config["dir"]), sample=args.sample,
                seed=args.seed, unit=args.unit, command=_command_line(),
            )  # fmt: skip
            logger.info(description)
            sample_ids = set(ids)
    suggestions = None
    items = queue_items(sentences, only=sample_ids, skip=skip)
    if args.suggestions and items:
        import pandas as pd

        table = pd.DataFrame(items)  # a column per field of the items: sentence_id, text, ...
        suggestions = model_suggestions(*_tracking(args.config, config), table, args.run_id)
        items = queue_items(sentences, only=sample_ids, skip=skip, suggestions=suggestions)
    written = TOOLS[args.to].write_tasks(items, schema, out)
    marked = " with model suggestions" if suggestions else ""
    print(f"wrote {len(items)} sentence(s){marked} for {args.to}: {', '.join(map(str, written))}")
    if not items:
        logger.info(
            "note: the queue is empty (every sentence chosen is labeled already); drop "
            "--annotator/--unlabeled, or add articles and run `snakemake`"
        )


def import_labels(args: argparse.Namespace) -> None:
    from stance.interop.importing import import_labels as run_import
    from stance.labels.files import load_sentences
    from stance.labels.schema import load_schema

    labels_config = load_config(args.config)["labels"]
    result = run_import(
        args.file,
        args.tool,
        args.annotator,
        load_sentences(args.sentences),
        load_schema(labels_config["schema"]),
        labels_config["dir"],
        merge=args.merge,
        completed_by=args.completed_by,
        sentences_source=args.sentences,
    )
    for line in result.skipped:
        logger.info(f"not a label: {line}")
    print(
        f"wrote {result.path}: {result.added} new label(s)"
        + (f", {result.already_there} already there" if result.already_there else "")
        + (f", {len(result.skipped)} item(s) without a label" if result.skipped else "")
        + (f", {result.by_text} matched by text" if result.by_text else "")
        + "; run `snakemake` to validate them and rebuild the data set"
    )
