"""Run one example as a reader would, under a chosen start method, and collect what it did.

`python -X dev EXAMPLE.py`, the file unchanged: the start method is forced from outside by the
start-up hook in `inject/` (see its docstring). Every process of the run carries a marker in its
environment, which is how its processes are found once the main process has exited (they are no
longer its children by then), on Linux, macOS and Windows alike.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

START_METHODS = ("default", "fork", "spawn", "forkserver")
INJECT_DIR = Path(__file__).resolve().parent / "inject"
RUN_MARKER = "HARNESS_RUN_ID"  # its value tags every process of one run
FORCE_METHOD = "HARNESS_START_METHOD"  # read by inject/sitecustomize.py
# The resource tracker unlinks the run's semaphores once every other process of the run is gone.
TRACKER_MARK = "multiprocessing.resource_tracker"
# The tracker and the fork server outlive a correct example's main process by a few milliseconds.
HELPER_MARKS = (TRACKER_MARK, "multiprocessing.forkserver")
SETTLE = 1.0  # seconds a process of the example itself may take to finish exiting after main did


@dataclass(frozen=True)
class Run:
    """One example under one start method, on one interpreter."""

    example: str  # "03_lock"
    method: str  # one of START_METHODS
    python: str  # the interpreter that runs the example
    script: Path | None = None  # the file to run; or None, and then `source` is written to a temp file
    source: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    grace: float = 5.0  # how long the tracker and fork server may outlive the main process
    # Run at a lower CPU priority, so that the slow runs started beside it get their workers going
    # first: all runs then finish in about the time of the slowest one. Output order is unaffected.
    background: bool = False

    @property
    def id(self) -> str:
        return f"{self.example}-{self.method}"


@dataclass
class Outcome:
    run: Run
    interpreter: str  # "CPython 3.12.1"
    resolved_method: str  # what "default" meant on this interpreter, or the forced method
    returncode: int | None  # None when the run was killed at its timeout
    stdout: str
    stderr: str
    leftovers: list[str]  # "pid 123: python -c ..." for each process alive after main exited
    seconds: float
    marker: str  # the value of RUN_MARKER in the run's processes: `members(marker)` finds any still alive

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


class InterpreterError(Exception):
    """The interpreter is missing or does not run."""


@functools.lru_cache(maxsize=None)
def interpreter_info(python: str) -> dict:
    """Name, version, default and available start methods of `python`."""
    probe = (
        "import json, multiprocessing as mp, platform, sysconfig;"
        # free-threaded builds get their own name ('CPython 3.14.0t'), as their own column in reports
        "print(json.dumps({'name': platform.python_implementation() + ' ' + platform.python_version()"
        " + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''),"
        "'default': mp.get_start_method(), 'methods': mp.get_all_start_methods()}))"
    )
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterError(f"cannot run interpreter {python}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"interpreter {python} failed its probe: {last}")
    return json.loads(done.stdout)


ACTIVE: set[str] = set()  # markers of the runs under way, for stop_all()


def stop_all(grace: float = 5.0) -> None:
    """Stop every run under way (an interrupted session must leave nothing running)."""
    for token in list(ACTIVE):
        stop(token, grace)


def execute(run: Run) -> Outcome:
    info = interpreter_info(run.python)
    token = uuid.uuid4().hex
    ACTIVE.add(token)
    try:
        return _execute(run, info, token)
    finally:
        ACTIVE.discard(token)


def _execute(run: Run, info: dict, token: str) -> Outcome:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(INJECT_DIR), os.environ.get("PYTHONPATH")])))
    env[RUN_MARKER] = token
    env.pop(FORCE_METHOD, None)
    env.pop("PYTHONUNBUFFERED", None)  # a reader's terminal line-buffers stdout; unbuffered, lines could split
    if run.method != "default":
        env[FORCE_METHOD] = run.method
    # ignore_cleanup_errors: on Windows a file still open in a process being killed cannot be removed
    with tempfile.TemporaryDirectory(prefix="harness-", ignore_cleanup_errors=True) as tmp:
        script = run.script
        if script is None:
            script = Path(tmp, run.example + ".py")
            script.write_text(run.source, encoding="utf-8")
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        # Files, not pipes: a leftover process holding a pipe open would block the reader, and
        # append mode keeps each line-buffered write of concurrent processes whole.
        with open(out_path, "ab") as out, open(err_path, "ab") as err:
            started = time.monotonic()
            main = subprocess.Popen(
                [run.python, "-X", "dev", str(script)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=script.parent, env=env,
            )
            if run.background:
                lower_priority(main.pid)
            try:
                returncode = main.wait(timeout=run.timeout)
            except subprocess.TimeoutExpired:
                returncode = None
                leftovers = []
                stop(token, run.grace)
                main.wait()
            else:
                leftovers = find_leftovers(token, run.grace)
            seconds = time.monotonic() - started
        return Outcome(
            run=run,
            interpreter=info["name"],
            resolved_method=info["default"] if run.method == "default" else run.method,
            returncode=returncode,
            stdout=read_text(out_path),
            stderr=read_text(err_path),
            leftovers=leftovers,
            seconds=seconds,
            marker=token,
        )


def lower_priority(pid: int) -> None:
    # Set before the example can start any child: its children inherit the priority.
    try:
        psutil.Process(pid).nice(psutil.BELOW_NORMAL_PRIORITY_CLASS if os.name == "nt" else 10)
    except psutil.Error:
        pass  # already gone: nothing to slow down


def read_text(path: Path) -> str:
    # Universal newlines: Windows writes CRLF.
    return path.read_bytes().decode("utf-8", errors="backslashreplace").replace("\r\n", "\n")


def members(token: str) -> list[psutil.Process]:
    """The live processes that carry this run's marker (each with its command line read once)."""
    found = []
    for proc in psutil.process_iter():
        try:
            with proc.oneshot():
                if proc.environ().get(RUN_MARKER) == token and proc.status() != psutil.STATUS_ZOMBIE:
                    # An empty command line: the process is exiting and has released its memory.
                    proc.info = {"cmdline": " ".join(proc.cmdline()) or "<exiting>"}
                    found.append(proc)
        except (psutil.Error, OSError):
            pass  # gone, a zombie, or another user's
    return found


