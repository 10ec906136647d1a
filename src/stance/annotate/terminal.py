"""The terminal front end of a labeling session: screens and single-key answers."""

from __future__ import annotations

import os
import signal
import termios
import textwrap
import threading
import tty
from typing import Any, TextIO

from stance.annotate.session import CONTROL_KEYS, LabelingSession
from stance.labels.schema import LabelSchema

BOLD, REVERSE, DIM, RESET = "\x1b[1m", "\x1b[7m", "\x1b[2m", "\x1b[0m"
# Other keys for the same: Q and Ctrl-D quit, backspace goes back.
MORE_KEYS = {"Q": "quit", "\x04": "quit", "\x7f": "undo", "\x08": "undo"}


def _wrap(text: str, indent: str = "    ") -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)


def help_text(schema: LabelSchema) -> str:
    lines = ["Keys:"]
    for fld in schema.fields:
        lines.append(f"  {fld.name}: {fld.description}")
        for v in fld.values:
            lines.append(f"    {v.key}  {v.name}: {v.description}")
    lines += [
        "  space  skip this sentence (it stays in the queue for next time)",
        "  <      undo: back to the previous field, or remove the last saved answer",
        "  /      add a note to this sentence (say which guideline rule decided)",
        "  ?      this help          q  quit (every confirmed answer is already saved)",
        "Guidelines: labels/GUIDELINES.md",
    ]
    return "\n".join(lines)


class Terminal:
    """Single-key input in cbreak mode (Ctrl-C still interrupts), restored on exit."""

    def __init__(self, stdin: TextIO, stdout: TextIO):
        self.fd, self.stdout = stdin.fileno(), stdout
        self._sigint: Any = None

    def __enter__(self) -> Terminal:
        self._cooked = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        # Ctrl-C quits the session even when the program that started it ignores SIGINT (a
        # child inherits an ignored signal).
        if threading.current_thread() is threading.main_thread():
            self._sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
        return self

    def __exit__(self, *exc: object) -> None:
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._cooked)
        if self._sigint is not None:
            signal.signal(signal.SIGINT, self._sigint)

    def key(self) -> str:
        data = os.read(self.fd, 1)  # one byte at a time: fast typing must not merge keys
        if not data:
            raise EOFError
        extra = 0 if data[0] < 0xC0 else 1 if data[0] < 0xE0 else 2 if data[0] < 0xF0 else 3
        for _ in range(extra):
            data += os.read(self.fd, 1)
        return data.decode("utf-8", errors="replace")

    def line(self, prompt: str) -> str:
        """Read a line with the terminal's own editing (cooked mode), then back to keys."""
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._cooked)
        try:
            self.write(prompt)
            return os.read(self.fd, 4096).decode("utf-8", errors="replace").strip()
        finally:
            tty.setcbreak(self.fd)

    def write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()


def _show(term: Terminal, session: LabelingSession, sid: str) -> None:
    row = session.by_id.loc[sid]
    article = session.sentences[session.sentences["article_id"] == row["article_id"]]
    by_pos = dict(zip(article["position"], article["text"], strict=True))
    before, after = by_pos.get(row["position"] - 1), by_pos.get(row["position"] + 1)
    term.write(
        f"\n{BOLD}{row['article_id']} #{row['position']}{RESET}   "
        f"done {session.done} / remaining {len(session.queue)}\n"
    )
    if before is not None:
        term.write(f"{DIM}{_wrap(before)}{RESET}\n")
    term.write(f"{REVERSE}{_wrap(row['text'], indent='>>  ')}{RESET}\n")
    if after is not None:
        term.write(f"{DIM}{_wrap(after)}{RESET}\n")


def run_terminal(session: LabelingSession, stdin: TextIO, stdout: TextIO) -> int:
    """The keyboard loop: speaker, then stance; each confirmed answer is saved at once."""
    schema = session.schema
    keys = {f.name: {v.key: v.name for v in f.values} for f in schema.fields}
    choices = {f.name: "  ".join(f"[{v.key}] {v.name}" for v in f.values) for f in schema.fields}
    fields = schema.field_names
    with Terminal(stdin, stdout) as term:
        term.write(
            f"Labeling as {session.annotator} into {session.path}: {len(session.queue)} of "
            f"{session.total} sentences left. Press ? for help.\n"
        )
        while True:
            sid = session.current()
            if sid is None:
                term.write(
                    f"\nnothing left to label: {session.done} of {session.total} done "
                    f"(saved in {session.path}).\n"
                )
                return 0
            _show(term, session, sid)
            chosen: dict[str, str] = {}  # the fields answered so far, in order
            note = ""
            while len(chosen) < len(fields):
                fname = fields[len(chosen)]
                term.write(f"{fname}? {choices[fname]}  > ")
                try:
                    key = term.key()
                except (EOFError, KeyboardInterrupt):
                    key = "q"
                action = CONTROL_KEYS.get(key) or MORE_KEYS.get(key)
                if key in keys[fname]:
                    chosen[fname] = keys[fname][key]
                    term.write(f"{chosen[fname]}\n")
                elif action == "quit":
                    term.write("\nquit: every confirmed answer is saved.\n")
                    return 0
                elif action == "help":
                    term.write("\n" + help_text(schema) + "\n")
                elif action == "note":
                    term.write("\n")
                    note = term.line("note (Enter to finish): ")
                    term.write(f"note kept: {note}\n" if note else "no note\n")
                elif action == "skip":
                    session.skipped.add(sid)
                    term.write("skipped\n")
                    break
                elif action == "undo":
                    if chosen:
                        chosen.popitem()
                        term.write("\n(back)\n")
                    else:
                        undone = session.undo()
                        term.write(
                            "\nundone: the last answer was removed\n"
                            if undone
                            else "\nnothing to undo\n"
                        )
                        break
                else:
                    term.write(f"\nkey {key!r} means nothing here; press ? for help\n")
            else:
                session.answer(chosen, note)
                term.write(f"saved: {' / '.join(chosen[f] for f in fields)}\n")
