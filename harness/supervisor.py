"""Run one example's main process, contain every process it creates, and observe what the run did
from outside it: the only copy of its records, its output as written, its processes as the kernel
saw them.

    python -I -S harness/supervisor.py report=FD timeout=S grace=S runner=PID [nice=N]
                                       [tree=1] [evidence=DIR] [limit=BYTES] -- PYTHON -X dev EXAMPLE.py

The runner starts one supervisor per run and reads what it sends on the pipe REPORT (an inherited
descriptor that no process of the run inherits): frames (mp_contract.FRAMES) with each record,
each piece of output and at last the report (mp_contract.REPORT_KEYS). The supervisor's own stderr
is for its own failures only.

Observation (Linux): the main process's stdout and stderr are stream sockets the supervisor reads
(bounded while written: at LIMIT bytes the run is stopped), and with SO_PASSCRED the kernel names
the process that wrote each piece (it never joins two writers' bytes in one read). Every process
of the run sends its records as datagrams to the supervisor's socket (mp_contract.RECORDS), whose
sender the kernel names too, so no record can be in another process's name, and the supervisor
holds the only copy. Which processes ran: where the kernel's process events connector can be
heard (CAP_NET_ADMIN: root), every fork, exec and exit of the run, with exit statuses; elsewhere,
what /proc says of each process when its first record arrives (its parent, its command line, and
whether it is a copy of its parent or a program of its own) and the exit status of every process
the supervisor reaps. On macOS (and `tree=1`, its mode on Linux) there are no credentials: the
records are files (evidence=DIR), the output is still read from sockets, and the kernel names no
one.

Containment: on Linux the supervisor is a child subreaper (PR_SET_CHILD_SUBREAPER) that dies with
the runner (PR_SET_PDEATHSIG, and a check of its parent every tick): every process the example
creates stays its descendant, even one started with an empty environment in a new session and
orphaned by a double fork. In tree mode the tree is supplemented by the run's marker in the
environment (psutil); an orphan started with an empty environment escapes that, as the README says.
The run could take the supervisor down (same user), so the supervisor is forked from a warden that
stays its parent: whatever ends or stops the supervisor, the warden sees it (waitpid, WUNTRACED),
kills it and the whole run, and reports how the supervisor ended; the runner then fails the cell in
one line. The supervisor and the warden ignore the terminal's stop signals (Ctrl-Z).

When the main process exits, the example's own processes must be gone (a correct program has joined
them; with the connector, "alive" is exact: a process whose last task exited after the main process
did), the fork server and resource tracker get GRACE seconds; whatever is
still alive is a leftover, reported and killed, the resource tracker last so that it can still
unlink the run's semaphores. At TIMEOUT the whole tree is killed the same way. There is one
supervisor per run, so it starts as fast as it can: standard library only, no argparse or json,
under `-I -S` where it needs no psutil.
"""

from __future__ import annotations

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "inject"))
import mp_contract as contract  # (its folder first: -I leaves the script's folder off the path)

TRACKER = "multiprocessing.resource_tracker"
HELPERS = (TRACKER, "multiprocessing.forkserver")  # they outlive a correct main process briefly
SPAWN_CHILD = "--multiprocessing-fork"  # the last argument of a spawn child's command line (multiprocessing.spawn)
TICK = 0.2  # seconds between checks of the deadline and of the runner while waiting
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36  # <linux/prctl.h>
TERMINAL_STOPS = (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
PF_EXITING = 0x4  # /proc/PID/stat's flags: the task is in exit()
OUTPUT_LIMIT = 4 << 20  # bytes a run may write to stdout, and to stderr: the run is stopped there
RECORDS_LIMIT = 64 << 20  # bytes of records a whole run may send: the run is stopped there
# The kernel's process events connector (<linux/connector.h>, <linux/cn_proc.h>).
NETLINK_CONNECTOR, CN_IDX_PROC, CN_VAL_PROC, PROC_CN_MCAST_LISTEN = 11, 1, 1, 1
PROC_EVENT_FORK, PROC_EVENT_EXEC, PROC_EVENT_EXIT = 1, 2, 0x80000000
SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>: a receive buffer past rmem_max (root), for bursts of events


class Stop(Exception):
    """Waiting ends early: the deadline passed, or the runner is gone."""


def prctl(option: int, value: int) -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, value, 0, 0, 0) == 0


