"""Scaffolding of the harness's own tests: pytest sessions (or any command) started by the
launcher with the session's runs, so that their waits overlap instead of adding up.

A test module declares the jobs a fixture waits for with `early(fixture, *jobs)`; tests/conftest.py
hands them to the launcher when a selected test uses that fixture, and the fixture gets each one's
result with `harness.launcher.finished`. A job may also be a test's parameter, as a run is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.plugin import ROOT
from harness.runner import members  # noqa: F401 (the tests' check that nothing of a run survived it)

COPIES_NICE = 15  # the harness's own copies of the examples: below the matrix's cells (nice 10), which are below the slow runs (0)


@dataclass(frozen=True)
class Job:
    """A command the launcher starts with the session's runs (a pytest session of the harness's own
    tests, say), so that its wait overlaps theirs instead of adding to them."""

    argv: tuple[str, ...]
    timeout: float = 300.0
    prepare: Callable[[], object] | None = None  # run first, in the launcher's thread (writes the files it needs)
    env: tuple[tuple[str, str], ...] = ()  # added to the environment
    first = True  # a pytest session starts its own few runs in its first second: start it with the slow runs

    def launch(self) -> subprocess.CompletedProcess:
        if self.prepare:
            self.prepare()
        with subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="backslashreplace",
            env={**os.environ, **dict(self.env)},
        ) as proc:
            RUNNING[self] = proc
            try:
                out, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
            finally:
                RUNNING.pop(self, None)
        return subprocess.CompletedProcess(self.argv, proc.returncode, out, err)

    def stop(self) -> None:
        """Kill it if it is still going (the session ended first)."""
        proc = RUNNING.get(self)
        if proc is not None:
            proc.kill()


def matrix_session(*args: object) -> tuple[str, ...]:
    """The command line of a pytest session of the claims matrix, as a user starts one."""
    return (sys.executable, "-m", "pytest", "tests/test_claims.py", "-p", "no:cacheprovider", *map(str, args))


def live(where: Callable[[object], bool]) -> list:
    """The live processes (not zombies) of the machine for which `where(process)` holds: the one
    finder of processes for the tests (one gone, or another user's, is skipped)."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if where(proc) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, OSError):
            pass
    return found


def in_command_line(token: str) -> Callable[[object], bool]:
    return lambda proc: token in " ".join(proc.cmdline())


def in_environment(name: str, value: str) -> Callable[[object], bool]:
    return lambda proc: proc.environ().get(name) == value


def wait_for(condition: Callable[[], object], seconds: float):
    """Poll until `condition()` is truthy; its last value (a bound, so that a broken harness fails
    the test instead of hanging it)."""
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


RUNNING: dict[Job, subprocess.Popen] = {}
EARLY: dict[str, list[Job]] = {}  # fixture name -> the jobs it waits for


def once(prepare: Callable[[], object]) -> Callable[[], None]:
    """`prepare` for several jobs: the first to start runs it, the others wait until it is done."""
    lock, done = threading.Lock(), []

    def run_once() -> None:
        with lock:
            if not done:
                prepare()
                done.append(True)

    return run_once


def unpinned(claims_file) -> str:
    """A claims file's text without its pin (sha256): the claims of a program, for a copy of the
    program changed as a test needs (a pinned claims file refuses any other program)."""
    text = claims_file.read_text(encoding="utf-8")
    return re.sub(r"(?m)^sha256 = .*\n", "", text)


def early(fixture: str, *jobs: Job) -> tuple[Job, ...]:
    """Declare the jobs a fixture waits for: the launcher starts them when collection ends, if a
    selected test uses that fixture."""
    EARLY.setdefault(fixture, []).extend(jobs)
    return jobs
