"""Run one example as a reader would, under a chosen start method, and collect what it did.

`python -X dev EXAMPLE.py`, the file unchanged: the start method is forced from outside, and every
process of the run records what it does, by the start-up hook in `inject/` (see its docstrings).
Containment does not trust the example:
- POSIX: a supervisor (`supervisor.py`) starts the main process; on Linux it is a child subreaper
  that dies with the runner, so every process the run creates is found, reported and killed, and
  none outlives a killed runner. macOS has no subreaper: there the supervisor also finds the run's
  processes by a marker in their environment.
- Windows: a job object that kills its processes when closed, so also when the runner dies.
Under emulation (harness/platforms.py) the branches are those of the emulated platform where
they can run on Linux; the job object cannot, and the subreaper, which also contains every
process of the run, stands in for it.
"""

from __future__ import annotations

import functools
import json
import ntpath
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import scratch
from harness.bounded import Unreadable, read_regular
from harness.evidence import Evidence, Facts
from harness.platforms import PLATFORM

HERE = Path(__file__).resolve().parent
INJECT_DIR = HERE / "inject"
SUPERVISOR = HERE / "supervisor.py"
RUN_MARKER = "HARNESS_RUN_ID"  # its value tags every process of one run (supervisor.py: MARKER)
FORCE_METHOD = "HARNESS_START_METHOD"  # read by inject/sitecustomize.py
EVIDENCE_DIR = "HARNESS_EVIDENCE"  # read by inject/mp_evidence.py
# How the run's processes are contained, by platform: the subreaper and the job object hold every
# one of them; the tree (macOS: no subreaper) finds orphans by their marker only. Both the runner
# and the tests (the escapee's xfail) read this one name.
CONTAINMENT = {"linux": "subreaper", "win32": "job"}.get(PLATFORM, "tree")
# Seconds a process of the example itself may take to finish exiting once the main process has
# exited: none, as the README says (a correct program has joined its children; one the kernel is
# ending is gone already). The fork server and resource tracker get the run's grace.
SETTLE = 0.0
# Bytes a run may print to stdout, and to stderr; beyond it, a failure of its own, and only the
# head and tail (KEPT bytes each) are read, kept and shown.
OUTPUT_LIMIT = 4 << 20
KEPT = 32 << 10

__all__ = ["InterpreterError", "Outcome", "Run", "RunError", "UnderWay", "execute", "interpreter_info"]


@dataclass(frozen=True)
class Run:
    """One example under one start method, on one interpreter."""

    example: str  # "03_lock"
    method: str  # one of harness.examples.START_METHODS
    python: str  # the interpreter that runs the example
    script: Path | None = None  # the file to run; or None, and then `source` is written to a temp file
    source: str | None = field(default=None, repr=False)
    spec: Any = field(default=None, compare=False, repr=False)  # its harness.examples.Example: what it claims
    timeout: float = 60.0
    # How long the tracker and fork server may take to exit once the main process has: a few ms
    # usually, seconds on a heavily loaded machine; waiting longer costs only a genuinely stuck one.
    grace: float = 15.0
    # A lower CPU priority (a nice value: 0, 10, 15), so that the slow runs started beside it get
    # their workers going first: all runs then finish in about the time of the slowest one. Output
    # order is unaffected.
    nice: int = 0
    first: bool = False  # started before the session's other runs, which wait for its workers to get going

    @property
    def id(self) -> str:
        return f"{self.example}-{self.method}"

    def launch(self, under_way: UnderWay | None = None) -> Outcome:
        return execute(self, under_way)


