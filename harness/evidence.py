"""What the processes of one run did, read back from the records of inject/mp_evidence.py.

`Evidence.load(folder, main_pid)` gathers every process's records; then:
- `procs`: each process with what it and its parent said of it (name, role, how it was started
  as the parent saw it and as the child saw it, exit code);
- `segments(stdout)`: the run's stdout cut into the writes that made it, each with its writer: the
  file must be exactly an interleaving of the recorded writes, or some output came from elsewhere;
- `holds(pid)`: the lock holds of a process; `of(event)`: the records of one kind;
- `trace()`: the run as Trace Event Format JSON (Perfetto, chrome://tracing).
Standard library only: the report reads traces without the harness's dependencies.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

HELPER_ROLES = ("forkserver", "resource_tracker")


class Unaccounted(Exception):
    """Output in the run's stdout that no recorded write explains."""


@dataclass
class Proc:
    pid: int
    ppid: int | None = None
    argv: list[str] = field(default_factory=list)
    role: str = ""  # main, child (ran a multiprocessing Process), forkserver, resource_tracker, or "" (unexplained)
    name: str = ""  # the multiprocessing name: Process-1, SpawnPoolWorker-3
    identity: tuple[int, ...] = ()
    target: str = ""  # the function the Process ran: print_numbers, worker (a pool's)
    how: str = ""  # how it was started, seen from the child's own call stack
    method: str = ""  # how it was started, seen from the parent that called Process.start()
    started_by: int | None = None  # that parent's pid
    forked: bool = False  # it began as a fork of its parent (no start-up of its own)
    returncode: int | None = None  # as its parent saw it
    exit: int | None = None  # as it returned from BaseProcess._bootstrap
    terminated: bool = False  # its parent called terminate() or kill() on it
    first: int = 0  # time of its first and last record (ns)
    last: int = 0

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

    began: str = ""  # fork, forkserver (forked by the fork server) or spawn (exec'd by spawn_main's command)

    @property
    def exit_status(self) -> int | None:
        return self.returncode if self.returncode is not None else self.exit


@dataclass
class Segment:
    pid: int
    start: int  # byte offset in stdout
    data: bytes
    t0: int  # before and after the write(2)
    t: int


@dataclass
class Hold:
    lock: str
    kind: str
    start: int
    end: float  # inf: never released


