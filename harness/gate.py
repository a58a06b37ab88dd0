"""Where sessions that share one machine wait for each other (pytest --gate-dir DIR --gate-name NAME).

Each session's launcher starts its slow runs (01_processes) first and holds the others back until
their workers are going (harness/plugin.py). That order holds within one session; but the container
targets are separate sessions, each container a CPU cgroup with an equal share whatever the
priorities inside it, so one target's fast runs would slow down another's slow ones. Meeting in a
folder, every session holds its fast runs back until every session's slow runs are going. Only
speed depends on this: the gate opens after a few seconds whatever the folder says.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path


class Peers:
    """The sessions met in `folder`: each says when it started (NAME.started) and when its slow runs
    are going (NAME.going)."""

    FRESH = 30.0  # seconds: a `.started` older than that is an earlier session's, not a peer

    def __init__(self, folder: Path, me: str | None = None):
        self.folder, self.me = folder, me or f"{socket.gethostname()}-{os.getpid()}"
        self.since, self.said = time.time() - self.FRESH, False
        with contextlib.suppress(OSError):  # a container started again keeps its name
            (folder / f"{self.me}.going").unlink(missing_ok=True)
        mark(folder, self.me, "started")

    @staticmethod
    def expect(folder: Path, names: list[str]) -> None:
        """Start a meeting of these sessions afresh (tox -e all, before it starts them): each is
        waited for from now on, even before it says it started."""
        if folder.is_dir():
            for path in folder.iterdir():
                path.unlink()
        for name in names:
            mark(folder, name, "started")

    def started(self) -> bool:
        """Whether this session's mark is in the folder (false if the folder cannot be written)."""
        return (self.folder / f"{self.me}.started").is_file()

    def going(self) -> bool:
        """Say that this session's slow runs are going; whether every peer's are."""
        if not self.said:
            mark(self.folder, self.me, "going")
            self.said = True
        started = {path.stem for path in self.folder.glob("*.started") if self._fresh(path)}
        return started <= {path.stem for path in self.folder.glob("*.going")}

    def _fresh(self, path: Path) -> bool:
        try:
            return path.stat().st_mtime >= self.since
        except OSError:
            return False  # removed meanwhile: its session is starting again


def mark(folder: Path, name: str, what: str) -> None:
    path = folder / f"{name}.{what}"
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o777)  # not masked by the umask: the peers may be other users (containers)
        try:
            path.touch()
        except PermissionError:  # another user's (tox -e all runs as root, the containers do not)
            path.unlink()
            path.touch()
    except OSError:
        pass  # not writable: the gate waits for fewer
