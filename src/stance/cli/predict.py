"""`stance predict`: sentences from texts, article files or a table, and their speakers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from stance.corpus.articles import read_article
from stance.corpus.splitting import compile_rules, split_article
from stance.corpus.stage import splitter_from_config
from stance.errors import StanceError
from stance.findings.predict import read_people_table
from stance.speakers.attribution import mapping_from_config, predict_speakers
from stance.tracking.model_io import load_logged_model
from stance.tracking.queries import latest_speaker_run
from stance.training.models import SPEAKER, TEXT

logger = logging.getLogger(__name__)

UNLABELED_QUEUE = "results/unlabeled.csv"
# Whether a sentence opens a paragraph: the speaker rules read it, it is not written out.
PARAGRAPH_START = "paragraph_start"


def _split(
    articles: Iterable[tuple[str, str]], config: Mapping[str, Any], rules: list
) -> pd.DataFrame:
    splitter = splitter_from_config(dict(config))
    rows = [
        (s.sentence_id, s.article_id, s.position, s.text, s.paragraph_start)
        for article_id, raw in articles
        for s in split_article(article_id, raw, splitter, rules)[0]
    ]
    return pd.DataFrame(
        rows, columns=["sentence_id", "article_id", "position", TEXT, PARAGRAPH_START]
    )


def sentences_from_texts(texts: Sequence[str], config: Mapping[str, Any]) -> pd.DataFrame:
    """Sentences of texts given on the command line (split, no page-chrome rules)."""
    return _split(((f"text-{i}", text) for i, text in enumerate(texts, start=1)), config, [])


def sentences_from_articles(paths: Sequence[Path | str], config: Mapping[str, Any]) -> pd.DataFrame:
    """Sentences of article files, split as the workflow splits the corpus (file stem = ID)."""
    rules = compile_rules(config["split"]["chrome_rules"])
    return _split(((Path(p).stem, read_article(Path(p))) for p in paths), config, rules)


def sentences_from_table(path: Path | str) -> pd.DataFrame:
    """Sentences of a CSV with a ``text`` column (the unlabeled queue, or any table)."""
    path = Path(path)
    if not path.is_file():
        hint = "; run snakemake to build it" if path.as_posix().endswith(UNLABELED_QUEUE) else ""
        raise StanceError(f"{path}: file not found{hint}")
    table = read_people_table(path)  # formula-like texts quoted for a spreadsheet come back exact
    if TEXT not in table.columns:
        raise StanceError(
            f"{path}: no 'text' column (found: {', '.join(table.columns)}); the table needs one "
            "sentence per row in a column called text"
        )
    return table


def add_speakers(
    table: pd.DataFrame,
    config: Mapping[str, Any],
    root: Path | str,
    uri: str,
    experiment: str,
    speaker: str | None = None,
    need_mapping: bool = False,
) -> pd.DataFrame:
    """The table with ``speaker`` and ``speaker_evidence``: --speaker, its own, else predicted."""
    out = table.drop(columns=[PARAGRAPH_START], errors="ignore")
    if speaker is not None:
        out[SPEAKER] = speaker
        out["speaker_evidence"] = "given with --speaker"
        return out
    if SPEAKER in out.columns:
        out["speaker_evidence"] = "from the input table"
        return out
    mapping_file = Path(root) / config["speakers"]["mapping"]
    if not mapping_file.is_file():
        if need_mapping:
            raise StanceError(
                f"{mapping_file}: speaker mapping not found; the speaker rules need it (config "
                "speakers.mapping; docs/speakers.md)"
            )
        # A project without the speaker stage: only text models can be fed.
        logger.info(
            f"note: no speaker mapping {mapping_file}: speakers are not predicted (give "
            "--speaker NAME for a speaker model; docs/speakers.md)"
        )
        return out
    method = config["speakers"]["method"]
    model = None
    if method != "rules" and len(out):
        latest = latest_speaker_run(uri, experiment)
        if latest is None or latest[1]:
            why = f" (the newest speaker run {latest[0]}: {latest[1]})" if latest else ""
            raise StanceError(
                f"speakers.method is {method!r} but no speaker model is logged in {uri}{why}; "
                "label speakers and run `snakemake`, set speakers.method: rules, or give --speaker"
            )
        model = load_logged_model(uri, latest[0])
    found = predict_speakers(table, mapping_from_config(config, root), model, method)
    out[SPEAKER] = found["predicted_speaker"].to_numpy()
    out["speaker_evidence"] = found["evidence"].to_numpy()
    return out
