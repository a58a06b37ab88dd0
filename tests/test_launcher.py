"""The launcher (harness/launcher.py) and what a session leaves behind: its threads are few whatever
the folder's size, its state is its own, it ends whatever a run left behind (Ctrl-C included), its
runs have no controlling terminal, and the temporary folders of a killed session are cleaned.

The sessions that must be interrupted run under a driver (a process of its own, started with the
session's runs: tests/sessions.py), which interrupts them and says what happened."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from harness import launcher, scratch
from harness.launcher import FIRST_IN_FLIGHT, IN_FLIGHT, finished
from harness.plugin import ROOT
from sessions import Job, early, in_command_line, live, matrix_session

SCRATCH = Path(tempfile.gettempdir()).resolve() / f"launcher-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", autouse=True)
def scratch_folder():
    yield
    shutil.rmtree(SCRATCH, ignore_errors=True)


def running(token: str) -> list[psutil.Process]:
    return live(in_command_line(token))


# --- threads: bounded whatever the number of launches -------------------------------------------

MANY = 300
MANY_LAUNCHES = f"""
import threading
import pytest


class Quick:
    first = False

    def launch(self):
        return None


COUNTS = []


@pytest.mark.parametrize("launchable", [Quick() for _ in range({MANY})])
def test_one(launchable):
    COUNTS.append(threading.active_count())


def test_zz_counts():
    print("threads at most", max(COUNTS))
