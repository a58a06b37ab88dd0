"""Run one example's main process and contain every process it creates, however it was started.

    python -I -S harness/supervisor.py report=FILE timeout=S settle=S grace=S runner=PID [nice=N]
                                       [tree=1] [hello=SOCKET] -- PYTHON -X dev EXAMPLE.py

The runner starts one supervisor per run (stdout and stderr are the run's files, passed on to the
example). On Linux the supervisor is a child subreaper (PR_SET_CHILD_SUBREAPER): every process the
example creates stays its descendant, even one started with an empty environment in a new session
or orphaned by a double fork, so "the run's processes" is simply its process tree. It dies with
the runner (PR_SET_PDEATHSIG, and a check of its parent every tick for the rest): a cancelled CI
job, an OOM kill or a closed terminal takes the whole run down, never leaves it running.

Elsewhere (macOS: no subreaper, no parent-death signal) the tree is supplemented by the run's
marker in the environment (psutil), and the runner's death is seen by the parent changing; an
orphan started with an empty environment escapes that, as the README says. `tree=1` is that mode,
on Linux too (the runner asks for it under macOS's emulation, harness/platforms.py).

The run could take the supervisor down (it is the main process's parent, same user: SIGKILL,
SIGSTOP), so the supervisor is forked from a warden that stays its parent. On Linux the warden is a
child subreaper too: when the supervisor dies, its orphans come to the warden. Whatever ends or
stops the supervisor, the warden sees it (waitpid with WUNTRACED), kills it and the whole run and
reports how the supervisor ended; the runner then fails the cell in one line. What the warden
adds to a run is one fork and a blocked waitpid. The supervisor and the warden ignore the
terminal's stop signals (Ctrl-Z), so only SIGSTOP can stop them.

What the supervisor sees itself is the run's facts, which no record the run writes can change (the
evidence is checked against them, harness/evidence.py: Facts): the main process's pid and exit, how
much of stdout there was when the main process exited (its file is the supervisor's own stdout),
and, on Linux, each process that started under the run: every Python process of it says hello on
the supervisor's datagram socket (`hello=`, HARNESS_HELLO) as it starts, and the kernel names the
sender (SO_PASSCRED), whose parent the supervisor reads in /proc at once (SIGIO wakes it).

When the main process exits, the example's own processes get SETTLE seconds to finish exiting (none:
a correct program has joined them), the fork server and resource tracker GRACE seconds; whatever is still alive is a leftover, reported and
killed, the resource tracker last so that it can still unlink the run's semaphores. At TIMEOUT the
whole tree is killed the same way. The report (JSON) says what happened. There is one
supervisor per run, so it starts as fast as it can: standard library only, no argparse or json
(importing json, and with it re, costs more CPU than starting the interpreter: the report is written
by `to_json`), under `-I -S` where it needs no psutil.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

try:
    from _json import encode_basestring_ascii as quote
except ImportError:  # an interpreter without CPython's accelerator
    from json.encoder import py_encode_basestring_ascii as quote

TRACKER = "multiprocessing.resource_tracker"
HELPERS = (TRACKER, "multiprocessing.forkserver")  # they outlive a correct main process briefly
TICK = 0.2  # seconds between checks of the deadline and of the runner while waiting
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
TERMINAL_STOPS = (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
MARKER = "HARNESS_RUN_ID"
EXITING = "<exiting>"  # what a process that is exiting is called (PF_EXITING, or an empty command line)
PF_EXITING = 0x4  # /proc/PID/stat's flags: the process is in exit()
SPAWN_CHILD = "--multiprocessing-fork"  # the last argument of a spawn child's command line (multiprocessing.spawn)


class Stop(Exception):
    """Waiting ends early: the deadline passed, or the runner is gone."""


def prctl(option: int, value: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, value, 0, 0, 0) == 0


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
        """{pid: command line} of every live descendant (zombies are gone, not alive)."""
        children = self.reap()
        if self.subreaper:
            return self._proc_tree() if children else {}
        import psutil  # not needed on Linux (the containers have none); the tox envs have it

        found = {}
        procs = {p.pid: p for p in psutil.Process(self.me).children(recursive=True)}
        if self.marker:  # an orphan is no longer in the tree: its marker still says whose it is
            for proc in psutil.process_iter():
                try:
                    if proc.pid not in procs and proc.pid not in (self.me, self.parent) and proc.environ().get(MARKER) == self.marker:
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
        exiting: set[int] = set()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue  # gone
            # "pid (comm) state ppid pgrp session tty tpgid flags ...": comm may hold spaces and parentheses
            fields = stat[stat.rindex(b")") + 2 :].split(b" ", 7)
            if fields[0] != b"Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
                if int(fields[6]) & PF_EXITING:  # the kernel is ending it: its code has run its last
                    exiting.add(int(entry.name))
        found, todo = {}, list(children.get(self.me, []))
        while todo:
            pid = todo.pop()
            found[pid] = EXITING if pid in exiting else cmdline(pid)
            todo += children.get(pid, [])
        return found

    def wait_gone(self, seconds: float, which=lambda _cmd: True) -> dict[int, str]:
        """Wait until no live member matches `which` (its command line), new members included;
        return those still alive after `seconds`."""
        deadline = time.monotonic() + seconds
        if self.subreaper:
            # A subreaper with a live descendant has a live child (an orphan becomes its child), so
            # waiting for the children to be gone needs no scan of /proc (milliseconds each on a
            # busy machine); only what is left then is looked at, and named.
            while self.reap() and (left := deadline - time.monotonic()) > 0:
                wait_for_signal(signal.SIGCHLD, left)  # blocked by main(): pending until taken here
        while True:
            alive = {pid: cmd for pid, cmd in self.members().items() if which(cmd)}
            if not alive or time.monotonic() >= deadline:
                return alive
            time.sleep(0.02)

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
        kill(self.wait_gone(grace))  # the tracker, if it has not exited by itself
        kill(self.members())


def to_json(value) -> str:
    """JSON for the report's kinds of value: None, bool, int, finite float, str, list, dict."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(to_json, value)) + "]"
    return "{" + ",".join(quote(str(k)) + ":" + to_json(v) for k, v in value.items()) + "}"


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return one_line(f.read().replace(b"\0", b" ").decode("utf-8", "backslashreplace"))
    except OSError:
        return "<gone>"


