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

import contextlib
import functools
import json
import ntpath
import os
import select
import signal
import stat
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
from harness.evidence import Evidence, Facts, read_folder
from harness.inject import mp_contract as contract
from harness.platforms import PLATFORM
from harness.pythons import InterpreterError, emulated_env, interpreter_info

HERE = Path(__file__).resolve().parent
SUPERVISOR = HERE / "supervisor.py"
RUN_MARKER = contract.RUN_MARKER  # its value tags every process of one run
# How the run's processes are contained, by platform: the subreaper and the job object hold every
# one of them; the tree (macOS: no subreaper) finds orphans by their marker only. Both the runner
# and the tests (the escapee's xfail) read this one name.
CONTAINMENT = {"linux": "subreaper", "win32": "job"}.get(PLATFORM, "tree")
# Seconds a process of the example itself may take to finish exiting once the main process has
# exited: none, as the README says (a correct program has joined its children; one the kernel is
# ending is gone already). The fork server and resource tracker get the run's grace.
SETTLE = 0.0
SPAWN_CHILD = "--multiprocessing-fork"  # the last argument of a spawn child's command line (multiprocessing.spawn)
# Bytes a run may print to stdout, and to stderr: the supervisor stops the run there (a failure of
# its own); on Windows, where the output is a file, only its head and tail (KEPT bytes each) are read.
OUTPUT_LIMIT = 4 << 20
KEPT = 32 << 10
# Bytes the runner reads from a supervisor at most: every record and all the output a run may keep.
REPORT_LIMIT = (64 << 20) + 2 * OUTPUT_LIMIT + (1 << 20)
BOUND_MARGIN = 10.0  # seconds the runner waits for a supervisor past its run's timeout and four graces
# Lines of a run's stderr that go with an error of its cell (its supervisor's traceback, say).
STDERR_TAIL = 20

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
    intervene: tuple[str, ...] = ()  # what the harness perturbs in this run (mp_contract.INTERVENTIONS)
    twinned: bool = True  # judged with its twin too: the same run with its example's interventions (plugin.TWINS)

    @property
    def id(self) -> str:
        return f"{self.example}-{self.method}" + (f"~{'+'.join(self.intervene)}" if self.intervene else "")

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
    stopped: str = ""  # why the harness stopped the run: timeout, output_limit, records_limit; or ""
    bounded: bool = False  # the run had processes and memory of its own (the supervisor's cgroups): exhausting them was its doing

    @property
    def timed_out(self) -> bool:
        return self.stopped == "timeout"

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
        """What reached stdout after the main process had exited (the supervisor had read this much then)."""
        before = self.evidence.facts.stdout_at_main_exit
        return self.raw_stdout[before:] if before is not None and self.stdout_size <= self.output_limit else b""

    @property
    def observed_method(self) -> str:
        """How the run's children were started, as they saw it; the expected method if it had none."""
        return self.evidence.observed_method() if self.evidence.children else self.method


RECORDS_READ = 4 << 20  # bytes of a run's records file workers_going() reads at most: the first records say it


