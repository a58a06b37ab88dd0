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
import signal
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.cells import visible
from harness.evidence import Evidence, Proc, Segment
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
    words: Callable[[Any], str] | None = None  # what it says of one value, where `says` would not read well (harness/readme.py)
    doc: str = ""  # for the vocabulary table: the forms its value takes, after `says`


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


BACKREF = re.compile(r"\(\?P=(\w+)\)")
GROUP = re.compile(r"\(\?P<(\w+)>")
BLOCK_LIMIT = 64  # lines of an `any_order` or `optional` block: their lines are matched each against each


def check_lines(stdout: str, spec: list, _table: dict) -> None:
    """Line by line: a regular expression each; a block repeated `repeat` times, {i} and {i+1}
    being the repetition's number from 0, a group named by `distinct` taking a different value
    each time; a block of lines in any order (`any_order`); a block that may be absent
    (`optional`). (?P=name) is what the group `name` matched: on the same line (the regular
    expression's own back-reference), else on the latest earlier line that has that group."""
    lines = stdout.split("\n")
    if lines[-1] != "":
        raise ClaimBroken("output does not end with a newline")
    lines.pop()
    at = 0
    captured: dict[str, str] = {}  # what each group matched on the latest line that has it: it reaches every later line

    def with_earlier(pattern: str) -> str:
        own = set(GROUP.findall(pattern))
        return BACKREF.sub(lambda m: m[0] if m[1] in own else re.escape(captured[m[1]]) if m[1] in captured else "(?!)", pattern)

    def matching(pattern: str, line: str | None) -> dict[str, str] | None:
        found = re.fullmatch(with_earlier(pattern), line) if line is not None else None
        return None if found is None else {k: v for k, v in found.groupdict().items() if v is not None}

    def expect(pattern: str) -> dict[str, str]:
        nonlocal at
        got = lines[at] if at < len(lines) else None
        groups = matching(pattern, got)
        if groups is None:
            expected = shown(with_earlier(pattern))
            raise ClaimBroken(f"line {at + 1}: expected {expected!r}, got {repr(shorten(got)) if got is not None else 'nothing'}")
        at += 1
        captured.update(groups)
        return groups

    for item in spec:
        if isinstance(item, str):
            expect(item)
        elif "any_order" in item:
            patterns = item["any_order"]
            block = lines[at : at + len(patterns)]
            pairs = in_any_order(patterns, block, matching)
            if pairs is None:
                expected = ", ".join(repr(shown(p)) for p in patterns)
                raise ClaimBroken(f"lines {at + 1}-{at + len(patterns)}: expected, in any order, {shorten(expected)}; got {shorten(repr(block))}")
            for groups in pairs:
                captured.update(groups)
            at += len(patterns)
        elif "optional" in item:
            patterns = [item["optional"]] if isinstance(item["optional"], str) else item["optional"]
            found = [matching(p, lines[at + k] if at + k < len(lines) else None) for k, p in enumerate(patterns)]
            if all(groups is not None for groups in found):
                for groups in found:
                    captured.update(groups)
                at += len(patterns)
        else:
            first_seen: dict[str, int] = {}
            for i in range(item["repeat"]):
                start, this_time = at + 1, {}
                for pattern in item["lines"]:
                    this_time.update(expect(pattern.replace("{i+1}", str(i + 1)).replace("{i}", str(i))))
                key = item.get("distinct")
                if key:
                    value = this_time.get(key)
                    if value in first_seen:
                        raise ClaimBroken(f"line {start}: {key} {value} again (first on line {first_seen[value]}): each repetition has its own")
                    first_seen[value] = start
    if at < len(lines):
        raise ClaimBroken(f"line {at + 1}: {shorten(lines[at])!r} after the last expected line")


def in_any_order(patterns: list[str], block: list[str], matching: Callable) -> list[dict[str, str]] | None:
    """The groups of each line of `block` matched to a pattern of its own (each pattern one line,
    in any order), or None if there is no such pairing (augmenting paths: a line that two patterns
    match does not take the one another line needs)."""
    if len(block) != len(patterns):
        return None
    fits = [[k for k, p in enumerate(patterns) if matching(p, line) is not None] for line in block]
    owner: dict[int, int] = {}  # pattern -> line

    def place(line: int, tried: set[int]) -> bool:
        for k in fits[line]:
            if k not in tried:
                tried.add(k)
                if k not in owner or place(owner[k], tried):
                    owner[k] = line
                    return True
        return False

    if not all(place(line, set()) for line in range(len(block))):
        return None
    line_of = {line: k for k, line in owner.items()}
    return [matching(patterns[line_of[line]], block[line]) or {} for line in range(len(block))]


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
            out.append({"t": "\t", "n": "\n"}.get(pattern[i + 1], pattern[i + 1]))
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def lines_invalid(spec: Any, _table: dict) -> str | None:
    if not isinstance(spec, list) or not spec:
        return "a list of line patterns"
    known: set[str] = set()  # the groups of the lines before: what (?P=name) may refer to

    def pattern_problem(pattern: Any, repeated: bool = False) -> str | None:
        if not isinstance(pattern, str):
            return "lines are strings"
        if repeated:
            pattern = pattern.replace("{i+1}", "1").replace("{i}", "0")
        own = set(GROUP.findall(pattern))
        stray = next((name for name in BACKREF.findall(pattern) if name not in own and name not in known), None)
        if stray:
            return f"(?P={stray}) refers to a group of no earlier line, nor of its own: {pattern!r}"
        # (?P=name) of an earlier line stands for the text its group matched: any text, to compile it alone
        problem = regex_problem(BACKREF.sub(lambda m: m[0] if m[1] in own else ".*", pattern))
        known.update(own)
        return problem

    for item in spec:
        if isinstance(item, str):
            problem = pattern_problem(item)
        elif isinstance(item, dict) and "any_order" in item:
            patterns = item["any_order"]
            if set(item) != {"any_order"} or not (isinstance(patterns, list) and 0 < len(patterns) <= BLOCK_LIMIT):
                return f"a block in any order is {{ any_order = [...] }}, 1 to {BLOCK_LIMIT} line patterns"
            before, after, problem = set(known), set(known), None
            for pattern in patterns:  # its lines may not refer to each other: they come in any order
                known = set(before)
                problem = problem or pattern_problem(pattern)
                after |= known
            known = after
        elif isinstance(item, dict) and "optional" in item:
            patterns = [item["optional"]] if isinstance(item["optional"], str) else item["optional"]
            if set(item) != {"optional"} or not (isinstance(patterns, list) and 0 < len(patterns) <= BLOCK_LIMIT):
                return f"a block that may be absent is {{ optional = 'pattern' }} or {{ optional = [...] }}, 1 to {BLOCK_LIMIT} line patterns"
            problem = next(filter(None, map(pattern_problem, patterns)), None)
        elif isinstance(item, dict) and set(item) <= {"repeat", "lines", "distinct"}:
            if not (is_count(item.get("repeat")) and item["repeat"] > 0 and isinstance(item.get("lines"), list) and item["lines"]):
                return "a repeated block is { repeat = N, lines = [...], distinct = 'group' }"
            problem = next(filter(None, (pattern_problem(p, repeated=True) for p in item["lines"])), None)
            if not problem and not isinstance(item.get("distinct", ""), str):
                problem = "distinct names a group: a string"
            if not problem and item.get("distinct") and not any(f"(?P<{item['distinct']}>" in p for p in item["lines"]):
                problem = f"distinct names a group ({item['distinct']!r}) none of its lines has"
        else:
            problem = "a line pattern, or a block: { repeat = N, lines = [...], distinct = 'group' }, { any_order = [...] }, { optional = [...] }"
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
    "lines": Check(
        "prints, line by line: {value}",
        lambda v, t: only_one_text_check(v, t) or lines_invalid(v, t),
        check_lines,
        doc="(a pattern a line; or a block: { repeat = N, lines = [...], distinct = 'group' }, {i} and {i+1} its repetition's number; "
        "{ any_order = [...] }, these lines in any order; { optional = [...] }, these lines or none of them; (?P=name) is what the group "
        "name matched on the same line, else on the latest line before that has it)",
    ),
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


