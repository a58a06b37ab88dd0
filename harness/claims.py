"""The article's claims about what its four programs print, as checks on captured output.

Each check takes stdout (newlines normalised) and raises ClaimBroken with a one-line reason.
`EXAMPLES` is the one list of examples: the shipped files, the test ids and the reports follow it.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the report reads these checks' names without needing psutil
    from harness.runner import Outcome


class ClaimBroken(Exception):
    """One of the article's claims does not hold; the message says which, in one line."""


def check_processes(stdout: str) -> None:
    # Two workers printing at once may split or merge lines ("7h"); every token is one character,
    # so reading characters rather than lines cannot be fooled by that.
    tokens = [c for c in stdout if not c.isspace()]
    digits, letters = "0123456789", "abcdefghij"
    strangers = sorted({t for t in tokens if t not in digits + letters})
    if strangers:
        raise ClaimBroken(f"unexpected output {''.join(strangers)!r}: only 0-9 and a-j are printed")
    counts = Counter(tokens)
    missing = [t for t in digits + letters if counts[t] == 0]
    if missing:
        raise ClaimBroken(f"never printed: {' '.join(missing)}")
    repeated = [f"{t} ({counts[t]} times)" for t in digits + letters if counts[t] > 1]
    if repeated:
        raise ClaimBroken(f"printed more than once: {', '.join(repeated)}")
    for name, expected in (("digits", digits), ("letters", letters)):
        seen = "".join(t for t in tokens if t in expected)
        if seen != expected:
            raise ClaimBroken(f"{name} out of order: {' '.join(seen)}")
    stream = "".join(tokens)
    first_digit, last_digit = stream.index("0"), stream.index("9")
    first_letter, last_letter = stream.index("a"), stream.index("j")
    if last_digit < first_letter or last_letter < first_digit:
        before, after = ("digits", "letters") if last_digit < first_letter else ("letters", "digits")
        raise ClaimBroken(f"the workers did not run at the same time: all {before} came before the first of the {after}")


def check_queue(stdout: str) -> None:
    expect_exactly(stdout, "Hello, world!\n")


ENTERED = re.compile(r"(Process-Process-(\d+):1) entered critical section")
MODIFIED = re.compile(r"(Process-Process-(\d+):1) modified counter: (-?\d+) -> (-?\d+)")
FINAL = "Final counter value: 5 (expected value: 5)"


def check_lock(stdout: str) -> None:
    lines = stdout.split("\n")
    if lines[-1] != "":
        raise ClaimBroken("output does not end with a newline")
    lines.pop()
    workers = []
    for step in range(5):
        entered, modified = (lines[2 * step : 2 * step + 2] + ["<nothing>", "<nothing>"])[:2]
        enter = ENTERED.fullmatch(entered)
        if not enter:
            raise ClaimBroken(f"line {2 * step + 1}: expected 'Process-Process-N:1 entered critical section', got {entered!r}")
        change = MODIFIED.fullmatch(modified)
        if not change:
            raise ClaimBroken(f"line {2 * step + 2}: expected '{enter[1]} modified counter: {step} -> {step + 1}' after it entered, got {modified!r}")
        if change[1] != enter[1]:
            raise ClaimBroken(f"line {2 * step + 2}: {change[1]} modified the counter while {enter[1]} held the lock")
        before, after = int(change[3]), int(change[4])
        if (before, after) != (step, step + 1):
            raise ClaimBroken(f"line {2 * step + 2}: counter went {before} -> {after}, expected {step} -> {step + 1}")
        workers.append(int(enter[2]))
    if lines[10:] != ["", FINAL]:
        raise ClaimBroken(f"expected a blank line then {FINAL!r} after the five updates, got {lines[10:]!r}")
    if sorted(workers) != [1, 2, 3, 4, 5]:
        raise ClaimBroken(f"the five workers were not Process-1..5 once each: {', '.join(f'Process-{n}' for n in workers)}")


def check_pool(stdout: str) -> None:
    expect_exactly(stdout, "[1, 4, 9, 16, 25]\n")


def expect_exactly(stdout: str, expected: str) -> None:
    if stdout != expected:
        raise ClaimBroken(f"stdout is {stdout!r}, expected exactly {expected!r}")


@dataclass(frozen=True)
class Example:
    check: Callable[[str], None]
    claim: str  # what the check comes to, in a few words, for the reader of a report
    slow: bool = False  # its runs are started first, so that they all run at once


EXAMPLES = {
    "01_processes": Example(check_processes, "0-9 and a-j once each, each in order, by two workers running at once", slow=True),
    "02_queue": Example(check_queue, "prints exactly: Hello, world!"),
    "03_lock": Example(check_lock, "five workers take the lock in turn: counter 0 to 5, final value 5"),
    "04_pool": Example(check_pool, "prints exactly: [1, 4, 9, 16, 25]"),
}


def verdict(outcome: Outcome) -> str | None:
    """The first broken claim of a run, in one line; None when every claim holds."""
    run = outcome.run
    if outcome.timed_out:
        return f"timed out after {run.timeout:g} s; its processes were killed"
    if outcome.leftovers:
        return f"{len(outcome.leftovers)} process(es) still running after the main process exited: {outcome.leftovers[0]}"
    if outcome.returncode != 0:
        return f"exit status {outcome.returncode}: {gist(outcome.stderr)}"
    if outcome.stderr:
        return f"wrote to stderr under -X dev: {gist(outcome.stderr)}"
    try:
        EXAMPLES[run.example].check(outcome.stdout)
    except ClaimBroken as broken:
        return str(broken)
    return None


def gist(stderr: str) -> str:
    """The line of stderr that says most: a traceback's last line, else the first line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "nothing on stderr" if not stderr else repr(stderr)
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    if tracebacks:
        return next((line for line in lines[tracebacks[0] + 1:] if not line.startswith(" ")), lines[-1])
    return lines[0]


def headline(outcome: Outcome) -> str:
    """'03_lock under default (spawn) on CPython 3.12.1'."""
    run = outcome.run
    method = run.method if run.method != "default" else f"default ({outcome.resolved_method})"
    return f"{run.example} under {method} on {outcome.interpreter}"


def evidence(outcome: Outcome) -> str:
    parts = [f"--- stdout ({outcome.seconds:.1f} s) ---", outcome.stdout.rstrip("\n") or "<empty>", "--- stderr ---", outcome.stderr.rstrip("\n") or "<empty>"]
    if outcome.leftovers:
        parts += ["--- left running (killed) ---", *outcome.leftovers]
    return "\n".join(parts)
