"""Where a session writes its results (--junitxml, and the timelines beside it): checked before any
run starts, written by one session at a time, and never left holding a file that reads as current
when the session did not finish.

- `claim(junit)`: takes the JUnit file's lock (`.NAME.lock` beside it, never removed: a lock the
  system releases when the holder ends, however it ends, so a killed session leaves none), which
  also shows that the folder can be written (a read-only or full folder fails here, up front); then
  removes the previous session's file. pytest writes the new one when the session ends, so a session
  that is killed leaves no JUnit file at all: the report says so rather than reading an old one as
  this run's. A session that ends early (interrupted, stopped at a first failure, an internal error)
  has pytest write the cells it ran; `release(claimed, keep=False)` then removes that file (the
  plugin records, in a complete one, how many cells it has: the report refuses a file without).
- `Claimed.tampered()`: whether the folder or the lock was removed or replaced since the claim (a
  run executes as the session's user: nothing on the host is out of its reach, but this is seen).
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
from dataclasses import dataclass
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
        else:  # emulated: a byte-range lock on the same byte, held by the open file as Windows' is by its handle
            byte_range(fd, exclusive=True, start=LOCKED_BYTE, length=1)
    except (BlockingIOError, PermissionError):
        return False
    return True


def byte_range(fd: int, exclusive: bool, start: int, length: int) -> None:
    """Lock a range of bytes of an open file (emulated Windows, on Linux), as msvcrt.locking locks
    one: by the open file, not by the process (an open file description lock: POSIX's lockf belongs
    to the process, which may lock a range it holds again, and loses it when it closes any descriptor
    of the file). Raises BlockingIOError or PermissionError if another holds a range of it."""
    import fcntl
    import struct

    kind = fcntl.F_WRLCK if exclusive else fcntl.F_RDLCK
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhllhh", kind, os.SEEK_SET, start, length, 0, 0))  # struct flock


def holder(fd: int) -> str:
    """The line the session holding the lock wrote at the start of the file, or 'unknown'."""
    try:
        if PLATFORM == "win32" and sys.platform != "win32":
            # Emulated Windows: a read of bytes another process has locked fails, as ReadFile does there.
            byte_range(fd, exclusive=False, start=0, length=HOLDER_LINE)
        return os.read(fd, HOLDER_LINE).decode("utf-8", "replace").strip() or "unknown"
    except OSError:
        return "unknown"


@dataclass(frozen=True)
class Claimed:
    """A JUnit file this session holds: its lock's descriptor (closed by `release`, or by the system
    when the process ends), and what its folder and lock were when the session claimed them."""

    junit: Path
    fd: int
    folder: tuple[int, int]  # (device, inode)

    def tampered(self) -> str | None:
        """Why the results are no longer where the session claimed them, or None: a run executes as
        the session's user, and could remove or replace the folder, or the lock, while it runs."""
        try:
            folder = os.stat(self.junit.parent)
        except OSError:
            folder = None
        if folder is None or identity(folder) != self.folder:
            return f"its results folder {self.junit.parent} was removed or replaced while it ran"
        try:
            lock = os.stat(lock_path(self.junit))
        except OSError:
            lock = None
        if lock is None or identity(lock) != identity(os.fstat(self.fd)):
            return f"its lock {lock_path(self.junit)} was removed or replaced while it ran"
        return None


def identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def claim(junit: Path) -> Claimed:
    """Hold `junit` for this session and remove the previous session's file."""
    lock = lock_path(junit)
    try:
        make_folder(junit.parent)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise Unusable(f"cannot write there ({exc.strerror})") from None
    if not try_lock(fd):
        holder_line = holder(fd)
        os.close(fd)
        raise Unusable(f"another session is writing it ({holder_line}); wait for it to end, or give another file")
    try:
        os.chmod(lock, 0o666)  # not masked by the umask: the next session may be another user (containers)
    except OSError:
        pass  # another user's: it made it so
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        os.fsync(fd)  # a full disk says so here, not when the results are written
        if os.path.lexists(junit):
            junit.unlink()
        folder = identity(os.stat(junit.parent))
    except OSError as exc:
        os.close(fd)
        raise Unusable(f"cannot write there ({exc.strerror})") from None
    return Claimed(junit, fd, folder)


def make_folder(folder: Path) -> None:
    """mkdir -p, with an error that says which part is a file rather than "File exists"."""
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise OSError(0, f"{part} is not a folder")
            break
    folder.mkdir(parents=True, exist_ok=True)


def release(claimed: Claimed, keep: bool = True) -> None:
    """Let the file go (the lock goes with its descriptor); with keep=False remove it first: the
    session did not run to its end, and its file must not read as a session's results."""
    try:
        if not keep and os.path.lexists(claimed.junit):
            claimed.junit.unlink()
    finally:
        os.close(claimed.fd)


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