class Evidence:
    def __init__(self, records: list[dict], main_pid: int | None):
        self.records = sorted(records, key=lambda r: r["t"])
        self.main_pid = main_pid
        self.procs: dict[int, Proc] = {}
        for r in self.records:
            proc = self.procs.setdefault(r["pid"], Proc(r["pid"]))
            proc.first, proc.last = proc.first or r["t"], r["t"]
            kind = r["e"]
            if kind == "start":
                proc.ppid, proc.argv = r["ppid"], r["argv"]
            elif kind == "forked":
                proc.ppid, proc.forked = r["ppid"], True
            elif kind == "role":
                proc.role = r["role"]
            elif kind == "bootstrap":
                proc.role, proc.name, proc.how, proc.target = "child", r["name"], r["how"], r["target"]
                proc.identity, proc.ppid = tuple(r.get("identity", ())), r["ppid"]
            elif kind == "exit":
                proc.exit = r["code"]
            elif kind in ("started", "returncode", "terminate"):
                child = self.procs.setdefault(r["child"], Proc(r["child"]))
                if kind == "started":
                    child.method, child.started_by = r["method"] or "", r["pid"]
                    child.name = child.name or r["name"]
                elif kind == "returncode":
                    child.returncode = r["code"]
                else:
                    child.terminated = True
        if main_pid is not None and not (main_pid in self.procs and self.procs[main_pid].first):
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

    @classmethod
    def load(cls, folder: Path, main_pid: int | None) -> Evidence:
        records = []
        for path in sorted(folder.glob("*.log")):
            for line in path.read_bytes().decode("utf-8", "backslashreplace").splitlines():
                if line.strip():
                    try:
                        records.append(ast.literal_eval(line))
                    except (ValueError, SyntaxError):
                        pass  # a line cut short by a kill: the rest of the file still counts
        return cls(records, main_pid)

    def of(self, *events: str) -> list[dict]:
        return [r for r in self.records if r["e"] in events]

    @property
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

    def holds(self, pid: int) -> list[Hold]:
        """The lock holds of one process: from the outermost acquire to its matching release."""
        depth: dict[str, int] = {}
        holds: dict[str, Hold] = {}
        done = []
        for r in self.records:
            if r["pid"] != pid or r["e"] not in ("acquire", "release"):
                continue
            lock = r["lock"]
            if r["e"] == "acquire":
                depth[lock] = depth.get(lock, 0) + 1
                if depth[lock] == 1:
                    holds[lock] = Hold(lock, r["kind"], r["t"], float("inf"))
            elif depth.get(lock):
                depth[lock] -= 1
                if depth[lock] == 0:
                    holds[lock].end = r["t"]
                    done.append(holds.pop(lock))
        return done + list(holds.values())

    def segments(self, stdout: bytes) -> list[Segment]:
        """stdout as the interleaving of the recorded writes that made it, in file order.

        Each process's writes keep their own order; between processes any interleaving is
        possible (a write(2) to a file opened for appending lands whole), so this searches for
        one, preferring the earlier write where two could come next. Raises Unaccounted."""
        streams: dict[int, list[dict]] = {}
        for r in self.of("write"):
            if r["data"]:
                streams.setdefault(r["pid"], []).append(r)
        pids = sorted(streams)
        todo = [(0, (0,) * len(pids), ())]
        seen, reached = set(), 0
        while todo:
            pos, done, path = todo.pop()
            if pos == len(stdout) and all(done[k] == len(streams[pid]) for k, pid in enumerate(pids)):
                return list(path)
            if (pos, done) in seen:
                continue
            seen.add((pos, done))
            reached = max(reached, pos)
            nexts = []
            for k, pid in enumerate(pids):
                if done[k] < len(streams[pid]):
                    write = streams[pid][done[k]]
                    if stdout.startswith(write["data"], pos):
                        nexts.append((write["t0"], k, write))
            for _, k, write in sorted(nexts, key=lambda n: n[:2], reverse=True):  # earliest popped first
                step = Segment(write["pid"], pos, write["data"], write["t0"], write["t"])
                todo.append((pos + len(write["data"]), (*done[:k], done[k] + 1, *done[k + 1 :]), (*path, step)))
        if reached < len(stdout):
            rest = stdout[reached : reached + 40].decode("utf-8", "backslashreplace")
            raise Unaccounted(f"stdout from byte {reached} ({rest!r}) was written by no process of the run through its sys.stdout")
        leftover = [(pid, r["data"]) for pid in pids for r in streams[pid]]
        raise Unaccounted(
            f"the recorded writes do not add up to stdout (e.g. pid {leftover[0][0]} wrote {leftover[0][1][:40]!r}): some output never reached it"
        )

    def lines(self, stdout: bytes) -> list[tuple[str, set[int], int, int]]:
        """Each line of stdout (without its newline) with its writers and the time its writes
        began and ended."""
        lines, text, writers, t0, t = [], b"", set(), None, 0
        for seg in self.segments(stdout):
            for piece in seg.data.splitlines(keepends=True):
                text += piece
                writers.add(seg.pid)
                t0, t = seg.t0 if t0 is None else t0, seg.t
                if piece.endswith(b"\n"):
                    lines.append((text.decode("utf-8", "backslashreplace").rstrip("\r\n"), writers, t0, t))
                    text, writers, t0 = b"", set(), None
        if text:
            lines.append((text.decode("utf-8", "backslashreplace"), writers, t0, t))
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

        own = [p for p in self.procs.values() if p.first]  # a child killed before it recorded anything has no lane
        for order, proc in enumerate(sorted(own, key=lambda p: (p.role != "main", p.first))):
            title = proc.label if proc.role != "child" else f"{proc.name} ({proc.how or '?'}, pid {proc.pid})"
            events.append({"ph": "M", "name": "process_name", "pid": proc.pid, "tid": proc.pid, "args": {"name": title}})
            events.append({"ph": "M", "name": "process_sort_index", "pid": proc.pid, "tid": proc.pid, "args": {"sort_index": order}})
            about = {"method": proc.method, "how": proc.how, "exit": proc.exit_status, "argv": " ".join(proc.argv)[:200]}
            span(proc.pid, proc.role or "unexplained", "process", proc.first, proc.last, about, shortest=1)
            for hold in self.holds(proc.pid):
                span(proc.pid, f"holds {hold.kind} {hold.lock}", "lock", hold.start, hold.end if hold.end != float("inf") else proc.last)
        for r in self.records:
            if r["e"] == "write":
                text = r["data"].decode("utf-8", "backslashreplace")
                span(r["pid"], f"stdout {text.strip()[:40]!r}", "stdout", r["t0"], r["t"], {"data": text})
            elif r["e"] in ("put", "get"):
                about = {"queue": r["queue"], "kind": r["kind"], "value": r["value"]}
                instant(r["pid"], f"{r['e']} {r['value'][:40]}", "queue", r["t"], about)
            elif r["e"] == "task":
                about = {"job": r["job"], "i": r["i"], "result": r.get("result"), "error": r.get("error")}
                span(r["pid"], f"{r['func']}{r['inputs'][:30]}", "pool", r["t0"], r["t"], about)
            elif r["e"] in ("started", "terminate", "returncode", "pool_result"):
                instant(r["pid"], r["e"], "process", r["t"], {k: v for k, v in r.items() if k not in ("e", "pid", "t")})
        return {"traceEvents": events, "displayTimeUnit": "ms"}
