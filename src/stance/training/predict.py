"""Predicting the stance of new sentences with a fitted model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from stance.errors import StanceError
from stance.io import plain_frame
from stance.tracking.queries import get_model_run, search_model_runs
from stance.training.models import SPEAKER, TEXT

UNLABELED_QUEUE = "results/unlabeled.csv"


def sentences_from_texts(texts: Sequence[str], config: Mapping[str, Any]) -> pd.DataFrame:
    """Sentences of texts given on the command line (split, no page-chrome rules)."""
    from stance.corpus.splitting import split_article
    from stance.corpus.stage import splitter_from_config

    splitter = splitter_from_config(dict(config))
    rows = []
    for i, text in enumerate(texts, start=1):
        sentences, _ = split_article(f"text-{i}", text, splitter, [])
        rows += _rows(sentences, text)
    return pd.DataFrame(rows, columns=[*SENTENCE_COLUMNS, PARAGRAPH_START])


# Sentence columns of split input, and whether each sentence opens a paragraph (a line break
# before it; the speaker rules read it and it is not written out).
SENTENCE_COLUMNS = ["sentence_id", "article_id", "position", TEXT]
PARAGRAPH_START = "paragraph_start"


def _rows(sentences: Sequence[Any], raw: str) -> list[tuple[Any, ...]]:
    rows, previous_end = [], None
    for s in sentences:
        gap = raw[previous_end : s.start] if previous_end is not None else "\n"
        rows.append((s.sentence_id, s.article_id, s.position, s.text, "\n" in gap or "\r" in gap))
        previous_end = s.end
    return rows


def sentences_from_articles(paths: Sequence[Path | str], config: Mapping[str, Any]) -> pd.DataFrame:
    """Sentences of article files, split as the workflow splits the corpus (file stem = ID)."""
    from stance.corpus.articles import read_article
    from stance.corpus.chrome import compile_rules
    from stance.corpus.splitting import split_article
    from stance.corpus.stage import splitter_from_config

    splitter = splitter_from_config(dict(config))
    rules = compile_rules(config["split"]["chrome_rules"])
    rows = []
    for path in paths:
        path = Path(path)
        raw = read_article(path)
        sentences, _ = split_article(path.stem, raw, splitter, rules)
        rows += _rows(sentences, raw)
    return pd.DataFrame(rows, columns=[*SENTENCE_COLUMNS, PARAGRAPH_START])


def sentences_from_table(path: Path | str) -> pd.DataFrame:
    """Sentences of a CSV with a ``text`` column (the unlabeled queue, or any table)."""
    path = Path(path)
    if not path.is_file():
        hint = "; run snakemake to build it" if path.as_posix().endswith(UNLABELED_QUEUE) else ""
        raise StanceError(f"{path}: file not found{hint}")
    # Our CSVs for people quote texts a spreadsheet would run as a formula: restore them exactly.
    table = plain_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
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
) -> pd.DataFrame:
    """The table with ``speaker`` and ``speaker_evidence``: ``speaker`` for every sentence when
    given (--speaker), the table's own speaker column when it has one, else the speaker stage's
    prediction (rules with the mapping of config speakers.mapping and, unless speakers.method is
    ``rules``, the newest logged speaker model, loaded with the project's trusted-types check)."""
    out = table.copy()
    if speaker is not None or SPEAKER in out.columns:
        if speaker is not None:
            out[SPEAKER] = speaker
        out["speaker_evidence"] = (
            "given with --speaker" if speaker is not None else "from the input table"
        )
        return out.drop(columns=[PARAGRAPH_START], errors="ignore")
    from stance.speakers.apply import mapping_from_config, predict_speakers

    method = config["speakers"]["method"]
    model = None
    if method != "rules" and len(out):
        from stance.tracking.model_io import load_logged_model
        from stance.tracking.speakers import latest_speaker_run

        run_id = latest_speaker_run(uri, experiment)
        if run_id is None:
            raise StanceError(
                f"speakers.method is {method!r} but no speaker model is logged in {uri}; run "
                "`snakemake` (rule log_speakers), set speakers.method: rules, or give --speaker"
            )
        model = load_logged_model(uri, run_id)
    found = predict_speakers(out, mapping_from_config(config, root), model, method)
    out[SPEAKER] = found["predicted_speaker"].to_numpy()
    out["speaker_evidence"] = found["evidence"].to_numpy()
    return out.drop(columns=[PARAGRAPH_START], errors="ignore")


def predict_sentences(
    model: Pipeline,
    table: pd.DataFrame,
    classes: Sequence[str],
    features: Sequence[str],
    model_name: str = "the model",
) -> pd.DataFrame:
    """The table with the predicted stance and one probability column per class added."""
    missing = [f for f in features if f not in table.columns]
    if missing:
        if SPEAKER in missing:
            raise StanceError(
                f"{model_name} also reads the speaker of each sentence (input columns: "
                f"{', '.join(features)}), and the input has no 'speaker' column: give one "
                "speaker for all sentences with --speaker NAME, use a --table CSV with a "
                "'speaker' column, or pick a text-only model with --model / --run-id"
            )
        raise StanceError(
            f"the input has no column(s) {', '.join(missing)} that {model_name} needs"
        )
    out = table.copy()
    if len(out) == 0:
        for c in ("stance", *(f"proba_{c}" for c in classes)):
            out[c] = pd.Series([], dtype=object if c == "stance" else float)
        return out
    x = out[list(features)].astype(str).reset_index(drop=True)
    try:
        proba = model.predict_proba(x)
        order = list(model.classes_)
        predicted = list(model.predict(x))
    except Exception as exc:  # a model that loaded but does not work as a project model does
        raise StanceError(
            f"{model_name} could not predict ({type(exc).__name__}: {exc}); pick another run "
            "with --run-id (see `stance runs`) or train again with `snakemake`"
        ) from None
    names = list(classes) or order
    out["stance"] = predicted
    for name in names:
        out[f"proba_{name}"] = np.round(proba[:, order.index(name)], 6) if name in order else 0.0
    return out


def select_run(
    uri: str,
    experiment: str,
    *,
    run_id: str | None = None,
    model: str | None = None,
    metric: str = "f_avg",
    available: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The run to predict with: ``run_id``; else the newest run of ``model``; else, of the newest
    run of every model, the one with the highest ``metric`` (ties: the newer). Without run_id and
    model, only models whose input columns are all in ``available`` (when given) are chosen.
    Only FINISHED runs count: a run whose logging failed or was killed may lack its model."""
    if run_id:
        run = get_model_run(uri, experiment, run_id)
    else:
        runs = search_model_runs(uri, experiment, model=model)
        if not runs:
            what = f" of model {model!r}" if model else ""
            raise StanceError(
                f"no finished run{what} in {uri}; run `snakemake` or `stance train` "
                "(`stance runs --all` lists unfinished ones)"
            )
        latest: dict[str, Any] = {}
        for r in runs:  # newest first
            latest.setdefault(r.data.tags.get("model", r.info.run_name), r)
        candidates = list(latest.values())
        if available is not None and not model:

            def usable(r: Any) -> bool:
                needed = [c for c in r.data.params.get("features", "").split(",") if c]
                return all(c in available for c in needed)

            candidates = [r for r in candidates if usable(r)] or candidates
        run = max(
            candidates,
            key=lambda r: (r.data.metrics.get(metric, float("-inf")), r.info.start_time),
        )
    return {
        "run_id": run.info.run_id,
        "model": run.data.tags.get("model", run.info.run_name),
        "metric": run.data.metrics.get(metric),
        "classes": [c for c in run.data.params.get("classes", "").split(",") if c],
        "features": [c for c in run.data.params.get("features", "").split(",") if c],
    }
