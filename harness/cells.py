"""The matrix's vocabulary: its start methods (`default`: whatever the interpreter, or the program
itself, chooses) and the statuses a cell can have, the one table the plugin (which records them)
and every form of the report (terminal, Markdown, JSON, HTML) read."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

START_METHODS = ("default", "fork", "spawn", "forkserver")


@dataclass(frozen=True)
class Status:
    name: str  # as recorded in the JUnit file
    text: str  # as shown
    icon: str  # Markdown
    colour: str  # HTML background
    legend: str  # what it means, for the legend
    bad: bool = False  # the report fails when a cell has it
    recorded: bool = True  # the plugin records it on a cell; else only the report concludes it


# Worst first: when two files have the same cell, the one that ranks first wins.
STATUSES = {
    status.name: status
    for status in (
        Status("failed", "failed", "❌", "#f7c9c9", "a claim broke", bad=True),
        Status("timed_out", "timed out", "⏱️", "#fbd9a8", "killed at its timeout", bad=True),
        Status("error", "error", "💥", "#e7c9f2", "the harness could not judge it (the reason is given)", bad=True),
        Status("not_run", "not run", "❔", "#fff3b0", "no result: a gap, not a pass (a failure in a column given to --expect)", recorded=False),
        Status("passed", "passed", "✅", "#d9f2dd", "passed (for default: the start method its processes were started by)"),
        Status(
            "not_available",
            "n/a",
            "➖",  # noqa: RUF001 (the icon is meant)
            "#e4e4e4",
            "does not apply: the platform lacks the start method, or the program chooses another itself",
        ),
        Status("skipped", "skipped", "⏭️", "#e4e4e4", "skipped for another reason", recorded=False),
    )
}
RANK = {name: rank for rank, name in enumerate(STATUSES)}
RECORDED = tuple(name for name, status in STATUSES.items() if status.recorded)
BAD = {name for name, status in STATUSES.items() if status.bad}


# Terminal control characters: C0 (NUL, ESC, CR...), DEL, C1 (with its CSI). What a program, a record,
# a file name or a claims file contributes goes through visible() before any output, terminal or
# report (each shown as \xNN, never sent raw); tab and newline are kept where the text is lines.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


MULTILINE = ("stderr",)  # the cell properties that keep their lines (the end of an unjudged run's stderr)


def visible(text: str, lines: bool = False) -> str:
    """The text with every terminal control character shown as \\xNN (but tab and newline, with lines=True)."""
    return (CONTROL_BUT_LINES if lines else CONTROL).sub(lambda found: f"\\x{ord(found[0]):02x}", text)


def md_escape(text: str, limit: int = 160) -> str:
    """Text for a Markdown table cell (the report's and the README's), cut at limit."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = re.sub(r"([\\`*_\[\]|#~])", r"\\\1", text)
    return html.escape(text, quote=False)
