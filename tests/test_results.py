"""What a session leaves in its results folder: checked before any run starts, one session at a
time, no file left that reads as current when the session did not finish, and what was judged kept
when a timeline cannot be written.

Each case is a pytest session of its own on a copy of 02_queue (the launcher starts those that need
no orchestration with the session's runs); the sessions a test must interrupt run under it."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest

from harness import results
from harness.launcher import finished
from harness.platforms import PLATFORM
from harness.plugin import ROOT, SHIPPED_EXAMPLES
from sessions import Job, early, matrix_session, once

SCRATCH = Path(tempfile.gettempdir()) / f"results-{uuid.uuid4().hex[:8]}"


def claims_session(folder: Path, *args: str) -> tuple[str, ...]:
    """pytest on the claims matrix, 02_queue under spawn only, from `folder`'s copy."""
    return matrix_session("--examples-dir", folder, "--start-method", "spawn", *args)


def copy_queue(folder: Path, text: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "02_queue.py").write_text(text or (SHIPPED_EXAMPLES / "02_queue.py").read_text(encoding="utf-8"), encoding="utf-8")


@pytest.fixture(scope="module", autouse=True)
def scratch():
    yield
    shutil.rmtree(SCRATCH, ignore_errors=True)


# --- a timeline that cannot be written: a warning on its cell, the verdict kept -------------------

BLOCKED = SCRATCH / "blocked"


def block_the_timeline() -> None:
    """The cell's timeline file cannot be written (a folder holds its name); the results folder can."""
    copy_queue(BLOCKED)
    (BLOCKED / "traces" / "x" / "02_queue-spawn.json").mkdir(parents=True)


BLOCKED_RUN = Job(claims_session(BLOCKED, f"--junitxml={BLOCKED / 'junit.x.xml'}"), timeout=120, prepare=block_the_timeline)
early("blocked_run", BLOCKED_RUN)


@pytest.fixture
def blocked_run(pytestconfig) -> subprocess.CompletedProcess:
    return finished(pytestconfig, BLOCKED_RUN)


def cell_properties(junit: Path, name: str) -> dict[str, str]:
    from junitparser.xunit2 import JUnitXml

    for suite in JUnitXml.fromfile(str(junit)):
        for case in suite:
            if case.name == name:
                return {p.name: p.value for p in case.properties()}
    raise AssertionError(f"no test case {name} in {junit}")