@dataclass
class UnderWay:
    """The runs one session has under way (the launcher's: harness/launcher.py), so that a session
    stops its own runs only, and a session run in-process by a test sees none of another's."""

    # token -> the process to wait for (a supervisor, or on Windows the main process) and what stops the run
    active: dict[str, tuple[Run, subprocess.Popen, Callable[[], None]]] = field(default_factory=dict)
    records: dict[Run, Path] = field(default_factory=dict)  # the record files' folder of each run under way (tree mode)
    going: set[int] = field(default_factory=set)  # id() of each run under way whose supervisor said its workers are going

    def workers_going(self, run: Run) -> bool:
        """Whether every child the run's main process has started so far is running its Process (its
        records say so), and there is at least one: the run's processes are going. Where the records
        are the run's own files (tree mode), only regular ones are read, not through a link, and only so much."""
        if id(run) in self.going:
            return True
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
        under_way = list(self.active.items())
        for _, (_, _, stop) in under_way:
            stop()
        deadline = time.monotonic() + seconds
        for token, (_, process, _) in under_way:
            reap(process, max(0.0, deadline - time.monotonic()))
            if process.returncode != 0:  # a supervisor that could not stop its run (stopped itself, say): what carries its marker
                kill_marked(token, 2.0)


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
    for name in (contract.START_METHOD, contract.INTERVENE, contract.RECORDS, contract.EVIDENCE, contract.MAIN):
        env.pop(name, None)
    env.pop("PYTHONUNBUFFERED", None)  # a reader's terminal line-buffers stdout; unbuffered, lines could split
    if run.method != "default":
        env[contract.START_METHOD] = run.method
    if run.intervene:
        env[contract.INTERVENE] = ",".join(run.intervene)
    # Removed when the run ends (or by a later session: this one may be killed); on Windows a file
    # still open in a process being killed cannot be removed: a later session's sweep does.
    with scratch.run_folder() as tmp:
        script = run.script
        if script is None:
            script = Path(tmp, run.example + ".py")
            script.write_text(run.source, encoding="utf-8")
        spec = run.spec
        options, arguments = getattr(spec, "interpreter_options", ()), getattr(spec, "arguments", ())
        command, env = main_command(info, script.resolve(), env, options=options, arguments=arguments)
        # The job object needs Windows itself: under emulate-windows the subreaper stands in for it.
        seen = (in_a_job if sys.platform == "win32" else supervised)(run, command, env, script.parent, Path(tmp), token, under_way)
    report = seen.report
    facts = Facts(
        main_pid=report["main_pid"],
        stdout=tuple(report["stdout_id"]) if report.get("stdout_id") else None,
        stdout_at_main_exit=report.get("stdout_at_main_exit"),
        attested=bool(report.get("attested")),
        processes=processes_of(report.get("processes")),
        kernel_events=report.get("kernel_events"),
        first_seen=processes_of(report.get("first_seen")),
        reaped=processes_of(report.get("reaped")),
        adopter=report.get("adopter"),
        lost=report.get("lost") or "",
        stdout_chunks=seen.stdout_chunks,
    )
    return Outcome(
        run=run,
        interpreter=info["name"],
        default_method=info["default"],
        returncode=report["returncode"],
        raw_stdout=seen.stdout,
        stderr=decode(seen.stderr),
        leftovers=report["leftovers"],
        seconds=report["seconds"],
        marker=token,
        evidence=Evidence.from_lines(seen.records, facts, seen.problems),
        stdout_size=report.get("stdout_size", len(seen.stdout)),
        stderr_size=report.get("stderr_size", len(seen.stderr)),
        stopped=report.get("stopped") or ("timeout" if report["returncode"] is None else ""),
        bounded=bool(report.get("bounded")),
    )


def processes_of(table: dict | None) -> dict | None:
    """A report's {"pid": ...} as {pid: ...}."""
    return None if table is None else {int(pid): value for pid, value in table.items()}


@dataclass
class Seen:
    """What the harness took from a run: the report, and the records and output it holds the only copy of."""

    report: dict
    records: list[tuple[int | None, bytes]]  # (its sender: as the kernel named it, or the process whose file held it; one record)
    stdout: bytes
    stdout_chunks: list[tuple[int, int]] | None  # (writer's pid, bytes) in the order they reached stdout, where the kernel named writers
    stderr: bytes
    problems: list[str] = field(default_factory=list)  # what of the records could not be read


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