def whole_lines_from_queue(ev: Evidence, stdout: bytes, _value: bool) -> None:
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
    tasks = [r for r in ev.of("task") if r["func"] == function and r.get("via") != "executor"]  # a Pool's, not an executor's
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


def literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def not_one_of(*choices: str) -> Callable[[Any, dict], str | None]:
    return lambda v, _t: None if v in choices else f"one of {', '.join(choices)}"


# --- who printed a line, and what it shows of its writer -----------------------------------------

WHO = {
    "main": "the main process",
    "child": "a child process the program started",
    "pool worker": "a worker process of a Pool or a ProcessPoolExecutor",
    "manager": "a manager's server process",
    "any": "any process of the run",
}
FACTS = {"pid": "pid", "ppid": "parent's pid", "name": "name", "identity": "identity"}
PATTERNS_LIMIT = 64  # patterns of one word that every line is matched against


@dataclass
class Line:
    number: int  # from 1, in stdout
    text: str  # without its newline
    writers: frozenset[int]
    first: Segment  # the writes that began and ended it
    last: Segment


def stdout_lines(ev: Evidence, stdout: bytes) -> list[Line]:
    """Each line of stdout with its writers and the first and last writes of it (as Evidence.lines,
    with where it began: a claim that a line came after an event needs its first byte)."""
    found, text, writers, first = [], b"", set(), None
    for segment in ev.segments(stdout):
        for piece in segment.data.splitlines(keepends=True):
            first = first or segment
            text += piece
            writers.add(segment.pid)
            if piece.endswith(b"\n"):
                found.append(Line(len(found) + 1, text.decode("utf-8", "backslashreplace").rstrip("\r\n"), frozenset(writers), first, segment))
                text, writers, first = b"", set(), None
    if text:
        found.append(Line(len(found) + 1, text.decode("utf-8", "backslashreplace"), frozenset(writers), first, segment))
    return found


def is_who(proc: Proc, who: str, children_pids: set[int]) -> bool:
    if who == "any":
        return True
    if who == "main":
        return proc.role == "main"
    if proc.pid not in children_pids:
        return False
    made = proc.made_by or "program"
    if who == "pool worker":
        return proc.pool_worker or made in ("pool", "executor")
    return made == ("manager" if who == "manager" else "program") and not (who == "child" and proc.pool_worker)


def printed_by(ev: Evidence, stdout: bytes, who: str | dict[str, str]) -> None:
    """Every line printed by one process of that kind; or, for a table of line patterns, each line by
    the kind of process of the first pattern it matches (every line matches one, every pattern a line)."""
    rules = [(".*", who)] if isinstance(who, str) else list(who.items())
    compiled = [(re.compile(pattern), kind) for pattern, kind in rules]
    used = [0] * len(compiled)
    children_pids = {p.pid for p in ev.children}
    for line in stdout_lines(ev, stdout):
        k = next((k for k, (rx, _) in enumerate(compiled) if rx.fullmatch(line.text)), None)
        if k is None:
            raise ClaimBroken(f"line {line.number} ({shorten(line.text)!r}) matches none of printed_by's patterns")
        used[k] += 1
        kind = compiled[k][1]
        procs = [ev.procs[pid] if pid in ev.procs else Proc(pid) for pid in sorted(line.writers)]
        if len(procs) != 1 or not is_who(procs[0], kind, children_pids):
            shown_text = shorten(line.text) if isinstance(who, str) else f"line {line.number} ({shorten(line.text)!r})"
            shown_text = repr(shown_text) if isinstance(who, str) else shown_text
            raise ClaimBroken(f"{shown_text} printed by {', '.join(p.label for p in procs)}, not by {WHO[kind]}")
    for k, count in enumerate(used):
        if not count and not isinstance(who, str):
            raise ClaimBroken(f"no line matches {shown(rules[k][0])!r}, printed by {WHO[rules[k][1]]} as the claims say")


def printed_by_problem(value: Any, _table: dict) -> str | None:
    kinds = ", ".join(WHO)
    if isinstance(value, str):
        return None if value in WHO else f"one of {kinds}, or a table of line patterns, each with one of them"
    if not (isinstance(value, dict) and 0 < len(value) <= PATTERNS_LIMIT and all(v in WHO for v in value.values())):
        return f"one of {kinds}, or a table of line patterns, each with one of them: {{ 'hello .*' = \"child\", '.*' = \"main\" }}"
    return next(filter(None, map(regex_problem, value)), None)


