"""The labeling queue as items for a tool: the same sentences `stance label` would show."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import pandas as pd

from stance.interop.common import QueueItem, Suggestion
from stance.interop.tools import tool_module
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
    if only is not None:
        wanted = table["sentence_id"].isin(set(only))
    else:
        wanted = pd.Series(True, index=table.index)
    wanted &= ~table["sentence_id"].isin(set(skip))
    by_position = {
        (a, int(p)): t
        for a, p, t in zip(table["article_id"], table["position"], table["text"], strict=True)
    }
    items = []
    for rec in table[wanted].to_dict("records"):
        article, position = rec["article_id"], int(rec["position"])
        items.append(
            QueueItem(
                rec["sentence_id"],
                article,
                position,
                rec["text"],
                by_position.get((article, position - 1), ""),
                by_position.get((article, position + 1), ""),
                (suggestions or {}).get(rec["sentence_id"]),
            )
        )
    return items


def export_tasks(tool: str, items: list[QueueItem], schema: LabelSchema, out: Path) -> list[Path]:
    """Write the items in the tool's import format (each file atomically); the paths written."""
    return tool_module(tool).write_tasks(items, schema, Path(out))
