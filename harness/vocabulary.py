"""The claims files' vocabulary (harness/examples.py reads them): the checks of the text a reader
sees (TEXT_CHECKS) and the claims on what the processes did (PREDICATES), each with what makes its
argument unusable and what the harness perturbs to prove it (the cell's twin: `interventions`).

Each check raises ClaimBroken with a one-line reason. A claim is a specification of the whole run:
it rules out its contrary, not only finds a favourable trace (a lock is held by every worker and
admits one holder, a message is the one a child put and the line follows it when it is altered in
transit, the counter's whole history is increments under the lock); see the README's "What each
claim rests on". The general claims every run is held to, and the verdict, are harness/verdict.py.
Nothing here needs psutil.
"""

from __future__ import annotations

import ast
import bisect
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.cells import visible
from harness.evidence import Evidence, Proc
from harness.inject import mp_contract as contract


class ClaimBroken(Exception):
    """A claim does not hold; the message says which, in one line."""


@dataclass(frozen=True)
class Check:
    """One word of the claims files' vocabulary: what it says, what makes its argument unusable,
    the check itself, and what the harness perturbs to prove it (mp_contract.INTERVENTIONS): the
    cell's second run, which must hold the claim too."""

    says: str  # for the README and the report, with {value} filled in
    invalid: Callable[[Any, dict], str | None]
    check: Callable[..., None]
    interventions: tuple[str, ...] = ()


def groups_problem(value: Any, _table: dict | None = None) -> str | None:
    if not (isinstance(value, dict) and value and all(isinstance(k, str) and isinstance(v, str) and v for k, v in value.items())):
        return "a table of named groups of characters: { digits = '0123456789', letters = 'abcdefghij' }"
    chars = "".join(value.values())
    if len(set(chars)) != len(chars) or any(c.isspace() for c in chars):
        return "each character in one group only, and no whitespace"
    return None