def describe(proc: psutil.Process) -> str:
    return f"pid {proc.pid}: {proc.info['cmdline'][:200]}"


def is_helper(proc: psutil.Process, marks=HELPER_MARKS) -> bool:
    return any(mark in proc.info["cmdline"] for mark in marks)


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; return those still running at the timeout.

    An exited process counts as gone even before its parent reaps it: a zombie whose parent is
    dead waits for init, which can be slow (psutil.wait_procs would count it as alive).
    """
    deadline = time.monotonic() + timeout
    while True:
        running = []
        for proc in procs:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    running.append(proc)
            except psutil.NoSuchProcess:
                pass
        if not running or time.monotonic() >= deadline:
            return running
        procs = running
        time.sleep(0.05)


def find_leftovers(token: str, grace: float) -> list[str]:
    """Processes of the run still alive after its main process exited; they are killed.

    The example's own processes must be gone by then; the resource tracker and the fork server get
    `grace` seconds to notice and exit, and are waited for so that the tracker's leak warnings
    reach stderr before it is read.
    """
    alive = members(token)
    # The example's own processes get a moment only: one alive at main's exit is already a leftover.
    late = wait_gone([p for p in alive if not is_helper(p)], SETTLE)
    if not late:
        late = wait_gone(alive, grace)
    leftovers = [describe(p) for p in late]
    if leftovers:
        stop(token, grace)
    return leftovers


def stop(token: str, grace: float) -> None:
    """Kill every process of the run, the resource tracker last.

    Killed together with the others, the tracker would leave the run's semaphores in /dev/shm for
    good; alone, it unlinks them and exits once the rest are dead.
    """
    for _ in range(5):  # a process may fork while its siblings are being killed
        alive = members(token)
        if not alive:
            return
        others = [p for p in alive if not is_helper(p, (TRACKER_MARK,))]
        for proc in others:
            try:
                proc.kill()
            except psutil.Error:
                pass
        wait_gone(others, grace)
        late = wait_gone([p for p in alive if p not in others], grace)
        for proc in late:
            try:
                proc.kill()
            except psutil.Error:
                pass
