"""What the processes of one run did, read back from their records, and checked against what the
harness observed itself.

`Evidence.from_lines(lines, facts)` (or `Evidence.load(folder, facts)` for record files) gathers
every process's records. The records are testimony: the program under test sends them, through the
hook. `Facts` is what the supervisor observed, which no record can change: which process sent each
record and wrote each piece of stdout (the kernel names them on Linux), the main process's pid and
exit, how much of stdout there was when the main process exited, and each process of the run as the
kernel saw it (its parent, whether it began as a fork or an exec, its exit status). `problems` lists
every record that contradicts them or another record. Then:
- `procs`: each process with what it and its parent said of it (name, role, how it was started
  as the parent saw it and as the child saw it, its target, exit code, who ended it), and what
  the kernel said of it;
- `segments(stdout)`: the run's stdout cut into the writes that made it, each with its writer: on
  Linux the kernel's account of who wrote which bytes, each process's bytes matched against its
  own recorded writes; elsewhere a search for the interleaving of the recorded writes that makes the
  file (linear in the number of writes: it follows the clock first);
- `holds(lock)`: the holds of a lock; `of(event)`: the records of one kind;
- `trace()`: the run as Trace Event Format JSON (Perfetto, chrome://tracing).
Standard library only: the report reads traces without the harness's dependencies.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from harness.inject import mp_contract as contract

DATA_SHOWN = 200  # characters of a write shown in a timeline
EVENTS_SHOWN = 10_000  # records drawn in a timeline at most: the first and the last half of that
# Where the search for the writes that make stdout gives up: far above what matching the recorded
# clock order needs (one step per write), far below what a pathological input could ask for.
SEARCH_STEPS_PER_WRITE = 8
MAX_OPEN = 64  # holds open at once in one process that a claim looks at


class Unaccounted(Exception):
    """Output in the run's stdout that no recorded write explains."""


@dataclass(frozen=True)
class Facts:
    """What the harness saw itself, which no record can change."""

    main_pid: int | None = None  # the process the supervisor started
    stdout: tuple[int, int] | None = None  # (device, inode) of the run's stdout
    stdout_at_main_exit: int | None = None  # bytes of it there were when the main process had exited
    attested: bool = False  # the kernel named the sender of each record and each piece of output (Linux)
    processes: dict[int, dict] | None = None  # the kernel's events: pid -> parent, began, argv, status, reaped, after_main
    kernel_events: str | None = None  # "connector": every process of the run; "records": those that sent records
    first_seen: dict[int, dict] | None = None  # pid -> parent, argv, began, as /proc showed it at its first record
    reaped: dict[int, int] | None = None  # pid -> exit status of each process the supervisor reaped
    adopter: int | None = None  # the supervisor, which adopts a process whose parent exits (it is then its parent)
    lost: str = ""  # records the supervisor could not keep, and why
    stdout_chunks: list[tuple[int, int]] | None = None  # (writer, bytes) of stdout in order, where the kernel named writers

    def kernel(self, pid: int) -> dict:
        """What the kernel said of a process: from its events, else from /proc at its first record."""
        if self.processes is not None and pid in self.processes:
            return self.processes[pid]
        return (self.first_seen or {}).get(pid) or {}


