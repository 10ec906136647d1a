"""The ``stance`` command line: one sub-command per workflow step or user task."""

from __future__ import annotations

import argparse
import sys
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
        probabilities=_latest_model_probabilities(config),
    )
    if session.current() is None:
        print(f"nothing left to label for {args.annotator} ({session.total} sentences done)")
        return 0
    return run_terminal(session, sys.stdin, sys.stdout)


def _latest_model_probabilities(config: dict):
    """Class probabilities from the latest trained model, or None if there is none."""

    def probabilities(sentences):
        try:
            from stance.predict import latest_model_probabilities
        except ImportError:
            return None
        return latest_model_probabilities(config, sentences)

    return probabilities


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