def test_a_timeline_that_cannot_be_written_is_a_warning_on_its_cell(blocked_run):
    done = blocked_run
    where = BLOCKED / "traces" / "x" / "02_queue-spawn.json"
    try:
        where.write_text("")
    except OSError as exc:  # "Is a directory"; Windows words it otherwise
        warning = f"timeline not written: {where}: {exc.strerror}"
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed in" in done.stdout and f"\n{warning}\n" in done.stdout, done.stdout
    props = cell_properties(BLOCKED / "junit.x.xml", "test_claims[02_queue-spawn]")
    assert (props["status"], props.get("warning"), props.get("trace")) == ("passed", warning, None)
    report = subprocess.run(
        [sys.executable, "-m", "harness.report", BLOCKED, "--json", BLOCKED / "matrix.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stdout + report.stderr
    assert "[1] 02_queue spawn, " in report.stdout and report.stdout.count(warning) == 1, report.stdout
    cells = json.loads((BLOCKED / "matrix.json").read_text(encoding="utf-8"))["cells"]
    assert [c["warning"] for c in cells if c["status"] == "passed"] == [warning]


# --- a results folder that cannot be written: one line, exit 4, before any run ---------------------

UNUSABLE = SCRATCH / "unusable"
A_FILE = UNUSABLE / "a-file"  # where a folder should be
# A read-only and a full folder, each a tmpfs mounted in a user and mount namespace of the session's
# own (unshare): no privilege needed, and nothing to unmount afterwards.
MOUNTED = UNUSABLE / "mounted"
MOUNT = {
    "read-only": "mount -t tmpfs -o ro tmpfs {dir}",
    "full": "mount -t tmpfs -o size=16k tmpfs {dir} && (head -c 1M /dev/zero > {dir}/fill 2>/dev/null || true)",
}


def can_unshare() -> bool:
    if sys.platform != "linux" or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30).returncode == 0


UNSHARE = can_unshare()


@once
def write_unusable() -> None:
    copy_queue(UNUSABLE)
    A_FILE.write_text("not a folder")
    MOUNTED.mkdir()


UNUSABLE_SESSIONS = {
    "junit-in-a-file": (
        ("--junitxml", f"{A_FILE / 'junit.x.xml'}"),
        f"--junitxml {A_FILE / 'junit.x.xml'}: cannot write there ({A_FILE} is not a folder)",
    ),
    "traces-in-a-file": (
        ("--junitxml", f"{UNUSABLE / 'junit.x.xml'}", "--trace-dir", f"{A_FILE / 'traces'}"),
        f"--trace-dir {A_FILE / 'traces'}: cannot write there ({A_FILE} is not a folder)",
    ),
}
for kind, why in (("read-only", os.strerror(errno.EROFS)), ("full", os.strerror(errno.ENOSPC))):
    UNUSABLE_SESSIONS[kind] = (("--junitxml", f"{MOUNTED / 'junit.x.xml'}"), f"--junitxml {MOUNTED / 'junit.x.xml'}: cannot write there ({why})")
# The mounted folders need a process of their own (in its namespaces); the others are sessions run
# in this process (pytester: the same code path, ~10 ms instead of an interpreter's start-up).
UNUSABLE_JOBS = {}
for kind, (args, _) in UNUSABLE_SESSIONS.items():
    if kind in MOUNT:
        argv = ("unshare", "-rm", "sh", "-c", MOUNT[kind].format(dir=MOUNTED) + ' && exec "$@"', "sh", *claims_session(UNUSABLE, *args))
        UNUSABLE_JOBS[kind] = Job(argv, timeout=120, prepare=write_unusable)
early("unusable_session", *(job for job in UNUSABLE_JOBS.values() if UNSHARE))


@pytest.fixture
def unusable_session(pytestconfig, pytester, kind) -> subprocess.CompletedProcess:
    if kind in UNUSABLE_JOBS:
        return finished(pytestconfig, UNUSABLE_JOBS[kind])
    write_unusable()
    done = in_process(pytester, UNUSABLE, *UNUSABLE_SESSIONS[kind][0])
    return subprocess.CompletedProcess(kind, int(done.ret), "\n".join(done.outlines), "\n".join(done.errlines) + "\n")


def in_process(pytester, folder: Path, *args: str):
    """A pytest session of the harness in this process, as claims_session() starts one."""
    return pytester.runpytest_inprocess(
        "-p", "harness.launcher", "-p", "harness.plugin", "-p", "no:cacheprovider", "--examples-dir", str(folder), "--start-method", "spawn", *args
    )


@pytest.mark.skipif(sys.platform == "win32", reason="the folder's faults are made with POSIX paths")
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(kind, marks=[pytest.mark.skipif(kind in MOUNT and not UNSHARE, reason="needs unshare -rm (Linux) to mount the folder")])
        for kind in UNUSABLE_SESSIONS
    ],
)
def test_a_results_folder_that_cannot_be_written_is_one_line_before_any_run(unusable_session, kind):
    done = unusable_session
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr == f"ERROR: {UNUSABLE_SESSIONS[kind][1]}\n\n" and "collected" not in done.stdout, done.stdout + done.stderr


# --- a session killed, or two sessions on one file ---------------------------------------------------

