"""The labeling tools that labels can go to and come from, by their command-line name."""

from __future__ import annotations

from types import ModuleType

from stance.interop import doccano, label_studio, prodigy

# The command line offers only these names (stance.cli.main.TOOL_NAMES, checked by a test).
TOOLS: dict[str, ModuleType] = {m.NAME: m for m in (label_studio, doccano, prodigy)}
