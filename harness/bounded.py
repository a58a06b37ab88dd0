"""Bounds on the harness's work on input it did not write: what it reads, and how long it judges.

- `read_regular(path, limit)`: at most `limit` bytes of a regular file, opened without blocking
  (a FIFO), never a device, and with `follow=False` never through a symbolic link; anything else
  raises Unreadable, in a few words.
- `Worker.call(seconds, function, *args)`: `function(*args)` in a process of the worker's own,
  within `seconds`. Past them the process is killed (and the next call starts another) and
  Overtime is raised. The claims are judged so (harness/plugin.py: the `judged` fixture): a claims
  file's regular expression that backtracks catastrophically, `(a+)+` on a line of a's, ran 90 s at
  full CPU on one 34-character line. A process is the one bound that holds everywhere the harness
  runs: CPython's regular expressions hold the GIL while they match, so no thread can stop them;
  SIGALRM does (the matcher checks for signals) but exists on POSIX only; the `regex` package's
  timeout is a C extension with no build for every interpreter the harness runs on (PyPy,
  prereleases, Debian's Pythons); and refusing "catastrophic" patterns when a claims file is read
  can only be a guess (nested quantifiers are one shape of many), while a bound on the time
  covers every pattern, and any check of the claims that would not end.
Standard library only.
"""

from __future__ import annotations

import errno
import faulthandler
import importlib
import multiprocessing
import os
import signal
import stat
from pathlib import Path
from typing import Any

STARTUP = 120.0  # seconds a worker may take to start (a loaded machine), not counted in a call's bound
PRELOAD = ("harness.runner", "harness.examples", "harness.verdict")  # what the plugin's judgements need


class Unreadable(ValueError):
    """Why a file is not read, in a few words."""


class Overtime(Exception):
    """A call went past its bound; its process was killed."""


def size_text(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 and not limit % (1 << 20) else f"{limit >> 10} KiB" if limit >= 1 << 10 else f"{limit} bytes"


def read_regular(path: Path, limit: int, *, follow: bool = True) -> bytes:
    """All of a regular file of at most `limit` bytes. Opened non-blocking (a FIFO would wait for a
    writer) and without becoming a controlling terminal; with follow=False a symbolic link is not
    followed (O_NOFOLLOW; where there is none, as on Windows, the path is checked first)."""
    if not follow and not hasattr(os, "O_NOFOLLOW") and os.path.islink(path):
        raise Unreadable("a symbolic link")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise Unreadable("no such file") from None
    except OSError as exc:
        if not follow and (exc.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(path)):
            raise Unreadable("a symbolic link") from None
        raise Unreadable(f"cannot read it: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("not a regular file")
        chunks, size = [], 0
        while info.st_size <= limit and size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if info.st_size > limit or size > limit:  # (or it grew while it was read)
        raise Unreadable(f"larger than {size_text(limit)}")
    return b"".join(chunks)


# Seconds past a call's bound at which the worker ends itself: its session kills it at the bound,
# but a session killed itself (SIGKILL) cannot, and a worker busy in a regular expression never
# reads the end of its pipe.
SELF_DESTRUCT = 5.0


def deadline(seconds: float | None, quiet) -> None:
    """End this process in `seconds` (None: not any more), whatever it is doing: faulthandler's
    watchdog where there is one, else SIGALRM's default action (POSIX)."""
    if hasattr(faulthandler, "dump_traceback_later"):
        if seconds is None:
            faulthandler.cancel_dump_traceback_later()
        else:
            faulthandler.dump_traceback_later(seconds, exit=True, file=quiet)
    elif hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, seconds or 0)


def serve(conn) -> None:
    """The worker's loop: call what it is sent, send back (True, result) or (False, exception)."""
    # Ctrl-C reaches the whole foreground process group: the session handles it, and kills this.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # faulthandler's watchdog is a thread of C that needs no GIL: it ends the process (_exit) even
    # while a regular expression holds the GIL. Its traceback goes nowhere.
    quiet = open(os.devnull, "w")  # noqa: SIM115 (the watchdog writes to it for the process's life)
    # What a judgement unpickles and calls, imported before the worker says it is ready: a call's
    # bound is the judging's, not the imports' (seconds, on a loaded machine, in a fresh worker).
    for module in PRELOAD:
        importlib.import_module(module)
    conn.send("ready")
    while True:
        try:
            module, name, args, seconds = conn.recv()
        except (EOFError, OSError):
            return  # the session ended, however it ended
        deadline(seconds + SELF_DESTRUCT, quiet)
        try:
            reply = (True, getattr(importlib.import_module(module), name)(*args))
        except Exception as exc:  # a bug of the harness: the caller raises it
            reply = (False, exc)
        finally:
            deadline(None, quiet)
        try:
            conn.send(reply)
        except Exception as exc:  # an exception (or a result) that does not pickle: its text does
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc} (sending {type(reply[1]).__name__}: {reply[1]})")))


class Worker:
    """A process that calls functions for the harness, each call within a bound of time."""

    def __init__(self) -> None:
        self.process = None
        self.conn = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # a process of its own: fork would copy the session's threads
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=serve, args=(theirs,), name="harness-worker", daemon=True)
        self.process.start()
        theirs.close()
        if not self.conn.poll(STARTUP) or self.receive() != "ready":
            self.close()
            raise RuntimeError(f"the harness's worker process did not start within {STARTUP:g} s")

    def receive(self) -> Any:
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            code = self.process.exitcode
            self.close()
            raise RuntimeError(f"the harness's worker process ended (exit status {code}) before it answered") from None

    def call(self, seconds: float, function, *args) -> Any:
        """function(*args), in the worker's process (a function of a module: it is imported there)."""
        if self.process is None:
            self.start()
        try:
            self.conn.send((function.__module__, function.__name__, args, seconds))
            answered = self.conn.poll(seconds)
        except BaseException:  # Ctrl-C while it works, say: its answer would be taken for the next call's
            self.close()
            raise
        if not answered:
            self.close()
            raise Overtime(f"took more than {seconds:g} s")
        ok, value = self.receive()
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Kill the worker's process if there is one (a call under way included) and wait for it."""
        process, self.process = self.process, None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if process is not None:
            process.kill()
            process.join(30)