def fact(proc: Proc, name: str) -> str:
    """What a process is, as a line may show it: its pid, its parent's pid, its name, its identity."""
    if name == "pid":
        return str(proc.pid)
    if name == "ppid":
        return str(proc.ppid)
    if name == "name":
        return proc.name or ("MainProcess" if proc.role == "main" else "")
    return str(proc.identity[0]) if proc.identity else ""


def facts_shown(found: re.Match, proc: Proc, where: str, whose: str) -> None:
    """The groups pid, ppid, name, identity of a matched line are those of `proc`."""
    for name, shown_value in found.groupdict().items():
        if name in FACTS and shown_value is not None and shown_value != fact(proc, name):
            raise ClaimBroken(
                f"{where} shows {FACTS[name]} {shown_value}, but {whose} {proc.label}, whose {FACTS[name]} is {fact(proc, name) or 'none'}"
            )


def shows_writer(ev: Evidence, stdout: bytes, patterns: str | list[str]) -> None:
    """Each line matching a pattern was printed by one process, whose pid, parent's pid, name or
    identity its groups show (pid, ppid, name, identity); each pattern matches a line."""
    patterns = [patterns] if isinstance(patterns, str) else patterns
    compiled = [re.compile(p) for p in patterns]
    used = [0] * len(compiled)
    for line in stdout_lines(ev, stdout):
        for k, rx in enumerate(compiled):
            found = rx.fullmatch(line.text)
            if not found:
                continue
            used[k] += 1
            if len(line.writers) != 1:
                raise ClaimBroken(f"line {line.number} was printed by {len(line.writers)} processes: it shows none of them")
            (pid,) = line.writers
            facts_shown(found, ev.procs.get(pid) or Proc(pid), f"line {line.number}", "was printed by")
            break
    for k, count in enumerate(used):
        if not count:
            raise ClaimBroken(f"no line matches {shown(patterns[k])!r}")


def facts_problem(value: Any, _table: dict) -> str | None:
    patterns = [value] if isinstance(value, str) else value
    if not (isinstance(patterns, list) and 0 < len(patterns) <= PATTERNS_LIMIT):
        return "a line pattern, or a list of them, with groups named pid, ppid, name or identity"
    for pattern in patterns:
        problem = regex_problem(pattern)
        if problem:
            return problem
        if not set(re.compile(pattern).groupindex) & set(FACTS):
            return f"{pattern!r} shows nothing of its writer: a group named pid, ppid, name or identity"
    return None


# --- values main printed, and where they came from ----------------------------------------------


@dataclass
class Received:
    """A value the main process got, as its records say."""

    text: str  # str() of it, as a printed line shows it
    whole: bool  # else its head only
    seq: int  # main's record number of the receipt
    at: int
    sender: Proc | None  # the process that put, sent or served it
    sent: str  # str() of it as sent (the same, unless altered in transit)
    obj: str = ""  # a managed object: its key (a proxy's result)
    sent_seq: int = -1  # the sender's record number of the sending


# Where a value main printed may come from: the records of its receipt and of its sending.
SOURCES = {
    "queue": ("get", "put", "message", "a multiprocessing queue", "put it there"),
    "pipe": ("recv", "send", "object", "a Connection (a pipe)", "sent it"),
    "manager": ("proxy_result", "served", "value", "a proxy of a manager", "served it"),
}


def received(ev: Evidence, source: str) -> list[Received]:
    """What main got from a source, in main's order, each with its sender (by the id it carried)."""
    got_kind, sent_kind, *_ = SOURCES[source]
    sent = {(r["reply"] if source == "manager" else r["msg"]): r for r in ev.of(sent_kind)}
    found = []
    for r in sorted((r for r in ev.of(got_kind) if r["pid"] == ev.main_pid and r.get("ok", True)), key=lambda r: r["seq"]):
        origin = sent.get(r["msg"]) if r["msg"] is not None else None
        sender = (ev.procs.get(origin["pid"]) or Proc(origin["pid"])) if origin else None
        found.append(
            Received(
                r["text"],
                r.get("whole", True),
                r["seq"],
                r["at"],
                sender,
                origin["text"] if origin else "",
                r.get("object", ""),
                origin["seq"] if origin else -1,
            )
        )
    return found


def changes_by_children(ev: Evidence) -> dict[str, int]:
    """Each managed object a child changed through a proxy: the place of the first such change."""
    callers = {r["msg"]: r["pid"] for r in ev.of("proxy_call")}
    children_pids = {p.pid for p in ev.children}
    first: dict[str, int] = {}
    for r in ev.of("served"):
        if r["changed"] and callers.get(r["msg"]) in children_pids:
            first.setdefault(r["object"], r["at"])
    return first