"""


def test_the_launcher_starts_few_threads_whatever_the_number_of_launches(pytester):
    """300 launches in a session run in this process: the threads it adds stay within the
    launcher's bound (one thread per launch gave 1,252 threads for 300 programs, and crashed a
    container session on its pids limit)."""
    pytester.makepyfile(test_many=MANY_LAUNCHES)
    before = threading.active_count()
    done = pytester.runpytest_inprocess("-p", "harness.launcher", "-p", "harness.plugin", "-p", "no:cacheprovider", "-s", "-q")
    assert done.ret == 0, done.outlines
    added = int(re.search(r"threads at most (\d+)", "\n".join(done.outlines))[1]) - before
    assert added <= min(MANY, IN_FLIGHT) + 1 + 2, f"{added} threads for {MANY} launches (the bound: {IN_FLIGHT} + the gate's)"


def test_each_session_has_its_own_state(pytester, pytestconfig):
    """A session run in-process by a test (this one's) has a launcher of its own: its launches,
    runs under way and timelines are not this session's."""
    ours = launcher.state(pytestconfig)
    seen = (len(ours.launched), len(ours.unwritten), len(ours.timelines), id(ours.under_way))
    pytester.makepyfile(test_many=MANY_LAUNCHES)
    done = pytester.runpytest_inprocess("-p", "harness.launcher", "-p", "harness.plugin", "-p", "no:cacheprovider", "-q")
    assert done.ret == 0, done.outlines
    assert (len(ours.launched), len(ours.unwritten), len(ours.timelines), id(ours.under_way)) == seen
    assert launcher.FIRST_IN_FLIGHT == FIRST_IN_FLIGHT  # (a bound, not one thread per launch)


# --- a run that leaves a launcher thread blocked for good: Ctrl-C still ends the session ---------

# The program stops its supervisor's warden, then its supervisor: the launcher's thread for the run
# then waits for the supervisor until the runner's own bound (minutes); the session's end must not
# wait for it. It says where its run's folder is (its supervisor's stderr is a file there), and that
# it is done, in a file of its own.
BLOCKS = """import os, signal
supervisor = os.getppid()
with open(f'/proc/{{supervisor}}/stat') as f:
    warden = int(f.read().rsplit(')', 1)[1].split()[1])
folder_file = os.readlink(f'/proc/{{supervisor}}/fd/2')
os.kill(warden, signal.SIGSTOP)
os.kill(supervisor, signal.SIGSTOP)
open({done!r}, 'w').write(folder_file)
"""
# Starts the session, waits until the program is done, sends SIGINT (Ctrl-C, as tox passes it on),
# and says how the session ended: its exit status, or that it did not end within the bound.
DRIVER = """import json, os, signal, subprocess, sys, time
done, argv = sys.argv[1], sys.argv[2:]
session = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 120
while not os.path.exists(done) and session.poll() is None and time.monotonic() < deadline:
    time.sleep(0.1)
session.send_signal(signal.SIGINT)
try:
    print(json.dumps({"exit": session.wait(timeout=120)}))
except subprocess.TimeoutExpired:
    session.kill()
    session.wait()
    print(json.dumps({"exit": "still going 120 s after Ctrl-C: killed"}))
"""
BLOCKED = SCRATCH / "blocked"


def write_blocker() -> None:
    (BLOCKED / "programs").mkdir(parents=True, exist_ok=True)
    (BLOCKED / "programs" / "blocks_its_reader.py").write_text(BLOCKS.format(done=str(BLOCKED / "done")), encoding="utf-8")


BLOCKED_SESSION = matrix_session("--examples-dir", BLOCKED / "programs", "--start-method", "spawn", f"--junitxml={BLOCKED / 'junit.x.xml'}")
BLOCKED_RUN = Job((sys.executable, "-c", DRIVER, str(BLOCKED / "done"), *BLOCKED_SESSION), timeout=400, prepare=write_blocker)
early("blocked_run", *([BLOCKED_RUN] if sys.platform == "linux" else []))


@pytest.mark.skipif(sys.platform != "linux", reason="the program finds its stdout in /proc")
def test_ctrl_c_ends_a_session_whatever_a_run_left_behind(pytestconfig):
    """The session's end waits for its threads within a bound: one blocked for good by what a run
    left behind does not keep it going (it hung in the thread pool's shutdown, Ctrl-C or not).
    Interrupted, it keeps no JUnit file; the run's temporary folder, left by the blocked thread,
    is removed by the next session's sweep."""
    done = finished(pytestconfig, BLOCKED_RUN)
    assert json.loads(done.stdout) == {"exit": 2}, done.stdout + done.stderr
    assert not (BLOCKED / "junit.x.xml").exists()
    folder = Path((BLOCKED / "done").read_text()).parent
    assert folder.name.startswith(scratch.PREFIX)
    if folder.exists():  # (else a session started since, this one's own jobs', swept it already)
        assert folder in scratch.sweep(folder.parent)  # the session that left it is gone: its lock is free
    assert not folder.exists()


def test_a_sweep_leaves_the_folders_of_runs_under_way():
    with scratch.run_folder() as folder:
        assert Path(folder) not in scratch.sweep(Path(folder).parent) and Path(folder).exists()
    assert not Path(folder).exists()


# --- runs have no controlling terminal; Ctrl-C on the terminal stops every one of them -----------

TERMINAL = """import os
try:
    os.close(os.open('/dev/tty', os.O_RDWR))
    print('a terminal')
except OSError:
    print('no terminal')
"""


@pytest.mark.skipif(sys.platform != "linux" or not shutil.which("setsid"), reason="a session on a pseudo-terminal: setsid --ctty (util-linux)")
def test_runs_have_no_terminal_and_ctrl_c_on_the_terminal_stops_them(tmp_path):
    """A session on a terminal of its own (a pseudo-terminal, its controlling terminal): a run cannot
    open /dev/tty (it could read the session's terminal, or stop it), and Ctrl-C typed on the
    terminal (the line discipline's SIGINT, to the foreground process group) ends the session with
    its hanging run: nothing left running, exit 2."""
    token = f"terminal-{uuid.uuid4().hex}"
    folder = tmp_path / token
    folder.mkdir()
    (folder / "a_terminal.py").write_text(TERMINAL, encoding="utf-8")
    (folder / "a_terminal.toml").write_text('[text]\nexact = "no terminal\\n"\n', encoding="utf-8")
    (folder / "b_hangs.py").write_text("import time\ntime.sleep(600)\n", encoding="utf-8")
    master, slave = os.openpty()
    argv = ["setsid", "--ctty", *matrix_session("--examples-dir", folder, "--start-method", "spawn", "-v", "--color=no", "--example-timeout", "600")]
    session = subprocess.Popen(argv, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    said = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last process closed it
                return
            if not chunk:
                return
            said.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not (re.search(rb"a_terminal-spawn\] (PASSED|FAILED)", said) and running(f"{token}/b_hangs.py")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert b"a_terminal-spawn] PASSED" in said, said.decode(errors="replace")
        os.write(master, b"\x03")  # Ctrl-C
        assert session.wait(timeout=120) == 2, said.decode(errors="replace")
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
        reader.join(10)
        os.close(master)
    assert not running(token), "a run of the interrupted session is still going"