@dataclass
class Outcome:
    run: Run
    interpreter: str  # "CPython 3.12.1"
    default_method: str  # what "default" means on this interpreter (its own answer)
    returncode: int | None  # None when the run was killed at its timeout
    raw_stdout: bytes  # as written, for matching against the recorded writes (head and tail only past OUTPUT_LIMIT)
    stderr: str
    leftovers: list[str]  # "pid 123: python -c ..." for each process alive after main exited
    seconds: float
    marker: str  # the value of RUN_MARKER in the run's processes
    evidence: Evidence
    stdout_size: int = 0  # bytes, however many were kept
    stderr_size: int = 0
    output_limit: int = OUTPUT_LIMIT

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def stdout(self) -> str:
        return decode(self.raw_stdout)

    @functools.cached_property
    def method(self) -> str:
        """The start method the run used: the one asked for; for `default`, the one the program
        chose itself if it did (set_start_method, get_context), else the interpreter's default."""
        if self.run.method != "default":
            return self.run.method
        chosen = self.evidence.chosen()
        return chosen[-1]["method"] if chosen else self.default_method

    @property
    def late_output(self) -> bytes:
        """What reached stdout after the main process had exited (the supervisor saw how much there was then)."""
        before = self.evidence.facts.stdout_at_main_exit
        return self.raw_stdout[before:] if before is not None and self.stdout_size <= self.output_limit else b""

    @property
    def observed_method(self) -> str:
        """How the run's children were started, as they saw it; the expected method if it had none."""
        return self.evidence.observed_method() if self.evidence.children else self.method


class InterpreterError(Exception):
    """The interpreter is missing or does not run."""


