"""Where a session writes its results (--junitxml, and the timelines beside it): checked before any
run starts, written by one session at a time, and never left holding a file that reads as current
when the session did not finish.

- `claim(junit)`: takes the JUnit file's lock (`.NAME.lock` beside it, never removed: a lock the
  system releases when the holder ends, however it ends, so a killed session leaves none), which
  also shows that the folder can be written (a read-only or full folder fails here, up front); then
  removes the previous session's file. pytest writes the new one when the session ends, so a session
  that is killed, or interrupted before it ends, leaves no JUnit file at all: the report says so
  rather than reading an old one as this run's.
- A second session given the same file while the first holds it is refused, naming the holder.
- `writable(folder)`: whether a file can be written there (the timelines' folder).
Standard library only.

The lock's semantics are the platform's. POSIX's flock locks the whole file and is advisory: the
holder's line stays readable. Windows' locks (msvcrt.locking) lock a range of bytes and are
mandatory: no other process can read a locked byte. So on Windows the lock is one byte far past
the holder's line (LOCKED_BYTE), and emulate-windows takes that branch with fcntl's byte-range locks
and refuses, as Windows would, to read bytes another process has locked.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from harness.platforms import PLATFORM

LOCKED_BYTE = 1 << 30  # Windows: the one byte locked, far past the holder's line, which another session reads
HOLDER_LINE = 200  # bytes of the holder's line read back


class Unusable(Exception):
    """The results cannot be written there, or another session is writing them; one line."""


def lock_path(junit: Path) -> Path:
    return junit.with_name(f".{junit.name}.lock")


def try_lock(fd: int) -> bool:
    """Lock the open file for as long as this process lives; False if another process holds it."""
    try:
        if PLATFORM != "win32":
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        elif sys.platform == "win32":  # msvcrt locks from the file's position
            import msvcrt

            os.lseek(fd, LOCKED_BYTE, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
        else:  # emulated: a byte-range lock on the same byte
            import fcntl

            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, LOCKED_BYTE)
    except (BlockingIOError, PermissionError):
        return False
    return True


def holder(fd: int) -> str:
    """The line the session holding the lock wrote at the start of the file, or 'unknown'."""
    try:
        if PLATFORM == "win32" and sys.platform != "win32":
            import fcntl

            # Emulated Windows: a read of bytes another process has locked fails, as ReadFile does there.
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, HOLDER_LINE, 0)
        return os.read(fd, HOLDER_LINE).decode("utf-8", "replace").strip() or "unknown"
    except OSError:
        return "unknown"


def claim(junit: Path) -> int:
    """Hold `junit` for this session and remove the previous session's file; the lock's descriptor
    (closed by `release`, or by the system when the process ends)."""
    lock = lock_path(junit)
    try:
        make_folder(junit.parent)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise Unusable(f"cannot write there ({exc.strerror})") from None
    if not try_lock(fd):
        who = holder(fd)
        os.close(fd)
        raise Unusable(f"another session is writing it ({who}); wait for it to end, or give another file")
    try:
        os.chmod(lock, 0o666)  # not masked by the umask: the next session may be another user (containers)
    except OSError:
        pass  # another user's: it made it so
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        os.fsync(fd)  # a full disk says so here, not when the results are written
        if junit.exists():
            junit.unlink()
    except OSError as exc:
        os.close(fd)
        raise Unusable(f"cannot write there ({exc.strerror})") from None
    return fd


def make_folder(folder: Path) -> None:
    """mkdir -p, with an error that says which part is a file rather than "File exists"."""
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise OSError(0, f"{part} is not a folder")
            break
    folder.mkdir(parents=True, exist_ok=True)


def release(fd: int) -> None:
    os.close(fd)  # the lock goes with it


def writable(folder: Path) -> str | None:
    """None if a file can be created and written in `folder` (made if missing), else why not."""
    try:
        make_folder(folder)
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"x" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
