import sys

from stance.corpus import discover
from stance.errors import StanceError
from stance.sentences import assign_shards

# Run package commands with this interpreter, not whichever python is first on PATH.
PY = sys.executable
STANCE = f'"{PY}" -m stance'
CONFIG_FILE = "config/config.yaml"
SEEDS = config["seeds_dir"]

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


def shard_inputs(wildcards):
    return [f"{SEEDS}/{article}.txt" for article in SHARDS[int(wildcards.shard)]]