@functools.cache
def interpreter_info(python: str) -> dict:
    """Name, version, default and available start methods of `python`."""
    probe = (
        "import json, multiprocessing as mp, os, platform, sys, sysconfig;"
        # free-threaded builds get their own name ('CPython 3.14.0t'), as their own column in reports
        "print(json.dumps({'name': platform.python_implementation() + ' ' + platform.python_version()"
        " + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''), 'executable': sys.executable,"
        "'base_executable': getattr(sys, '_base_executable', sys.executable),"
        "'platform': sys.platform, 'emulated': os.environ.get('HARNESS_EMULATE', ''),"
        "'default': mp.get_start_method(), 'methods': mp.get_all_start_methods()}))"
    )
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60, env=emulated_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterError(f"cannot run interpreter {python}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"interpreter {python} failed its probe: {last}")
    return probed(python, done.stdout)


PROBED = {"name": str, "executable": str, "platform": str, "emulated": str, "default": str, "methods": list}


def probed(python: str, printed: str) -> dict:
    """What the probe printed, if it is what a Python prints: /bin/true or a script printing a
    version is not a Python, and is named as such in one line."""
    try:
        info = json.loads(printed)
    except ValueError:
        info = None
    if not isinstance(info, dict) or any(not isinstance(info.get(key), kind) for key, kind in PROBED.items()):
        shown = ascii(printed.strip()[:80]) if printed.strip() else "nothing"
        raise InterpreterError(f"interpreter {python} is not a Python: its probe printed {shown}")
    return info


def platform_label(info: dict) -> str:
    """'linux'; under emulation 'win32 (emulated on linux)', a column of its own in reports."""
    return f"{info['emulated']} (emulated on {info['platform']})" if info["emulated"] else info["platform"]


# The environment as the session began. A test of the harness may change os.environ for a moment
# (PATH, HARNESS_EMULATE, to run a bad command line in-process) while runs start in other threads:
# those runs must not see it.
SESSION_ENVIRONMENT = dict(os.environ)


def emulated_env() -> dict:
    """The environment of an interpreter under test: with the start-up hook, which also applies
    HARNESS_EMULATE (another platform's start methods, see inject/sitecustomize.py)."""
    base = SESSION_ENVIRONMENT
    return dict(base, PYTHONPATH=os.pathsep.join(filter(None, [str(INJECT_DIR), base.get("PYTHONPATH")])))


RECORDS_READ = 4 << 20  # bytes of a run's records file workers_going() reads at most: the first records say it


@dataclass
class UnderWay:
    """The runs one session has under way (the launcher's: harness/launcher.py), so that a session
    stops its own runs only, and a session run in-process by a test sees none of another's."""

    # token -> the process to wait for (a supervisor, or on Windows the main process) and what stops the run
    active: dict[str, tuple[Run, subprocess.Popen, Callable[[], None]]] = field(default_factory=dict)
    records: dict[Run, Path] = field(default_factory=dict)  # the evidence folder of each run under way, for workers_going()

    def workers_going(self, run: Run) -> bool:
        """Whether every child the run's main process has started so far is running its Process (its
        records say so), and there is at least one: the run's processes are going. The records are
        the run's own files: only regular ones are read, not through a link, and only so much."""
        folder = self.records.get(run)
        if folder is None:
            return False
        text = b""
        for path in folder.glob("*.log"):
            try:
                text += read_regular(path, RECORDS_READ, follow=False)
            except Unreadable:
                pass  # not a records file (a FIFO, a link, too large): the gate opens at its bound anyway
        started = text.count(b'"e":"started"')
        return started > 0 and text.count(b'"e":"bootstrap"') >= started

    def stop(self, seconds: float = 15.0) -> None:
        """Stop every run under way (an interrupted session must leave nothing running): each is
        told to stop, and those still going after `seconds` are killed; every wait is bounded."""
        under_way = list(self.active.values())
        for _, _, stop in under_way:
            stop()
        deadline = time.monotonic() + seconds
        for _, process, _ in under_way:
            reap(process, max(0.0, deadline - time.monotonic()))


def reap(process: subprocess.Popen, seconds: float) -> None:
    """Wait for a process that was told to stop, killing it if it has not within `seconds`: every
    wait is bounded, and every Popen waited for (one dropped while its process runs warns that it
    is still running, an error under filterwarnings = error)."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=max(seconds, 5.0))


def execute(run: Run, under_way: UnderWay | None = None) -> Outcome:
    under_way = under_way if under_way is not None else UnderWay()  # a run of its own (a test's): no session stops it
    info = interpreter_info(run.python)
    token = uuid.uuid4().hex
    env = emulated_env()
    env[RUN_MARKER] = token
    env.pop(FORCE_METHOD, None)
    env.pop("PYTHONUNBUFFERED", None)  # a reader's terminal line-buffers stdout; unbuffered, lines could split
    if run.method != "default":
        env[FORCE_METHOD] = run.method
    # Removed when the run ends (or by a later session: this one may be killed); on Windows a file
    # still open in a process being killed cannot be removed: a later session's sweep does.
    with scratch.run_folder() as tmp:
        script = run.script
        if script is None:
            script = Path(tmp, run.example + ".py")
            script.write_text(run.source, encoding="utf-8")
        records = Path(tmp, "evidence")
        records.mkdir()
        env[EVIDENCE_DIR] = str(records)
        under_way.records[run] = records
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        command, env = main_command(info, script.resolve(), env)
        # Files, not pipes: a leftover process holding a pipe open would block the reader, and
        # append mode keeps each line-buffered write of concurrent processes whole.
        with open(out_path, "ab") as out, open(err_path, "ab") as err:
            stdout_file = os.fstat(out.fileno())
            # The job object needs Windows itself: under emulate-windows the subreaper stands in for it.
            contain = contained_windows if sys.platform == "win32" else supervised
            report = contain(run, command, env, out, err, script.parent, Path(tmp, "report"), token, under_way=under_way)
        under_way.records.pop(run, None)
        (raw_stdout, stdout_size), (raw_stderr, stderr_size) = bounded(out_path), bounded(err_path)
        facts = Facts(
            main_pid=report["main_pid"],
            stdout=(stdout_file.st_dev, stdout_file.st_ino),
            stdout_at_main_exit=report.get("stdout_at_main_exit"),
            attested=None if report.get("attested") is None else {int(pid): parent for pid, parent in report["attested"].items()},
            adopter=report.get("adopter"),
        )
        return Outcome(
            run=run,
            interpreter=info["name"],
            default_method=info["default"],
            returncode=report["returncode"],
            raw_stdout=raw_stdout,
            stderr=decode(raw_stderr),
            leftovers=report["leftovers"],
            seconds=report["seconds"],
            marker=token,
            evidence=Evidence.load(records, facts),
            stdout_size=stdout_size,
            stderr_size=stderr_size,
        )


def bounded(path: Path) -> tuple[bytes, int]:
    """A run's output file and its size: all of it up to OUTPUT_LIMIT, else its head and tail."""
    size = path.stat().st_size
    if size <= OUTPUT_LIMIT:
        return path.read_bytes(), size
    with open(path, "rb") as f:
        head = f.read(KEPT)
        f.seek(size - KEPT)
        tail = f.read(KEPT)
    return head + f"\n[... {size - 2 * KEPT} bytes not shown ...]\n".encode() + tail, size


def main_command(info: dict, script: Path, env: dict, platform: str = PLATFORM) -> tuple[list[str], dict]:
    """The main process's command line, `python -X dev EXAMPLE.py`, and its environment. On Windows
    a venv's python.exe is a launcher that starts the base interpreter as a process of its own, out
    of the runner's sight: the run starts the base interpreter itself, told which venv it is, as
    multiprocessing's spawn does there (popen_spawn_win32: sys._base_executable, __PYVENV_LAUNCHER__)."""
    python, base = info["executable"], info["base_executable"]
    if platform == "win32" and ntpath.normcase(python) != ntpath.normcase(base):
        return [base, "-X", "dev", str(script)], {**env, "__PYVENV_LAUNCHER__": python}
    return [python, "-X", "dev", str(script)], env


def supervisor_command(**options: object) -> list[str]:
    """The supervisor's command line up to `--`: its interpreter, and `options` as key=value, with
    tree=1 where containment is by tree (as on macOS: no subreaper; it then needs psutil, from
    site-packages: no -S)."""
    tree = CONTAINMENT == "tree"
    options = {**options, "tree": int(tree)}
    return [sys.executable, "-I", *["-S"] * (not tree), str(SUPERVISOR), *(f"{key}={value}" for key, value in options.items())]


def supervised(run: Run, command, env, out, err, cwd, report_path: Path, token: str, under_way: UnderWay) -> dict:
    args = supervisor_command(
        report=report_path,
        timeout=run.timeout,
        settle=SETTLE,
        grace=run.grace,
        runner=os.getpid(),
        nice=run.nice,
        **({"hello": report_path.parent / "hello"} if CONTAINMENT == "subreaper" else {}),
    )
    # A session of its own: the run has no controlling terminal (it can neither read the session's
    # /dev/tty nor get its Ctrl-C, which the session passes on as SIGTERM when it stops).
    supervisor = subprocess.Popen([*args, "--", *command], stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True)
    under_way.active[token] = (run, supervisor, lambda: supervisor.send_signal(signal.SIGTERM))  # it kills its run, then exits
    try:
        await_supervisor(run, supervisor, token)
    finally:
        del under_way.active[token]
    return read_report(run, report_path, supervisor.returncode)


def await_supervisor(run: Run, supervisor: subprocess.Popen, token: str) -> None:
    """Wait for the supervisor's warden, within a bound. The supervisor enforces the run's timeout
    and the warden outlives it, so the bound is reached only when both went wrong (the warden
    stopped, say): then it is killed (SIGKILL: a stopped process never acts on SIGTERM), and the run
    errors. Whenever the warden did not end as it should, every process still carrying the run's
    marker is killed."""
    bound = run.timeout + SETTLE + 4 * run.grace + 10
    try:
        supervisor.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        supervisor.kill()
        try:
            supervisor.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # unkillable (in the kernel): nothing more to do, and no reason to hang
        kill_marked(token, 5.0)
        raise RunError(  # noqa: B904 (the timeout is the reason, and it is said)
            f"the supervisor of {run.id} did not end within {bound:g} s: it was killed, with the run's processes, and the run was not judged"
        )
    if supervisor.returncode != 0:
        kill_marked(token, 5.0)


def kill_marked(token: str, seconds: float) -> None:
    """SIGKILL every process carrying the run's marker until none is left (it may start more as
    they are killed), for `seconds` at most."""
    deadline = time.monotonic() + seconds
    while (left := members(token)) and time.monotonic() < deadline:
        for proc in left:
            try:
                proc.kill()
            except Exception:  # psutil.Error: gone already, or not ours
                pass
        time.sleep(0.02)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal: SIGRTMIN+3 has no name of its own
        return "no name"


class RunError(RuntimeError):
    """The harness could not judge a run; the message says why, in one line."""


def read_report(run: Run, path: Path, returncode: int | None) -> dict:
    """The supervisor's report, or why there is none, in one line."""
    # JSON, not a Python literal: CPython 3.11's AST builder keeps its recursion depth per
    # interpreter, and literal_eval in two threads at once (the launcher's) can raise SystemError
    # (python/cpython#106905; 1 run in 40 of benchmarks/stress.py under load).
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(report, dict):
            raise ValueError("not an object")
    except (OSError, ValueError, MemoryError, RecursionError):
        if returncode is not None and returncode < 0:
            how = f"was killed by signal {-returncode} ({signal_name(-returncode)}) before it reported"
        else:
            how = f"exited {returncode} without a report (see the run's stderr)"
        raise RunError(f"the supervisor of {run.id} {how}: the run's processes were killed, and it was not judged") from None
    if "supervisor" in report:  # written by the warden: the run killed or stopped the supervisor
        raise RunError(f"the supervisor of {run.id} was {report['supervisor']}: the run's processes were killed, and it was not judged")
    return report


def contained_windows(run: Run, command, env, out, err, cwd, _report: Path, token: str, job=None, under_way: UnderWay | None = None) -> dict:
    """Windows: the run in a job object (kill on close: the runner's death ends it too); leftovers
    are the job's processes still alive once the main process has exited. `job`: a winjob.Job on
    a fake of the Win32 calls (tests/test_winjob.py), or a new one on the real calls."""
    from harness import winjob

    under_way = under_way if under_way is not None else UnderWay()
    started = time.monotonic()
    flags = 0 if not run.nice else winjob.BELOW_NORMAL_PRIORITY_CLASS if run.nice <= 10 else winjob.IDLE_PRIORITY_CLASS
    with job or winjob.Job() as job:
        main = job.start(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env, creationflags=flags)
        under_way.active[token] = (run, main, main.kill)  # the job is killed once its wait below returns
        try:
            returncode = main.wait(timeout=run.timeout)
        except subprocess.TimeoutExpired:
            returncode, leftovers = None, []
        else:
            deadline = time.monotonic() + SETTLE
            while job.pids() and time.monotonic() < deadline:
                time.sleep(0.02)
            leftovers = [f"pid {pid}: {name}" for pid, name in job.describe()]
        finally:
            del under_way.active[token]
            job.kill()
            reap(main, winjob.KILLED_WITHIN)  # killed with the job: gone at once
    return {"returncode": returncode, "leftovers": leftovers, "main_pid": main.pid, "seconds": time.monotonic() - started}


def decode(data: bytes) -> str:
    # Universal newlines: Windows writes CRLF.
    return data.decode("utf-8", errors="backslashreplace").replace("\r\n", "\n")


def members(token: str) -> list:
    """The live processes that carry a run's marker: what the runner kills when its supervisor could
    not, and what a test can check survived a run."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(RUN_MARKER) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, OSError):
            pass  # gone, a zombie, or another user's
    return found
