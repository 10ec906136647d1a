"""One writer at a time: a lock file that commands changing a shared folder take first."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stance.errors import StanceError

LOCK_FILE = ".stance.lock"
# How long a command waits for another one to finish before it gives up with a message:
# long enough for a quick `stance add` beside another, short enough not to hang a script.
DEFAULT_WAIT_S = 10.0
_POLL_S = 0.05


@contextlib.contextmanager
def folder_lock(
    folder: Path | str, command: str, wait_s: float = DEFAULT_WAIT_S, name: str = LOCK_FILE
) -> Iterator[Path]:
    """Hold ``<folder>/<name>`` (an advisory ``flock``: the kernel drops it when the holder ends,
    even after a crash) while the block runs; ``command`` in the file names the holder. Another
    command that still holds it after ``wait_s`` seconds is a StanceError naming that holder."""
    folder = Path(folder)
    path = folder / name
    deadline = time.monotonic() + wait_s
    while True:
        try:
            # Not O_TRUNC: the name of a current holder must stay readable until this one holds it.
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise StanceError(
                f"{path}: cannot create the lock file that keeps two commands from writing "
                f"{folder} at once ({exc.strerror}); make {folder} writable"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                holder = ""
                with contextlib.suppress(OSError):
                    holder = path.read_text(encoding="utf-8", errors="replace").strip()
                holder = holder or "another stance command (it has not written its name yet)"
                raise StanceError(
                    f"{path}: {folder} is being changed by {holder}; wait until it has "
                    "finished and run this command again (the lock goes away by itself when "
                    "that command ends)"
                ) from None
            time.sleep(_POLL_S)
            continue
        # A holder removes the file when done: one that locked a removed file locks the new one.
        held = os.fstat(fd)
        with contextlib.suppress(FileNotFoundError):
            current = os.stat(path)
            if (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino):
                break
        os.close(fd)
    try:
        started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        holder = f"{command} (process {os.getpid()} on {socket.gethostname()}, since {started})"
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder + "\n").encode("utf-8"), 0)
        yield path
    finally:
        # Removed while still locked: a command waiting on this file finds it gone and locks
        # the next one (above), so two never hold the lock at once.
        path.unlink(missing_ok=True)
        os.close(fd)  # releases the flock


def annotator_lock(labels_dir: Path | str, annotator: str, command: str) -> Any:
    """The lock of one annotator's label file (``labels/.<annotator>.lock``): a labeling session
    holds it while it runs and an import takes it before it writes, so neither rewrites the file
    from a copy the other has changed. Other annotators' sessions run side by side."""
    return folder_lock(labels_dir, command, wait_s=0.0, name=f".{annotator}.lock")