def stderr_tail(path: Path, lines: int = STDERR_TAIL) -> str:
    """The last `lines` lines of a file of stderr, from its last 4 KiB at most (decoded as the run's
    output is); a line cut by that limit is left out. Read as a regular file only, not through a
    link, without waiting (the run could have replaced it): else nothing."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return ""
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return ""
        start = max(0, f.seek(0, os.SEEK_END) - 4096)
        f.seek(start)
        text = decode(f.read(4096))
    kept = text.splitlines()[1 if start else 0 :]
    return "\n".join(kept[-lines:])


def main_command(info: dict, script: Path, env: dict, platform: str = PLATFORM, options=(), arguments=()) -> tuple[list[str], dict]:
    """The main process's command line, `python -X dev [OPTIONS] EXAMPLE.py [ARGUMENTS]` (the claims
    file's interpreter options and arguments), and its environment. On Windows
    a CPython venv's python.exe is a launcher that starts the base interpreter as a process of its
    own, out of the runner's sight: the run starts the base interpreter itself, told which venv it
    is, as multiprocessing's spawn does there (popen_spawn_win32: sys._base_executable,
    __PYVENV_LAUNCHER__). A PyPy venv's python.exe is a copy of the interpreter, not a launcher, and
    PyPy ignores __PYVENV_LAUNCHER__ (its popen_spawn_win32 sets WINENV = False): it is started as it is."""
    python, base = info["executable"], info["base_executable"]
    cpython = info["name"].startswith("CPython ")
    if platform == "win32" and cpython and ntpath.normcase(python) != ntpath.normcase(base):
        return [base, "-X", "dev", *options, str(script), *arguments], {**env, "__PYVENV_LAUNCHER__": python}
    return [python, "-X", "dev", *options, str(script), *arguments], env


def supervisor_command(**options: object) -> list[str]:
    """The supervisor's command line up to `--`: its interpreter, and `options` as key=value, with
    tree=1 where containment is by tree (as on macOS: no subreaper; it then needs psutil, from
    site-packages: no -S)."""
    tree = CONTAINMENT == "tree"
    options = {**options, "tree": int(tree)}
    return [sys.executable, "-I", *["-S"] * (not tree), str(SUPERVISOR), *(f"{key}={value}" for key, value in options.items())]


def supervised(run: Run, command, env, cwd, tmp: Path, token: str, under_way: UnderWay) -> Seen:
    """Run under a supervisor (POSIX), which sends everything it saw on a pipe: records, output, report."""
    evidence = tmp / "evidence" if CONTAINMENT == "tree" else None  # tree mode: no credentials, records in files
    if evidence:
        evidence.mkdir()
        under_way.records[run] = evidence
    reading, writing = os.pipe()
    args = supervisor_command(
        report=writing,
        timeout=run.timeout,
        grace=run.grace,
        runner=os.getpid(),
        nice=run.nice,
        limit=OUTPUT_LIMIT,
        **({"evidence": evidence} if evidence else {}),
    )
    errors = tmp / "supervisor.stderr"  # the supervisor's own failures, never the run's
    try:
        with open(errors, "wb") as err, stdin_of(run, tmp) as stdin:
            # A session of its own: the run has no controlling terminal (it can neither read the
            # session's /dev/tty nor get its Ctrl-C, which the session passes on as SIGTERM when it stops).
            # The main process inherits the supervisor's stdin.
            supervisor = subprocess.Popen(
                [*args, "--", *command],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=cwd,
                env=env,
                pass_fds=(writing,),
                start_new_session=True,
            )
    finally:
        os.close(writing)
    under_way.active[token] = (run, supervisor, lambda: supervisor.send_signal(signal.SIGTERM))  # it kills its run, then exits
    try:
        received = await_supervisor(run, supervisor, token, reading, under_way)
        seen = frames(run, received, supervisor.returncode, errors)
    except RunError as exc:
        exc.stderr = stderr_tail(errors)  # the supervisor's own (a traceback): the run's folder goes with it
        raise
    finally:
        del under_way.active[token]
        under_way.records.pop(run, None)
        under_way.going.discard(id(run))
        os.close(reading)
    if evidence:
        seen.records = read_folder(evidence)
    return seen


@contextlib.contextmanager
def stdin_of(run: Run, tmp: Path):
    """What the main process reads on stdin: its claims file's `stdin`, from a file, else nothing."""
    text = getattr(run.spec, "stdin", "")
    if not text:
        yield subprocess.DEVNULL
        return
    path = tmp / "stdin"
    path.write_bytes(text.encode("utf-8"))
    with open(path, "rb") as stdin:
        yield stdin


