"""What the processes of one run did, read back from the records of inject/mp_evidence.py, and
checked against what the harness observed itself.

`Evidence.load(folder, facts)` gathers every process's records. The records are testimony: the
program under test writes them, through the hook, into a folder it could write to itself. `Facts`
is what the runner and the supervisor observed (the main process's pid, which file the run's
stdout was and how much of it there was when the main process exited, which processes said they
started, as the kernel names them); `problems` lists every record that contradicts them or another
record. Then:
- `procs`: each process with what it and its parent said of it (name, role, how it was started
  as the parent saw it and as the child saw it, its target, exit code, who ended it);
- `segments(stdout)`: the run's stdout cut into the writes that made it, each with its writer: the
  file must be exactly an interleaving of the recorded writes that went to it, or some output
  came from elsewhere (linear in the number of writes: the search follows the clock first);
- `holds(lock)`: the holds of a lock; `of(event)`: the records of one kind;
- `trace()`: the run as Trace Event Format JSON (Perfetto, chrome://tracing).
Standard library only: the report reads traces without the harness's dependencies.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DATA_SHOWN = 200  # characters of a write shown in a timeline
EVENTS_SHOWN = 10_000  # records drawn in a timeline at most: the first and the last half of that
# Where the search for the writes that make stdout gives up: far above what matching the recorded
# clock order needs (one step per write), far below what a pathological input could ask for.
SEARCH_STEPS_PER_WRITE = 8


class Unaccounted(Exception):
    """Output in the run's stdout that no recorded write explains."""


@dataclass(frozen=True)
class Facts:
    """What the harness saw itself, which no record can change."""

    main_pid: int | None = None  # the process the supervisor started
    stdout: tuple[int, int] | None = None  # (device, inode) of the run's stdout file
    stdout_at_main_exit: int | None = None  # its size when the main process had exited
    attested: dict[int, int | None] | None = None  # pid -> its parent, for each process that said it started (None: not observed)
    adopter: int | None = None  # the supervisor, which adopts a process whose parent exits (it is then its parent)


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
    start: int  # t of the acquire (recorded once it succeeded)
    end: int | None  # t of the matching release (recorded before it was made); None: never released
    first: int  # the process's own record numbers of the acquire and the release
    last: float


