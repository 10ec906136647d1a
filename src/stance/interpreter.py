"""Interpreter settings of the workflow's process: when it collects garbage."""

from __future__ import annotations

import atexit
import gc


def collect_garbage_less_often() -> None:
    """Collect reference cycles less often in this process: the libraries the jobs import
    allocate millions of long-lived objects that the collector would walk again and again."""
    # Objects allocated between two collections of the youngest generation (default: 700).
    gc.set_threshold(10_000, *gc.get_threshold()[1:])


def quick_exit_at_end() -> None:
    """At exit, leave this process's objects to the operating system instead of collecting them:
    the interpreter's last collections would walk every object of the libraries the jobs
    imported and free nothing that outlives the process."""
    atexit.register(gc.freeze)