def read_stat(pid: int, task: int | None = None) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None if it is gone."""
    path = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
    try:
        with open(path, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return stat[stat.rindex(b")") + 2 :].split(b" ")


def live(pid: int) -> bool:
    """Whether any task of the process is still running code of its own (not a zombie, not in exit()):
    a process whose main thread has exited while another runs on is alive."""
    stat = read_stat(pid)
    if stat is None:
        return False
    if stat[0] not in (b"Z", b"X") and not int(stat[6]) & PF_EXITING:
        return True
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        stat = read_stat(pid, int(task))
        if stat is not None and stat[0] not in (b"Z", b"X") and not int(stat[6]) & PF_EXITING:
            return True
    return False


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return one_line(f.read().replace(b"\0", b" ").decode("utf-8", "backslashreplace"))
    except OSError:
        return "<gone>"


def one_line(command: str) -> str:
    """A command line for a one-line report: an argument may hold newlines (python -c)."""
    return " ".join(command.split()) or "<no command line>"


def kill(pids, sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


class Tree:
    """The live processes of the run, other than the supervisor itself."""

    def __init__(self, subreaper: bool, marker: str | None):
        self.subreaper, self.marker, self.me = subreaper, marker, os.getpid()
        self.parent = os.getppid()  # the supervisor's warden, which carries the marker too
        self.exits: dict[int, int] = {}  # pid -> wait status of every child this supervisor reaped

    def reap(self) -> bool:
        """Reap the exited children; whether any child is still alive."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            self.exits[pid] = status

    def members(self) -> dict[int, str]:
        """{pid: command line} of every live descendant (see `live`)."""
        children = self.reap()
        if self.subreaper:
            return self._proc_tree() if children else {}
        import psutil  # not needed on Linux; the tox envs and containers have it

        found = {}
        procs = {p.pid: p for p in psutil.Process(self.me).children(recursive=True)}
        if self.marker:  # an orphan is no longer in the tree: its marker still says whose it is
            for proc in psutil.process_iter():
                try:
                    if proc.pid not in procs and proc.pid not in (self.me, self.parent) and proc.environ().get(contract.RUN_MARKER) == self.marker:
                        procs[proc.pid] = proc
                except (psutil.Error, OSError):
                    pass  # gone, or another user's
        for pid, proc in procs.items():
            try:
                with proc.oneshot():
                    if proc.status() != psutil.STATUS_ZOMBIE:
                        found[pid] = one_line(" ".join(proc.cmdline()))
            except (psutil.Error, OSError):
                pass
        return found

    def _proc_tree(self) -> dict[int, str]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                stat = read_stat(int(entry.name))
                if stat is not None:
                    children.setdefault(int(stat[1]), []).append(int(entry.name))
        found, todo = {}, list(children.get(self.me, []))
        while todo:
            pid = todo.pop()
            if live(pid):
                found[pid] = cmdline(pid)
            todo += children.get(pid, [])
        return found

    def stop(self, grace: float) -> None:
        """Kill every process of the run, the resource tracker last: killed together with the
        others it would leave the run's semaphores in /dev/shm for good; alone, it unlinks them
        and exits once the rest are dead."""
        deadline = time.monotonic() + grace
        while True:  # again and again: the main process may be starting a child as we kill
            others = [pid for pid, cmd in self.members().items() if TRACKER not in cmd]
            if not others or time.monotonic() >= deadline:
                break
            kill(others)
            time.sleep(0.02)
        while (left := self.members()) and time.monotonic() < deadline:
            time.sleep(0.02)
        kill(left)
        kill(self.members())


def to_json(value) -> str:
    """JSON for the report's kinds of value (mp_contract.encode, the one writer)."""
    return contract.encode(value)


class Options:
    """key=value arguments, then -- and the command: the runner writes them, nobody types them."""

    def __init__(self, argv: list[str]):
        cut = argv.index("--")
        given = dict(arg.split("=", 1) for arg in argv[:cut])
        self.command = argv[cut + 1 :]
        self.report = int(given["report"])  # the descriptor of the pipe to the runner
        self.timeout, self.grace = (float(given[k]) for k in ("timeout", "grace"))
        self.runner = int(given["runner"])  # stop everything when this process is gone
        self.nice = int(given.get("nice", 0))  # run the example at a lower CPU priority: this nice value
        self.tree = given.get("tree") == "1"  # as on macOS: no subreaper, no parent-death signal, no credentials
        self.evidence = given.get("evidence", "")  # the folder of record files (tree mode)
        self.limit = int(given.get("limit", OUTPUT_LIMIT))