class Evidence:
    def __init__(self, records: list[dict], facts: Facts | int | None = None, problems: list[str] = ()):
        if not isinstance(facts, Facts):  # a bare main pid (records made up by hand)
            facts = Facts(main_pid=facts)
        self.facts = facts
        self.problems = list(problems)  # records that contradict each other or the facts
        own: dict[int, int] = defaultdict(int)
        for r in records:  # each process's records keep their own order: number them
            r["seq"] = own[r["pid"]]
            own[r["pid"]] += 1
        self.records = sorted(records, key=lambda r: r["t"])
        self.main_pid = main_pid = facts.main_pid
        self.overflowed = sorted({r["pid"] for r in records if r["e"] == "overflow"})
        self.procs: dict[int, Proc] = {}
        for r in self.records:
            proc = self.procs.setdefault(r["pid"], Proc(r["pid"]))
            proc.first, proc.last, proc.recorded = proc.first or r["t"], r["t"], True
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
                proc.identity, proc.ppid = tuple(r.get("identity", ())), r["ppid"]
            elif kind == "exit":
                proc.exit = r["code"]
            elif kind in ("started", "returncode", "terminate"):
                child = self.procs.setdefault(r["child"], Proc(r["child"]))
                if kind == "started":
                    child.method, child.started_by = r["method"] or "", r["pid"]
                    child.name = child.name or r["name"]
                    child.target, child.pool_worker = r.get("target", child.target), bool(r.get("pool_worker"))
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
    def load(cls, folder: Path, facts: Facts | None = None) -> Evidence:
        """Every `<pid>.log` in the folder. A record names its own pid: one that names another
        than its file's, or a file that does not begin with its process's start, is a problem."""
        records, problems = [], []
        for path in sorted(folder.glob("*.log")):
            mine = parse(path.read_bytes().decode("utf-8", "backslashreplace"))
            if not mine:
                continue
            owner = int(path.stem) if path.stem.isdigit() else None
            strangers = sorted({r["pid"] for r in mine if r["pid"] != owner})
            if strangers:
                problems.append(f"{path.name} holds records of pid {', '.join(map(str, strangers))}: a process's records name it")
                mine = [r for r in mine if r["pid"] == owner]
            if mine and mine[0]["e"] not in ("start", "forked"):
                problems.append(f"the records of pid {owner} do not begin with its start: they were not written by the hook as it ran")
            records += mine
        return cls(records, facts, problems)

    def _check_against_facts(self) -> None:
        attested = self.facts.attested
        if attested is None:
            return  # not observed on this platform (see the README)
        for proc in self.procs.values():
            if not proc.recorded or proc.pid == self.facts.main_pid:
                continue
            if proc.pid not in attested:
                self.problems.append(f"records of pid {proc.pid}, which never started under the run (the supervisor saw no such process)")
            elif None not in (attested[proc.pid], proc.ppid) and proc.ppid != self.facts.adopter and attested[proc.pid] != proc.ppid:
                self.problems.append(f"pid {proc.pid} recorded pid {proc.ppid} as its parent, but its parent was pid {attested[proc.pid]}")

    def of(self, *events: str) -> list[dict]:
        return [r for r in self.records if r["e"] in events]

    @functools.cached_property
    def children(self) -> list[Proc]:
        """The processes multiprocessing started to run a Process (workers, pool workers), as the
        parent or the child itself recorded it."""
        return [p for p in self.procs.values() if p.role == "child" or (p.method and p.role != "main")]

    @property
    def unexplained(self) -> list[Proc]:
        """Processes with records that neither ran a Process nor are a multiprocessing helper."""
        return [p for p in self.procs.values() if not p.role and not p.method and (p.argv or p.forked)]

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
        for r in self.records:
            if r["e"] not in ("acquire", "release"):
                continue
            key = (r["pid"], r["lock"])
            if r["e"] == "acquire":
                depth[key] += 1
                if depth[key] == 1:
                    open_[key] = hold = Hold(r["lock"], r["kind"], r["pid"], r["t"], None, r["seq"], float("inf"))
                    holds[r["lock"]].append(hold)
            elif depth[key]:
                depth[key] -= 1
                if depth[key] == 0:
                    hold = open_.pop(key)
                    hold.end, hold.last = r["t"], r["seq"]
            else:
                strays.append(f"{self.procs[r['pid']].label} released {r['kind']} {r['lock']}, which it did not hold")
        return holds, strays

    def holds(self, lock: str | None = None, pid: int | None = None) -> list[Hold]:
        found = self._holds[0].get(lock, []) if lock else [h for hs in self._holds[0].values() for h in hs]
        return [h for h in found if pid is None or h.pid == pid]

    def stray_releases(self) -> list[str]:
        return self._holds[1]

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
                if not r["data"] or (self.facts.stdout and r.get("dest") and tuple(r["dest"]) != tuple(self.facts.stdout)):
                    last.pop(r["pid"], None)
                    continue
                last[r["pid"]] = write = dict(r)
                found.append(write)
            elif kind in ("wrote", "write_failed") and r["pid"] in last:
                write = last.pop(r["pid"])
                write["data"] = write["data"][: r.get("count", 0)]
        return [w for w in found if w["data"]]

    def segments(self, stdout: bytes) -> list[Segment]:
        """stdout as the interleaving of the recorded writes that made it, in file order.

        Each process's writes keep their own order; between processes any interleaving is
        possible (a write(2) to a file opened for appending lands whole), so this searches for
        one, following the recorded clock first: one step per write when it is right. A write
        recorded as the last act of a process that did not exit cleanly may never have been made.
        Raises Unaccounted."""
        if stdout not in self._matched:
            self._matched[stdout] = self._match(stdout)
        return self._matched[stdout]

    def _match(self, stdout: bytes) -> list[Segment]:
        # Almost always the file holds the writes in the order the clock recorded them: check that
        # first, in one pass; search only when it does not.
        pos, found = 0, []
        for write in self.writes:
            if not stdout.startswith(write["data"], pos):
                break
            found.append(Segment(write["pid"], pos, write["data"], write["t"], write["seq"]))
            pos += len(write["data"])
        else:
            if pos == len(stdout):
                self.steps += len(found)
                return found
        streams: dict[int, list[dict]] = defaultdict(list)
        for w in self.writes:
            streams[w["pid"]].append(w)
        pids = sorted(streams)
        lasts = {r["pid"]: r["seq"] for r in self.records}
        optional = {  # its last act, and it did not exit cleanly: it may have died before the write
            pid for pid in pids if pid != self.main_pid and streams[pid][-1]["seq"] == lasts[pid] and self.procs[pid].exit_status != 0
        }
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
                    return [Segment(w["pid"], start, w["data"], w["t"], w["seq"]) for w, start in zip(reversed(found), starts, strict=False)]
                if state in seen:
                    break
                seen.add(state)
                reached = max(reached, pos)
                nexts = [
                    (stream[d]["t"], k)
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

        own = [p for p in self.procs.values() if p.recorded]  # a child killed before it recorded anything has no lane
        for order, proc in enumerate(sorted(own, key=lambda p: (p.role != "main", p.first))):
            title = proc.label if proc.role != "child" else f"{proc.name} ({proc.how or '?'}, pid {proc.pid})"
            events.append({"ph": "M", "name": "process_name", "pid": proc.pid, "tid": proc.pid, "args": {"name": title}})
            events.append({"ph": "M", "name": "process_sort_index", "pid": proc.pid, "tid": proc.pid, "args": {"sort_index": order}})
            about = {"method": proc.method, "how": proc.how, "exit": proc.exit_status, "argv": " ".join(proc.argv)[:200]}
            span(proc.pid, proc.role or "unexplained", "process", proc.first, proc.last, about, shortest=1)
        for hold in self.holds():
            span(hold.pid, f"holds {hold.kind} {hold.lock}", "lock", hold.start, hold.end if hold.end is not None else self.procs[hold.pid].last)
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
            elif r["e"] in ("started", "terminate", "returncode", "pool_result", "chose", "shared_get", "shared_set"):
                instant(r["pid"], r["e"], "process", r["t"], {k: v for k, v in r.items() if k not in ("e", "pid", "t", "seq")})
        return {"traceEvents": events, "displayTimeUnit": "ms"}


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