def one_line(command: str) -> str:
    """A command line for a one-line report: an argument may hold newlines (python -c)."""
    return " ".join(command.split()) or EXITING


def kill(pids, sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


class Hellos:
    """The supervisor's datagram socket, where each Python process of the run says it started (the
    start-up hook, HARNESS_HELLO): the kernel attaches the sender's pid to each datagram, so the
    supervisor knows which processes ran, and their parents, without a record of theirs."""

    def __init__(self, path: str):
        import _socket
        import fcntl

        self._socket = _socket
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)  # not inherited by the run (PEP 446)
        self.sock.bind(path)
        self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
        fd = self.sock.fileno()
        fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())  # SIGIO: taken as they come, while the sender waits
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC | os.O_NONBLOCK)
        self.seen: dict[int, int | None] = {}  # pid -> its parent when it said hello (None: not known)
        self.me = os.getpid()
        signal.signal(signal.SIGIO, self.drain)

    def drain(self, *_) -> None:
        space = self._socket.CMSG_SPACE(12)  # struct ucred: pid, uid, gid
        while True:
            try:
                _, ancillary, _, _ = self.sock.recvmsg(16, space)
            except OSError:  # nothing more (EAGAIN), or closed
                return
            for level, kind, data in ancillary:
                if level == self._socket.SOL_SOCKET and kind == self._socket.SCM_CREDENTIALS and len(data) >= 4:
                    pid = int.from_bytes(data[:4], sys.byteorder)
                    parent = parent_of(pid)
                    # Its parent may have exited since it said hello: then the supervisor (a subreaper)
                    # has adopted it, and who its parent was is not known (nor is it, for the main process).
                    self.seen[pid] = None if parent == self.me else parent


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2 :].split(b" ", 2)[1])


class Options:
    """key=value arguments, then -- and the command: the runner writes them, nobody types them."""

    def __init__(self, argv: list[str]):
        cut = argv.index("--")
        given = dict(arg.split("=", 1) for arg in argv[:cut])
        self.command = argv[cut + 1 :]
        self.report = given["report"]
        self.timeout, self.settle, self.grace = (float(given[k]) for k in ("timeout", "settle", "grace"))
        self.runner = int(given["runner"])  # stop everything when this process is gone
        self.nice = int(given.get("nice", 0))  # run the example at a lower CPU priority: this nice value
        self.tree = given.get("tree") == "1"  # as on macOS: no subreaper, no parent-death signal
        self.hello = given.get("hello")  # where the run's processes say they started (Linux)