STALE = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"><testcase classname="tests.test_claims"
name="test_claims[02_queue-spawn]"><properties><property name="example" value="02_queue"/><property name="start_method" value="spawn"/>
<property name="interpreter" value="CPython 3.12.1"/><property name="platform" value="linux"/><property name="status" value="passed"/>
</properties></testcase></testsuite></testsuites>"""


def hanging_session(folder: Path, token: str) -> psutil.Popen:
    """A session whose 02_queue hangs (its child sleeps, with `token` on its command line)."""
    text = (SHIPPED_EXAMPLES / "02_queue.py").read_text(encoding="utf-8")
    copy_queue(
        folder,
        text.replace(
            "    q.put('Hello, world!')\n",
            f"    import subprocess, sys\n    subprocess.run([sys.executable, '-c', 'import time; time.sleep(600)  # {token}'])\n",
        ),
    )
    argv = claims_session(folder, "--example-timeout", "600", f"--junitxml={folder / 'junit.x.xml'}")
    return psutil.Popen(as_a_venv_starts_it(argv), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Windows: a venv's python.exe is a launcher that starts the base interpreter, with the same
# arguments, as a process of its own (in a job that kills it with the launcher), so a session's pid
# is not the one its starter got. emulate-windows starts the session so, with the parent-death
# signal standing in for the job.
LAUNCHER = (
    "import ctypes, signal, subprocess, sys; libc = ctypes.CDLL(None);"
    "sys.exit(subprocess.call(sys.argv[1:], preexec_fn=lambda: libc.prctl(1, signal.SIGKILL, 0, 0, 0)))"  # PR_SET_PDEATHSIG
)


def as_a_venv_starts_it(argv: tuple[str, ...]) -> tuple[str, ...]:
    return (sys.executable, "-c", LAUNCHER, *argv) if PLATFORM == "win32" and sys.platform == "linux" else argv


def session_process(started: psutil.Process) -> set[int]:
    """The pid of the session itself: the process started, or the interpreter a launcher started
    with the same arguments."""
    pids = {started.pid}
    for child in started.children():
        try:
            arguments = child.cmdline()[1:]
            if arguments and started.cmdline()[-len(arguments) :] == arguments:
                pids.add(child.pid)
        except psutil.Error:
            pass
    return pids


def running(token: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if token in " ".join(proc.cmdline()) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            pass
    return found


def wait_for(condition, seconds: float):
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


@pytest.fixture
def session_under_way():
    """Start a hanging session in a folder and wait until its run is going; kill what is left of it
    at the end."""
    started = []

    def start(folder: Path) -> psutil.Popen:
        token = f"under-way-{uuid.uuid4().hex}"
        session = hanging_session(folder, token)
        started.append((session, token))
        assert wait_for(lambda: running(token), 60), "the hanging run never started"
        return session

    yield start
    for session, token in started:
        if session.poll() is None:
            session.kill()
            session.wait()
        wait_for(lambda t=token: not running(t), 30)  # its supervisor kills it once the session is gone
        for proc in running(token):
            proc.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_session_leaves_no_results_that_read_as_current(tmp_path, session_under_way):
    """A session killed as an OOM killer would (SIGKILL) leaves no JUnit file: not the previous
    session's, which the report would read as this run's."""
    junit = tmp_path / "junit.x.xml"
    junit.write_text(STALE, encoding="utf-8")  # the previous session's: all passed
    session = session_under_way(tmp_path)
    session.kill()
    session.wait()
    assert not junit.exists(), "the previous session's results are still there, as if they were this one's"
    done = subprocess.run([sys.executable, "-m", "harness.report", tmp_path], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (2, f"report: error: {tmp_path}: no JUnit files (junit*.xml) in this folder\n")


def test_two_sessions_on_one_file_do_not_overwrite_each_other(tmp_path, session_under_way, pytester):
    """While one session writes a JUnit file, another given the same file stops in one line, exit 4,
    naming the holder; once the first has ended (killed, even), the file is free again."""
    first = session_under_way(tmp_path / "first")
    second = tmp_path / "second"
    copy_queue(second)
    junit = tmp_path / "first" / "junit.x.xml"
    done = in_process(pytester, second, f"--junitxml={junit}")
    assert done.ret == 4, done.outlines + done.errlines
    errors = [line for line in done.errlines if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: --junitxml {junit}: another session is writing it (pid "), errors
    assert errors[0].endswith("); wait for it to end, or give another file"), errors
    holder = int(re.match(r"\d+", errors[0].split("(pid ", 1)[1])[0])
    assert holder in session_process(first), (holder, first.pid)
    first.kill()
    first.wait()
    try:
        psutil.Process(holder).wait(60)  # a launcher's child ends a moment after it
    except psutil.NoSuchProcess:
        pass
    fd = results.claim(junit)  # what the next session does first: it succeeds now
    results.release(fd)
