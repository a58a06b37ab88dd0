"""The claims: the general ones every program is held to, and the vocabulary an example's claims
file (harness/examples.py) draws on, on the text it prints and on what its processes did.

Each check raises ClaimBroken with a one-line reason. A claim says what it rules out, not only
what it finds: a lock is held by every worker and excluded every other holder, a message was put
by a child and reached main as that message, not as an equal one; see the README's "What each
claim rests on". `verdict()` gives the first broken claim of a run. Nothing here needs psutil.
"""

from __future__ import annotations

import ast
import itertools
import re
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.cells import visible
from harness.evidence import Evidence, Proc, Unaccounted

if TYPE_CHECKING:
    from harness.examples import Example
    from harness.runner import Outcome


class ClaimBroken(Exception):
    """A claim does not hold; the message says which, in one line."""


@dataclass(frozen=True)
class Check:
    """One word of the claims files' vocabulary: what it says, what makes its argument unusable,
    and the check itself."""

    says: str  # for the README and the report, with {value} filled in
    invalid: Callable[[Any, dict], str | None]
    check: Callable[..., None]


def is_groups(value: Any, _table: dict | None = None) -> str | None:
    if not (isinstance(value, dict) and value and all(isinstance(k, str) and isinstance(v, str) and v for k, v in value.items())):
        return "a table of named groups of characters: { digits = '0123456789', letters = 'abcdefghij' }"
    chars = "".join(value.values())
    if len(set(chars)) != len(chars) or any(c.isspace() for c in chars):
        return "each character in one group only, and no whitespace"
    return None


