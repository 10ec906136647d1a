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
