"""The article's claims about its four programs: on what they print, and on what their processes did.

Each example has a check of its stdout (the text a reader sees) and a proof on the run's evidence
(harness/evidence.py: which process printed what, how each was started, what went through a queue,
who held a lock, which worker ran a task). Both raise ClaimBroken with a one-line reason.
`EXAMPLES` and `START_METHODS` are the one list of each: the shipped files, test ids and reports
follow them. Nothing here needs psutil: the report imports this module.
"""

from __future__ import annotations

import ast
import re
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.evidence import Evidence
    from harness.runner import Outcome

START_METHODS = ("default", "fork", "spawn", "forkserver")


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
        entered, modified = ([*lines[2 * step : 2 * step + 2], "<nothing>", "<nothing>"])[:2]
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


# --- claims on what the processes did (harness/evidence.py) --------------------------------------


def check_started(ev: Evidence, expected: str, requested: str) -> None:
    """Every child process was started by multiprocessing with the expected start method, as the
    parent that started it and as the child itself saw it; no process came from anywhere else."""
    asked = requested if requested == expected else f"{requested} ({expected})"
    for proc in ev.children:
        if proc.method != expected:
            raise ClaimBroken(f"requested {asked}, but {proc.label} was started by {proc.method or 'no recorded Process.start()'}")
        if proc.own_view != expected and not (proc.terminated and not proc.own_view):  # ended by its pool before it ran
            seen = proc.own_view or "nothing: it recorded no start of its own"
            raise ClaimBroken(f"requested {asked}, but {proc.label} was started by {seen} (as it saw it; its parent said {proc.method})")
    for proc in ev.unexplained:
        raise ClaimBroken(f"{proc.label} was not started by multiprocessing: {proc.origin}")


# Ended by its own parent's terminate() or kill(): how a Pool stops its workers when it closes.
ENDED_BY_PARENT = (-signal.SIGTERM, -getattr(signal, "SIGKILL", 9))


def check_child_exits(ev: Evidence) -> None:
    """Every child process exited with status 0 (or was ended by its parent), even with its stderr silenced."""
    for proc in ev.children:
        code = proc.exit_status
        if code == 0 or (proc.terminated and code in ENDED_BY_PARENT):
            continue
        if code is None:
            raise ClaimBroken(f"{proc.label} has no exit status: neither it nor its parent recorded one")
        raise ClaimBroken(f"{proc.label} {f'was killed by signal {-code}' if code < 0 else f'exited with status {code}'}")


def writer(ev: Evidence, writers: set[int], what: str):
    """The one child process that wrote `what`."""
    procs = [ev.procs[pid] for pid in sorted(writers)]
    if len(procs) != 1:
        raise ClaimBroken(f"{what} printed by {len(procs)} processes: {', '.join(p.label for p in procs)}")
    proc = procs[0]
    if proc.role == "main":
        raise ClaimBroken(f"{what} printed by {proc.label}, not by a worker process")
    if proc not in ev.children:
        raise ClaimBroken(f"{what} printed by {proc.label}, which multiprocessing did not start")
    return proc


def prove_processes(ev: Evidence, stdout: bytes) -> None:
    """The digits were printed by one child process and the letters by another, and the two were alive at once."""
    written = {"digits": set(), "letters": set()}
    for seg in ev.segments(stdout):
        for char in seg.data.decode("ascii", "replace"):
            kind = "digits" if char.isdigit() else "letters" if char.isalpha() else None
            if kind:
                written[kind].add(seg.pid)
    digits, letters = (writer(ev, written[kind], f"the {kind}") for kind in ("digits", "letters"))
    if digits is letters:
        raise ClaimBroken(f"the digits and the letters were printed by the same process, {digits.label}")
    first, second = sorted((digits, letters), key=lambda p: p.first)
    if first.last < second.first:
        raise ClaimBroken(f"{first.label} had ended before {second.label} began: the workers did not run at the same time")


