"""harness/supervisor.py on an interpreter without os.posix_spawnp and signal.sigtimedwait (PyPy has
neither): it starts the main process by fork and exec instead, with the terminal's stop signals back
to their default as posix_spawnp's setsigdef leaves them, a program that cannot be started is the
same one line, and the wait for the run's last processes polls. Each case runs the supervisor as the
runner does, once as it is and once with those two functions removed before it starts. On Linux the
runner finds what is left of a run (runner.members) without psutil, which Debian packages for
CPython only. (The containers run the whole harness on PyPy itself: tests/test_containers.py.)"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

from harness.runner import RUN_MARKER, SUPERVISOR, Run, RunError, frames, members, supervisor_command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Windows has no supervisor: the runner holds the job object")

# The supervisor started by `python -c` with PyPy's os and signal modules, as far as it uses them.
AS_ON_PYPY = (
    "import os, runpy, signal, sys;"
    "vars(os).pop('posix_spawnp', None); vars(signal).pop('sigtimedwait', None);"
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)
TERMINAL_STOPS = ("SIGTSTP", "SIGTTIN", "SIGTTOU")
# The main process: says how it found the terminal's stop signals (the supervisor ignores them),
# and starts a child it waits for (the supervisor's loop reaps what the run leaves, polling).
MAIN = (
    "import json, signal, subprocess, sys;"
    f"print(json.dumps({{name: signal.getsignal(getattr(signal, name)) == signal.SIG_DFL for name in {TERMINAL_STOPS!r}}}));"
    "subprocess.run([sys.executable, '-c', 'import time; time.sleep(0.2)'])"
)


def supervise(tmp_path, command: list[str], how: str) -> tuple[subprocess.CompletedProcess, dict | None]:
    """The supervisor run as the runner runs it; its stdout is what it read of the run's (its frames)."""
    reading, writing = os.pipe()
    args = supervisor_command(report=writing, timeout=120, grace=60, runner=os.getpid(), nice=0)
    if how == "as-on-pypy":
        at = args.index(str(SUPERVISOR))
        args = [*args[:at], "-c", AS_ON_PYPY, *args[at:]]
    try:
        with open(reading, "rb") as received:
            process = subprocess.Popen([*args, "--", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(writing,))
            os.close(writing)
            sent = received.read()
            _, stderr = process.communicate(timeout=300)
    finally:
        try:
            os.close(writing)
        except OSError:
            pass
    try:
        seen = frames(Run("x", "spawn", sys.executable), sent, process.returncode, tmp_path / "none")
    except RunError:
        return subprocess.CompletedProcess(args, process.returncode, "", stderr), None
    return subprocess.CompletedProcess(args, process.returncode, seen.stdout.decode(), stderr + seen.stderr.decode()), seen.report


@pytest.mark.parametrize("how", ["as-it-is", "as-on-pypy"])
def test_the_main_process_starts_with_the_terminal_stops_at_their_default(tmp_path, how):
    done, report = supervise(tmp_path, [sys.executable, "-c", MAIN], how)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert json.loads(done.stdout) == dict.fromkeys(TERMINAL_STOPS, True)
    assert report is not None, "the supervisor wrote no report"
    assert (report["returncode"], report["leftovers"]) == (0, []), report
    assert report["main_pid"] not in (None, os.getpid())


@pytest.mark.parametrize("how", ["as-it-is", "as-on-pypy"])
def test_a_program_that_cannot_be_started_is_one_line(tmp_path, how):
    missing = str(tmp_path / "no-such-program")
    done, report = supervise(tmp_path, [missing], how)
    assert (done.returncode, done.stdout, report) == (2, "", None)
    assert done.stderr == f"supervisor: cannot start {missing}: {os.strerror(errno.ENOENT)}\n"


def test_the_stops_it_restores_are_the_ones_the_supervisor_ignores():
    from harness import supervisor

    assert {signal.Signals(sig).name for sig in supervisor.TERMINAL_STOPS} == set(TERMINAL_STOPS)


@pytest.mark.skipif(sys.platform != "linux", reason="psutil is what finds them elsewhere")
def test_the_processes_of_a_run_are_found_without_psutil_on_linux(monkeypatch):
    token = uuid.uuid4().hex
    code = "import time; print('going', flush=True); time.sleep(600)"
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, RUN_MARKER: token}, stdout=subprocess.PIPE)
    try:
        assert process.stdout.readline() == b"going\n"  # past its exec: its environment is its own
        monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil raises ImportError, as on PyPy in Debian
        found = members(token)
        assert [(p.pid, p.cmdline()[1:]) for p in found] == [(process.pid, ["-c", code])]
        found[0].kill()
        assert process.wait(timeout=60) == -signal.SIGKILL
        assert members(token) == []
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