def carried(ev: Evidence, stdout: bytes, spec: Any, source: str) -> None:
    """Each line main printed that matches `lines` carries, in its group `value` (else the whole
    line), a value main got from `source` before it began printing that line, each received value
    printed once; sent by the process the source names (a child; for a proxy, a manager's server),
    whose pid and name the groups pid and name show; `each_is`: each value is the sender's pid (name)."""
    spec = {"lines": ".*"} if spec is True else spec
    _, _, what, where, did = SOURCES[source]
    rx = re.compile(spec["lines"])
    got = received(ev, source)
    by_text: dict[str, deque[Received]] = defaultdict(deque)
    heads: dict[int, dict[str, deque[Received]]] = defaultdict(lambda: defaultdict(deque))  # too long to keep whole: by their heads' length
    for g in got:
        (by_text[g.text] if g.whole else heads[len(g.text)][g.text]).append(g)
    children_pids = {p.pid for p in ev.children}
    changed = changes_by_children(ev) if spec.get("changed_by") else {}
    matched, last_sent = 0, {}
    for line in stdout_lines(ev, stdout):
        found = rx.fullmatch(line.text) if line.writers == {ev.main_pid} else None
        if not found:
            continue
        matched += 1
        value = found["value"] if "value" in rx.groupindex else line.text
        if value is None:
            continue
        first, queue = line.first.seq, by_text.get(value)
        g = queue.popleft() if queue and queue[0].seq < first else None
        if g is None and queue:
            raise ClaimBroken(f"line {line.number}: main began printing {shorten(value)!r} before it got that {what} from {where}")
        if g is None:
            for size, found_heads in heads.items():
                pending = found_heads.get(value[:size])
                if pending and pending[0].seq < first:
                    g = pending.popleft()
                    break
        if g is None:
            before = [r.text for r in got if r.seq < first][-3:]
            also = f" (it got {', '.join(repr(shorten(t, 60)) for t in before)})" if before else f" (it got no {what} from {where} before it)"
            raise ClaimBroken(f"line {line.number}: main printed {shorten(value)!r}, which is no {what} it got from {where}{also}")
        if g.sender is None:
            raise ClaimBroken(f"line {line.number}: main got {shorten(value)!r} from {where}, but no process of the run {did}")
        if source == "manager":
            if g.sender.pid not in children_pids or g.sender.made_by != "manager":
                raise ClaimBroken(f"line {line.number}: {shorten(value)!r} came from {g.sender.label}, which is not a manager's server process")
            if spec.get("changed_by") and not (g.obj in changed and changed[g.obj] < g.at):
                raise ClaimBroken(
                    f"line {line.number}: {shorten(value)!r} is the value of a managed object that no child process changed through a proxy "
                    "before main got it"
                )
        elif g.sender.pid not in children_pids:
            raise ClaimBroken(f"line {line.number}: {shorten(value)!r} came from {g.sender.label}, not from a child process")
        facts_shown(found, g.sender, f"line {line.number}", f"the {what} came from")
        if spec.get("in_order") and last_sent.get(g.sender.pid, -1) > g.sent_seq:
            raise ClaimBroken(f"line {line.number}: {shorten(value)!r} was sent by {g.sender.label} before the {what} main printed before it")
        last_sent[g.sender.pid] = g.sent_seq
        if spec.get("each_is") and g.sent != fact(g.sender, spec["each_is"]):
            raise ClaimBroken(
                f"line {line.number}: the {what} {shorten(g.sent)!r} is not the {FACTS[spec['each_is']]} of {g.sender.label}, which {did}"
            )
    if not matched:
        raise ClaimBroken(f"no line main printed matches {shown(spec['lines'])!r}")


def carried_problem(value: Any, keys: frozenset[str] = frozenset({"lines", "each_is", "in_order"})) -> str | None:
    if value is True:
        return None
    shape = "true, or { lines = 'pattern with a group named value', " + ", ".join(f"{k} = ..." for k in sorted(keys - {"lines"})) + " }"
    if not (isinstance(value, dict) and "lines" in value and set(value) <= keys):
        return shape
    problem = regex_problem(value["lines"])
    if problem:
        return problem
    if value.get("each_is", "pid") not in ("pid", "name") or value.get("changed_by", "child") != "child" or value.get("in_order", True) is not True:
        return shape
    return None


def from_queue(ev: Evidence, stdout: bytes, value: Any) -> None:
    """`true`: every line main printed is a message (whole_lines_from_queue); a table: the lines
    matching its pattern carry one each (carried)."""
    if value is True:
        return whole_lines_from_queue(ev, stdout, value)
    return carried(ev, stdout, value, "queue")


def from_pipe(ev: Evidence, stdout: bytes, value: Any) -> None:
    carried(ev, stdout, value, "pipe")


def from_manager(ev: Evidence, stdout: bytes, value: Any) -> None:
    carried(ev, stdout, value, "manager")


def from_shared(ev: Evidence, stdout: bytes, spec: Any) -> None:
    """Each line main printed that matches `lines` shows, in its group value (else the whole line),
    a value main read from a shared Value (or RawValue) before it began printing the line, the last
    write of it before that read made by a child process; each read printed once."""
    spec = {"lines": ".*"} if spec is True else spec
    rx = re.compile(spec["lines"])
    writes: dict[str, list[dict]] = defaultdict(list)
    for r in ev.of("shared_set"):
        writes[r["value_of"]].append(r)
    places = {key: [r["at"] for r in found] for key, found in writes.items()}
    by_text: dict[str, deque[dict]] = defaultdict(deque)
    for r in sorted((r for r in ev.of("shared_get") if r["pid"] == ev.main_pid), key=lambda r: r["seq"]):
        by_text[str(literal(r["value"]))].append(r)
    children_pids, matched = {p.pid for p in ev.children}, 0
    for line in stdout_lines(ev, stdout):
        found = rx.fullmatch(line.text) if line.writers == {ev.main_pid} else None
        if not found:
            continue
        matched += 1
        value = found["value"] if "value" in rx.groupindex else line.text
        read = None
        for form in printed_forms(value or ""):
            queue = by_text.get(form)
            if queue and queue[0]["seq"] < line.first.seq:
                read = queue.popleft()
                break
        if read is None:
            raise ClaimBroken(f"line {line.number}: main printed {shorten(value or '')!r}, which it did not read from a shared value before it")
        key = read["value_of"]
        k = bisect.bisect_left(places.get(key, []), read["at"]) - 1
        writer = writes[key][k]["pid"] if k >= 0 else None
        if writer not in children_pids:
            by = (ev.procs.get(writer) or Proc(writer)).label if writer is not None else "no one (its initial value)"
            raise ClaimBroken(
                f"line {line.number}: main read and printed the shared value {shorten(value or '')!r}, last written by {by}, not by a child"
            )
    if not matched:
        raise ClaimBroken(f"no line main printed matches {shown(spec['lines'])!r}")


# --- pools and executors: results beyond the first list ----------------------------------------


@dataclass
class Delivered:
    """A result main received from a pool's (or an executor's) worker, for one call."""

    function: str
    call: str  # repr of the call's arguments
    value: str  # repr of it as main received it
    computed: str  # repr of it as the worker computed it (the same, unless altered in transit)
    worker: Proc
    seq: int  # main's record number of its receipt


def deliveries(ev: Evidence, via: str = "pool") -> list[Delivered]:
    """Every result main received through a pool or an executor, one per call, from the worker that
    computed it (the message that carried it names the worker), in main's order."""
    tasks = {(r["pid"], r["job"], r["i"]): r for r in ev.of("task") if r.get("via", "pool") == via}
    done = {(r["pid"], r["job"], r["i"]): r for r in ev.of("task_done")}
    puts = {r["msg"]: r for r in ev.of("put")}
    found = []
    for r in sorted(ev.of("pool_result"), key=lambda r: r["seq"]):
        if r["pid"] != ev.main_pid or not r["ok"] or r["msg"] not in puts:
            continue
        key = (puts[r["msg"]]["pid"], r["job"], r["i"])
        task = tasks.get(key)
        if task is None:
            continue
        results = (r["items"] or []) if task["chunk"] else [r["value"]]
        end = done.get(key) or {}
        computed = (end.get("items") or []) if task["chunk"] else [end.get("result", r["value"])]
        for k, (call, value) in enumerate(zip(task["calls"], results, strict=False)):
            found.append(Delivered(task["func"], call, value, computed[k] if k < len(computed) else value, ev.procs[key[0]], r["seq"]))
    return found