def prove_queue(ev: Evidence, stdout: bytes) -> None:
    """The line main printed is a value a child process put on a multiprocessing queue and main got from it."""
    ((text, writers, _, _),) = ev.lines(stdout)
    printer = [ev.procs[pid] for pid in sorted(writers)]
    if [p.pid for p in printer] != [ev.main_pid]:
        raise ClaimBroken(f"{text!r} printed by {', '.join(p.label for p in printer)}, not by the main process")
    got = [r for r in ev.of("get") if r["pid"] == ev.main_pid]
    matching = [r for r in got if r["text"] == text]
    if not matching:
        values = ", ".join(r["value"] for r in got)
        raise ClaimBroken(f"the main process printed {text!r} but got {f'only {values}' if got else 'nothing'} from a multiprocessing queue")
    puts = [r for r in ev.of("put") if any(r["queue"] == g["queue"] and r["value"] == g["value"] for g in matching)]
    if not any(ev.procs[r["pid"]] in ev.children for r in puts):
        by = ", ".join(sorted({ev.procs[r["pid"]].label for r in puts})) or "nobody"
        raise ClaimBroken(f"the main process got {matching[0]['value']} from a queue, but no child process put it there (put by: {by})")


def prove_lock(ev: Evidence, stdout: bytes) -> None:
    """Each entered/modified pair was printed by the child whose name it shows, while it held a
    multiprocessing lock that every worker held as it printed; five distinct children."""
    held_at, printers = [], []
    for number, (text, writers, t0, t) in enumerate(ev.lines(stdout)[:10], 1):
        proc = writer(ev, writers, f"line {number}")
        shown = re.match(r"Process-Process-(\d+):1", text)
        if not shown or proc.identity[:1] != (int(shown[1]),):
            raise ClaimBroken(f"line {number} shows {text.split()[0]} but was printed by {proc.label}")
        holds = {h.lock: h for h in ev.holds(proc.pid) if h.start <= t0 and t <= h.end}
        if not holds:
            raise ClaimBroken(f"line {number} was printed by {proc.label} while it held no multiprocessing lock")
        held_at.append(holds)
        printers.append(proc)
    shared = set.intersection(*(set(h) for h in held_at))
    if not shared:
        raise ClaimBroken(
            "no multiprocessing lock was held by every worker as it printed: "
            + "; ".join(f"line {n} under {', '.join(sorted(h))}" for n, h in enumerate(held_at, 1))
        )
    for step in range(0, 10, 2):
        if all(held_at[step][lock].start != held_at[step + 1][lock].start for lock in shared):
            raise ClaimBroken(f"line {step + 2}: {printers[step].label} released the lock between 'entered' and 'modified'")
    if len({p.pid for p in printers}) != 5:
        raise ClaimBroken(f"the five updates were made by {len({p.pid for p in printers})} distinct processes, not five")


def prove_pool(ev: Evidence, stdout: bytes) -> None:
    """The squares were computed by `square` in the pool's worker processes, and main printed what
    the pool returned."""
    ((text, writers, _, _),) = ev.lines(stdout)
    if writers != {ev.main_pid}:
        raise ClaimBroken(f"{text!r} printed by {', '.join(ev.procs[p].label for p in sorted(writers))}, not by the main process")
    tasks = [r for r in ev.of("task") if r["func"] == "square" and "result" in r]
    if not tasks:
        raise ClaimBroken("no pool worker ran square: the squares were not computed by a multiprocessing Pool")
    computed = {}
    for job in sorted({r["job"] for r in tasks}):
        values = []
        for r in sorted((r for r in tasks if r["job"] == job), key=lambda r: r["i"]):
            result = ast.literal_eval(r["result"])
            values += result if r["chunk"] else [result]
        computed[job] = values
    printed = ast.literal_eval(text)
    job = next((job for job, values in computed.items() if values == printed), None)
    if job is None:
        raise ClaimBroken(f"the main process printed {text}, but the pool's square tasks returned {computed[min(computed)]}")
    received = {(r["job"], r["i"], r["value"]) for r in ev.of("pool_result") if r["pid"] == ev.main_pid and r["ok"]}
    for r in (r for r in tasks if r["job"] == job):
        proc = ev.procs[r["pid"]]
        if proc.role == "main":
            raise ClaimBroken(f"square{r['inputs']} ran in {proc.label}, not in a pool worker process")
        if proc not in ev.children or proc.target != "worker":
            raise ClaimBroken(f"square{r['inputs']} ran in {proc.label}, which is not a pool worker process")
        if (job, r["i"], r["result"]) not in received:
            raise ClaimBroken(f"the result of square{r['inputs']} ({r['result']}) never reached the main process through the pool")


