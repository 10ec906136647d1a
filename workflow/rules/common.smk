import os
import sys

from stance.codehash import code_digest
from stance.corpus.articles import assign_shards, discover
from stance.corpus.metadata import metadata_path
from stance.errors import StanceError
from stance.tracking.store import WORKFLOW_RUN_ENV, new_group_id
from stance.training.extras import runnable_entries
from stance.training.settings import result_settings

# Every job hands itself (with the configuration Snakemake resolved from config/config.yaml,
# --configfile and --config) to the step of its rule, in this process (stance.cli.jobs).
from stance.cli.jobs import run_step

SEEDS = config["seeds_dir"]
# The optional metadata table of the articles (title, outlet, date, url).
METADATA = str(metadata_path(SEEDS))
try:
    _corpus = discover(SEEDS)
except StanceError as exc:
    # A user mistake: the message says what to do, a traceback would only hide it.
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)
for _warning in _corpus.warnings:
    logger.warning(f"warning: {_warning}")
ARTICLES = _corpus.article_ids
# Fixed shards of the corpus (non-empty ones only); a new article changes only its shard.
SHARDS = assign_shards(ARTICLES, config["split"]["shards"])


wildcard_constraints:
    shard=r"\d+",


# The runs logged by one `snakemake` call share this ID (a tag, and one parent run in MLflow).
# Not a rule param: a new ID per call must not make any job look out of date.
os.environ.setdefault(WORKFLOW_RUN_ENV, new_group_id())

# The evaluation settings that shape results (speed settings re-run nothing).
EVALUATION = result_settings(config["evaluation"])