def warden(args: Options, supervisor: int, subreaper: bool, deathsig: bool) -> int:
    """The supervisor's parent: waits for it to end or stop. When it ends as it should, so does the
    warden, with its status. When it was killed or stopped (by the run: nothing else signals it),
    the warden kills it and the whole run (a subreaper: the run's orphans are its children now; in
    tree mode, by the marker) and writes the report saying so. When the runner is gone or asks for
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
            Tree(subreaper, os.environ.get(MARKER)).stop(1.0)
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
    Tree(subreaper, os.environ.get(MARKER)).stop(1.0)
    with open(args.report, "w", encoding="utf-8") as f:
        f.write(to_json({"supervisor": how}))
    return 0


def still_starting(members: dict[int, str]) -> dict[int, str]:
    """The spawn children among `members` that no process of the run recorded starting (their
    "started" records, inject/mp_evidence.py): their parent died starting them, so they never ran the
    program. Windows creates a spawn child before it pickles the process object (popen_spawn_win32),
    so a target that cannot be pickled leaves one, still starting, when main dies of it; emulate-windows
    does the same (inject/emulate_win32.py). A runner.contained_windows rule, read here from the run's
    records as files (HARNESS_EVIDENCE); bytes, not json (the supervisor's start-up cost)."""
    spawned = {pid: cmd for pid, cmd in members.items() if cmd.endswith(SPAWN_CHILD)}
    folder = os.environ.get("HARNESS_EVIDENCE")
    if not spawned or not folder:
        return {}
    for entry in os.scandir(folder):
        try:
            with open(entry.path, "rb") as f:
                for line in f:
                    if b'"e":"started"' in line and b'"child":' in line:
                        spawned.pop(int(line.split(b'"child":', 1)[1].split(b",", 1)[0]), None)
        except (OSError, ValueError):
            pass
    return spawned


def ran_its_process(pid: int) -> bool:
    """Whether the process recorded running its Process (BaseProcess._bootstrap)."""
    try:
        with open(os.path.join(os.environ.get("HARNESS_EVIDENCE", ""), f"{pid}.log"), "rb") as f:
            return b'"e":"bootstrap"' in f.read()
    except OSError:
        return False


def spawn(command: list[str], defaults: tuple[int, ...]) -> int:
    """Start the main process, with the signals `defaults` back to SIG_DFL (the supervisor ignores
    them), and return its pid; OSError if it cannot be started. PyPy has no os.posix_spawnp: there
    the supervisor forks and execs, and the child sends the exec's errno back on a pipe that closes
    on exec, so that a missing program is the same one-line error."""
    if hasattr(os, "posix_spawnp"):
        return os.posix_spawnp(command[0], command, os.environ, setsigdef=defaults)
    failed_r, failed_w = os.pipe()  # not inherited through exec (PEP 446)
    pid = os.fork()
    if pid == 0:
        try:  # nothing but the exec runs here; the child ends with os._exit whatever happens
            for sig in defaults:
                signal.signal(sig, signal.SIG_DFL)
            os.execvpe(command[0], command, os.environ)
        except OSError as exc:
            os.write(failed_w, str(exc.errno).encode())
        finally:
            os._exit(127)
    os.close(failed_w)
    with open(failed_r, "rb") as pipe:
        failed = pipe.read()  # nothing (EOF at the exec) when the program started
    if failed:
        os.waitpid(pid, 0)
        raise OSError(int(failed), os.strerror(int(failed)))
    return pid


def wait_for_signal(sig: int, seconds: float) -> None:
    """Wait for a blocked signal to be pending, at most `seconds`, and take it (PyPy has no
    sigtimedwait: it polls)."""
    if hasattr(signal, "sigtimedwait"):
        signal.sigtimedwait([sig], seconds)
    else:
        time.sleep(min(seconds, 0.01))


def wait_child(pid: int, seconds: float) -> int | None:
    """The wait status of a child that ends within `seconds`, else None (stopped, or still going)."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done or time.monotonic() >= deadline:
            return status if done else None
        time.sleep(0.02)


def main() -> int:
    args = Options(sys.argv[1:])

    linux = sys.platform == "linux" and not args.tree  # prctl needs Linux itself; tree=1 does without, as macOS
    subreaper = linux and prctl(PR_SET_CHILD_SUBREAPER, 1)
    if linux:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    for sig in TERMINAL_STOPS:  # Ctrl-Z stops pytest and the example, not their judges
        signal.signal(sig, signal.SIG_IGN)
    parent = os.getpid()
    supervisor = os.fork()
    if supervisor:
        return warden(args, supervisor, subreaper, linux)
    # The supervisor: the warden is its parent now. Neither attribute is inherited through fork.
    subreaper = subreaper and prctl(PR_SET_CHILD_SUBREAPER, 1)
    if linux:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    tree = Tree(subreaper, os.environ.get(MARKER))
    main_pid = None
    started = time.monotonic()
    deadline = started + args.timeout

    # Stop is raised once: when the runner dies, its SIGTERM (PR_SET_PDEATHSIG) and the tick that
    # sees a new parent come together, and a second Stop raised inside the clean-up would end the
    # supervisor before it has killed the run.
    stopping: list[str] = []

    def halt(why: str) -> None:
        if not stopping:
            stopping.append(why)
            raise Stop(why)

    def tick(*_):
        if os.getppid() != parent:
            halt("runner gone")
        if time.monotonic() >= deadline:
            halt("timeout")

    def runner_gone(*_):
        halt("runner gone")

    hellos = None
    try:
        # Inside the try: a SIGTERM may come as soon as a handler is in place (before it, it kills
        # the supervisor, and the warden stops the run).
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, runner_gone)
        signal.signal(signal.SIGALRM, tick)
        tick()  # the runner may have died before PR_SET_PDEATHSIG was in place
        if subreaper and args.hello:
            hellos = Hellos(args.hello)
            os.environ["HARNESS_HELLO"] = args.hello
        if args.nice:
            os.nice(args.nice)  # inherited by every process of the example
        try:
            # SIGPIPE and SIGXFSZ as subprocess does; the terminal's stops, which the supervisor ignores
            defaults = (signal.SIGPIPE, signal.SIGXFSZ, *TERMINAL_STOPS)
            main_pid = spawn(args.command, defaults)
        except OSError as exc:
            print(f"supervisor: cannot start {args.command[0]}: {exc.strerror}", file=sys.stderr)
            return 2
        if subreaper:  # (after the spawn, which would pass the mask on) wait_gone waits for it
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
        signal.setitimer(signal.ITIMER_REAL, TICK, TICK)
        while main_pid not in tree.exits:
            pid, status = os.waitpid(-1, 0)  # interrupted by the tick when it raises
            tree.exits[pid] = status
        at_main_exit = os.fstat(1).st_size  # what the main process lived to see written
        signal.setitimer(signal.ITIMER_REAL, 0)
        returncode = os.waitstatus_to_exitcode(tree.exits[main_pid])
        # A process whose command line is empty has released its memory: it is past running any
        # code of its own (its writes are done) and only the kernel is finishing it, which on a
        # loaded machine can take seconds. It is gone as far as the run is concerned.
        running = lambda cmd: cmd != EXITING  # noqa: E731
        late = tree.wait_gone(args.settle, lambda cmd: running(cmd) and not any(helper in cmd for helper in HELPERS))
        starting = still_starting(late)  # they get the grace, as the helpers do
        late = {pid: cmd for pid, cmd in late.items() if pid not in starting}
        if not late:  # the example's own processes are gone: the helpers may finish their work
            late = tree.wait_gone(args.grace, running)
            late.update({pid: f"ran its Process after the main process had exited: {cmd}" for pid, cmd in starting.items() if ran_its_process(pid)})
        outcome = {
            "returncode": returncode,
            "leftovers": [f"pid {pid}: {cmd[:200]}" for pid, cmd in sorted(late.items())],
            "stdout_at_main_exit": at_main_exit,
        }
        if late:
            tree.stop(args.grace)
    except Stop as why:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # nothing may interrupt the clean-up
        tree.stop(args.grace if str(why) == "timeout" else 1.0)
        if str(why) != "timeout":
            return 1  # nobody is waiting for a report
        outcome = {"returncode": None, "leftovers": []}
    if hellos is not None:
        signal.signal(signal.SIGIO, signal.SIG_IGN)
        hellos.drain()
    outcome.update(
        main_pid=main_pid,
        seconds=time.monotonic() - started,
        subreaper=subreaper,
        reaped={str(pid): os.waitstatus_to_exitcode(status) for pid, status in tree.exits.items()},
        attested=hellos.seen if hellos is not None else None,
        adopter=os.getpid(),  # the subreaper: an orphan's parent from then on
    )
    with open(args.report, "w", encoding="utf-8") as f:
        f.write(to_json(outcome))
    return 0


if __name__ == "__main__":
    code = main()
    # The warden and the supervisor end without the interpreter's clean-up: nothing of theirs is
    # left to flush but stderr, and the clean-up of two processes is the largest cost of a run here.
    sys.stderr.flush()
    os._exit(code)
