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
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest

from harness import results
from harness.launcher import finished
from harness.platforms import PLATFORM
from harness.plugin import ROOT, SHIPPED_EXAMPLES
from sessions import Job, early, in_command_line, live, matrix_session, once, wait_for

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
    return live(in_command_line(token))


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
    claimed = results.claim(junit)  # what the next session does first: it succeeds now
    results.release(claimed)


# --- a session that does not run to its end keeps no JUnit file -----------------------------------

STOPPED = SCRATCH / "stopped"


def write_stopped() -> None:
    """A program that fails (exit 3), then one that passes: -x stops after the first."""
    STOPPED.mkdir(parents=True, exist_ok=True)
    (STOPPED / "a_exits_3.py").write_text("import sys\nsys.exit(3)\n", encoding="utf-8")
    (STOPPED / "b_prints.py").write_text("print('b')\n", encoding="utf-8")


STOPPED_RUN = Job(claims_session(STOPPED, "-x", f"--junitxml={STOPPED / 'junit.x.xml'}"), timeout=120, prepare=write_stopped)
early("stopped_run", STOPPED_RUN)


@pytest.fixture
def stopped_run(pytestconfig) -> subprocess.CompletedProcess:
    return finished(pytestconfig, STOPPED_RUN)


def test_a_session_stopped_at_its_first_failure_keeps_no_junit_file(stopped_run):
    """-x: the cells after the first failure never ran; the file pytest writes is removed, and the
    session says why (the report would otherwise read the one cell as the matrix)."""
    done = stopped_run
    assert done.returncode == 1, done.stdout + done.stderr
    assert not (STOPPED / "junit.x.xml").exists()
    assert f"{STOPPED / 'junit.x.xml'}: not kept, the session did not run to its end: it stopped early (stopping after 1 failures)\n" in done.stdout


REMOVED = SCRATCH / "removed"


def write_remover() -> None:
    """A program that removes its session's results folder (it runs as the session's user)."""
    (REMOVED / "programs").mkdir(parents=True, exist_ok=True)
    (REMOVED / "programs" / "removes_results.py").write_text(
        f"import shutil\nshutil.rmtree({str(REMOVED / 'results')!r})\nprint('removed')\n", encoding="utf-8"
    )


REMOVED_RUN = Job(claims_session(REMOVED / "programs", f"--junitxml={REMOVED / 'results' / 'junit.x.xml'}"), timeout=120, prepare=write_remover)
early("removed_run", REMOVED_RUN)


@pytest.fixture
def removed_run(pytestconfig) -> subprocess.CompletedProcess:
    return finished(pytestconfig, REMOVED_RUN)


def test_a_run_that_removes_the_results_folder_is_seen(removed_run):
    """The run passes its claims, but the session's results folder is not the one it claimed: no
    JUnit file, a non-zero exit, and why."""
    done = removed_run
    junit = REMOVED / "results" / "junit.x.xml"
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed" in done.stdout and not junit.exists(), done.stdout
    why = f"its results folder {junit.parent} was removed or replaced while it ran"
    assert f"{junit}: not kept, the session did not run to its end: {why}\n" in done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process of its own")
def test_an_interrupted_session_keeps_no_junit_file_and_ends(tmp_path):
    """Ctrl-C (SIGINT, as tox sends it too) while a run hangs, after another cell passed: the
    session ends (its runs stopped, none left), exit 2, and leaves no JUnit file: not the cell that
    passed, which the report would read as the whole matrix."""
    token = f"interrupted-{uuid.uuid4().hex}"
    folder, junit, out = tmp_path / token, tmp_path / "junit.x.xml", tmp_path / "out.txt"
    copy_queue(folder)
    (folder / "hangs.py").write_text("import time\ntime.sleep(600)\n", encoding="utf-8")
    with open(out, "wb") as stdout:
        argv = claims_session(folder, "-v", "--example-timeout", "600", f"--junitxml={junit}")
        session = psutil.Popen(argv, cwd=ROOT, stdout=stdout, stderr=subprocess.STDOUT)
    try:
        passed = wait_for(lambda: "test_claims[02_queue-spawn] PASSED" in out.read_text(errors="replace") and running(f"{token}/hangs.py"), 120)
        assert passed, out.read_text(errors="replace")
        session.send_signal(signal.SIGINT)
        assert session.wait(timeout=120) == 2, out.read_text(errors="replace")
    finally:
        if session.poll() is None:
            session.kill()
    said = out.read_text(errors="replace")
    assert f"{junit}: not kept, the session did not run to its end: it was interrupted\n" in said, said
    assert not junit.exists()
    assert wait_for(lambda: not running(token), 30), "a run of the interrupted session is still going"
    done = subprocess.run([sys.executable, "-m", "harness.report", tmp_path], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (2, f"report: error: {tmp_path}: no JUnit files (junit*.xml) in this folder\n")


# --- a run that replaces its timeline's name: the timeline replaces it in turn --------------------

REPLACED = SCRATCH / "replaced"
VICTIM = REPLACED / "victim.txt"  # a file of the user's


def write_replacers() -> None:
    """Two programs that put something at their own timeline's name before the session writes it:
    a link to a file of the user's, and a FIFO no one reads."""
    (REPLACED / "programs").mkdir(parents=True, exist_ok=True)
    VICTIM.write_text("the user's\n", encoding="utf-8")
    traces = REPLACED / "traces" / "x"
    for name, how in (("links", f"os.symlink({str(VICTIM)!r}, trace)"), ("fifo", "os.mkfifo(trace)")):
        text = f"import os\ntrace = {str(traces / f'{name}-spawn.json')!r}\nos.makedirs(os.path.dirname(trace), exist_ok=True)\n{how}\n"
        (REPLACED / "programs" / f"{name}.py").write_text(text, encoding="utf-8")


REPLACED_RUN = Job(claims_session(REPLACED / "programs", f"--junitxml={REPLACED / 'junit.x.xml'}"), timeout=120, prepare=write_replacers)
early("replaced_run", *([REPLACED_RUN] if sys.platform != "win32" else []))


@pytest.mark.skipif(sys.platform == "win32", reason="a FIFO, and a link made without privileges")
def test_a_run_that_replaces_its_timeline_does_not_redirect_it(pytestconfig):
    """The timeline takes its name whatever is there: a link is not written through (the user's
    file stays as it was), a FIFO is not waited for (the session would hang)."""
    done = finished(pytestconfig, REPLACED_RUN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert VICTIM.read_text(encoding="utf-8") == "the user's\n"
    for name in ("links", "fifo"):
        trace = REPLACED / "traces" / "x" / f"{name}-spawn.json"
        assert trace.is_file() and not trace.is_symlink() and "traceEvents" in json.loads(trace.read_text(encoding="utf-8")), name
