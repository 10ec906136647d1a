"""The labeling tools that labels can go to and come from, by their command-line name."""

from __future__ import annotations

from types import ModuleType

from stance.errors import StanceError
from stance.interop import doccano, label_studio, prodigy

TOOLS: dict[str, ModuleType] = {m.NAME: m for m in (label_studio, doccano, prodigy)}


def tool_module(name: str) -> ModuleType:
    """The module of a tool (label-studio, doccano, prodigy)."""
    try:
        return TOOLS[name]
    except KeyError:
        raise StanceError(f"unknown tool {name!r}; use one of: {', '.join(TOOLS)}") from None
