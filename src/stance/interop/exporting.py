"""The labeling queue as items for a tool, with model suggestions; the tools by their name."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping
from pathlib import Path
from types import ModuleType

import pandas as pd

from stance.errors import StanceError
from stance.interop import doccano, label_studio, prodigy
from stance.interop.common import QueueItem, Suggestion
from stance.interop.targets import check_parent, check_protected

# The command line offers only these names (stance.cli.main.TOOL_NAMES, checked by a test).
TOOLS: dict[str, ModuleType] = {m.NAME: m for m in (label_studio, doccano, prodigy)}


def queue_items(
    sentences: pd.DataFrame,
    *,
    only: Collection[str] | None = None,
    skip: Collection[str] = (),
    suggestions: Mapping[str, Suggestion] | None = None,
) -> list[QueueItem]:
    """The queue in article order: every sentence or those in ``only`` (a recorded sample), less
    those in ``skip``; each with its neighbours as context."""
    table = sentences.sort_values(["article_id", "position"], kind="stable")
    wanted = ~table["sentence_id"].isin(set(skip))
    if only is not None:
        wanted &= table["sentence_id"].isin(set(only))
    by_position = {
        (a, int(p)): t
        for a, p, t in zip(table["article_id"], table["position"], table["text"], strict=True)
    }
    items = []
    for rec in table[wanted].to_dict("records"):
        article, position = rec["article_id"], int(rec["position"])
        before, after = (by_position.get((article, position + d), "") for d in (-1, 1))
        suggestion = (suggestions or {}).get(rec["sentence_id"])
        items.append(
            QueueItem(rec["sentence_id"], article, position, rec["text"], before, after, suggestion)
        )
    return items


def check_export(tool: str, out: Path, *, force: bool, protected: Mapping[str, Path]) -> None:
    """Refuse, before anything is written, an export whose files would land in a protected
    folder or replace a file that is no earlier export of this tool (unless ``force``)."""
    for path, is_ours in TOOLS[tool].outputs(Path(out)):
        check_protected(path, protected, "--out")
        check_parent(path)
        if path.is_dir():
            raise StanceError(
                f"{path} is a folder, not a file; nothing was written: --out takes the path "
                f"of the tasks file, e.g. {path / Path(TOOLS[tool].DEFAULT_OUT).name}"
            )
        ours = False  # also where the file cannot be read as text
        with contextlib.suppress(OSError, UnicodeDecodeError):
            ours = force or not path.exists() or is_ours(path.read_text(encoding="utf-8"))
        if not ours:
            raise StanceError(
                f"{path} exists and is not a file written by `stance export --to {tool}`; "
                "nothing was written: give --out a new path, or add --force to replace it"
            )


def model_suggestions(
    uri: str, experiment: str, items: pd.DataFrame, run_id: str | None = None
) -> dict[str, Suggestion]:
    """sentence_id -> the stance a logged model predicts, with its probability. The model is
    ``run_id``'s, else the best finished text-only one (as `stance predict` chooses)."""
    from stance.tracking.model_io import load_logged_model
    from stance.tracking.queries import select_run
    from stance.training.models import predict_sentences

    chosen = select_run(uri, experiment, run_id=run_id, available=["text"])
    if chosen["features"] != ["text"]:
        raise StanceError(
            f"model {chosen['model']!r} (run {chosen['run_id']}) also reads the speaker, which an "
            "unlabeled sentence does not have; pick a text-only run with --run-id "
            "(see `stance runs`) or export without --suggestions"
        )
    model = load_logged_model(uri, chosen["run_id"])
    name = f"{chosen['model']} (run {chosen['run_id']})"
    table = items[["sentence_id", "text"]].reset_index(drop=True)
    result = predict_sentences(model, table, chosen["classes"], chosen["features"], name)
    proba = [f"proba_{c}" for c in chosen["classes"]]
    out = {}
    for rec in result.to_dict("records"):
        score = max((float(rec[p]) for p in proba), default=0.0)
        out[rec["sentence_id"]] = Suggestion("stance", str(rec["stance"]), round(score, 4), name)
    return out
