"""Matplotlib figures without pyplot's global state (jobs draw side by side), saved atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stance.io import atomic_path


def new_figure(
    nrows: int = 1, ncols: int = 1, figsize: Any = None, dpi: float | None = None, **kwargs: Any
) -> tuple[Any, Any]:
    """A figure and its axes (``Figure.subplots``); arguments as ``pyplot.subplots``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_png(fig: Any, path: Path | str) -> None:
    """Write ``fig`` as a PNG without a software stamp (same figure, same bytes)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
