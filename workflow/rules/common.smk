import sys
from pathlib import Path

from stance.corpus import assign_shards, discover
from stance.errors import StanceError

# Jobs run the `stance` command installed beside the python that runs snakemake, even when its
# environment is not activated. (Not a rule param: a different but equivalent interpreter path
# must not make every job look out of date.)
shell.prefix(f'export PATH="{Path(sys.executable).parent}:$PATH"; ')
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
