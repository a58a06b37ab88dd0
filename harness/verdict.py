"""The verdict on a run: the general claims every program is held to (CLAIMS, in the order they are
checked: the README's list is generated from it), then its claims file's (harness/vocabulary.py);
a cell's verdict is its run's and its twin's, the run with the mechanism its claims rest on
perturbed. Also what a failure shows (`evidence`). Nothing here needs psutil.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.cells import visible
from harness.evidence import Evidence, Proc, Unaccounted
from harness.vocabulary import PREDICATES, TEXT_CHECKS, ClaimBroken, resolved, shorten, uses_cpu_count

if TYPE_CHECKING:
    from harness.examples import Example, Failure
    from harness.runner import Outcome


def check_started(ev: Evidence, expected: str, requested: str, chooses: str = "") -> None:
    """Every child process was started by multiprocessing with the expected start method, as the
    parent that started it and as the child itself saw it, and as the kernel saw it begin (Linux:
    a fork, by its parent or by the fork server, or a fresh exec of spawn's command line); no
    process came from anywhere else. `chooses`: the claims say the program chooses that method
    itself, whatever the run asked for: it must have (set_start_method, get_context)."""
    if chooses:
        chosen = [r["method"] for r in ev.chosen()]
        if chooses not in chosen:
            said = f"it chose {' then '.join(dict.fromkeys(chosen))}" if chosen else "it chose none (set_start_method, get_context)"
            raise ClaimBroken(f"the claims say the program chooses {chooses} itself, but {said}")
        asked = f"{requested} (the program chooses {chooses}, as its claims say)"
    else:
        asked = requested if requested == expected else f"{requested} ({expected})"
    chose = {r["method"]: r for r in ev.chosen()}
    for proc in ev.children:
        if proc.method != expected:
            why = chose.get(proc.method)
            itself = f": the program chose {proc.method} itself ({why['via']} at {why['where']})" if why else ""
            raise ClaimBroken(f"requested {asked}, but {proc.label} was started by {proc.method or 'no recorded Process.start()'}{itself}")
        if proc.own_view != expected and not (proc.ended_by and not proc.own_view):  # ended by its pool before it ran
            seen = proc.own_view or "nothing: it recorded no start of its own"
            raise ClaimBroken(f"requested {asked}, but {proc.label} was started by {seen} (as it saw it; its parent said {proc.method})")
        began = kernel_beginning(ev, proc)
        unknown = (ev.facts.kernel(proc.pid).get("argv") or "") in ("", "<no command line>", "<gone>")
        if began and began != expected and not (proc.ended_by and not proc.own_view and unknown):  # ended as it exec'd: nothing ran
            raise ClaimBroken(f"requested {asked}, but {proc.label} began {began} (the kernel's account)")
    for proc in ev.unexplained:
        raise ClaimBroken(f"{proc.label} was not started by multiprocessing: {proc.origin}")


def kernel_beginning(ev: Evidence, proc: Proc) -> str:
    """How the kernel saw a child begin, in the words of a start method where it is one ("fork",
    "forkserver", "spawn"), else in a few words; "" where the kernel said nothing."""
    seen = ev.facts.kernel(proc.pid) if ev.facts.attested else {}
    began, parent = seen.get("began"), seen.get("parent")
    if not began:
        return ""
    if began == "exec":
        argv = seen.get("argv") or ""
        return "spawn" if "--multiprocessing-fork" in argv and "spawn_main" in argv else f"as another program ({argv[:80]})"
    server = ev.procs.get(parent)
    if server is not None and server.role == "forkserver":
        argv = ev.facts.kernel(server.pid).get("argv") or ""
        return "forkserver" if "multiprocessing.forkserver" in argv else f"as a fork of pid {parent}, which says it is a fork server but is not one"
    if parent is not None and parent == proc.started_by:
        return "fork"
    return f"as a fork of pid {parent}" if parent is not None else ""


# How multiprocessing ends the children it made itself: a Pool its workers (also through the exit
# handler, for daemonic workers still alive at exit), a manager's clean-up its server (terminated
# when it does not exit within a second). Excused only where the same part of multiprocessing
# both started and ended the process; nothing else.
ENDED_BY_MULTIPROCESSING = (-signal.SIGTERM, -getattr(signal, "SIGKILL", 9))
EXCUSED = {"pool": ("pool", "exit"), "manager": ("manager", "exit"), "executor": ("executor", "exit")}


def check_child_exits(ev: Evidence, terminated: bool = False) -> None:
    """Every child process exited with status 0 (a Pool's worker may be ended by the Pool, a
    manager's server by its clean-up), even with its stderr silenced. `terminated`: the claims say
    the program ends some children itself (`terminated`, which counts them): by its own signal."""
    for proc in ev.children:
        code = proc.exit_status
        if code == 0 or (proc.ended_by in EXCUSED.get(proc.made_by, ()) and code in ENDED_BY_MULTIPROCESSING):
            continue
        if terminated and proc.ended_by == "program" and code in ENDED_BY_MULTIPROCESSING:
            continue
        if code is None:
            raise ClaimBroken(f"{proc.label} has no exit status: neither it nor its parent recorded one")
        ended = (
            f" ({'terminated' if code == -signal.SIGTERM else 'killed'} by {'the program' if proc.ended_by == 'program' else proc.ended_by})"
            if proc.ended_by
            else ""
        )
        raise ClaimBroken(f"{proc.label} {f'was killed by signal {-code}' if code < 0 else f'exited with status {code}'}{ended}")


@dataclass(frozen=True)
class Verdict:
    status: str  # passed, failed, timed_out, or not_available (the program chose another start method itself)
    claim: str = ""  # which claim broke: see CLAIMS
    diagnosis: str = ""  # why, in one line
    note: str = ""  # a passed cell's remark: "fails as claimed"
    intervened: bool = False  # the claim broke in the cell's twin, the run with its mechanism perturbed


# Every claim a verdict can name, in the order they are checked.
CLAIMS = {
    "timeout": "no run past its timeout",
    "output_limit": "stdout and stderr each within the output limit",
    "leftovers": "no process left once the main process has exited",
    "resources": "the machine gave the run the processes, threads and memory it asked for (else it is not judged)",
    "exit_status": "exit status 0 (or the failure the claims file claims)",
    "stderr": "nothing on stderr under -X dev",
    "records": "the records agree with each other and with what the harness saw",
    "lifetime": "nothing written to stdout after the main process exited",
    "start_method": "every child started by multiprocessing with the start method asked for, as the parent and the child saw it",
    "child_exit": "every child exited with status 0 (a Pool's workers ended by the Pool excepted)",
    "output": "the text the claims file declares",
    "evidence": "stdout is exactly the recorded writes to it, and the claims file's claims on the processes",
}


def claimed_failure(example: Example, method: str, interpreter: str) -> Failure | None:
    """How the claims file says the program fails under this start method, on this interpreter and
    platform (the real one: what a named semaphore is, say, is the platform's), or None."""
    failure = getattr(example, "fails", {}).get(method)
    return failure if failure is not None and failure.applies(interpreter, sys.platform) else None


def claims_for(outcome: Outcome, example: Example, method: str) -> tuple[dict, dict]:
    """The example's [text] and [processes] as this run reads them: each {name} of [by_start_method]
    its value for the start method used, cpu_count the main process's. Raises ClaimBroken."""
    names = {name: values[method] for name, values in getattr(example, "by_start_method", {}).items() if method in values}
    cpu_count = next((r.get("cpu_count") for r in outcome.evidence.of("start") if r["pid"] == outcome.evidence.main_pid), None)
    if cpu_count is None and (uses_cpu_count(example.text) or uses_cpu_count(example.processes)):
        raise ClaimBroken("the claims follow cpu_count, which the main process did not record")
    return resolved(example.text, names, cpu_count), resolved(example.processes, names, cpu_count)


def verdict(outcome: Outcome, example: Example) -> Verdict:
    """The first broken claim of a run; the general ones first, then the example's."""
    run, ev = outcome.run, outcome.evidence
    chooses = getattr(example, "chooses_start_method", "")
    used = chooses or outcome.method
    failure = claimed_failure(example, used, outcome.interpreter)
    if outcome.timed_out:
        if failure is not None and failure.hangs:
            return Verdict("passed", note=f"fails as claimed: it hangs (stopped at its timeout, {run.timeout:g} s)")
        return Verdict("timed_out", "timeout", f"timed out after {run.timeout:g} s; its processes were killed")
    if failure is not None and failure.hangs:
        return Verdict("failed", "timeout", f"ran to its end, but the claims say it hangs under {used}")
    for name, size in (("stdout", outcome.stdout_size), ("stderr", outcome.stderr_size)):
        if size > outcome.output_limit:
            return Verdict("failed", "output_limit", f"printed more than {outcome.output_limit / 2**20:g} MiB to {name}: the run was stopped there")
    if outcome.stopped == "records_limit":
        return Verdict("failed", "records", "the run's processes sent more records than a run may (64 MiB): it was stopped there")
    if outcome.leftovers:
        return Verdict(
            "failed", "leftovers", f"{len(outcome.leftovers)} process(es) still running after the main process exited: {outcome.leftovers[0]}"
        )
    exhausted = exhaustion(outcome)
    if exhausted:
        return Verdict("error", "resources", exhausted)
    note = ""
    if failure is not None:  # it must fail, with that line on stderr (a child's traceback counts)
        line = failure.stderr
        if outcome.returncode == 0 and not outcome.stderr:
            return Verdict("failed", "exit_status", f"ran cleanly, but the claims say it fails under {used} with {line!r}")
        if line not in outcome.stderr and " ".join(line.split()) not in " ".join(outcome.stderr.split()):  # a message over several lines too
            return Verdict("failed", "exit_status", f"failed with {gist(outcome.stderr)!r}, not with {line!r} as the claims say")
        note = f"fails as claimed: {line}"
        if not failure.keeps_claims:
            return Verdict("passed", note=note)
    elif outcome.returncode != 0:
        return Verdict("failed", "exit_status", f"exit status {outcome.returncode}: {gist(outcome.stderr)}")
    elif outcome.stderr:
        return Verdict("failed", "stderr", f"wrote to stderr under -X dev: {gist(outcome.stderr)}")
    if ev.overflowed:
        return Verdict(
            "failed", "records", f"pid {ev.overflowed[0]} did more than its records can hold (the hook's LOG_LIMIT): the run cannot be judged"
        )
    if ev.problems:
        return Verdict("failed", "records", ev.problems[0])
    late = outcome.late_output
    if late:
        return Verdict(
            "failed",
            "lifetime",
            f"{len(late)} byte(s) written to stdout after the main process exited: {shorten(late.decode('utf-8', 'backslashreplace'))!r}",
        )
    other = chosen_elsewhere(outcome)
    if other and not example.has_claims:
        return Verdict("not_available", "start_method", other)
    try:
        text, processes = claims_for(outcome, example, used)
    except ClaimBroken as broken:
        return Verdict("failed", "records", str(broken))
    for claim, check in (
        ("start_method", lambda: check_started(ev, used, run.method, chooses)),
        ("child_exit", lambda: check_child_exits(ev, terminated="terminated" in processes)),
        # A run whose values were altered in transit prints them: its text is checked by the claims
        # on the processes, which say which line carries which value.
        ("output", lambda: [TEXT_CHECKS[name].check(outcome.stdout, value, text) for name, value in text.items() if not ev.of("altered")]),
        ("evidence", lambda: ev.segments(outcome.raw_stdout)),
        ("evidence", lambda: [PREDICATES[name].check(ev, outcome.raw_stdout, value) for name, value in processes.items()]),
    ):
        try:
            check()
        except (ClaimBroken, Unaccounted) as broken:
            return Verdict("failed", claim, str(broken))
    return Verdict("passed", note=note)


# What a process says when the machine refused it a process, a thread or memory (the platform's own
# words for EAGAIN and ENOMEM, and Python's).
EXHAUSTED = (os.strerror(errno.EAGAIN), os.strerror(errno.ENOMEM), "can't start new thread", "MemoryError")


def exhaustion(outcome: Outcome) -> str:
    """Why a run that failed for want of processes, threads or memory cannot be judged, when they
    were not its own (no cgroups of its own: another run beside it may have taken them); or ""."""
    if outcome.bounded or (outcome.returncode == 0 and not outcome.stderr):
        return ""
    found = next((words for words in EXHAUSTED if words in outcome.stderr), "")
    if not found:
        return ""
    return f"the machine refused it a process, a thread or memory ({found}), and nothing bounded what the runs beside it took: not judged"


def cell_verdict(outcome: Outcome, twin: Outcome | None, example: Example) -> Verdict:
    """A cell's verdict: its run's, then its twin's (the same run with the mechanism its claims rest
    on perturbed), whose broken claim is named with what was perturbed."""
    first = verdict(outcome, example)
    if twin is None or first.status != "passed":
        return first
    second = verdict(twin, example)
    if second.status == "passed":
        return first
    return dataclasses.replace(second, diagnosis=f"with {'+'.join(twin.run.intervene)}: {second.diagnosis}", intervened=True)


def chosen_elsewhere(outcome: Outcome) -> str | None:
    """Why this column does not apply, when the program itself chose another start method than
    the one asked for and its children used it."""
    run, ev = outcome.run, outcome.evidence
    if run.method == "default":
        return None
    mine = {r["method"]: r for r in ev.chosen() if r["method"] != run.method}
    used = {p.method for p in ev.children}
    for method, r in mine.items():
        if method in used:
            return f"the program chooses {method} itself ({r['via']} at {r['where']}): the {run.method} column does not apply"
    return None


def gist(stderr: str) -> str:
    """The line of stderr that says most: a traceback's last line (a syntax error's message, not
    its location), else the first line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "nothing on stderr" if not stderr else repr(stderr)
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    errors = [line for line in lines if re.match(r"[A-Za-z_][\w.]*(Error|Exception|Warning|Exit|Interrupt)\b", line)]
    if tracebacks:
        after = [line for line in lines[tracebacks[0] + 1 :] if not line.startswith(" ")]
        found = next((line for line in after if line in errors), after[0] if after else lines[-1])
    else:
        found = next(iter(errors), lines[0])
    if found.endswith((":", ": ")):  # the message is on the lines below: its first one
        below = lines[lines.index(found) + 1 :]
        found = f"{found.rstrip()} {below[0].strip()}" if below else found
    return shorten(found)


def headline(outcome: Outcome) -> str:
    """'03_lock under default (spawn) on CPython 3.12.1': for default, the method the run used."""
    run = outcome.run
    method = run.method if run.method != "default" else f"default ({outcome.observed_method})"
    return f"{run.example} under {method} on {outcome.interpreter}"


def evidence(outcome: Outcome) -> str:
    """What a failure shows: the output (its head and tail when long) and each process."""
    parts = [
        f"--- stdout ({outcome.seconds:.1f} s, {outcome.stdout_size} bytes) ---",
        escaped(outcome.stdout.rstrip("\n")) or "<empty>",
        f"--- stderr ({outcome.stderr_size} bytes) ---",
        escaped(outcome.stderr.rstrip("\n")) or "<empty>",
    ]
    if outcome.leftovers:
        parts += ["--- left running (killed) ---", *map(escaped, outcome.leftovers)]
    ev = outcome.evidence
    if ev.procs:
        parts.append("--- processes (started by: as the parent saw it / as the child saw it) ---")
        writes = Counter(r["pid"] for r in ev.of("write"))
        procs = sorted(ev.procs.values(), key=lambda p: (p.role != "main", p.first))
        for proc in procs[:50]:
            started = f"{proc.method or '-'} / {proc.own_view or '-'}" if proc in ev.children else proc.role or proc.origin
            status = outcome.returncode if proc.role == "main" else proc.exit_status
            parts.append(escaped(f"{proc.label}: {started}, exit {'-' if status is None else status}, {writes[proc.pid]} write(s) to stdout"))
        if len(procs) > 50:
            parts.append(f"... and {len(procs) - 50} more")
    return "\n".join(parts)


def escaped(text: str) -> str:
    return visible(text, lines=True)