@dataclass
class Proc:
    pid: int
    ppid: int | None = None
    argv: list[str] = field(default_factory=list)
    role: str = ""  # main, child (ran a multiprocessing Process), forkserver, resource_tracker, or "" (unexplained)
    name: str = ""  # the multiprocessing name: Process-1, SpawnPoolWorker-3
    identity: tuple[int, ...] = ()
    target: str = ""  # the function the Process ran (module.qualname), as the parent or the child said
    pool_worker: bool = False  # its target was a Pool's worker function (the parent said so)
    how: str = ""  # how it was started, seen from the child's own call stack
    method: str = ""  # how it was started, seen from the parent that called Process.start()
    started_by: int | None = None  # that parent's pid
    forked: bool = False  # it began as a fork of its parent (no start-up of its own)
    returncode: int | None = None  # as its parent saw it
    exit: int | None = None  # as it returned from BaseProcess._bootstrap
    ended_by: str = ""  # who terminated or killed it: program, pool (the Pool's own), exit (multiprocessing's exit handler)
    first: int = 0  # time of its first and last record (ns)
    last: int = 0
    began: str = ""  # fork, forkserver (forked by the fork server) or spawn (exec'd by spawn_main's command)
    recorded: bool = False  # it wrote records of its own
    daemon: bool = False
    made_by: str = ""  # what started it: the program, a pool (its workers), a manager (its server)

    @property
    def label(self) -> str:
        if self.role == "main":
            return f"the main process (pid {self.pid})"
        if self.name:
            return f"{self.name} (pid {self.pid})"
        if self.role:
            return f"the {self.role.replace('_', ' ')} (pid {self.pid})"
        return f"pid {self.pid}"

    @property
    def origin(self) -> str:
        """Where an unexplained process came from, in a few words."""
        if self.forked:
            return f"forked by pid {self.ppid} outside multiprocessing"
        return f"started by pid {self.ppid} as: {' '.join(self.argv)[:120]}"

    @property
    def own_view(self) -> str:
        """How it was started as the child itself saw it: from its call stack when it ran its
        Process, else from how it began (a pool may end a worker before it runs anything)."""
        return self.how or self.began

    @property
    def exit_status(self) -> int | None:
        return self.returncode if self.returncode is not None else self.exit


@dataclass
class Segment:
    pid: int
    start: int  # byte offset in stdout
    data: bytes
    t: int  # when it was about to be written
    seq: int  # its record's number among its process's records


@dataclass
class Hold:
    lock: str
    kind: str
    pid: int
    start: int  # place of the acquire in the run's order (recorded once it succeeded)
    end: int | None  # place of the matching release (recorded before it was made); None: never released
    first: int  # the process's own record numbers of the acquire and the release
    last: float
    excluded: bool | None = None  # the semaphore said no one else could hold it then
    capacity: int | None = None  # holders the lock admits at once, as it was made
    values: dict = field(default_factory=dict)  # the shared values when it was acquired
    values_after: dict = field(default_factory=dict)  # and when it was about to be released
    begun: int | None = None  # place of the acquire's call (the program's own locks), before it waited