def is_count(value: Any) -> bool:
    """An integer, not a boolean (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def regex_problem(value: Any, group: str | None = None) -> str | None:
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
            problem = regex_problem(item)
        elif isinstance(item, dict) and set(item) <= {"repeat", "lines", "distinct"}:
            if not (is_count(item.get("repeat")) and item["repeat"] > 0 and isinstance(item.get("lines"), list) and item["lines"]):
                return "a repeated block is { repeat = N, lines = [...], distinct = 'group' }"
            # (?P=name) stands for what an earlier line's group matched: any text, to compile it alone
            patterns = [re.sub(r"\(\?P=\w+\)", ".*", p.replace("{i+1}", "1").replace("{i}", "0")) for p in item["lines"] if isinstance(p, str)]
            problem = next(filter(None, map(regex_problem, patterns)), None) if len(patterns) == len(item["lines"]) else "lines are strings"
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
        lambda v, t: only_one_text_check(v, t) or groups_problem(v),
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
    procs = [ev.procs[pid] if pid in ev.procs else Proc(pid) for pid in sorted(writers)]
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
    """Each group printed by one child, and no two groups by the same one (every pair, not only neighbours)."""
    written = group_writers(ev, stdout, groups)
    procs = {name: writer(ev, written[name], f"the {name}") for name in groups}
    for a, b in itertools.combinations(groups, 2):
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
        procs = [ev.procs[pid] if pid in ev.procs else Proc(pid) for pid in sorted(writers)]
        if who == "main" and writers != {ev.main_pid}:
            raise ClaimBroken(f"{shorten(text)!r} printed by {', '.join(p.label for p in procs)}, not by the main process")


def main_lines(ev: Evidence, stdout: bytes) -> list[tuple[bytes, list]]:
    """Each line the main process printed: its bytes (newline and all) and the segments that made it."""
    found, line, parts = [], b"", []
    for seg in ev.segments(stdout):
        if seg.pid != ev.main_pid:
            continue
        for piece in seg.data.splitlines(keepends=True):
            line += piece
            parts.append(seg)
            if piece.endswith(b"\n"):
                found.append((line, parts))
                line, parts = b"", []
    if line:
        found.append((line, parts))
    return found


def carries(line: bytes, text: str, whole: bool) -> bool:
    """Whether a printed line is the message's text, newline and all: print(message) adds a newline,
    and a message that ends with one may be written as it is."""
    printed = line.decode("utf-8", "backslashreplace").replace("\r\n", "\n")
    if not whole:
        return printed.startswith(text)
    return printed in (text + "\n", text) or (text.endswith("\n") and printed == text)


def from_queue(ev: Evidence, stdout: bytes, _value: bool) -> None:
    """Each line main printed is a message main got from a multiprocessing queue before it wrote any
    byte of that line, the line's bytes being the message's text (newline and all), and that
    message (by the id it carried, not by its value) was put by a child process. In a run whose
    messages were altered in transit (`alter`), the text is the altered one: a line main made
    itself does not follow."""
    puts = {r["msg"]: r for r in ev.of("put")}
    gets = sorted((r for r in ev.of("get") if r["pid"] == ev.main_pid), key=lambda r: r["seq"])  # in main's own order
    altered = {r["msg"]: r for r in ev.of("altered") if r["pid"] == ev.main_pid}
    by_text = defaultdict(list)  # a message's text -> the gets of it, in order
    for r in gets:
        by_text[r["text"]].append(r)
    heads = [r for r in gets if not r.get("whole", True)]  # messages too long to keep whole: their heads
    taken = 0  # gets before the line being checked: lines come in main's order too
    for line, parts in main_lines(ev, stdout):
        first = min(seg.seq for seg in parts)
        while taken < len(gets) and gets[taken]["seq"] < first:
            taken += 1
        shown = shorten(line.decode("utf-8", "backslashreplace"))
        text = line.decode("utf-8", "backslashreplace").replace("\r\n", "\n")
        candidates = [*by_text.get(text.removesuffix("\n"), ()), *by_text.get(text, ())]
        candidates += heads
        matching = [r for r in candidates if r["seq"] < first and carries(line, r["text"], r.get("whole", True))]
        if not matching:
            if any(carries(line, r["text"], r.get("whole", True)) for r in candidates):
                raise ClaimBroken(f"the main process began printing {shown!r} before it got that message from the queue")
            before = gets[:taken]
            if altered and before:
                was = altered.get(before[-1]["msg"])
                if was:
                    raise ClaimBroken(
                        f"the main process printed {shown!r}, not the message it got ({was['now']}, altered in transit from {was['was']}): "
                        "what it printed does not follow the message"
                    )
            got = f"only {', '.join(r['value'] for r in before[-3:])}" if before else "nothing"
            raise ClaimBroken(f"the main process printed {shown!r} but got {got} from a multiprocessing queue before it")
        got = max(matching, key=lambda r: r["seq"])
        put = puts.get(got["msg"])
        if put is None:
            raise ClaimBroken(f"the main process got {got['value']} from a queue, but no put of the run sent that message")
        sender = ev.procs.get(put["pid"])
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


def printed_under_holds(ev: Evidence, stdout: bytes, pattern: str) -> list[tuple[int, Proc, dict]]:
    """(line number, writer, {lock: the writer's hold around it}) of each line matching `pattern`."""
    printed = []
    for number, (text, writers, seg) in enumerate(ev.lines(stdout), 1):
        if not re.match(pattern, text):
            continue
        proc = writer(ev, writers, f"line {number}")
        around = {h.lock: h for h in ev.holds_around(proc.pid, seg.seq)}
        if not around:
            raise ClaimBroken(f"line {number} was printed by {proc.label} while it held no multiprocessing lock")
        printed.append((number, proc, around))
    if not printed:
        raise ClaimBroken(f"no line matches {pattern!r}")
    return printed


def under_one_lock(ev: Evidence, stdout: bytes, spec: dict) -> None:
    """The lines matching `lines`, each printed by a child inside a hold of one multiprocessing lock
    that every one of them held, `per_hold` consecutive lines of a writer in the same hold; and
    that lock is a lock: it admits one holder (as it was made, and as its semaphore said at each
    hold), no two holds at once (an acquire recorded once it succeeded, a release before it is
    made: in the order the supervisor received them), each released by the process that acquired
    it, no hold left open."""
    pattern, per_hold = spec["lines"], spec.get("per_hold", 1)
    printed = printed_under_holds(ev, stdout, pattern)
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
    holds = sorted(ev.holds(lock), key=lambda h: h.start)
    kind = holds[0].kind
    for hold in holds:
        if hold.capacity not in (None, 1) or hold.excluded is False:
            admits = f"admits {hold.capacity} holders at once" if hold.capacity not in (None, 1) else "let others in while it was held"
            raise ClaimBroken(f"{kind} {lock}, which every worker held as it printed, {admits}: it is not a lock, it excluded nobody")
    for stray in ev.stray_releases():
        if lock in stray:
            raise ClaimBroken(f"{stray}: a lock anyone may release excludes nobody")
    for hold in holds:
        if hold.end is None:
            raise ClaimBroken(f"{ev.procs[hold.pid].label} acquired the lock and never released it")
    for a, b in itertools.pairwise(holds):
        if b.start < a.end:
            raise ClaimBroken(f"{ev.procs[b.pid].label} acquired the lock while {ev.procs[a.pid].label} held it: the lock excluded nobody")


def number(text: str) -> int | float | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def shared_counter(ev: Evidence, _stdout: bytes, spec: dict) -> None:
    """The history of the shared value the children changed, as a counter: from `start` to
    start + `increments`, by exactly that many increments, each a read of v and the write of v + 1 by
    one child inside one hold of the one lock that guards every child's access, and no other change
    (no write by anyone else or outside a hold; between two holds the value as it was left, as the
    holders saw it when they took and left the lock, whatever path a change could have taken)."""
    start, increments = spec.get("start", 0), spec["increments"]
    # Main may set the value up before any worker touches it (PyPy's ctypes sets it as it makes it);
    # after that, only the workers' increments may change it.
    touched = min((r["at"] for r in ev.of("shared_get", "shared_set") if ev.procs[r["pid"]] in ev.children), default=None)
    for r in ev.of("shared_set"):
        proc = ev.procs[r["pid"]]
        if proc not in ev.children and touched is not None and r["at"] > touched:
            raise ClaimBroken(f"{proc.label} wrote {r['value']} to the shared value: only the workers' increments may change it")
    writes = [r for r in ev.of("shared_set") if ev.procs[r["pid"]] in ev.children]
    changed = [key for h in ev.holds() if ev.procs.get(h.pid) in ev.children for key, now in h.values_after.items() if h.values.get(key) != now]
    if not writes and not changed:
        raise ClaimBroken("no child process changed a shared value: the counter was never incremented by a worker")
    value = writes[0]["value_of"] if writes else changed[0]
    history = [r for r in ev.of("shared_get", "shared_set") if r["value_of"] == value]
    guards = None
    hold_of = {}
    for r in history:
        proc = ev.procs[r["pid"]]
        what = "read" if r["e"] == "shared_get" else "wrote"
        if proc not in ev.children:
            continue  # main, before the workers (above), or reading
        around = {h.lock: h for h in ev.holds_around(proc.pid, r["seq"]) if h.excluded is not False}
        if not around:
            raise ClaimBroken(f"{proc.label} {what} the shared value ({r['value']}) outside any hold of a lock")
        guards = set(around) if guards is None else guards & set(around)
        hold_of[id(r)] = around
    if not guards:
        raise ClaimBroken("no one lock was held around every worker's access to the shared value: different locks guard it")
    # A lock nested in another (a synchronized Value's own lock, taken around each access) guards
    # each access but not the increment: the outermost guard, the one with the fewest holds, is the one.
    problems = []
    for lock in sorted(guards, key=lambda lock: (len(ev.holds(lock)), lock)):
        try:
            return increments_under(ev, lock, value, history, start, increments)
        except ClaimBroken as broken:
            problems.append(broken)
    raise problems[0]


def increments_under(ev: Evidence, lock: str, value: str, history: list[dict], start: int, increments: int) -> None:
    """The counter's history under one lock: each hold changes the value by one increment or not at
    all (as the holder saw it when it took and left the lock: a change by any path), a recorded write
    follows a recorded read of one less in the same hold, and between holds the value stays."""
    holds = sorted(ev.holds(lock), key=lambda h: h.start)
    for a, b in itertools.pairwise(holds):
        left, found = a.values_after.get(value), b.values.get(value)
        if left is not None and found is not None and left != found:
            raise ClaimBroken(
                f"the shared value changed from {left} to {found} between {ev.procs[a.pid].label}'s hold of the lock and "
                f"{ev.procs[b.pid].label}'s, outside the lock"
            )
    by_pid = defaultdict(list)  # each process's accesses, in its own order
    for r in history:
        by_pid[r["pid"]].append(r)
    places = {pid: [r["seq"] for r in own] for pid, own in by_pid.items()}
    done = 0
    for hold in holds:
        own, at = by_pid[hold.pid], places.get(hold.pid, [])
        mine = own[bisect.bisect_right(at, hold.first) : bisect.bisect_left(at, hold.last)]
        read, written = None, 0
        for r in mine:
            if r["e"] == "shared_get":
                read = number(r["value"])
            else:
                if read is None or number(r["value"]) != read + 1:
                    got = "without reading it in the same hold" if read is None else f"after reading {read} in the same hold"
                    raise ClaimBroken(f"{ev.procs[hold.pid].label} wrote {r['value']} to the shared value {got}: not an increment under the lock")
                read, written = number(r["value"]), written + 1
        took, left = number(hold.values.get(value, "")), number(hold.values_after.get(value, ""))
        if took is None or left is None:  # no snapshot (a lock the program did not make): the recorded writes
            done += written
            continue
        if left - took not in (0, 1) or written > 1:
            raise ClaimBroken(f"the shared value went from {took} to {left} during {ev.procs[hold.pid].label}'s hold of the lock: not one increment")
        if left - took == 0 and written:
            raise ClaimBroken(f"{ev.procs[hold.pid].label} wrote {read} to the shared value, but it was {left} again when it released the lock")
        done += left - took  # by a recorded write, or by a path no record shows: inside the hold either way
    first = next((h.values.get(value) for h in holds if h.values.get(value) is not None), None)
    if first is not None and number(first) != start:
        raise ClaimBroken(f"the shared value was {first} when the first worker took the lock, not {start}")
    if done != increments:
        raise ClaimBroken(f"{done} increment(s) of the shared value under the lock, not {increments}")


def pool(ev: Evidence, stdout: bytes, spec: dict) -> None:
    """Each value main printed is `function` of the program's input at its place, computed in a
    pool worker process and carried to main by the pool's own message from that worker, printed
    after main received it; in a run whose results were altered in transit (`alter`), the values
    main received are the altered ones, and the printed values must be them."""
    function, inputs = spec["function"], spec["inputs"]
    printed, line_seq = None, None
    for line, parts in main_lines(ev, stdout):
        try:
            value = ast.literal_eval(line.decode("utf-8", "replace").strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, (list, tuple)) and len(value) == len(inputs):
            printed, line_seq = list(value), min(seg.seq for seg in parts)
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
    delivered = defaultdict(list)  # call -> [(result, worker, when main got it)] of each result main received from the worker that computed it
    for r in ev.of("pool_result"):
        if r["pid"] != ev.main_pid or not r["ok"] or r["msg"] not in puts:
            continue
        task = by_task.get((puts[r["msg"]]["pid"], r["job"], r["i"]))
        if task:
            results = r["items"] if task["chunk"] else [r["value"]]
            for call, result in zip(task["calls"], results or [], strict=False):
                delivered[call].append((result, ev.procs[task["pid"]], r["seq"]))
    computed = {call for r in tasks for call in r["calls"]}
    done = {(r["pid"], r["job"], r["i"]): r for r in ev.of("task_done")}
    for place, x in enumerate(inputs):
        call = repr((x,))
        if not delivered[call]:
            if call in computed:
                task = next(t for t in tasks if call in t["calls"])
                end = done.get((task["pid"], task["job"], task["i"]))
                result = f" ({end.get('result', end.get('error'))})" if end else ""
                raise ClaimBroken(f"the result of {function}{call}{result} never reached the main process through the pool")
            ran = ", ".join(sorted(computed))[:120]
            raise ClaimBroken(f"no pool worker computed {function}{call}: the workers ran {function} on {ran}, not on the program's inputs {inputs}")
        result, worker, when = delivered[call].pop(0)
        if literal(result) != printed[place]:
            raise ClaimBroken(
                f"the main process printed {printed[place]!r} for {function}{call}, but the pool delivered {result} (from {worker.label})"
            )
        if when > line_seq:
            raise ClaimBroken(f"the main process began printing the results before the pool delivered {function}{call}")


def children(ev: Evidence, _stdout: bytes, count: int) -> None:
    if len(ev.children) != count:
        raise ClaimBroken(f"{len(ev.children)} child process(es) ran: {', '.join(p.label for p in ev.children) or 'none'}; the claims say {count}")


def literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def not_one_of(*choices: str) -> Callable[[Any, dict], str | None]:
    return lambda v, _t: None if v in choices else f"one of {', '.join(choices)}"


PREDICATES = {
    "printed_by": Check("every line printed by {raw}", not_one_of("main"), printed_by),
    "one_child_each": Check("{value}, each printed by one child process, a different one for each", groups_problem, one_child_each),
    "at_once": Check(
        "the writers of {value} wrote at the same time: their writes interleave in the file, also with each worker slowed in turn",
        groups_problem,
        at_once,
        interventions=(contract.SLOW,),
    ),
    "from_queue": Check(
        "each line main printed is a message a child process put on a multiprocessing queue, got by main before it printed any of it, "
        "the line being the message's text; with the message altered in transit, the line follows it",
        lambda v, _t: None if v is True else "true",
        from_queue,
        interventions=(contract.ALTER,),
    ),
    "names_writer": Check(
        "a line matching {value} was printed by the child whose identity it shows", lambda v, _t: regex_problem(v, "identity"), names_writer
    ),
    "under_one_lock": Check(
        "the lines matching {value[lines]} printed inside holds of one shared multiprocessing lock, {value[per_hold]} per hold; the lock "
        "admits one holder (as made, and its semaphore at every hold), the holds never overlap, each is released by its holder, "
        "also with every hold stretched",
        lambda v, _t: (
            None
            if isinstance(v, dict)
            and set(v) <= {"lines", "per_hold"}
            and not regex_problem(v.get("lines"))
            and is_count(v.get("per_hold", 1))
            and v.get("per_hold", 1) > 0
            else "{ lines = 'regular expression', per_hold = N }"
        ),
        under_one_lock,
        interventions=(contract.STRETCH,),
    ),
    "shared_counter": Check(
        "the shared value goes from {value[start]} by {value[increments]} increments, each a read of v and the write of v + 1 by one worker "
        "inside one hold of the lock that guards it, and changes in no other way, also with every hold stretched",
        lambda v, _t: (
            None
            if isinstance(v, dict) and set(v) <= {"start", "increments"} and "increments" in v and all(type(x) is int for x in v.values())
            else "{ start = 0, increments = N }"
        ),
        shared_counter,
        interventions=(contract.STRETCH,),
    ),
    "pool": Check(
        "main printed {value[function]} of each of {value[inputs]}, each computed in a pool worker process and delivered to main by the pool "
        "before main printed it; with the results altered in transit, the printed values follow them",
        lambda v, _t: (
            None
            if isinstance(v, dict) and set(v) == {"function", "inputs"} and isinstance(v["function"], str) and isinstance(v["inputs"], list)
            else "{ function = 'name', inputs = [...] }"
        ),
        pool,
        interventions=(contract.ALTER,),
    ),
    "children": Check("{raw} child process(es) ran, no more", lambda v, _t: None if is_count(v) and v >= 0 else "a number", children),
}


def interventions(example: Any) -> tuple[str, ...]:
    """What the harness perturbs in the second run of each cell of this example: what its claims on
    the processes rest on (none: no second run)."""
    wanted = {name for key in example.processes for name in PREDICATES[key].interventions}
    return tuple(name for name in contract.INTERVENTIONS if name in wanted)


def shorten(text: str, limit: int = 300) -> str:
    """One line of at most `limit` characters, terminal control characters shown escaped."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return visible(text, lines=True)