class Channels:
    """What the run sends the supervisor: records (a datagram socket, Linux), stdout and stderr
    (stream sockets), and, where it can be heard, the kernel's process events."""

    def __init__(self, credentials: bool, marker: str, limit: int, report: int, streams: dict):
        import _socket

        self.s, self.credentials, self.limit, self.report = _socket, credentials, limit, report
        self.started = self.bootstrapped = 0
        self.going = False
        self.space = _socket.CMSG_SPACE(12)  # struct ucred: pid, uid, gid
        self.records = None
        self.address = ""
        if credentials:
            self.records = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)  # not inherited by the run (PEP 446)
            self.address = f"@harness-{marker}-{os.getpid()}"
            self.records.bind("\0" + self.address[1:])  # abstract: no file the run could replace
            self.records.setsockopt(_socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
            self.records.setblocking(False)
        self.out, self.err = streams["out"], streams["err"]
        self.events = connector() if credentials else None
        self.frames: list[tuple[str, int, bytes]] = []  # records, in the order they arrived
        self.record_bytes: dict[int, int] = {}
        self.records_size = 0
        self.first_seen: dict[int, dict] = {}  # pid -> what /proc said at its first record
        self.processes: dict[int, dict] = {}  # the connector's account: pid -> PROCESS_KEYS
        self.tasks: dict[int, int] = {}  # pid -> live tasks (threads), per the connector
        self.lost = ""
        self.me = os.getpid()

    def spawned(self) -> None:
        """The run holds its ends now: close ours."""
        for stream in (self.out, self.err):
            stream["theirs"].close()

    def fds(self) -> list:
        found = [self.out["mine"], self.err["mine"]]
        if self.records is not None:
            found.append(self.records)
        if self.events is not None:
            found.append(self.events)
        return found

    def sender(self, ancillary) -> int:
        for level, kind, data in ancillary:
            if level == self.s.SOL_SOCKET and kind == self.s.SCM_CREDENTIALS and len(data) >= 4:
                return int.from_bytes(data[:4], sys.byteorder)
        return -1

    def drain(self, sock) -> str:
        """Read what is there on one socket; why the run must stop, or ""."""
        if sock is self.records:
            return self._records()
        if sock is self.events:
            return self._events()
        stream = self.out if sock is self.out["mine"] else self.err
        while not stream["eof"]:
            try:
                data, ancillary, _, _ = sock.recvmsg(1 << 16, self.space)
            except (BlockingIOError, InterruptedError):
                return ""
            except OSError:
                data, ancillary = b"", []
            if not data:
                stream["eof"] = True
                return ""
            pid = self.sender(ancillary)
            room = self.limit - stream["size"]
            stream["size"] += len(data)
            if stream is self.err and room > 0:
                # A copy on the supervisor's own stderr, a file the runner made: should the supervisor
                # be taken down, the end of the run's stderr still goes with the cell's error.
                write_all(2, data[:room])
            if room > 0:
                chunks = stream["chunks"]
                if chunks and chunks[-1][0] == pid:
                    chunks[-1][1].extend(data[:room])
                else:
                    chunks.append((pid, bytearray(data[:room])))
            if stream["size"] > self.limit:
                return "output_limit"
        return ""

    def _records(self) -> str:
        while True:
            try:
                data, ancillary, _, _ = self.records.recvmsg(1 << 18, self.space)
            except (BlockingIOError, InterruptedError):
                return ""
            except OSError as exc:
                self.lost = self.lost or f"the records socket failed: {exc.strerror}"
                return ""
            pid = self.sender(ancillary)
            if pid not in self.first_seen:
                self.first_seen[pid] = first_look(pid)
            if not self.going:  # every child started so far runs its Process: say so at once
                self.started += b'"e":"started"' in data
                self.bootstrapped += b'"e":"bootstrap"' in data
                if self.started and self.bootstrapped >= self.started:
                    self.going = True
                    send(self.report, [(contract.FRAME_GOING, -1, b"")])
            size = self.record_bytes.get(pid, 0) + len(data)
            self.record_bytes[pid] = size
            self.records_size += len(data)
            if size <= contract.LOG_LIMIT + 4096:  # the hook stops itself at LOG_LIMIT, with one record more
                self.frames.append((contract.FRAME_RECORD, pid, data))
            elif not self.lost:
                self.lost = f"pid {pid} sent more records than LOG_LIMIT allows: the rest were not kept"
            if self.records_size > RECORDS_LIMIT:
                return "records_limit"

    def _events(self) -> str:
        """The kernel's fork, exec and exit events of the run's processes (and of every other
        process of the machine, which are ignored)."""
        import _struct

        while True:
            try:
                data = self.events.recv(4096)
            except (BlockingIOError, InterruptedError):
                return ""
            except OSError as exc:  # ENOBUFS: the kernel dropped events
                self.lost = self.lost or f"the kernel's process events were lost ({exc.strerror}): the account of processes is incomplete"
                continue
            if len(data) < 52:
                continue
            (what,) = _struct.unpack_from("=I", data, 36)
            if what == PROC_EVENT_FORK:
                _, parent, child_pid, child = _struct.unpack_from("=IIII", data, 52)
                if child_pid != child:  # a thread
                    if child in self.tasks:
                        self.tasks[child] += 1
                elif parent in self.processes or (parent == self.me and not self.processes):
                    self.processes[child] = {"parent": parent, "began": "fork", "argv": None, "status": None, "reaped": False, "after_main": False}
                    self.tasks[child] = 1
            elif what == PROC_EVENT_EXEC:
                _, pid = _struct.unpack_from("=II", data, 52)
                if pid in self.processes:
                    self.processes[pid]["began"] = "exec"
                    self.processes[pid]["argv"] = cmdline(pid)  # now: it may be gone by its first record
            elif what == PROC_EVENT_EXIT:
                task, pid, code, _signal = _struct.unpack_from("=IIII", data, 52)
                if pid in self.tasks:
                    self.tasks[pid] -= 1
                    if task == pid:  # the thread group's leader: its exit code is the process's
                        self.processes[pid]["raw"] = code
                    if self.tasks[pid] <= 0:
                        self.processes[pid]["alive"] = False

    def alive_by_events(self) -> dict[int, bool]:
        return {pid: proc.get("alive", True) for pid, proc in self.processes.items()}

    def drain_all(self) -> str:
        for sock in self.fds():
            why = self.drain(sock)
            if why:
                return why
        return ""


def output_streams(credentials: bool) -> dict:
    """The run's stdout and stderr: stream sockets, made before the warden forks the supervisor, so
    that the warden holds the reading ends too (a supervisor the run kills leaves the end of the
    run's stderr to it); with SO_PASSCRED where the kernel names each writer."""
    import _socket

    streams = {}
    for name in ("out", "err"):
        mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        if credentials:
            mine.setsockopt(_socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
        mine.shutdown(_socket.SHUT_WR)
        theirs.shutdown(_socket.SHUT_RD)
        mine.setblocking(False)
        st = os.fstat(theirs.fileno())  # what the run's fd 1 (or 2) is: where a write recorded as going there went
        streams[name] = {"mine": mine, "theirs": theirs, "chunks": [], "size": 0, "eof": False, "id": [st.st_dev, st.st_ino]}
    return streams


def connector():
    """A socket on which the kernel tells every fork, exec and exit, or None where it will not
    (it needs CAP_NET_ADMIN: root)."""
    import _socket
    import _struct

    try:
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, NETLINK_CONNECTOR)
    except (OSError, AttributeError):
        return None
    try:
        sock.bind((0, CN_IDX_PROC))
        try:
            sock.setsockopt(_socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            pass
        header = _struct.pack("=IHHII", 16 + 20 + 4, 3, 0, 0, os.getpid())  # nlmsghdr, NLMSG_DONE
        body = _struct.pack("=IIIIHH", CN_IDX_PROC, CN_VAL_PROC, 0, 0, 4, 0) + _struct.pack("=I", PROC_CN_MCAST_LISTEN)
        sock.send(header + body)
        sock.setblocking(False)
    except OSError:
        sock.close()
        return None
    return sock


def first_look(pid: int) -> dict:
    """What /proc says of a process when its first record arrives: its parent, its command line,
    and whether it began as a copy of its parent (fork: the same arguments at the same address)
    or as a program of its own (exec)."""
    stat = read_stat(pid)
    if stat is None:
        return {"parent": None, "argv": None, "began": None}
    parent = int(stat[1])
    mine, theirs = stat[45:47], (read_stat(parent) or [b""] * 47)[45:47]  # arg_start, arg_end (fields 48-49)
    argv = cmdline(pid)
    began = None
    if mine and theirs and mine[0] != b"0" and theirs[0] != b"0":
        began = "fork" if mine == theirs and argv == cmdline(parent) else "exec"
    return {"parent": parent, "argv": argv, "began": began}


# Each run's own bounds where the kernel gives them (root, cgroup v1: here and in CI): so many
# processes (a fork bomb fails its own run, not the runs beside it) and so much memory.
RUN_PIDS, RUN_MEMORY = 1024, 1 << 30
FILE_SIZE = 1 << 30  # bytes a run's process may write to one file (RLIMIT_FSIZE): a full disk is every run's problem


class Bounds:
    """The run's own cgroups (v1 pids and memory, under the supervisor's own), entered by the supervisor
    before it starts the main process, so that everything the run starts is in them; or none where
    they cannot be made (not root, cgroup v2, macOS): then `made` is False."""

    LIMITS = (("pids", "pids.max", RUN_PIDS), ("memory", "memory.limit_in_bytes", RUN_MEMORY))

    def __init__(self, name: str):
        self.places = []  # (the run's cgroup, the one it is made in)
        for (_, limit, value), (folder, parent) in zip(self.LIMITS, self.where(name), strict=False):
            try:
                os.mkdir(folder)
            except OSError:
                break
            self.places.append((folder, parent))
            try:
                with open(f"{folder}/{limit}", "w", encoding="ascii") as f:
                    f.write(str(value))
                with open(f"{folder}/cgroup.procs", "w", encoding="ascii") as f:
                    f.write(str(os.getpid()))
            except OSError:
                break
        else:
            if len(self.places) == len(self.LIMITS):
                return
        self.leave()  # not all of them: none

    @classmethod
    def where(cls, name: str) -> list[tuple[str, str]]:
        """(the run's cgroup, the one it is made in) for each controller: under this process's own."""
        try:
            with open("/proc/self/cgroup", encoding="ascii") as f:
                mine = dict(line.strip().split(":", 2)[1:] for line in f if line.count(":") >= 2)
        except OSError:
            return []
        parents = [f"/sys/fs/cgroup/{controller}{mine.get(controller, '/')}".rstrip("/") for controller, _, _ in cls.LIMITS]
        return [(f"{parent}/{name}", parent) for parent in parents]

    @property
    def made(self) -> bool:
        return bool(self.places)

    def leave(self) -> None:
        """Back to the supervisor's own cgroups, and the run's removed (they must be empty: the run is over)."""
        for _, parent in self.places:
            try:
                with open(f"{parent}/cgroup.procs", "w", encoding="ascii") as f:
                    f.write(str(os.getpid()))
            except OSError:
                pass
        self.remove_folders([folder for folder, _ in self.places])
        self.places = []

    @classmethod
    def remove(cls, name: str) -> None:
        """The warden's clean-up of a supervisor it killed (it started in the same cgroups)."""
        cls.remove_folders([folder for folder, _ in cls.where(name) if os.path.isdir(folder)])

    @staticmethod
    def remove_folders(folders: list[str]) -> None:
        for folder in folders:
            for _ in range(50):  # a process killed a moment ago may still be counted
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def exit_code(status: int | None) -> int | None:
    """A wait status as subprocess shows it: the exit status, or -N when killed by signal N."""
    if status is None:
        return None
    try:
        return os.waitstatus_to_exitcode(status)
    except ValueError:
        return None


def spawn(command: list[str], env: dict, fds: dict[int, int]) -> int:
    """Start the main process with `fds` as its descriptors (1, 2) and default dispositions for the
    signals subprocess restores and the terminal's stops (which the supervisor ignores)."""
    defaults = (signal.SIGPIPE, signal.SIGXFSZ, *TERMINAL_STOPS)
    if hasattr(os, "posix_spawnp"):
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in fds.items()]
        return os.posix_spawnp(command[0], command, env, file_actions=actions, setsigdef=defaults)
    # PyPy has no posix_spawnp (nor POSIX_SPAWN_DUP2): fork and exec, a failed exec told through a pipe.
    failed, tell = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(failed)
            for sig in defaults:
                signal.signal(sig, signal.SIG_DFL)
            for target, fd in fds.items():
                os.dup2(fd, target)
            os.execvpe(command[0], command, env)
        except OSError as exc:
            os.write(tell, str(exc.errno or 0).encode())
        os._exit(127)
    os.close(tell)
    errno = os.read(failed, 16)
    os.close(failed)
    if errno:
        os.waitpid(pid, 0)
        raise OSError(int(errno), os.strerror(int(errno)))
    return pid


def warden(args: Options, supervisor: int, subreaper: bool, deathsig: bool, stderr) -> int:
    """The supervisor's parent: waits for it to end or stop. When it ends as it should, so does the
    warden, with its status. When it was killed or stopped (by the run: nothing else signals it),
    the warden kills it and the whole run (a subreaper: the run's orphans are its children now; in
    tree mode, by the marker) and sends the report saying so. When the runner is gone or asks for
    a stop (SIGTERM), the supervisor is asked to stop the run, and given a few seconds to."""
    stopping: list[str] = []

    def runner_gone(*_) -> None:
        if not stopping:
            stopping.append("runner gone")
            raise Stop("runner gone")

    def tick(*_) -> None:
        if os.getppid() != args.runner:
            runner_gone()

    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # inside the try, as in the supervisor
            signal.signal(sig, runner_gone)
        if not deathsig:  # no PR_SET_PDEATHSIG (macOS, and its mode here): look at the parent every tick
            signal.signal(signal.SIGALRM, tick)
            signal.setitimer(signal.ITIMER_REAL, TICK, TICK)
        tick()
        _, status = os.waitpid(supervisor, os.WUNTRACED)
    except Stop:
        for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        kill([supervisor], signal.SIGTERM)
        status = wait_child(supervisor, 5.0)
        if status is None:
            kill([supervisor])
            os.waitpid(supervisor, 0)
        # Killed before it could stop the run (the SIGTERM came before its handler), or too slow: the warden does.
        if status is None or not os.WIFEXITED(status):
            Tree(subreaper, os.environ.get(contract.RUN_MARKER)).stop(1.0)
        return 1
    signal.setitimer(signal.ITIMER_REAL, 0)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    sig = os.WSTOPSIG(status) if os.WIFSTOPPED(status) else os.WTERMSIG(status)
    try:
        name = signal.Signals(sig).name
    except ValueError:  # a real-time signal
        name = "no name"
    how = f"{'stopped' if os.WIFSTOPPED(status) else 'killed'} by signal {sig} ({name})"
    if os.WIFSTOPPED(status):
        kill([supervisor])
        os.waitpid(supervisor, 0)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # nothing may interrupt the clean-up
    Tree(subreaper, os.environ.get(contract.RUN_MARKER)).stop(1.0)
    left = bytearray()  # what the run wrote on stderr that the supervisor did not live to read: to the runner's file
    while len(left) < OUTPUT_LIMIT:
        try:
            data = stderr.recv(1 << 16)
        except OSError:
            break
        if not data:
            break
        left += data
    write_all(2, left)
    Bounds.remove(f"harness-{os.environ.get(contract.RUN_MARKER) or supervisor}")
    send(args.report, [(contract.FRAME_REPORT, -1, to_json({"supervisor": how}).encode())])
    return 0


def wait_child(pid: int, seconds: float) -> int | None:
    """The wait status of a child that ends within `seconds`, else None (stopped, or still going)."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done or time.monotonic() >= deadline:
            return status if done else None
        time.sleep(0.02)


def send(fd: int, frames) -> None:
    """Frames to the runner: `KIND PID SIZE\\n` and SIZE bytes each."""
    out = bytearray()
    for kind, pid, data in frames:
        out += f"{kind} {pid} {len(data)}\n".encode() + data
        if len(out) > 1 << 20:
            write_all(fd, out)
            out = bytearray()
    write_all(fd, out)


def write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except InterruptedError:
            pass
        except OSError:
            return  # the runner is gone: nobody is waiting for the report


def main() -> int:
    args = Options(sys.argv[1:])
    os.set_inheritable(args.report, False)  # the supervisor's and the warden's, never the run's

    linux = sys.platform == "linux" and not args.tree  # prctl needs Linux itself; tree=1 does without, as macOS
    subreaper = linux and prctl(PR_SET_CHILD_SUBREAPER, 1)
    if linux:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    for sig in TERMINAL_STOPS:  # Ctrl-Z stops pytest and the example, not their judges
        signal.signal(sig, signal.SIG_IGN)
    parent = os.getpid()
    streams = output_streams(credentials=subreaper)
    supervisor = os.fork()
    if supervisor:
        for stream in streams.values():
            stream["theirs"].close()
        return warden(args, supervisor, subreaper, linux, streams["err"]["mine"])
    # The supervisor: the warden is its parent now. Neither attribute is inherited through fork.
    subreaper = subreaper and prctl(PR_SET_CHILD_SUBREAPER, 1)
    if linux:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    marker = os.environ.get(contract.RUN_MARKER, "")
    tree = Tree(subreaper, marker or None)
    started = time.monotonic()
    deadline = started + args.timeout
    stopping: list[str] = []  # why the run is being stopped: set by a signal, acted on by the loop

    def runner_gone(*_) -> None:
        stopping.append("runner gone")

    main_pid, returncode, at_main_exit, leftovers, starting = None, None, None, [], {}
    channels = bounds = None
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, runner_gone)
        if os.getppid() != parent:  # the runner died before PR_SET_PDEATHSIG was in place
            return 1
        import select

        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that SIGCHLD wakes the loop
        channels = Channels(credentials=subreaper, marker=marker, limit=args.limit, report=args.report, streams=streams)
        env = dict(os.environ)
        if channels.address:
            env[contract.RECORDS] = channels.address
        elif args.evidence:
            env[contract.EVIDENCE] = args.evidence
        if args.nice:
            os.nice(args.nice)  # inherited by every process of the example
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dumps on the machine's disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE, FILE_SIZE))
        bounds = Bounds(f"harness-{marker or os.getpid()}") if linux else None
        try:
            main_pid = spawn(args.command, env, {1: channels.out["theirs"].fileno(), 2: channels.err["theirs"].fileno()})
        except OSError as exc:
            print(f"supervisor: cannot start {args.command[0]}: {exc.strerror}", file=sys.stderr)
            return 2
        channels.spawned()
        poll = select.poll()
        for sock in (*channels.fds(), wake_read):
            poll.register(sock, select.POLLIN)
        helpers_until = None  # once the example's own processes are gone: how long the helpers may take
        why = ""
        while True:
            left = deadline - time.monotonic()
            try:
                ready = poll.poll(max(0.0, min(TICK, left)) * 1000)
            except InterruptedError:
                ready = []
            for fd, _ in ready:
                if fd == wake_read:
                    try:
                        os.read(wake_read, 512)
                    except OSError:
                        pass
                    continue
                sock = next((s for s in channels.fds() if s.fileno() == fd), None)
                if sock is None:
                    poll.unregister(fd)  # a stream that ended
                    continue
                why = why or channels.drain(sock)
                if sock in (channels.out["mine"], channels.err["mine"]) and (channels.out if sock is channels.out["mine"] else channels.err)["eof"]:
                    poll.unregister(fd)
            if stopping or os.getppid() != parent:
                raise Stop("runner gone")
            if why:
                break  # output_limit, records_limit
            tree.reap()
            if returncode is None and main_pid in tree.exits:
                returncode = os.waitstatus_to_exitcode(tree.exits[main_pid])
                # Everything written before the main process exited is in the sockets now.
                why = channels.drain_all()
                at_main_exit = channels.out["size"]
                late = own_processes_alive(tree, channels, main_pid, args.evidence)
                starting = still_starting(late, channels, args.evidence)  # they get the grace, as the helpers do
                late = {pid: cmd for pid, cmd in late.items() if pid not in starting}
                if late:
                    leftovers = late
                    break
                helpers_until = time.monotonic() + args.grace
            if returncode is not None:
                alive = tree.members()
                ran = {
                    pid: f"ran its Process after the main process had exited: {cmd}"
                    for pid, cmd in starting.items()
                    if ran_its_process(pid, channels, args.evidence)
                }
                if not alive and not ran:
                    break
                if time.monotonic() >= helpers_until or ran:
                    leftovers = {**alive, **ran}
                    break
            if time.monotonic() >= deadline:
                why = "timeout"
                break
        if leftovers or why:
            tree.stop(args.grace if why == "timeout" or leftovers else 1.0)
        if why == "timeout":
            returncode = None
    except Stop:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # nothing may interrupt the clean-up
        tree.stop(1.0)
        if bounds is not None:
            bounds.leave()
        return 1  # nobody is waiting for a report
    # The last of the output and records: everything is dead, so the streams end.
    end = time.monotonic() + 1.0
    while channels is not None and not (channels.out["eof"] and channels.err["eof"]) and time.monotonic() < end:
        channels.drain_all()
        tree.reap()
        time.sleep(0.005)
    channels.drain_all()
    tree.reap()
    bounded = bounds is not None and bounds.made
    if bounds is not None:
        bounds.leave()
    processes = None
    if channels.events is not None:  # exit statuses: the kernel's wait status, as the reaper would see it
        processes = channels.processes
        for pid, proc in processes.items():
            raw = tree.exits.get(pid, proc.pop("raw", None))
            proc["reaped"] = pid in tree.exits and pid != main_pid
            proc["status"] = exit_code(raw)
            proc.pop("alive", None)
    report = {
        "returncode": returncode,
        "stopped": why,
        "leftovers": [f"pid {pid}: {cmd[:200]}" for pid, cmd in sorted(leftovers.items())] if leftovers else [],
        "main_pid": main_pid,
        "seconds": time.monotonic() - started,
        "stdout_at_main_exit": at_main_exit,
        "stdout_size": channels.out["size"],
        "stderr_size": channels.err["size"],
        "stdout_id": channels.out["id"],
        "attested": bool(channels.credentials),
        "processes": processes,
        "kernel_events": "connector" if channels.events is not None else "records" if channels.credentials else None,
        "first_seen": {str(pid): seen for pid, seen in channels.first_seen.items()},
        "reaped": {str(pid): exit_code(status) for pid, status in tree.exits.items()},
        "lost": channels.lost,
        "adopter": os.getpid(),  # the subreaper: an orphan's parent from then on
        "subreaper": subreaper,
        "bounded": bounded,
    }
    frames = list(channels.frames)
    frames += [(contract.FRAME_STDOUT, pid, bytes(data)) for pid, data in channels.out["chunks"]]
    frames += [(contract.FRAME_STDERR, pid, bytes(data)) for pid, data in channels.err["chunks"]]
    frames.append((contract.FRAME_REPORT, -1, to_json(report).encode()))
    send(args.report, frames)
    return 0


def still_starting(members: dict[int, str], channels: Channels, evidence: str) -> dict[int, str]:
    """The spawn children among `members` that no process of the run recorded starting (no "started"
    record names them): their parent died starting them, so they never ran the program. Windows
    creates a spawn child before it pickles the process object (popen_spawn_win32), so a target that
    cannot be pickled leaves one, still starting, when main dies of it (emulate-windows does the
    same: inject/win32_spawn.py). Read as bytes, not JSON (the supervisor's start-up cost)."""
    spawned = {pid: cmd for pid, cmd in members.items() if cmd.endswith(SPAWN_CHILD)}
    if spawned:
        for line in record_lines(channels, evidence):
            if b'"e":"started"' in line and b'"child":' in line:
                try:
                    spawned.pop(int(line.split(b'"child":', 1)[1].split(b",", 1)[0].split(b"}", 1)[0]), None)
                except ValueError:
                    pass
    return spawned


def ran_its_process(pid: int, channels: Channels, evidence: str) -> bool:
    """Whether the process recorded running its Process (BaseProcess._bootstrap)."""
    return any(b'"e":"bootstrap"' in line and f'"pid":{pid},'.encode() in line for line in record_lines(channels, evidence, pid))


def record_lines(channels: Channels, evidence: str, pid: int | None = None) -> list[bytes]:
    """The records received so far (of one process, if given): on the socket, or in the files (tree mode)."""
    if not evidence:
        return [data for _, sender, data in channels.frames if pid is None or sender == pid]
    found = []
    for entry in os.scandir(evidence):
        if pid is None or entry.name == f"{pid}.log":
            try:
                with open(entry.path, "rb") as f:
                    found += f.read(contract.LOG_LIMIT).splitlines()
            except OSError:
                pass
    return found


def own_processes_alive(tree: Tree, channels: Channels, main_pid: int, evidence: str = "") -> dict[int, str]:
    """The example's own processes still alive once the main process has exited (the fork server
    and the resource tracker aside: they get the grace). With the kernel's events: each process
    whose last task had not exited when the main process's had (exact); without: what /proc shows now.
    A helper is known by its command line as it was when it began (one read now may be empty: it is
    exiting), else by its records' word (tree mode)."""

    def known(pid: int, now: str) -> str:
        seen = channels.processes.get(pid, {}).get("argv") or channels.first_seen.get(pid, {}).get("argv")
        if seen:
            return seen
        said = b"".join(line for line in record_lines(channels, evidence, pid) if b'"e":"role"' in line)
        return next((name for name in HELPERS if f'"role":"{name.rsplit(".", 1)[1]}"'.encode() in said), now)

    helper = lambda cmd: any(name in cmd for name in HELPERS)  # noqa: E731
    if channels.events is None:
        return {pid: cmd for pid, cmd in tree.members().items() if not helper(known(pid, cmd))}
    channels.drain_all()  # the events up to the main process's exit are all there now
    found = {}
    for pid, up in channels.alive_by_events().items():
        if not up or pid == main_pid:
            continue
        channels.processes[pid]["after_main"] = True
        command = known(pid, cmdline(pid))
        if not helper(command):
            found[pid] = command
    return found


if __name__ == "__main__":
    code = main()
    # The warden and the supervisor end without the interpreter's clean-up: nothing of theirs is
    # left to flush but stderr, and the clean-up of two processes is the largest cost of a run here.
    sys.stderr.flush()
    os._exit(code)