def printed_forms(text: str) -> list[str]:
    """A printed value as str() of what it reads as: '400' and 400, "'a'" and 'a' alike."""
    value = literal(text)
    return [text] if value is text else list(dict.fromkeys([text, str(value)]))


WORKERS = {"pool": "a multiprocessing Pool's worker process", "executor": "a ProcessPoolExecutor's worker process"}


def workers_only(ev: Evidence, functions: set[str], via: str = "pool") -> None:
    """Every task of these functions ran in a worker process of a Pool (or of an executor)."""
    children_pids = {p.pid for p in ev.children}
    found = False
    for r in ev.of("task"):
        if r["func"] not in functions:
            continue
        proc = ev.procs[r["pid"]]
        call = f"{r['func']}{r['calls'][0] if r['calls'] else '()'}"
        if proc.role == "main":
            raise ClaimBroken(f"{call} ran in {proc.label}, not in {WORKERS[via]}")
        if proc.pid not in children_pids or not proc.pool_worker or (proc.made_by == "executor") != (via == "executor"):
            raise ClaimBroken(f"{call} ran in {proc.label}, which is not {WORKERS[via]}")
        found = True
    if not found:
        raise ClaimBroken(f"no task of {', '.join(sorted(functions))} ran in {WORKERS[via]}")


def pool_results(ev: Evidence, stdout: bytes, spec: Any, via: str = "pool") -> None:
    """The original form ({ function, inputs }: the first line that is a list) is `pool`; else each
    table of the list says which of main's lines (its pattern; a group `value` of one result each,
    or `values`, a printed list of them) carry results of its function: of each of `inputs` in
    their order (or in any order), or `count` of them, each delivered to main by the pool from the
    worker that computed it before main began printing the line, each delivered result printed
    once; `each_is`: each result is its worker's pid (name); groups pid and name: its worker's.
    A line one table took is no other's."""
    if isinstance(spec, dict) and "lines" not in spec and via == "pool":
        return pool(ev, stdout, spec)
    specs = [spec] if isinstance(spec, dict) else spec
    workers_only(ev, {s["function"] for s in specs}, via)
    by_call: dict[tuple[str, str], deque[Delivered]] = defaultdict(deque)
    by_value: dict[tuple[str, str], deque[Delivered]] = defaultdict(deque)
    for d in deliveries(ev, via):
        by_call[(d.function, d.call)].append(d)
        by_value[(d.function, str(literal(d.value)))].append(d)
    used: set[int] = set()
    mains = [line for line in stdout_lines(ev, stdout) if line.writers == {ev.main_pid}]
    taken: set[int] = set()
    for one in specs:
        function, inputs, any_order = one["function"], one.get("inputs"), one.get("any_order", False)
        needed = len(inputs) if inputs is not None else one.get("count")
        rx = re.compile(one["lines"])
        printed: list[tuple[list[str], Line, re.Match]] = []
        for line in mains:
            if needed is not None and len(printed) >= needed:
                break
            found = rx.fullmatch(line.text) if line.number not in taken else None
            if not found:
                continue
            taken.add(line.number)
            if "values" in rx.groupindex:
                items = literal(found["values"] or "")
                if not isinstance(items, (list, tuple)):
                    raise ClaimBroken(f"line {line.number}: {shorten(found['values'] or '')!r} is not a list of results")
                printed += [([str(item)], line, found) for item in items]
            else:
                printed.append((printed_forms(found["value"] if "value" in rx.groupindex else line.text), line, found))
        if not printed:
            raise ClaimBroken(f"main printed no line matching {shown(one['lines'])!r}: no results of {function}")
        if needed is not None and len(printed) != needed:
            raise ClaimBroken(f"main printed {len(printed)} results of {function} (lines matching {shown(one['lines'])!r}), not {needed}")

        def fresh(queue: deque[Delivered], before: int) -> Delivered | None:
            while queue and id(queue[0]) in used:
                queue.popleft()
            return queue.popleft() if queue and queue[0].seq < before else None

        if inputs is not None and not any_order:
            calls = [repr((x,)) for x in inputs]
            matched = []
            for (forms, line, found), call in zip(printed, calls, strict=True):
                d = fresh(by_call[(function, call)], line.first.seq)
                if d is None:
                    raise ClaimBroken(f"line {line.number}: no result of {function}{call} reached main through the pool before it printed it")
                if str(literal(d.value)) not in forms:
                    raise ClaimBroken(
                        f"line {line.number}: main printed {forms[0]!r} for {function}{call}, but the pool delivered {d.value} "
                        f"(from {d.worker.label})"
                    )
                matched.append((d, line, found))
        else:
            pool_of: dict[str, deque[Delivered]]
            if inputs is not None:  # each input's next result, found by its value
                pool_of = defaultdict(deque)
                for call in (repr((x,)) for x in inputs):
                    d = fresh(by_call[(function, call)], 1 << 62)
                    if d is None:
                        raise ClaimBroken(f"no result of {function}{call} reached main through the pool")
                    pool_of[str(literal(d.value))].append(d)
            matched = []
            for forms, line, found in printed:
                d = None
                for form in forms:
                    queue = pool_of.get(form) if inputs is not None else by_value.get((function, form))
                    d = fresh(queue, line.first.seq) if queue else None
                    if d is not None:
                        break
                if d is None:
                    whose = "of the program's inputs " if inputs is not None else ""
                    raise ClaimBroken(
                        f"line {line.number}: main printed {forms[0]!r}, which is no result of {function} {whose}that the pool delivered to "
                        "main before it (or one printed twice)"
                    )
                matched.append((d, line, found))
        for d, line, found in matched:
            used.add(id(d))
            if "values" not in rx.groupindex:
                facts_shown(found, d.worker, f"line {line.number}", "the result was computed by")
            if one.get("each_is") and str(literal(d.computed)) != fact(d.worker, one["each_is"]):
                raise ClaimBroken(
                    f"line {line.number}: {function}{d.call} gave {d.computed}, which is not the {FACTS[one['each_is']]} of "
                    f"{d.worker.label}, which computed it"
                )