class Evidence:
    def __init__(self, records: list[dict], facts: Facts | int | None = None, problems: list[str] = ()):
        if not isinstance(facts, Facts):  # a bare main pid (records made up by hand)
            facts = Facts(main_pid=facts)
        self.facts = facts
        self.problems = list(problems)  # records that contradict each other or the facts
        if facts.lost:
            self.problems.append(facts.lost)
        own: dict[int, int] = defaultdict(int)
        for r in records:  # each process's records keep their own order: number them
            r["seq"] = own[r["pid"]]
            own[r["pid"]] += 1
        # The order the records reached the supervisor (a fact: its socket's queue) where there is one,
        # else the processes' clocks; the place of each is `at`.
        self.records = records if all("order" in r for r in records) else sorted(records, key=lambda r: r["t"])
        for at, r in enumerate(self.records):
            r["at"] = at
        self.main_pid = main_pid = facts.main_pid
        self.overflowed = sorted({r["pid"] for r in records if r["e"] == "overflow"})
        self.procs: dict[int, Proc] = {}
        for r in self.records:
            proc = self.procs.setdefault(r["pid"], Proc(r["pid"]))
            proc.first, proc.last, proc.recorded = proc.first or r["at"] + 1, r["at"] + 1, True
            kind = r["e"]
            if kind == "start":
                proc.ppid, proc.argv = r["ppid"], r["argv"]
            elif kind == "forked":
                proc.ppid, proc.forked = r["ppid"], True
            elif kind == "role":
                proc.role = r["role"]
            elif kind == "bootstrap":
                proc.role, proc.name, proc.how = "child", r["name"], r["how"]
                proc.target = proc.target or r["target"]
                proc.identity, proc.ppid = tuple(r.get("identity") or ()), r["ppid"]
            elif kind == "exit":
                proc.exit = r["code"]
            elif kind in ("started", "returncode", "terminate"):
                child = self.procs.setdefault(r["child"], Proc(r["child"]))
                if kind == "started":
                    child.method, child.started_by = r["method"] or "", r["pid"]
                    child.name = child.name or r["name"]
                    child.target, child.pool_worker = r.get("target", child.target), bool(r.get("pool_worker"))
                    child.daemon, child.made_by = bool(r.get("daemon")), r.get("by") or "program"
                elif kind == "returncode":
                    child.returncode = r["code"]
                else:
                    child.ended_by = child.ended_by or r.get("by", "program")
        if main_pid is not None and not (main_pid in self.procs and self.procs[main_pid].recorded):
            # The process the harness started recorded nothing: a launcher (a Windows venv's
            # python.exe starts the real interpreter as its child), so that child is the main process.
            behind = [p for p in self.procs.values() if p.ppid == main_pid and p.argv]
            if len(behind) == 1:
                self.main_pid = main_pid = behind[0].pid
        if main_pid in self.procs:
            self.procs[main_pid].role = "main"
        for proc in self.procs.values():
            if proc.forked:
                parent = self.procs.get(proc.ppid)
                proc.began = "forkserver" if parent and parent.role == "forkserver" else "fork"
            elif "--multiprocessing-fork" in proc.argv:
                proc.began = "spawn"
        self._matched: dict[bytes, list[Segment]] = {}
        self.steps = 0  # states the search for the writes that make stdout looked at: about one per write
        self._check_against_facts()

    @classmethod
    def from_lines(cls, lines: list[tuple[int | None, bytes]], facts: Facts | None = None, problems: list[str] = ()) -> Evidence:
        """Records as they reached the harness: (their sender, one record). A record is its sender's:
        where the kernel named the sender of each (facts.attested: Linux), in the order they arrived;
        else the process whose file held it (macOS, Windows), in the order of their clocks. A
        record in another process's name is a problem (and is dropped), as are a gap in a process's
        numbering (a lost record), a record that is not the hook's, and records that do not begin with
        the process's start."""
        kernel = facts is not None and facts.attested
        problems, records, named = list(problems), [], {}
        for order, (sender, line) in enumerate(lines):
            record = parse_one(line)
            if record is None:
                continue
            why = malformed(record)
            if why:
                problems.append(f"pid {sender if sender is not None else record['pid']} sent a record that is not the hook's ({why})")
                continue
            if sender is not None and record["pid"] != sender:
                named.setdefault((sender, record["pid"]), record["e"])
                continue
            if kernel:
                record["order"] = order
            records.append(record)
        for (sender, pid), kind in sorted(named.items()):
            problems.append(
                f"pid {sender} sent a record ({kind}) in the name of pid {pid}: a process's records are its own"
                if kernel
                else f"{sender}.log holds records of pid {pid}: a process's records name it"
            )
        by_pid: dict[int, list[dict]] = defaultdict(list)
        for record in records:
            by_pid[record["pid"]].append(record)
        for pid, mine in sorted(by_pid.items()):
            numbers = [r.get("n") for r in mine]
            if all(isinstance(n, int) for n in numbers) and numbers != list(range(len(numbers))):
                gap = next(k for k, n in enumerate(numbers) if n != k)
                problems.append(f"the records of pid {pid} are not whole: record {gap} is missing or out of place (lost, or not the hook's)")
            if mine[0]["e"] not in ("start", "forked"):
                problems.append(f"the records of pid {pid} do not begin with its start: they were not written by the hook as it ran")
        return cls(records, facts, problems)

    @classmethod
    def load(cls, folder: Path, facts: Facts | None = None) -> Evidence:
        """Every `<pid>.log` in the folder (records made up by hand, as macOS's and Windows' runs write them)."""
        return cls.from_lines(read_folder(folder), facts)

    def _check_against_facts(self) -> None:
        """Each process's records against the kernel's account of it (Linux): its parent, how it
        began, its exit status; a process of the run that nobody's records account for is in
        `unexplained` (a claim fails on it, not the records)."""
        facts = self.facts
        if not facts.attested:
            return  # not observed on this platform (see the README)
        for proc in self.procs.values():
            if not proc.recorded:
                continue
            seen = facts.kernel(proc.pid)
            parent = seen.get("parent")
            if parent is not None and proc.ppid is not None and parent != proc.ppid and facts.adopter not in (parent, proc.ppid):
                self.problems.append(f"pid {proc.pid} recorded pid {proc.ppid} as its parent, but its parent was pid {parent}")
            if seen.get("began") and proc.forked != (seen["began"] == "fork"):
                said = "a fork of its parent" if proc.forked else "a program of its own"
                self.problems.append(f"pid {proc.pid} recorded that it began as {said}, but it began by {seen['began']}")
        if facts.processes is None:
            return
        for pid, seen in facts.processes.items():
            proc = self.procs.get(pid)
            status = seen.get("status")
            if proc is None or status is None or pid == self.main_pid:
                continue
            for said, who in ((proc.exit, f"{proc.label} returned"), (proc.returncode, "its parent saw")):
                if said is not None and said != status and not (proc.exit is said and proc.ended_by):
                    self.problems.append(f"{proc.label} exited with status {status} (the kernel's account), but {who} {said}")
                    break

    def of(self, *events: str) -> list[dict]:
        return [r for r in self.records if r["e"] in events]

    @functools.cached_property
    def children(self) -> list[Proc]:
        """The processes multiprocessing started to run a Process (workers, pool workers), as the
        parent or the child itself recorded it."""
        return [p for p in self.procs.values() if p.role == "child" or (p.method and p.role != "main")]

    @property
    def unexplained(self) -> list[Proc]:
        """Processes that neither ran a Process nor are a multiprocessing helper: those with records
        of their own, and (with the kernel's events) those that ran without sending any."""
        found = [p for p in self.procs.values() if not p.role and not p.method and (p.argv or p.forked)]
        for pid, seen in sorted((self.facts.processes or {}).items()):
            if pid not in self.procs and pid != self.facts.main_pid:
                found.append(Proc(pid, ppid=seen.get("parent"), argv=(seen.get("argv") or "").split(), forked=seen.get("began") == "fork"))
        return found

    def observed_method(self) -> str:
        """How the children were started, as they saw it: 'spawn', or 'fork+spawn' if mixed."""
        return "+".join(sorted({p.own_view for p in self.children if p.own_view})) or "none"

    def chosen(self) -> list[dict]:
        """The start methods the program chose itself (set_start_method, get_context), in order."""
        return self.of("chose")

    # --- locks ------------------------------------------------------------------------------------

    @functools.cached_property
    def _holds(self) -> tuple[dict[str, list[Hold]], list[str]]:
        """Every hold of every lock, from the outermost acquire to its matching release in the same
        process; and each release a process made of a lock it did not hold."""
        holds: dict[str, list[Hold]] = defaultdict(list)
        strays: list[str] = []
        open_: dict[tuple[int, str], Hold] = {}
        depth: dict[tuple[int, str], int] = defaultdict(int)
        begun: dict[tuple[int, str], int] = {}
        for r in self.records:
            if r["e"] not in ("acquire_begin", "acquire", "release"):
                continue
            key = (r["pid"], r["lock"])
            if r["e"] == "acquire_begin":
                begun.setdefault(key, r["at"])
            elif r["e"] == "acquire":
                depth[key] += 1
                if depth[key] == 1:
                    open_[key] = hold = Hold(
                        r["lock"], r["kind"], r["pid"], r["at"], None, r["seq"], float("inf"),
                        excluded=r.get("excluded"), capacity=r.get("capacity"), values=r.get("values") or {}, begun=begun.pop(key, None),
                    )  # fmt: skip
                    holds[r["lock"]].append(hold)
                else:
                    begun.pop(key, None)
            elif depth[key]:
                depth[key] -= 1
                if depth[key] == 0:
                    hold = open_.pop(key)
                    hold.end, hold.last, hold.values_after = r["at"], r["seq"], r.get("values") or {}
            else:
                strays.append(f"{self.procs[r['pid']].label} released {r['kind']} {r['lock']}, which it did not hold")
        return holds, strays

    def holds(self, lock: str | None = None, pid: int | None = None) -> list[Hold]:
        found = self._holds[0].get(lock, []) if lock else [h for hs in self._holds[0].values() for h in hs]
        return [h for h in found if pid is None or h.pid == pid]

    def stray_releases(self) -> list[str]:
        return self._holds[1]

    @functools.cached_property
    def _open_holds(self) -> dict[int, tuple[list[int], list[tuple[Hold, ...]]]]:
        """Each process's holds open between its records: (the record numbers where that changes, the
        holds open just after each). At most MAX_OPEN at once are kept: more is a run the lock claims
        reject anyway (holds never released), and must not cost memory on the way."""
        found = {}
        by_pid: dict[int, list[tuple[int, int, Hold]]] = defaultdict(list)
        for hold in self.holds():
            by_pid[hold.pid].append((hold.first, 1, hold))
            if hold.last != float("inf"):
                by_pid[hold.pid].append((int(hold.last), 0, hold))
        for pid, changes in by_pid.items():
            changes.sort(key=lambda c: (c[0], c[1]))
            points, states, now = [], [], []
            for place, opening, hold in changes:
                now = [*now, hold][-MAX_OPEN:] if opening else [h for h in now if h is not hold]
                if points and points[-1] == place:
                    states[-1] = tuple(now)
                else:
                    points.append(place)
                    states.append(tuple(now))
            found[pid] = (points, states)
        return found

    def holds_around(self, pid: int, seq: int) -> list[Hold]:
        """The holds of a process open at its record number `seq` (its acquire before, its release after)."""
        points, states = self._open_holds.get(pid, ([], []))
        k = bisect.bisect_left(points, seq) - 1  # the last change strictly before seq
        return [h for h in states[k] if h.first < seq < h.last] if k >= 0 else []

    # --- stdout -----------------------------------------------------------------------------------

    @functools.cached_property
    def writes(self) -> list[dict]:
        """The writes that went to the run's stdout: as recorded before each was made, cut to what a
        short write wrote, without those that failed. A write to a file other than the run's
        stdout (fd 1 pointed elsewhere) is not one of them."""
        found: list[dict] = []
        last: dict[int, dict] = {}
        for r in self.records:
            kind = r["e"]
            if kind == "write":
                size = r.get("size", len(r["data"]))
                if not size or (self.facts.stdout and r.get("dest") and tuple(r["dest"]) != tuple(self.facts.stdout)):
                    last.pop(r["pid"], None)
                    continue
                last[r["pid"]] = write = dict(r, size=size)
                found.append(write)
            elif kind in ("wrote", "write_failed") and r["pid"] in last:
                write = last.pop(r["pid"])
                write["size"] = r.get("count", 0)
                write["data"] = write["data"][: write["size"]]
        return [w for w in found if w["size"]]

    def segments(self, stdout: bytes) -> list[Segment]:
        """stdout as the writes that made it, in file order, each with its writer. Raises Unaccounted.

        Where the kernel named the writer of each piece of stdout, each process's bytes must be
        exactly its own recorded writes, in order; elsewhere any interleaving of the recorded writes
        is possible (each process's in its own order), and one is searched for. A write recorded
        as the last act of a process that did not exit cleanly may never have been made."""
        if stdout not in self._matched:
            chunks = self.facts.stdout_chunks
            self._matched[stdout] = self._attributed(stdout, chunks) if chunks is not None else self._match(stdout)
        return self._matched[stdout]

    def _may_skip_last(self, pid: int, writes: list[dict]) -> bool:
        lasts = max((r["seq"] for r in self.records if r["pid"] == pid), default=-1)
        return pid != self.main_pid and bool(writes) and writes[-1]["seq"] == lasts and self.procs[pid].exit_status != 0

    def _attributed(self, stdout: bytes, chunks: list[tuple[int, int]]) -> list[Segment]:
        """The kernel's account: (writer, bytes) in the order they reached stdout."""
        streams: dict[int, list[dict]] = defaultdict(list)
        for w in self.writes:
            streams[w["pid"]].append(w)
        place = dict.fromkeys(streams, 0)  # each writer: its next write, and how much of it is matched
        used = defaultdict(int)
        found, pos = [], 0
        for pid, size in chunks:
            piece = stdout[pos : pos + size]
            while piece:
                mine = streams.get(pid, [])
                k = place.get(pid, 0)
                if k >= len(mine):
                    rest = piece[:40].decode("utf-8", "backslashreplace")
                    who = self.procs[pid].label if pid in self.procs else f"pid {pid}"
                    raise Unaccounted(f"stdout from byte {pos} ({rest!r}) was written by {who} but not through its sys.stdout")
                write, done = mine[k], used[pid]
                take = min(len(piece), write["size"] - done)
                expected = write["data"][done : done + take]
                if piece[: len(expected)] != expected:
                    rest = piece[:40].decode("utf-8", "backslashreplace")
                    raise Unaccounted(f"stdout from byte {pos} ({rest!r}) was written by {self.procs[pid].label} but not through its sys.stdout")
                found.append(Segment(pid, pos, piece[:take], write["at"], write["seq"]))
                pos, piece = pos + take, piece[take:]
                used[pid] += take
                if used[pid] == write["size"]:
                    place[pid], used[pid] = k + 1, 0
        self.steps += len(found)
        for pid, mine in streams.items():
            k = place.get(pid, 0)
            if k < len(mine) and not (k == len(mine) - 1 and not used[pid] and self._may_skip_last(pid, mine)):
                said = mine[k]["data"][:40]
                raise Unaccounted(
                    f"the recorded writes do not add up to stdout ({self.procs[pid].label} recorded {said!r}): some output never reached it"
                )
        return found

    def _match(self, stdout: bytes) -> list[Segment]:
        # Almost always the file holds the writes in the order the clock recorded them: check that
        # first, in one pass; search only when it does not.
        pos, found = 0, []
        for write in self.writes:
            if len(write["data"]) != write["size"] or not stdout.startswith(write["data"], pos):
                break
            found.append(Segment(write["pid"], pos, write["data"], write["at"], write["seq"]))
            pos += len(write["data"])
        else:
            if pos == len(stdout):
                self.steps += len(found)
                return found
        streams: dict[int, list[dict]] = defaultdict(list)
        for w in self.writes:
            streams[w["pid"]].append(w)
        pids = sorted(streams)
        optional = {pid for pid in pids if self._may_skip_last(pid, streams[pid])}  # it may have died before its last write
        ordered = [streams[pid] for pid in pids]
        lengths = [len(stream) for stream in ordered]
        may_skip_last = [pid in optional for pid in pids]
        total, end = sum(lengths), len(stdout)
        budget = SEARCH_STEPS_PER_WRITE * total + 1000
        # A state: (position in stdout, writes taken from each stream); a path: (path so far, write),
        # linked, so that a step copies nothing. The write the clock says came first is followed at
        # once; the others are left to come back to.
        todo: list = [((0, (0,) * len(pids)), None)]
        seen, reached = set(), 0
        while todo:
            state, path = todo.pop()
            while state is not None:
                self.steps += 1
                if self.steps > budget:
                    raise Unaccounted(f"the recorded writes could not be matched to stdout within {budget} steps")
                pos, done = state
                if pos == end and all(d == n or (skip and d == n - 1) for d, n, skip in zip(done, lengths, may_skip_last, strict=True)):
                    found = []
                    while path:
                        path, write = path
                        found.append(write)
                    starts = itertools.accumulate((len(w["data"]) for w in reversed(found)), initial=0)
                    return [Segment(w["pid"], start, w["data"], w["at"], w["seq"]) for w, start in zip(reversed(found), starts, strict=False)]
                if state in seen:
                    break
                seen.add(state)
                reached = max(reached, pos)
                nexts = [
                    (stream[d]["at"], k)
                    for k, (stream, d) in enumerate(zip(ordered, done, strict=True))
                    if d < len(stream) and stdout.startswith(stream[d]["data"], pos)
                ]
                if not nexts:
                    break
                nexts.sort()
                for _, k in reversed(nexts[1:]):
                    write = ordered[k][done[k]]
                    todo.append(((pos + len(write["data"]), (*done[:k], done[k] + 1, *done[k + 1 :])), (path, write)))
                k = nexts[0][1]
                write = ordered[k][done[k]]
                state, path = (pos + len(write["data"]), (*done[:k], done[k] + 1, *done[k + 1 :])), (path, write)
        if reached < len(stdout):
            rest = stdout[reached : reached + 40].decode("utf-8", "backslashreplace")
            raise Unaccounted(f"stdout from byte {reached} ({rest!r}) was written by no process of the run through its sys.stdout")
        leftover = [(pid, w["data"]) for pid in pids for w in streams[pid]]
        raise Unaccounted(
            f"the recorded writes do not add up to stdout (e.g. pid {leftover[0][0]} wrote {leftover[0][1][:40]!r}): some output never reached it"
        )

    def lines(self, stdout: bytes) -> list[tuple[str, set[int], dict]]:
        """Each line of stdout (without its newline) with its writers and the write that ended it."""
        lines, text, writers = [], b"", set()
        segment = None
        for segment in self.segments(stdout):
            for piece in segment.data.splitlines(keepends=True):
                text += piece
                writers.add(segment.pid)
                if piece.endswith(b"\n"):
                    lines.append((text.decode("utf-8", "backslashreplace").rstrip("\r\n"), writers, segment))
                    text, writers = b"", set()
        if text:
            lines.append((text.decode("utf-8", "backslashreplace"), writers, segment))
        return lines

    def summary(self) -> dict:
        """A few counts, for the JUnit file."""
        return {
            "processes": len(self.procs),
            "children": [f"{p.name or p.pid}:{p.method or '?'}/{p.own_view or '?'}:{p.exit_status}" for p in self.children],
            "writes": len(self.of("write")),
            "queue_ops": len(self.of("put", "get")),
            "lock_ops": len(self.of("acquire", "release")),
            "pool_tasks": len(self.of("task")),
        }

    def trace(self) -> dict:
        """The run in the Trace Event Format: one lane per process (named after its role), with its
        lifetime, its writes to stdout, lock holds, queue puts and gets, and pool tasks."""
        if not self.records:
            return {"traceEvents": [], "displayTimeUnit": "ms"}
        zero = self.records[0]["t"]
        events = []

        def us(t: float) -> float:
            return round((t - zero) / 1000, 1)

        def span(pid: int, name: str, cat: str, start: float, end: float, args: dict | None = None, shortest: float = 0.1) -> None:
            events.append(
                {
                    "ph": "X",
                    "name": name,
                    "cat": cat,
                    "ts": us(start),
                    "dur": max(us(end) - us(start), shortest),
                    "pid": pid,
                    "tid": pid,
                    **({"args": args} if args else {}),
                }
            )

        def instant(pid: int, name: str, cat: str, t: float, args: dict) -> None:
            events.append({"ph": "i", "s": "t", "name": name, "cat": cat, "ts": us(t), "pid": pid, "tid": pid, "args": args})

        def t(at: int) -> int:  # a place in the run's order, as the clock of the process that recorded it there
            return self.records[min(at, len(self.records) - 1)]["t"]

        own = [p for p in self.procs.values() if p.recorded]  # a child killed before it recorded anything has no lane
        for order, proc in enumerate(sorted(own, key=lambda p: (p.role != "main", p.first))):
            title = proc.label if proc.role != "child" else f"{proc.name} ({proc.how or '?'}, pid {proc.pid})"
            events.append({"ph": "M", "name": "process_name", "pid": proc.pid, "tid": proc.pid, "args": {"name": title}})
            events.append({"ph": "M", "name": "process_sort_index", "pid": proc.pid, "tid": proc.pid, "args": {"sort_index": order}})
            about = {"method": proc.method, "how": proc.how, "exit": proc.exit_status, "argv": " ".join(proc.argv)[:200]}
            span(proc.pid, proc.role or "unexplained", "process", t(proc.first - 1), t(proc.last - 1), about, shortest=1)
        for hold in self.holds():
            span(
                hold.pid,
                f"holds {hold.kind} {hold.lock}",
                "lock",
                t(hold.start),
                t(hold.end if hold.end is not None else self.procs[hold.pid].last - 1),
            )
        done = {(r["pid"], r["job"], r["i"]): r["t"] for r in self.of("task_done")}
        records = self.records
        if len(records) > EVENTS_SHOWN:  # a run that did a great deal: its first and last events
            hidden = records[EVENTS_SHOWN // 2 : -EVENTS_SHOWN // 2]
            instant(hidden[0]["pid"], f"{len(hidden)} events not shown", "process", hidden[0]["t"], {"until": us(hidden[-1]["t"])})
            records = records[: EVENTS_SHOWN // 2] + records[-EVENTS_SHOWN // 2 :]
        for r in records:
            if r["e"] == "write":
                text = r["data"][:DATA_SHOWN].decode("utf-8", "backslashreplace")
                span(r["pid"], f"stdout {text.strip()[:40]!r}", "stdout", r["t"], r["t"], {"data": text})
            elif r["e"] in ("put", "get"):
                about = {"queue": r["queue"], "kind": r["kind"], "value": r["value"], "message": r.get("msg")}
                instant(r["pid"], f"{r['e']} {r['value'][:40]}", "queue", r["t"], about)
            elif r["e"] == "task":
                about = {"job": r["job"], "i": r["i"], "calls": ", ".join(r["calls"])[:DATA_SHOWN]}
                span(
                    r["pid"],
                    f"{r['func'].rsplit('.', 1)[-1]}{r['calls'][0][:30] if r['calls'] else '()'}",
                    "pool",
                    r["t"],
                    done.get((r["pid"], r["job"], r["i"]), r["t"]),
                    about,
                )
            elif r["e"] in ("started", "terminate", "returncode", "pool_result", "chose", "shared_get", "shared_set", "altered"):
                instant(r["pid"], r["e"], "process", r["t"], {k: v for k, v in r.items() if k not in ("e", "pid", "t", "seq", "at", "n", "order")})
        return {"traceEvents": events, "displayTimeUnit": "ms"}


def read_folder(folder: Path, limit: int = contract.LOG_LIMIT + 4096) -> list[tuple[int | None, bytes]]:
    """(the process whose file it is, one line) for every `<pid>.log` of a folder of records (macOS's
    tree mode, Windows): at most `limit` bytes of each, regular files only, no link followed."""
    import os
    import stat

    found = []
    for path in sorted(folder.glob("*.log")):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except OSError:
            continue
        with open(fd, "rb") as f:
            if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                owner = int(path.stem) if path.stem.isdigit() else -1
                found += [(owner, line) for line in f.read(limit).splitlines()]
    return found


# The types of the fields a claim computes with (mp_contract.RECORD_FIELDS names every field of each kind).
FIELD_TYPES = {
    "ppid": int, "child": int, "job": int, "i": int, "count": int, "size": int, "n": int,
    "code": (int, type(None)), "identity": list, "argv": list, "calls": list, "items": (list, type(None)),
    "lock": str, "kind": str, "name": str, "how": str, "method": (str, type(None)), "msg": (str, type(None)),
    "value": str, "text": str, "func": str, "role": str, "value_of": str, "by": str, "values": (dict, type(None)),
}  # fmt: skip


def malformed(record: dict) -> str:
    """Why a record is not one the hook writes (a field missing or of another type), or ""."""
    missing = [name for name in contract.RECORD_FIELDS.get(record["e"], ()) if name not in record]
    if missing:
        return f"{record['e']} without {', '.join(missing)}"
    for name, value in record.items():
        kind = FIELD_TYPES.get(name)
        if kind is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is int)):
            return f"{record['e']} with {name} {str(value)[:40]!r}"
    if record["e"] == "bootstrap" and not all(type(n) is int for n in record["identity"]):
        return f"bootstrap with identity {str(record['identity'])[:40]!r}"
    return ""


def parse_one(line: bytes) -> dict | None:
    """One record, or None if the line is not one (cut short by a kill, or not the hook's). A
    write's bytes come back from their Latin-1 text."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    if not (isinstance(record, dict) and isinstance(record.get("e"), str) and type(record.get("pid")) is int and type(record.get("t")) is int):
        return None
    if isinstance(record.get("data"), str):
        record["data"] = record["data"].encode("latin-1", "replace")
    return record


def parse(text: str) -> list[dict]:
    """The records of one file: JSON objects, one a line. A line that is not one (cut short by a
    kill) is skipped: the rest still counts. A write's bytes come back from their Latin-1 text."""
    try:
        found = json.loads("[" + ",".join(line for line in text.splitlines() if line.strip()) + "]")  # one call: fast
    except (ValueError, RecursionError):
        found = []
        for line in text.splitlines():
            try:
                found.append(json.loads(line))
            except (ValueError, RecursionError):
                pass
    records = []
    for record in found:
        if isinstance(record, dict) and isinstance(record.get("e"), str) and type(record.get("pid")) is int and type(record.get("t")) is int:
            if isinstance(record.get("data"), str):
                record["data"] = record["data"].encode("latin-1", "replace")
            records.append(record)
    return records
