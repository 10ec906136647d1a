"""The labeling queue as items for a tool: the same sentences `stance label` would show."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import pandas as pd

from stance.errors import StanceError
from stance.interop.common import QueueItem, Suggestion
from stance.interop.targets import check_parent, check_protected, is_own_file
from stance.interop.tools import TOOLS
from stance.labels.schema import LabelSchema


def queue_items(
    sentences: pd.DataFrame,
    *,
    only: Collection[str] | None = None,
    skip: Collection[str] = (),
    suggestions: Mapping[str, Suggestion] | None = None,
) -> list[QueueItem]:
    """The queue in article order: every sentence, or those in ``only`` (e.g. the recorded
    sample that `stance label --sample N --seed S` labels), less the sentences in ``skip``;
    each with its neighbours as context."""
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


def check_export(
    tool: str, out: Path, *, force: bool = False, protected: Mapping[str, Path] | None = None
) -> None:
    """Refuse, before anything is written, an export whose files would land in a protected
    folder or replace a file that is no earlier export of this tool (unless ``force``)."""
    for path, is_ours in TOOLS[tool].outputs(Path(out)):
        check_protected(path, protected or {}, "--out")
        check_parent(path)
        if path.is_dir():
            raise StanceError(
                f"{path} is a folder, not a file; nothing was written: --out takes the path "
                f"of the tasks file, e.g. {path / Path(TOOLS[tool].DEFAULT_OUT).name}"
            )
        if path.exists() and not force and not is_own_file(path, is_ours):
            raise StanceError(
                f"{path} exists and is not a file written by `stance export --to {tool}`; "
                "nothing was written: give --out a new path, or add --force to replace it"
            )


def export_tasks(tool: str, items: list[QueueItem], schema: LabelSchema, out: Path) -> list[Path]:
    """Write the items in the tool's import format (each file atomically), once
    :func:`check_export` allowed it; the paths written."""
    return TOOLS[tool].write_tasks(items, schema, Path(out))