POOL_KEYS = frozenset({"function", "inputs", "count", "lines", "any_order", "each_is"})


def pool_problem(value: Any, _table: dict) -> str | None:
    shape = "{ function = 'name', inputs = [...] }, or a list of { function, lines, inputs or count, any_order, each_is }"
    if isinstance(value, dict) and "lines" not in value:
        ok = set(value) == {"function", "inputs"} and isinstance(value["function"], str) and isinstance(value["inputs"], list)
        return None if ok else shape
    specs = [value] if isinstance(value, dict) else value
    if not (isinstance(specs, list) and 0 < len(specs) <= PATTERNS_LIMIT and all(isinstance(s, dict) for s in specs)):
        return shape
    for one in specs:
        if not (set(one) <= POOL_KEYS and {"function", "lines"} <= set(one) and isinstance(one["function"], str)):
            return shape
        if "inputs" in one and "count" in one:
            return "inputs or count, not both"
        if not isinstance(one.get("inputs", []), list) or not (is_count(one.get("count", 1)) and one.get("count", 1) > 0):
            return "inputs is a list, count a number (or cpu_count)"
        if not isinstance(one.get("any_order", False), bool) or one.get("each_is", "pid") not in ("pid", "name"):
            return "any_order is true or false; each_is pid or name"
        problem = regex_problem(one["lines"])
        if problem:
            return problem
        groups = set(re.compile(one["lines"]).groupindex)
        if "values" in groups and ("value" in groups or groups & set(FACTS)):
            return "a line of `values` (a printed list of results) shows no other value, pid or name"
    return None


# --- events, joinable queues, a pool's timeouts, children the program ends ---------------------


def waits(ev: Evidence) -> dict[int, tuple[list[int], list[dict]]]:
    """Each process's waits on an Event, in its own order: (their record numbers, the records)."""
    found: dict[int, tuple[list[int], list[dict]]] = defaultdict(lambda: ([], []))
    for r in sorted(ev.of("event_wait"), key=lambda r: (r["pid"], r["seq"])):
        found[r["pid"]][0].append(r["seq"])
        found[r["pid"]][1].append(r)
    return found


def waited_for_event(ev: Evidence, stdout: bytes, spec: dict) -> None:
    """Each line matching `set` was printed by a process after its last wait on a multiprocessing
    Event before it returned true, the Event set by another process before that wait returned; each
    line matching `timed_out`, after its last wait returned false (it gave up: no one had set it)."""
    by_pid = waits(ev)
    sets: dict[str, list[dict]] = defaultdict(list)
    for r in ev.of("event_set"):
        sets[r["event"]].append(r)
    for outcome, pattern in spec.items():
        rx, matched = re.compile(pattern), 0
        for line in stdout_lines(ev, stdout):
            if not rx.fullmatch(line.text):
                continue
            matched += 1
            if len(line.writers) != 1:
                raise ClaimBroken(f"line {line.number} was printed by {len(line.writers)} processes")
            (pid,) = line.writers
            label = (ev.procs.get(pid) or Proc(pid)).label
            places, records = by_pid.get(pid, ([], []))
            k = bisect.bisect_left(places, line.first.seq) - 1
            if k < 0:
                raise ClaimBroken(f"line {line.number} ({shorten(line.text)!r}) was printed by {label} before it waited on any multiprocessing Event")
            wait = records[k]
            if outcome == "timed_out":
                if wait["result"]:
                    raise ClaimBroken(f"line {line.number}: {label}'s wait on the Event before it returned true: it did not time out")
                continue
            if not wait["result"]:
                raise ClaimBroken(f"line {line.number}: {label}'s wait on the Event before it returned false: it gave up, no one had set it")
            setters = [r for r in sets.get(wait["event"], []) if r["at"] < wait["at"] and r["pid"] != pid]
            if not setters:
                raise ClaimBroken(f"line {line.number}: {label}'s wait on the Event returned before any other process set it")
        if not matched:
            raise ClaimBroken(f"no line matches {shown(pattern)!r}")


def event_problem(value: Any, _table: dict) -> str | None:
    if not (isinstance(value, dict) and value and set(value) <= {"set", "timed_out"}):
        return "{ set = 'line pattern', timed_out = 'line pattern' } (either or both)"
    return next(filter(None, map(regex_problem, value.values())), None)


def queue_joined(ev: Evidence, _stdout: bytes, _value: bool) -> None:
    """The main process joined a JoinableQueue after every message put on it before had been got by a
    child process and marked done (task_done) by a child, as many times as there were messages."""
    joins = [r for r in ev.of("queue_joined") if r["pid"] == ev.main_pid]
    if not joins:
        raise ClaimBroken("the main process never joined a JoinableQueue (join() never returned)")
    children_pids = {p.pid for p in ev.children}
    getters = {r["msg"]: r for r in ev.of("get") if r["msg"] is not None}
    for join in joins:
        queue = join["queue"]
        puts = [r for r in ev.of("put") if r["queue"] == queue and r["at"] < join["at"]]
        dones = [r for r in ev.of("queue_done") if r["queue"] == queue and r["at"] < join["at"]]
        for r in puts:
            got = getters.get(r["msg"])
            if got is None or got["at"] > join["at"] or got["pid"] not in children_pids:
                by = (
                    f"got by {(ev.procs.get(got['pid']) or Proc(got['pid'])).label}"
                    if got is not None and got["at"] < join["at"]
                    else "got by no one"
                )
                raise ClaimBroken(
                    f"the message {shorten(r['value'], 80)} put on the JoinableQueue was {by} before main's join returned, not by a child"
                )
        for r in dones:
            if r["pid"] not in children_pids:
                raise ClaimBroken(
                    f"{(ev.procs.get(r['pid']) or Proc(r['pid'])).label} marked a task of the JoinableQueue done: its consumers are children"
                )
        if len(dones) != len(puts):
            raise ClaimBroken(f"main's join on the JoinableQueue returned after {len(dones)} task_done() for its {len(puts)} messages")