def is_count(value: Any) -> bool:
    """An integer, not a boolean (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_regex(value: Any, group: str | None = None) -> str | None:
    if not isinstance(value, str):
        return "a regular expression"
    try:
        compiled = re.compile(value)
    except re.error as exc:
        return f"not a regular expression: {exc}"
    if group and group not in compiled.groupindex:
        return f"the regular expression needs a group named {group!r}"
    return None


# --- the text a reader sees ----------------------------------------------------------------------


def check_exact(stdout: str, expected: str, _table: dict) -> None:
    if stdout != expected:
        raise ClaimBroken(f"stdout is {shorten(stdout)!r}, expected exactly {expected!r}")


def check_characters(stdout: str, groups: dict[str, str], table: dict) -> None:
    """Each character of each group printed once, on a line of its own (two processes printing at
    once may merge two lines into one and leave a blank one: the count of newlines still equals
    the count of characters), each group in order; with `interleaved`, the groups' characters
    interleave."""
    alphabet = "".join(groups.values())
    tokens = [c for c in stdout if not c.isspace()]
    strangers = sorted({t for t in tokens if t not in alphabet})
    if strangers:
        raise ClaimBroken(f"unexpected output {shorten(''.join(strangers))!r}: only {', '.join(groups.values())} are printed")
    counts = Counter(tokens)
    missing = [t for t in alphabet if counts[t] == 0]
    if missing:
        raise ClaimBroken(f"never printed: {' '.join(missing)}")
    repeated = [f"{t} ({counts[t]} times)" for t in alphabet if counts[t] > 1]
    if repeated:
        raise ClaimBroken(f"printed more than once: {', '.join(repeated)}")
    spaces = Counter(c for c in stdout if c.isspace())
    newlines, other = spaces.pop("\n", 0), sorted(spaces)
    if other or newlines != len(tokens):
        also = f" and other whitespace ({''.join(other)!r})" if other else ""
        raise ClaimBroken(f"{len(tokens)} characters on {newlines} line(s){also}: each is printed on a line of its own")
    for name, expected in groups.items():
        seen = "".join(t for t in tokens if t in expected)
        if seen != expected:
            raise ClaimBroken(f"{name} out of order: {' '.join(seen)}")
    if table.get("interleaved"):
        stream = "".join(tokens)
        spans = {name: (stream.index(g[0]), stream.index(g[-1])) for name, g in groups.items()}
        for a, (_, a_last) in spans.items():
            for b, (b_first, _) in spans.items():
                if a != b and a_last < b_first:
                    raise ClaimBroken(f"the workers did not run at the same time: all {a} came before the first of the {b}")


def check_lines(stdout: str, spec: list, _table: dict) -> None:
    """Line by line: a regular expression each; a block repeated `repeat` times, {i} and {i+1}
    being the repetition's number from 0, a group named by `distinct` taking a different value
    each time, and (?P=name) the text a group of an earlier line of the same repetition matched."""
    lines = stdout.split("\n")
    if lines[-1] != "":
        raise ClaimBroken("output does not end with a newline")
    lines.pop()
    at = 0

    def expect(pattern: str, captured: dict[str, str]) -> dict[str, str]:
        nonlocal at
        pattern = re.sub(r"\(\?P=(\w+)\)", lambda m: re.escape(captured.get(m[1], "")), pattern)
        got = lines[at] if at < len(lines) else None
        match = re.fullmatch(pattern, got) if got is not None else None
        if not match:
            raise ClaimBroken(f"line {at + 1}: expected {shown(pattern)!r}, got {repr(shorten(got)) if got is not None else 'nothing'}")
        at += 1
        return {k: v for k, v in match.groupdict().items() if v is not None}

    for item in spec:
        if isinstance(item, str):
            expect(item, {})
            continue
        first_seen: dict[str, int] = {}
        for i in range(item["repeat"]):
            start, captured = at + 1, {}
            for pattern in item["lines"]:
                captured.update(expect(pattern.replace("{i+1}", str(i + 1)).replace("{i}", str(i)), captured))
            key = item.get("distinct")
            if key:
                value = captured.get(key)
                if value in first_seen:
                    raise ClaimBroken(f"line {start}: {key} {value} again (first on line {first_seen[value]}): each repetition has its own")
                first_seen[value] = start
    if at < len(lines):
        raise ClaimBroken(f"line {at + 1}: {shorten(lines[at])!r} after the last expected line")


def shown(pattern: str) -> str:
    """A line pattern as a reader would write the line: a named group as <name>, escapes undone."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("(?P=", i):  # what the group of that name matched
            end = pattern.index(")", i)
            out.append(f"<{pattern[i + 4 : end]}>")
            i = end + 1
        elif pattern.startswith("(?P<", i):
            name, depth, j = pattern[i + 4 : pattern.index(">", i)], 0, i
            while j < len(pattern):
                if pattern[j] == "\\":
                    j += 1
                elif pattern[j] == "(":
                    depth += 1
                elif pattern[j] == ")":
                    depth -= 1
                    if not depth:
                        break
                j += 1
            out.append(f"<{name}>")
            i = j + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def lines_invalid(spec: Any, _table: dict) -> str | None:
    if not isinstance(spec, list) or not spec:
        return "a list of line patterns"
    for item in spec:
        if isinstance(item, str):
            problem = is_regex(item)
        elif isinstance(item, dict) and set(item) <= {"repeat", "lines", "distinct"}:
            if not (is_count(item.get("repeat")) and item["repeat"] > 0 and isinstance(item.get("lines"), list) and item["lines"]):
                return "a repeated block is { repeat = N, lines = [...], distinct = 'group' }"
            # (?P=name) stands for what an earlier line's group matched: any text, to compile it alone
            patterns = [re.sub(r"\(\?P=\w+\)", ".*", p.replace("{i+1}", "1").replace("{i}", "0")) for p in item["lines"] if isinstance(p, str)]
            problem = next(filter(None, map(is_regex, patterns)), None) if len(patterns) == len(item["lines"]) else "lines are strings"
            if not problem and not isinstance(item.get("distinct", ""), str):
                problem = "distinct names a group: a string"
            if not problem and item.get("distinct") and not any(f"(?P<{item['distinct']}>" in p for p in patterns):
                problem = f"distinct names a group ({item['distinct']!r}) none of its lines has"
        else:
            problem = "a line pattern, or a block { repeat = N, lines = [...], distinct = 'group' }"
        if problem:
            return problem
    return None


def only_one_text_check(_value: Any, table: dict) -> str | None:
    found = [name for name in ("exact", "characters", "lines") if name in table]
    return f"one check of the text at a time, not {' and '.join(found)}" if len(found) > 1 else None


TEXT_CHECKS = {
    "exact": Check(
        "prints exactly {value}",
        lambda v, t: only_one_text_check(v, t) or (None if isinstance(v, str) else "a string"),
        check_exact,
    ),
    "characters": Check(
        "prints each character of {value} once, one per line, each group in order",
        lambda v, t: only_one_text_check(v, t) or is_groups(v),
        check_characters,
    ),
    "interleaved": Check(
        "the groups' characters interleave",
        lambda v, t: None if isinstance(v, bool) and "characters" in t else "true or false, with characters",
        lambda *_: None,  # an option of `characters`
    ),
    "lines": Check("prints, line by line: {value}", lambda v, t: only_one_text_check(v, t) or lines_invalid(v, t), check_lines),
}


# --- what the processes did ----------------------------------------------------------------------


def writer(ev: Evidence, writers: set[int], what: str) -> Proc:
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


def group_writers(ev: Evidence, stdout: bytes, groups: dict[str, str]) -> dict[str, set[int]]:
    written = {name: set() for name in groups}
    for seg in ev.segments(stdout):
        for char in seg.data.decode("utf-8", "replace"):
            for name, chars in groups.items():
                if char in chars:
                    written[name].add(seg.pid)
    return written


def one_child_each(ev: Evidence, stdout: bytes, groups: dict[str, str]) -> None:
    written = group_writers(ev, stdout, groups)
    procs = {name: writer(ev, written[name], f"the {name}") for name in groups}
    for a, b in zip(groups, list(groups)[1:], strict=False):
        if procs[a] is procs[b]:
            raise ClaimBroken(f"the {a} and the {b} were printed by the same process, {procs[a].label}")


def at_once(ev: Evidence, stdout: bytes, groups: dict[str, str]) -> None:
    """Where in stdout each group's writers wrote: every two of them overlap (order in the file,
    which the kernel decided, not a clock)."""
    spans = {}
    for name, chars in groups.items():
        offsets = [seg.start for seg in ev.segments(stdout) if any(c in chars for c in seg.data.decode("utf-8", "replace"))]
        if offsets:
            spans[name] = (min(offsets), max(offsets))
    for a, (_, a_last) in spans.items():
        for b, (b_first, _) in spans.items():
            if a != b and a_last < b_first:
                raise ClaimBroken(f"the {a} were all written before the first of the {b}: their writers did not run at the same time")


def printed_by(ev: Evidence, stdout: bytes, who: str) -> None:
    for text, writers, _ in ev.lines(stdout):
        procs = [ev.procs[pid] for pid in sorted(writers)]
        if who == "main" and writers != {ev.main_pid}:
            raise ClaimBroken(f"{shorten(text)!r} printed by {', '.join(p.label for p in procs)}, not by the main process")


def from_queue(ev: Evidence, stdout: bytes, _value: bool) -> None:
    """Each line main printed is a message main got from a multiprocessing queue before printing
    it, and that message (by the id it carried, not by its value) was put by a child process."""
    puts = {r["msg"]: r for r in ev.of("put")}
    gets = [r for r in ev.of("get") if r["pid"] == ev.main_pid]
    for text, writers, seg in ev.lines(stdout):
        if ev.main_pid not in writers:
            continue
        before = [r for r in gets if r["seq"] < seg.seq]
        matching = [r for r in before if r["text"] == text]
        if not matching:
            got = f"only {', '.join(r['value'] for r in before)}" if before else "nothing"
            raise ClaimBroken(f"the main process printed {shorten(text)!r} but got {got} from a multiprocessing queue before it")
        got = matching[-1]
        put = puts.get(got["msg"])
        if put is None:
            raise ClaimBroken(f"the main process got {got['value']} from a queue, but no put of the run sent that message")
        sender = ev.procs[put["pid"]]
        if sender not in ev.children:
            raise ClaimBroken(f"the main process got {got['value']} from a queue, but no child process put it there (put by: {sender.label})")


def names_writer(ev: Evidence, stdout: bytes, pattern: str) -> None:
    for number, (text, writers, _) in enumerate(ev.lines(stdout), 1):
        shown_name = re.match(pattern, text)
        if not shown_name:
            continue
        proc = writer(ev, writers, f"line {number}")
        if proc.identity[:1] != (int(shown_name["identity"]),):
            raise ClaimBroken(f"line {number} shows {shown_name[0].strip()} but was printed by {proc.label}")


def under_one_lock(ev: Evidence, stdout: bytes, spec: dict) -> None:
    """The lines matching `lines`, each printed by a child inside a hold of one multiprocessing lock
    that every one of them held, `per_hold` consecutive lines of a writer in the same hold; and
    that lock excluded: no two holds at once, each released by the process that acquired it, no
    hold left open, and every read and write of a shared Value by a child made inside its hold."""
    pattern, per_hold = spec["lines"], spec.get("per_hold", 1)
    printed = []  # (line number, writer, the holds of each lock around the line)
    for number, (text, writers, seg) in enumerate(ev.lines(stdout), 1):
        if not re.match(pattern, text):
            continue
        proc = writer(ev, writers, f"line {number}")
        around = {h.lock: h for h in ev.holds(pid=proc.pid) if h.first < seg.seq < h.last}
        if not around:
            raise ClaimBroken(f"line {number} was printed by {proc.label} while it held no multiprocessing lock")
        printed.append((number, proc, around))
    if not printed:
        raise ClaimBroken(f"no line matches {pattern!r}")
    shared = sorted(set.intersection(*(set(around) for *_, around in printed)))
    if not shared:
        raise ClaimBroken(
            "no multiprocessing lock was held by every worker as it printed: "
            + "; ".join(f"line {n} under {', '.join(sorted(around))}" for n, _, around in printed)
        )
    problems = []
    for lock in shared:
        try:
            excluded(ev, lock, printed, per_hold)
            return
        except ClaimBroken as broken:
            problems.append(broken)
    raise problems[0]


def excluded(ev: Evidence, lock: str, printed: list, per_hold: int) -> None:
    by_writer: dict[int, list] = {}
    for number, proc, around in printed:
        by_writer.setdefault(proc.pid, []).append((number, proc, around[lock]))
    for lines in by_writer.values():
        for k in range(0, len(lines), per_hold):
            group = lines[k : k + per_hold]
            for number, proc, hold in group[1:]:
                if hold is not group[0][2]:
                    raise ClaimBroken(f"line {number}: {proc.label} released the lock between line {group[0][0]} and this one")
    for stray in ev.stray_releases():
        if lock in stray:
            raise ClaimBroken(f"{stray}: a lock anyone may release excludes nobody")
    holds = sorted(ev.holds(lock), key=lambda h: h.start)
    for hold in holds:
        if hold.end is None:
            raise ClaimBroken(f"{ev.procs[hold.pid].label} acquired the lock and never released it")
    for a, b in itertools.pairwise(holds):
        if b.start < a.end:
            raise ClaimBroken(f"{ev.procs[b.pid].label} acquired the lock while {ev.procs[a.pid].label} held it: the lock excluded nobody")
    held = {}
    for hold in holds:
        held.setdefault(hold.pid, []).append(hold)
    for r in ev.of("shared_get", "shared_set"):
        proc = ev.procs[r["pid"]]
        if proc in ev.children and not any(h.first < r["seq"] < h.last for h in held.get(proc.pid, [])):
            what = "read" if r["e"] == "shared_get" else "wrote"
            raise ClaimBroken(f"{proc.label} {what} the shared value ({r['value']}) outside its hold of the lock")


def pool(ev: Evidence, stdout: bytes, spec: dict) -> None:
    """Each value main printed is `function` of the program's input at its place, computed in a
    pool worker process and carried to main by the pool's own message from that worker."""
    function, inputs = spec["function"], spec["inputs"]
    printed = None
    for text, writers, _ in ev.lines(stdout):
        if writers == {ev.main_pid}:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(value, (list, tuple)) and len(value) == len(inputs):
                printed = list(value)
                break
    if printed is None:
        raise ClaimBroken(f"the main process printed no list of {len(inputs)} values")
    tasks = [r for r in ev.of("task") if r["func"] == function]
    if not tasks:
        raise ClaimBroken(f"no pool worker ran {function}: the results were not computed by a multiprocessing Pool")
    for r in tasks:
        proc = ev.procs[r["pid"]]
        if proc.role == "main":
            raise ClaimBroken(f"{function}{r['calls'][0] if r['calls'] else '()'} ran in {proc.label}, not in a pool worker process")
        if proc not in ev.children or not proc.pool_worker:
            raise ClaimBroken(f"{function}{r['calls'][0] if r['calls'] else '()'} ran in {proc.label}, which is not a pool worker process")
    by_task = {(r["pid"], r["job"], r["i"]): r for r in tasks}
    puts = {r["msg"]: r for r in ev.of("put")}
    delivered = []  # (call, result, worker) of each result main received from the worker that computed it
    for r in ev.of("pool_result"):
        if r["pid"] != ev.main_pid or not r["ok"] or r["msg"] not in puts:
            continue
        task = by_task.get((puts[r["msg"]]["pid"], r["job"], r["i"]))
        if task:
            results = r["items"] if task["chunk"] else [r["value"]]
            delivered += [(call, result, ev.procs[task["pid"]]) for call, result in zip(task["calls"], results, strict=False)]
    computed = {call for r in tasks for call in r["calls"]}
    for place, x in enumerate(inputs):
        call = repr((x,))
        found = next((d for d in delivered if d[0] == call), None)
        if found is None:
            if call in computed:
                task = next(t for t in tasks if call in t["calls"])
                done = next((r for r in ev.of("task_done") if (r["pid"], r["job"], r["i"]) == (task["pid"], task["job"], task["i"])), None)
                result = f" ({done.get('result', done.get('error'))})" if done else ""
                raise ClaimBroken(f"the result of {function}{call}{result} never reached the main process through the pool")
            ran = ", ".join(sorted(computed))[:120]
            raise ClaimBroken(f"no pool worker computed {function}{call}: the workers ran {function} on {ran}, not on the program's inputs {inputs}")
        delivered.remove(found)
        if literal(found[1]) != printed[place]:
            raise ClaimBroken(f"the main process printed {printed[place]!r} for {function}{call}, but {found[2].label} returned {found[1]}")


def children(ev: Evidence, _stdout: bytes, count: int) -> None:
    if len(ev.children) != count:
        raise ClaimBroken(f"{len(ev.children)} child process(es) ran: {', '.join(p.label for p in ev.children) or 'none'}; the claims say {count}")


def literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def is_one_of(*choices: str) -> Callable[[Any, dict], str | None]:
    return lambda v, _t: None if v in choices else f"one of {', '.join(choices)}"


PREDICATES = {
    "printed_by": Check("every line printed by {raw}", is_one_of("main"), printed_by),
    "one_child_each": Check("{value}, each printed by one child process, a different one for each", is_groups, one_child_each),
    "at_once": Check("the writers of {value} wrote at the same time: their writes interleave in the file", is_groups, at_once),
    "from_queue": Check(
        "each line main printed is a message a child process put on a multiprocessing queue, got by main before it printed it",
        lambda v, _t: None if v is True else "true",
        from_queue,
    ),
    "names_writer": Check(
        "a line matching {value} was printed by the child whose identity it shows", lambda v, _t: is_regex(v, "identity"), names_writer
    ),
    "under_one_lock": Check(
        "the lines matching {value[lines]} printed inside holds of one shared multiprocessing lock, {value[per_hold]} per hold, "
        "the holds never overlapping, each released by its holder, the shared values read and written only inside them",
        lambda v, _t: (
            None
            if isinstance(v, dict)
            and set(v) <= {"lines", "per_hold"}
            and not is_regex(v.get("lines"))
            and is_count(v.get("per_hold", 1))
            and v.get("per_hold", 1) > 0
            else "{ lines = 'regular expression', per_hold = N }"
        ),
        under_one_lock,
    ),
    "pool": Check(
        "main printed {value[function]} of each of {value[inputs]}, each computed in a pool worker process and sent to main by the pool",
        lambda v, _t: (
            None
            if isinstance(v, dict) and set(v) == {"function", "inputs"} and isinstance(v["function"], str) and isinstance(v["inputs"], list)
            else "{ function = 'name', inputs = [...] }"
        ),
        pool,
    ),
    "children": Check("{raw} child process(es) ran, no more", lambda v, _t: None if is_count(v) and v >= 0 else "a number", children),
}


# --- the general claims --------------------------------------------------------------------------


def check_started(ev: Evidence, expected: str, requested: str) -> None:
    """Every child process was started by multiprocessing with the expected start method, as the
    parent that started it and as the child itself saw it; no process came from anywhere else."""
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
    for proc in ev.unexplained:
        raise ClaimBroken(f"{proc.label} was not started by multiprocessing: {proc.origin}")


# A Pool's worker ended by the Pool itself, or by multiprocessing's exit handler (daemonic workers
# still alive at exit): how a Pool stops its workers. Nothing else is excused.
ENDED_BY_MULTIPROCESSING = (-signal.SIGTERM, -getattr(signal, "SIGKILL", 9))


def check_child_exits(ev: Evidence) -> None:
    """Every child process exited with status 0 (a Pool's worker may be ended by the Pool), even with its stderr silenced."""
    for proc in ev.children:
        code = proc.exit_status
        if code == 0 or (proc.pool_worker and proc.ended_by in ("pool", "exit") and code in ENDED_BY_MULTIPROCESSING):
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


# Every claim a verdict can name, in the order they are checked.
CLAIMS = {
    "timeout": "no run past its timeout",
    "output_limit": "stdout and stderr each within the output limit",
    "leftovers": "no process left once the main process has exited",
    "exit_status": "exit status 0 (or the failure the claims file claims)",
    "stderr": "nothing on stderr under -X dev",
    "records": "the records agree with each other and with what the harness saw",
    "lifetime": "nothing written to stdout after the main process exited",
    "start_method": "every child started by multiprocessing with the start method asked for, as the parent and the child saw it",
    "child_exit": "every child exited with status 0 (a Pool's workers ended by the Pool excepted)",
    "output": "the text the claims file declares",
    "evidence": "stdout is exactly the recorded writes to it, and the claims file's claims on the processes",
}


def verdict(outcome: Outcome, example: Example) -> Verdict:
    """The first broken claim of a run; the general ones first, then the example's."""
    run, ev = outcome.run, outcome.evidence
    if outcome.timed_out:
        return Verdict("timed_out", "timeout", f"timed out after {run.timeout:g} s; its processes were killed")
    for name, size in (("stdout", outcome.stdout_size), ("stderr", outcome.stderr_size)):
        if size > outcome.output_limit:
            return Verdict("failed", "output_limit", f"printed {size / 2**20:.1f} MiB to {name}; the limit is {outcome.output_limit / 2**20:g} MiB")
    if outcome.leftovers:
        return Verdict(
            "failed", "leftovers", f"{len(outcome.leftovers)} process(es) still running after the main process exited: {outcome.leftovers[0]}"
        )
    claimed_failure = example.fails.get(outcome.method)
    if claimed_failure is not None:  # it must fail, with that line on stderr (a child's traceback counts)
        if outcome.returncode == 0 and not outcome.stderr:
            return Verdict("failed", "exit_status", f"ran cleanly, but the claims say it fails under {outcome.method} with {claimed_failure!r}")
        if claimed_failure not in outcome.stderr:
            return Verdict("failed", "exit_status", f"failed with {gist(outcome.stderr)!r}, not with {claimed_failure!r} as the claims say")
        return Verdict("passed", note=f"fails as claimed: {claimed_failure}")
    if outcome.returncode != 0:
        return Verdict("failed", "exit_status", f"exit status {outcome.returncode}: {gist(outcome.stderr)}")
    if outcome.stderr:
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
    for claim, check in (
        ("start_method", lambda: check_started(ev, outcome.method, run.method)),
        ("child_exit", lambda: check_child_exits(ev)),
        ("output", lambda: [TEXT_CHECKS[name].check(outcome.stdout, value, example.text) for name, value in example.text.items()]),
        ("evidence", lambda: ev.segments(outcome.raw_stdout)),
        ("evidence", lambda: [PREDICATES[name].check(ev, outcome.raw_stdout, value) for name, value in example.processes.items()]),
    ):
        try:
            check()
        except (ClaimBroken, Unaccounted) as broken:
            return Verdict("failed", claim, str(broken))
    return Verdict("passed")


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


def shorten(text: str, limit: int = 300) -> str:
    """One line of at most `limit` characters, terminal control characters shown escaped."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return visible(text, lines=True)


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
