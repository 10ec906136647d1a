"""The ``stance`` command line: argument parsing and error handling of the user commands."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence

from stance.cli import commands
from stance.environment import configure
from stance.errors import StanceError
from stance.logs import log_to_stderr

# The tools of stance.interop.exporting.TOOLS (not imported here, to keep `stance --help` fast).
TOOL_NAMES = ["label-studio", "doccano", "prodigy"]

logger = logging.getLogger(__name__)

DESCRIPTION = "Stance pipeline commands (the workflow itself runs with `snakemake`)."


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**32 - 1, not {text}")
    return value


def _sample_options(p: argparse.ArgumentParser) -> None:
    """--sample, --seed and --unit, the same for `stance label` and `stance export`."""
    p.add_argument(
        "--sample",
        type=_positive,
        help="a random sample of N units of the queue, recorded in labels/samples/ (the "
        "findings use it to estimate the model's errors); the same N and --seed give a "
        "co-annotator, or another tool, the same units; a larger N with the same seed extends it",
    )
    p.add_argument("--seed", type=_seed, default=0, help="seed of --sample (share it)")
    p.add_argument(
        "--unit",
        choices=["sentence", "article"],
        default="sentence",
        help="what --sample draws: sentences, or whole articles to label in full",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stance", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int | None], help_text: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--config", default="config/config.yaml", help="project configuration")
        return p

    p = add(
        "add",
        commands.add,
        "add articles to the corpus under safe IDs, with their metadata (title, outlet, date, "
        "url) in the metadata table",
    )
    p.add_argument(
        "files",
        nargs="+",
        help="plain-text (UTF-8) articles, saved web pages (.html, .htm) or JSON Lines "
        "exports (.jsonl: one article per line, 'text' plus metadata fields)",
    )

    add("check-corpus", commands.check_corpus, "list problems with the article folder")
    add(
        "check",
        commands.check,
        "check that the labeling guidelines (GUIDELINES.md in config labels.dir) have a section "
        "for every field and value of the label schema",
    )

    p = add("labels", commands.labels, "validate hand labels and build the labeled data set")
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

    p = add("label", commands.label, "label sentences in the terminal, one key per answer")
    p.add_argument("--annotator", required=True, help="your name; labels go to labels/NAME.csv")
    p.add_argument(
        "--order",
        choices=["article", "uncertain"],
        default="article",
        help="article order, or the sentences the latest model is least sure about first",
    )
    _sample_options(p)
    p.add_argument(
        "--relabel", action="store_true", help="also offer sentences others labeled (for agreement)"
    )
    p.add_argument("--sentences", default="results/sentences.parquet")

    p = add(
        "export",
        commands.export,
        "write the labeling queue for Label Studio, doccano or Prodigy (--to), or the labeled "
        "data set as a Hugging Face data set folder (--dataset); see docs/interop.md",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--to", choices=TOOL_NAMES, help="the labeling tool to export the queue to")
    what.add_argument("--dataset", metavar="DIR", help="write the labeled data set to this folder")
    p.add_argument("--out", help="tasks file (default: results/<tool>/tasks.json or .jsonl)")
    _sample_options(p)
    p.add_argument("--annotator", help="leave out the sentences this annotator has labeled")
    p.add_argument("--unlabeled", action="store_true", help="only sentences nobody has labeled yet")
    p.add_argument(
        "--suggestions",
        action="store_true",
        help="add the best logged text-only model's stance as a marked suggestion",
    )
    p.add_argument("--run-id", help="the run whose model makes the suggestions")
    p.add_argument(
        "--force",
        action="store_true",
        help="--out: replace an existing file that is not an earlier export; --dataset: add to a "
        "folder of other files (which are never replaced or deleted)",
    )
    p.add_argument("--sentences", default="results/sentences.parquet")

    p = add("import", commands.import_labels, "turn a labeling tool's export into labels/NAME.csv")
    p.add_argument("file", help="the tool's export (JSON for Label Studio, JSONL otherwise)")
    p.add_argument("--from", dest="tool", required=True, choices=TOOL_NAMES, help="the tool")
    p.add_argument("--annotator", required=True, help="whose labels; they go to labels/NAME.csv")
    p.add_argument(
        "--merge",
        action="store_true",
        help="add to an existing labels/NAME.csv (otherwise the import refuses it)",
    )
    p.add_argument(
        "--completed-by",
        help="Label Studio: only the annotations of this user: the numeric id (Export > JSON) "
        "or the email (API snapshot exports)",
    )
    p.add_argument("--sentences", default="results/sentences.parquet")

    p = add(
        "runs",
        commands.runs,
        "list finished model runs, newest first; compare runs (--compare), or one model "
        "across label versions (--by-labels)",
    )
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        help="two or more run IDs: the params that differ and each metric's difference",
    )
    p.add_argument(
        "--by-labels",
        metavar="MODEL",
        help="this model's scores across label versions (data digest), oldest first",
    )
    p.add_argument("--model", help="only runs of this model")
    p.add_argument("--filter", help='MLflow search filter, e.g. "metrics.f_avg > 0.5"')
    p.add_argument(
        "--limit", type=_positive, default=50, help="at most LIMIT runs (default 50, at most 50000)"
    )
    p.add_argument("--tsv", action="store_true", help="tab-separated output")
    p.add_argument(
        "--all",
        action="store_true",
        help="also unfinished runs (RUNNING: still logging or left by a crash; FAILED)",
    )

    p = add(
        "predict",
        commands.predict,
        "predict the stance of sentences with a logged model, or (--speakers-only) their speaker",
    )
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
    p.add_argument(
        "--speaker",
        help="speaker of every input sentence (default: predicted by the speaker stage, "
        "see docs/speakers.md)",
    )
    p.add_argument(
        "--speakers-only",
        action="store_true",
        help="only the speaker of each sentence (the rules, and the logged speaker model where "
        "config speakers.method uses one): no stance model or MLflow run needed",
    )
    p.add_argument("--out", default="-", help="output CSV (default: standard output)")

    p = add(
        "train",
        commands.train,
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure()
    log_to_stderr()
    try:
        result = args.handler(args)
    except StanceError as exc:
        logger.error(str(exc))
        return 2
    except KeyboardInterrupt:
        logger.info("interrupted")
        return 130
    return int(result or 0)