def await_supervisor(run: Run, supervisor: subprocess.Popen, token: str, reading: int, under_way: UnderWay) -> bytes:
    """What the supervisor sends, until it and its warden are done, within a bound. The supervisor
    enforces the run's timeout and the warden outlives it, so the bound is reached only when both
    went wrong (the warden stopped, say): then it is killed (SIGKILL: a stopped process never acts
    on SIGTERM), and the run errors. Whenever the warden did not end as it should, every process
    still carrying the run's marker is killed."""
    bound = run.timeout + SETTLE + 4 * run.grace + BOUND_MARGIN
    deadline = time.monotonic() + bound
    received = bytearray()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([reading], [], [], left)[0]:
                raise subprocess.TimeoutExpired(supervisor.args, bound)
            data = os.read(reading, 1 << 20)
            if not data:
                break
            received += data
            if received.startswith(GOING_FRAME):
                under_way.going.add(id(run))
            if len(received) > REPORT_LIMIT:
                raise RunError(f"the supervisor of {run.id} sent more than {REPORT_LIMIT >> 20} MiB: the run was not judged")
        supervisor.wait(timeout=max(1.0, deadline - time.monotonic()))
    except (subprocess.TimeoutExpired, RunError) as exc:
        supervisor.kill()
        try:
            supervisor.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # unkillable (in the kernel): nothing more to do, and no reason to hang
        kill_marked(token, 5.0)
        if isinstance(exc, RunError):
            raise
        raise RunError(  # noqa: B904 (the timeout is the reason, and it is said)
            f"the supervisor of {run.id} did not end within {bound:g} s: it was killed, with the run's processes, and the run was not judged"
        )
    if supervisor.returncode != 0:
        kill_marked(token, 5.0)
    return bytes(received)


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
    """The harness could not judge a run; the message says why, in one line. `stderr`: the last lines
    of the run's stderr, which is also its supervisor's (a traceback of its own), kept here because
    the run's folder is removed with the file."""

    stderr = ""


GOING_FRAME = f"{contract.FRAME_GOING} -1 0\n".encode()


def frames(run: Run, received: bytes, returncode: int | None, errors: Path) -> Seen:
    """The supervisor's frames (mp_contract.FRAMES): its records, output and report; or why there is
    no report, in one line."""
    records, out, err, report, at = [], [], [], None, 0
    try:
        while at < len(received):
            end = received.index(b"\n", at, at + 64)
            kind, pid, size = received[at:end].decode("ascii").split(" ")
            pid, size, at = int(pid), int(size), end + 1
            data = received[at : at + size]
            if len(data) != size or kind not in contract.FRAMES:
                raise ValueError("a damaged frame")
            at += size
            if kind == contract.FRAME_RECORD:
                records.append((pid if pid >= 0 else None, data))
            elif kind == contract.FRAME_GOING:
                pass
            elif kind in (contract.FRAME_STDOUT, contract.FRAME_STDERR):
                (out if kind == contract.FRAME_STDOUT else err).append((pid, data))
            else:
                report = json.loads(data.decode("utf-8"))
        if not isinstance(report, dict):
            raise ValueError("no report")
    except (ValueError, UnicodeDecodeError, RecursionError):
        if returncode is not None and returncode < 0:
            how = f"was killed by signal {-returncode} ({signal_name(-returncode)}) before it reported"
        else:
            how = f"exited {returncode} without a report{said(errors)}"
        raise RunError(f"the supervisor of {run.id} {how}: the run's processes were killed, and it was not judged") from None
    if "supervisor" in report:  # written by the warden: the run killed or stopped the supervisor
        raise RunError(f"the supervisor of {run.id} was {report['supervisor']}: the run's processes were killed, and it was not judged")
    missing = [key for key in ("returncode", "leftovers", "main_pid", "seconds") if key not in report]
    if missing:
        raise RunError(f"the supervisor of {run.id} sent a report without {', '.join(missing)}: it was not judged")
    attributed = report.get("attested") and all(pid >= 0 for pid, _ in out)
    return Seen(
        report=report,
        records=records,
        stdout=b"".join(data for _, data in out),
        stdout_chunks=[(pid, len(data)) for pid, data in out] if attributed else None,
        stderr=b"".join(data for _, data in err),
    )


