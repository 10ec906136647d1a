"""Matplotlib figures without pyplot's global state (jobs draw side by side), saved atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stance.io import atomic_path


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    """A figure and its axes (``Figure.subplots``); keyword arguments as ``pyplot.subplots``."""
    from matplotlib.figure import Figure

    figure_keys = {"figsize", "dpi", "layout"}
    fig = Figure(**{k: v for k, v in kwargs.items() if k in figure_keys})
    axes = fig.subplots(nrows, ncols, **{k: v for k, v in kwargs.items() if k not in figure_keys})
    return fig, axes


def save_png(fig: Any, path: Path | str) -> None:
    """Write ``fig`` as a PNG without a software stamp (same figure, same bytes)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