@dataclass(frozen=True)
class Example:
    check: Callable[[str], None]  # on stdout as text (newlines normalised)
    prove: Callable[[Evidence, bytes], None]  # on the evidence and stdout as written
    claim: str  # what the checks come to, in a few words, for the reader of a report
    slow: bool = False  # its runs are started first, so that they all run at once


EXAMPLES = {
    "01_processes": Example(
        check_processes,
        prove_processes,
        "0-9 and a-j once each, each in order, the digits by one worker and the letters by another, alive at once",
        slow=True,
    ),
    "02_queue": Example(check_queue, prove_queue, "prints exactly Hello, world!, which a child put on a queue and main got from it"),
    "03_lock": Example(
        check_lock, prove_lock, "five workers take the lock in turn, each printing while it holds the shared lock: counter 0 to 5, final value 5"
    ),
    "04_pool": Example(check_pool, prove_pool, "prints exactly [1, 4, 9, 16, 25], computed by square in the pool's worker processes"),
}


@dataclass(frozen=True)
class Verdict:
    status: str  # passed, failed or timed_out
    claim: str = ""  # which claim broke: timeout, leftovers, exit_status, stderr, start_method, child_exit, output, evidence
    diagnosis: str = ""  # why, in one line


def verdict(outcome: Outcome) -> Verdict:
    """The first broken claim of a run; the general ones first, then the example's."""
    run, ev = outcome.run, outcome.evidence
    if outcome.timed_out:
        return Verdict("timed_out", "timeout", f"timed out after {run.timeout:g} s; its processes were killed")
    if outcome.leftovers:
        return Verdict(
            "failed", "leftovers", f"{len(outcome.leftovers)} process(es) still running after the main process exited: {outcome.leftovers[0]}"
        )
    if outcome.returncode != 0:
        return Verdict("failed", "exit_status", f"exit status {outcome.returncode}: {gist(outcome.stderr)}")
    if outcome.stderr:
        return Verdict("failed", "stderr", f"wrote to stderr under -X dev: {gist(outcome.stderr)}")
    from harness.evidence import Unaccounted

    example = EXAMPLES[run.example]
    for claim, check in (
        ("start_method", lambda: check_started(ev, outcome.expected_method, run.method)),
        ("child_exit", lambda: check_child_exits(ev)),
        ("output", lambda: example.check(outcome.stdout)),
        ("evidence", lambda: example.prove(ev, outcome.raw_stdout)),
    ):
        try:
            check()
        except (ClaimBroken, Unaccounted) as broken:
            return Verdict("failed", claim, str(broken))
    return Verdict("passed")


def gist(stderr: str) -> str:
    """The line of stderr that says most: a traceback's last line, else the first line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "nothing on stderr" if not stderr else repr(stderr)
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    if tracebacks:
        return next((line for line in lines[tracebacks[0] + 1 :] if not line.startswith(" ")), lines[-1])
    return lines[0]


def headline(outcome: Outcome) -> str:
    """'03_lock under default (spawn) on CPython 3.12.1': for default, the method the run used."""
    run = outcome.run
    method = run.method if run.method != "default" else f"default ({outcome.observed_method})"
    return f"{run.example} under {method} on {outcome.interpreter}"


def evidence(outcome: Outcome) -> str:
    parts = [
        f"--- stdout ({outcome.seconds:.1f} s) ---",
        outcome.stdout.rstrip("\n") or "<empty>",
        "--- stderr ---",
        outcome.stderr.rstrip("\n") or "<empty>",
    ]
    if outcome.leftovers:
        parts += ["--- left running (killed) ---", *outcome.leftovers]
    ev = outcome.evidence
    if ev.procs:
        parts.append("--- processes (started by: as the parent saw it / as the child saw it) ---")
        for proc in sorted(ev.procs.values(), key=lambda p: (p.role != "main", p.first)):
            writes = sum(1 for r in ev.of("write") if r["pid"] == proc.pid)
            started = f"{proc.method or '-'} / {proc.own_view or '-'}" if proc in ev.children else proc.role or proc.origin
            status = outcome.returncode if proc.role == "main" else proc.exit_status
            parts.append(f"{proc.label}: {started}, exit {'-' if status is None else status}, {writes} write(s) to stdout")
    return "\n".join(parts)