def said(errors: Path) -> str:
    """The last line the supervisor wrote on its own stderr, if any: why it failed."""
    try:
        with open(errors, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 2000))
            lines = f.read().decode("utf-8", "backslashreplace").strip().splitlines()
    except OSError:
        return ""
    return f" (its stderr: {lines[-1].strip()[:200]})" if lines else ""


def in_a_job(run: Run, command, env, cwd, tmp: Path, token: str, under_way: UnderWay) -> Seen:
    """Windows (no supervisor): the run in a job object, its records in files (HARNESS_EVIDENCE), its
    output in files read afterwards, bounded (no credentials there: the kernel names no writer)."""
    evidence = tmp / "evidence"
    evidence.mkdir()
    env = {**env, contract.EVIDENCE: str(evidence)}
    out_path, err_path = tmp / "stdout", tmp / "stderr"
    # Files, not pipes: a leftover process holding a pipe open would block the reader, and
    # append mode keeps each line-buffered write of concurrent processes whole.
    with open(out_path, "ab") as out, open(err_path, "ab") as err:
        stdout_file = os.fstat(out.fileno())
        try:
            with stdin_of(run, tmp) as stdin:
                report = contained_windows(run, command, env, out, err, cwd, tmp / "report", token, under_way=under_way, stdin=stdin)
        except RunError as exc:
            exc.stderr = stderr_tail(err_path)
            raise
    (stdout, stdout_size), (stderr, stderr_size) = bounded(out_path), bounded(err_path)
    report.update(stdout_id=[stdout_file.st_dev, stdout_file.st_ino], stdout_size=stdout_size, stderr_size=stderr_size)
    if report["returncode"] is None:
        report["stopped"] = "timeout"
    elif max(stdout_size, stderr_size) > OUTPUT_LIMIT:
        report["stopped"] = "output_limit"
    return Seen(report=report, records=read_folder(evidence), stdout=stdout, stdout_chunks=None, stderr=stderr)