def pool_timeout(ev: Evidence, stdout: bytes, spec: Any) -> None:
    """A wait of main for a pool's result gave up (multiprocessing.TimeoutError, raised by the pool's
    own wait) before the pool delivered it: for a job of `function` (as main gave it), whose tasks,
    those that began, ran in pool workers; the lines matching `lines` printed by main after it.
    The TimeoutError recorded around the pool's own wait is the fact that the result had not reached
    main. A worker may have finished the task by then: its result still travels through the pool's
    result queue and main's result-handler thread, which a loaded machine delays (no order between
    the worker's record and main's wait can contradict it)."""
    spec = {} if spec is True else spec
    function = spec.get("function")
    jobs = {r["job"]: r["func"] for r in ev.of("pool_job") if r["pid"] == ev.main_pid}
    tasks: dict[int, list[dict]] = defaultdict(list)
    for r in ev.of("task"):
        if r.get("via") != "executor":
            tasks[r["job"]].append(r)
    children_pids = {p.pid for p in ev.children}
    gave_up = None
    for r in ev.of("pool_timeout"):
        if r["pid"] != ev.main_pid:
            continue
        mine = [t for t in tasks.get(r["job"], []) if r["i"] in (-1, t["i"])]
        func = jobs.get(r["job"]) or next((t["func"] for t in mine), None)
        if function is not None and func != function:
            continue
        for task in mine:
            if task["pid"] not in children_pids or not ev.procs[task["pid"]].pool_worker:
                raise ClaimBroken(f"{task['func']} ran in {ev.procs[task['pid']].label}, which is not a pool worker process")
        gave_up = gave_up or r
    if gave_up is None:
        of = f" for a result of {function}" if function else " for a pool's result"
        raise ClaimBroken(f"no wait of main{of} timed out in the pool's own wait (multiprocessing.TimeoutError)")
    if "lines" in spec:
        rx, matched = re.compile(spec["lines"]), 0
        for line in stdout_lines(ev, stdout):
            if not rx.fullmatch(line.text):
                continue
            matched += 1
            if line.writers != {ev.main_pid} or line.first.seq < gave_up["seq"]:
                raise ClaimBroken(
                    f"line {line.number} ({shorten(line.text)!r}) was not printed by main after its wait for {function}'s result timed out"
                )
        if not matched:
            raise ClaimBroken(f"no line matches {shown(spec['lines'])!r}")


def timeout_problem(value: Any, _table: dict) -> str | None:
    if value is True:
        return None
    if not (isinstance(value, dict) and value and set(value) <= {"function", "lines"} and isinstance(value.get("function", ""), str)):
        return "true, or { function = 'name', lines = 'line pattern' } (either or both)"
    return regex_problem(value["lines"]) if "lines" in value else None


def terminated(ev: Evidence, _stdout: bytes, count: int) -> None:
    """`count` children were ended by the program itself (terminate() or kill()), each by that
    signal (its exit status -SIGTERM or -SIGKILL): the general claim `child_exit` excuses them."""
    kills = {r["child"]: r["kill"] for r in ev.of("terminate") if r.get("by") == "program"}
    ended = [p for p in ev.children if p.pid in kills and p.exit_status == (-getattr(signal, "SIGKILL", 9) if kills[p.pid] else -signal.SIGTERM)]
    if len(ended) != count:
        named = ", ".join(p.label for p in ended) or "none"
        raise ClaimBroken(f"{len(ended)} child process(es) ended by the program's own terminate() or kill() ({named}); the claims say {count}")


def children(ev: Evidence, _stdout: bytes, count: int | dict) -> None:
    ran = len(ev.children)
    names = ", ".join(p.label for p in ev.children) or "none"
    if isinstance(count, dict):
        if ran > count.get("at_most", ran) or ran < count.get("at_least", ran):
            bounds = " and ".join(f"{k.replace('_', ' ')} {v}" for k, v in count.items())
            raise ClaimBroken(f"{ran} child process(es) ran: {names}; the claims say {bounds}")
    elif ran != count:
        raise ClaimBroken(f"{ran} child process(es) ran: {names}; the claims say {count}")


def children_problem(value: Any, _table: dict) -> str | None:
    if is_count(value) and value >= 0:
        return None
    if isinstance(value, dict) and value and set(value) <= {"at_most", "at_least"} and all(is_count(v) and v >= 0 for v in value.values()):
        return None
    return "a number (or cpu_count, times, plus or minus a number), or { at_most = N, at_least = N }"


# --- what follows the machine and the start method: counts and placeholders -------------------

COUNT_EXPRESSION = re.compile(r"\s*cpu_count\s*(?:([*+-])\s*(\d+))?\s*")
PLACEHOLDER = re.compile(r"\{(\w+)(?:\s*([*+-])\s*(\d+))?\}")
COUNTS = frozenset({"repeat", "count", "at_most", "at_least", "children", "terminated"})  # keys whose value may be a count expression


def computed(cpu_count: int, operator: str | None, operand: str | None) -> int:
    n = int(operand or 0)
    return cpu_count * n if operator == "*" else cpu_count + n if operator == "+" else cpu_count - n if operator == "-" else cpu_count


def resolved(value: Any, names: dict[str, str], cpu_count: int | None, key: str = "") -> Any:
    """A claims file's value for one run: each count written as `cpu_count` (times, plus or minus a
    number) made the number, each {name} of [by_start_method] its value for the run's start method,
    {cpu_count} (times, plus or minus a number) the number; any other {...} left as it is ({i}, a
    regular expression's {2})."""
    if isinstance(value, dict):
        return {resolved(k, names, cpu_count): resolved(v, names, cpu_count, k) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(v, names, cpu_count, key) for v in value]
    if not isinstance(value, str):
        return value
    found = COUNT_EXPRESSION.fullmatch(value) if key in COUNTS else None
    if found and cpu_count is not None:
        return computed(cpu_count, found[1], found[2])

    def fill(m: re.Match) -> str:
        if m[1] == "cpu_count" and cpu_count is not None:
            return str(computed(cpu_count, m[2], m[3]))
        return names[m[1]] if m[1] in names and not m[2] else m[0]

    return PLACEHOLDER.sub(fill, value)


