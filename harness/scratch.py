"""The runs' temporary folders (`harness-*` in the system's temporary folder), and the clean-up of
those a killed session left.

A run's folder holds its script, records and the supervisor's report; the session removes it when
the run ends. A session that is killed (SIGKILL, a closed CI job) cannot: each folder therefore
holds a lock (`.harness-run.lock`, results.try_lock: one the system releases when its holder ends,
however it ends) for as long as its run is under way, and every session starts by removing the
folders whose lock no one holds. The lock file says its holder's pid once it is locked: a folder
whose lock file is empty (its session is making it) or absent (another program's) is left alone.
Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from harness.results import try_lock

PREFIX = "harness-"
LOCK = ".harness-run.lock"


@contextlib.contextmanager
def run_folder() -> Iterator[str]:
    """A new temporary folder for one run, locked while it is in use, then removed."""
    folder = tempfile.mkdtemp(prefix=PREFIX)
    fd = os.open(os.path.join(folder, LOCK), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)  # not inherited by the run (PEP 446)
    try:
        # A sweep may hold the new lock for a moment (it then finds the file empty, and leaves it).
        deadline = time.monotonic() + 10
        while not try_lock(fd) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.write(fd, f"{os.getpid()}\n".encode())  # locked, and said so: a sweep may take it once it is free
        yield folder
    finally:
        os.close(fd)  # first: Windows removes no file that is open
        shutil.rmtree(folder, ignore_errors=True)  # (a file still open in a process being killed, on Windows: a later session's sweep)


def sweep(where: Path | None = None) -> list[Path]:
    """Remove the run folders whose session is gone (their lock is free); the folders removed."""
    removed = []
    for folder in Path(where or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            fd = os.open(folder / LOCK, os.O_RDWR)
        except OSError:
            continue  # not a run's folder, being made, or another user's
        try:
            free = try_lock(fd) and os.fstat(fd).st_size > 0  # empty: its session is between making and locking it
        finally:
            os.close(fd)
        if free:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