def contained_windows(
    run: Run, command, env, out, err, cwd, _report: Path, token: str, job=None, under_way: UnderWay | None = None, stdin=subprocess.DEVNULL
) -> dict:
    """Windows: the run in a job object (kill on close: the runner's death ends it too); leftovers
    are the job's processes still alive once the main process has exited. `job`: a winjob.Job on
    a fake of the Win32 calls (tests/test_winjob.py), or a new one on the real calls."""
    from harness import winjob

    under_way = under_way if under_way is not None else UnderWay()
    started = time.monotonic()
    # Any lower priority is the below-normal class: Windows' idle class (nice 15's neighbour) gets no
    # CPU at all while anything else wants it, and a busy runner always has something.
    flags = winjob.BELOW_NORMAL_PRIORITY_CLASS if run.nice > 0 else 0
    records = Path(env[contract.EVIDENCE]) if env and contract.EVIDENCE in env else None
    with job or winjob.Job() as job:
        main = job.start(command, stdin=stdin, stdout=out, stderr=err, cwd=cwd, env=env, creationflags=flags)
        under_way.active[token] = (run, main, main.kill)  # the job is killed once its wait below returns
        try:
            returncode = main.wait(timeout=run.timeout)
        except subprocess.TimeoutExpired:
            returncode, leftovers = None, []
        else:
            deadline = time.monotonic() + SETTLE
            while job.pids() and time.monotonic() < deadline:
                time.sleep(0.02)
            left = job.describe()
            starting = still_starting(left, records)
            late = {pid: command for pid, command in left.items() if pid not in starting}
            if starting and not late:  # only spawn children still starting: the run's grace, as the supervisor gives them
                deadline = time.monotonic() + run.grace
                while job.pids() and time.monotonic() < deadline:
                    time.sleep(0.02)
                late = job.describe()
                ran = [pid for pid in starting if ran_its_process(pid, records)]
                late.update({pid: f"ran its Process after the main process had exited: {left[pid]}" for pid in ran})
            leftovers = [f"pid {pid}: {command[:200]}" for pid, command in late.items()]
        finally:
            del under_way.active[token]
            job.kill()
            reap(main, winjob.KILLED_WITHIN)  # killed with the job: gone at once
    return {"returncode": returncode, "leftovers": leftovers, "main_pid": main.pid, "seconds": time.monotonic() - started}


def still_starting(members: dict[int, str], records: Path | None) -> set[int]:
    """The spawn children among `members` (pid: command line) that no process of the run recorded
    starting: their parent died while it started them, so they never ran the program. Windows
    creates a spawn child before it pickles the process object (popen_spawn_win32), so a target that
    cannot be pickled leaves one, still starting, when main dies of it: it gets the run's grace to
    end, as the fork server and resource tracker do (the supervisor's rule too, supervisor.py)."""
    spawned = {pid for pid, command in members.items() if command.endswith(SPAWN_CHILD)}
    if spawned and records is not None:
        for _, line in read_folder(records):  # bounded, regular files only: the run wrote them
            try:
                if b'"e":"started"' in line:
                    spawned.discard(json.loads(line).get("child"))
            except (ValueError, AttributeError, RecursionError):
                pass  # not a record
    return spawned


def ran_its_process(pid: int, records: Path | None) -> bool:
    """Whether the process recorded running its Process (BaseProcess._bootstrap)."""
    return records is not None and any(owner == pid and b'"e":"bootstrap"' in line for owner, line in read_folder(records))


def decode(data: bytes) -> str:
    # Universal newlines: Windows writes CRLF.
    return data.decode("utf-8", errors="backslashreplace").replace("\r\n", "\n")


@dataclass(frozen=True)
class Member:
    """A live process of a run, found in /proc: Linux needs no psutil (Debian packages none for PyPy)."""

    pid: int

    def cmdline(self) -> list[str]:
        try:
            return Path(f"/proc/{self.pid}/cmdline").read_bytes().decode("utf-8", "backslashreplace").split("\0")[:-1]
        except OSError:
            return []

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass  # gone already


def members(token: str) -> list:
    """The live processes that carry a run's marker: what the runner kills when its supervisor could
    not, and what a test can check survived a run (each with its pid, cmdline() and kill())."""
    if sys.platform == "linux":  # /proc itself, whatever platform is emulated
        return [Member(pid) for pid in marked_in_proc(f"{RUN_MARKER}={token}".encode())]
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(RUN_MARKER) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, OSError):
            pass  # gone, a zombie, or another user's
    return found


def marked_in_proc(marker: bytes) -> list[int]:
    """The pids of the live processes (not zombies) whose environment holds `marker` (NAME=VALUE)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if marker not in Path(entry.path, "environ").read_bytes().split(b"\0"):
                continue
            stat = Path(entry.path, "stat").read_bytes()
        except OSError:
            continue  # gone, or another user's
        if stat[stat.rindex(b")") + 2 :][:1] != b"Z":  # "pid (comm) state ...": comm may hold ")"
            found.append(int(entry.name))
    return found