def uses_cpu_count(value: Any) -> bool:
    if isinstance(value, dict):
        return any(uses_cpu_count(k) or uses_cpu_count(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(uses_cpu_count, value))
    return isinstance(value, str) and "cpu_count" in value


PREDICATES = {
    "printed_by": Check(
        "every line printed by VALUE: main, child (a process the program started), pool worker (of a Pool or a ProcessPoolExecutor), "
        "manager (a manager's server process); or a table of line patterns, each with one of those or any: each line printed by one "
        "process of the kind of the first pattern it matches, every line matching one, every pattern a line",
        printed_by_problem,
        printed_by,
        words=lambda v: (
            f"every line printed by {v}" if isinstance(v, str) else "each line printed by: " + "; ".join(f"`{k}` {w}" for k, w in v.items())
        ),
    ),
    "shows_writer": Check(
        "each line matching VALUE (a pattern, or a list of them) was printed by one process, whose pid, parent's pid, name or identity "
        "its groups pid, ppid, name, identity show; each pattern matches a line",
        facts_problem,
        shows_writer,
    ),
    "one_child_each": Check("{value}, each printed by one child process, a different one for each", groups_problem, one_child_each),
    "at_once": Check(
        "the writers of {value} wrote at the same time: their writes interleave in the file, also with each worker slowed in turn",
        groups_problem,
        at_once,
        interventions=(contract.SLOW,),
    ),
    "from_queue": Check(
        "each line main printed is a message a child process put on a multiprocessing queue, got by main before it printed any of it, "
        "the line being the message's text; with the message altered in transit, the line follows it. A table { lines = 'pattern', "
        "each_is = 'pid', in_order = true }: each line main printed that matches carries one such message in its group value (else the "
        "whole line), each message printed once, its sender's pid and name in the groups pid and name; each_is: each message is its "
        "sender's pid (name); in_order: each sender's messages printed in the order it put them",
        lambda v, _t: carried_problem(v),
        from_queue,
        interventions=(contract.ALTER,),
        words=lambda v: (
            "each line main printed is a message a child process put on a multiprocessing queue, got by main before it printed any of it, "
            "the line being the message's text; with the message altered in transit, the line follows it"
            if v is True
            else f"each line main printed matching `{v['lines']}` carries a message a child put on a queue, got by main before it; "
            "with the message altered in transit, the line follows it"
        ),
    ),
    "from_pipe": Check(
        "as from_queue (true, or { lines, each_is, in_order }), for objects a child process sent on a Connection (a Pipe's end, a Client) and main "
        "received (recv) before it printed the line; with the object altered in transit, the line follows it",
        lambda v, _t: carried_problem(v),
        from_pipe,
        interventions=(contract.ALTER,),
    ),
    "from_manager": Check(
        "as from_queue (true, or { lines, changed_by = 'child' }), for values main got through a proxy (a method of a managed object, "
        "its str()) from a manager's server process, which ran the call; changed_by: a child process had changed that object through a "
        "proxy of its own before; with the value altered in transit, the line follows it",
        lambda v, _t: carried_problem(v, frozenset({"lines", "changed_by"})),
        from_manager,
        interventions=(contract.ALTER,),
    ),
    "from_shared": Check(
        "as from_queue (true, or { lines }), for values main read from a shared Value or RawValue, last written by a child process before "
        "that read (an Array's items are not recorded); with the value altered as main reads it, the line follows it",
        lambda v, _t: carried_problem(v, frozenset({"lines"})),
        from_shared,
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
        "main printed {value[function]} of each of {value[inputs]} (the first line that is a list of them), each computed in a worker "
        "process of a multiprocessing Pool and delivered to main by it before main printed it; with the results altered in "
        "transit, the printed values follow them. A list of { function, lines, inputs or count, any_order, each_is }: the lines main "
        "printed matching each pattern (a line one took is no other's) carry results of its function, one each in the group value (else "
        "the whole line) or a printed list of them in the group values: of each of inputs (in their order, or in any order), or count of "
        "them, each delivered before main began printing the line and printed once, its worker's pid and name in the groups pid and name; "
        "each_is: each result is its worker's pid (name)",
        pool_problem,
        pool_results,
        interventions=(contract.ALTER,),
        words=lambda v: (
            f"main printed `{v['function']}` of each of `{v['inputs']!r}`, each computed in a pool worker process and delivered to main by "
            "the pool before main printed it; with the results altered in transit, the printed values follow them"
            if isinstance(v, dict) and "lines" not in v
            else "; ".join(
                f"lines matching `{s['lines']}` carry results of `{s['function']}` computed in pool workers"
                for s in ([v] if isinstance(v, dict) else v)
            )
        ),
    ),
    "executor": Check(
        "as pool's list of { function, lines, inputs or count, any_order, each_is }, for results computed in the worker processes of a "
        "concurrent.futures ProcessPoolExecutor and delivered to main by it; with the results altered in transit, the printed values follow them",
        lambda v, _t: pool_problem(v if isinstance(v, list) or "lines" in v else [v], _t),
        lambda ev, stdout, spec: pool_results(ev, stdout, spec, "executor"),
        interventions=(contract.ALTER,),
    ),
    "pool_timeout": Check(
        "a wait of main for a pool's result gave up (multiprocessing.TimeoutError, raised by the pool's own wait) before the pool "
        "delivered it; with { function, lines }: a result of that function (as main gave it to the pool), whose tasks that began ran "
        "in pool workers; each line matching lines printed by main after that",
        timeout_problem,
        pool_timeout,
    ),
    "waited_for_event": Check(
        "each line matching VALUE[set] was printed by a process after its last wait on a multiprocessing Event before it returned true, "
        "the Event set by another process before that; each line matching VALUE[timed_out], after its last wait returned false (it gave up)",
        event_problem,
        waited_for_event,
    ),
    "queue_joined": Check(
        "main joined a JoinableQueue after each message put on it had been got by a child process and marked done (task_done) by a child",
        lambda v, _t: None if v is True else "true",
        queue_joined,
    ),
    "terminated": Check(
        "VALUE child process(es) ended by the program itself (terminate() or kill()), each by that signal; every other child exited 0",
        lambda v, _t: None if is_count(v) and v > 0 else "a number",
        terminated,
    ),
    "children": Check(
        "VALUE child process(es) ran, no more (a number, or cpu_count times, plus or minus a number; or { at_most = N, at_least = N })",
        children_problem,
        children,
        words=lambda v: f"{v} child process(es) ran, no more" if not isinstance(v, dict) else f"child processes ran: {v}",
    ),
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
