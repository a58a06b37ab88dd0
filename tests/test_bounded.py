"""harness/bounded.py: reads bounded to regular files, and calls bounded in time in a worker process
that also ends itself when its session was killed while it worked."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from harness.bounded import Overtime, Unreadable, Worker, read_regular
from harness.launcher import finished
from harness.plugin import ROOT
from sessions import Job, early

CATASTROPHIC = ("(a+)+b", "a" * 40)  # 2**40 ways to split the a's: far past any bound here


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, devices and symbolic links made the POSIX way")
def test_read_regular_reads_a_small_regular_file_only(tmp_path):
    (tmp_path / "small").write_bytes(b"x" * 10)
    (tmp_path / "large").write_bytes(b"x" * 11)
    (tmp_path / "link").symlink_to(tmp_path / "small")
    os.mkfifo(tmp_path / "fifo")
    assert read_regular(tmp_path / "small", 10) == b"x" * 10
    assert read_regular(tmp_path / "link", 10) == b"x" * 10  # followed unless asked not to
    for path, follow, why in [
        (tmp_path / "large", True, "larger than 10 bytes"),
        (tmp_path / "link", False, "a symbolic link"),
        (tmp_path / "fifo", True, "not a regular file"),  # not waited for
        (Path("/dev/zero"), True, "not a regular file"),  # not read for ever
        (tmp_path, True, "not a regular file"),
        (tmp_path / "missing", True, "no such file"),
    ]:
        with pytest.raises(Unreadable) as refused:
            read_regular(path, 10, follow=follow)
        assert str(refused.value) == why, path


@pytest.fixture
def worker():
    worker = Worker()
    yield worker
    worker.close()


def test_a_worker_calls_within_a_bound(worker):
    assert worker.call(60, re.findall, "a", "banana") == ["a", "a", "a"]
    with pytest.raises(ValueError, match="invalid literal for int"):  # the function's own exception
        worker.call(60, int, "x")
    with pytest.raises(Overtime, match="took more than 1 s"):
        worker.call(1, re.fullmatch, *CATASTROPHIC)
    assert worker.process is None  # killed: the next call starts another
    assert worker.call(60, re.findall, "n", "banana") == ["n", "n"]


# A session that is killed (SIGKILL) while its worker matches: the worker ends itself soon after
# its bound, instead of matching for hours with no one to kill it (found after an interrupted run).
ORPHAN = f"""import re, sys
sys.path.insert(0, {str(ROOT)!r})
from harness.bounded import Worker
worker = Worker()
worker.start()
print(worker.process.pid, flush=True)
worker.call(1, re.fullmatch, *{CATASTROPHIC!r})
"""
DRIVER = """import json, subprocess, sys, time
import psutil
session = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
pid = int(session.stdout.readline())
time.sleep(0.5)  # (the call is under way, or about to be: either way the worker must end)
session.kill()
session.wait()
try:
    psutil.Process(pid).wait(timeout=120)
    print(json.dumps({"worker": "ended"}))
except psutil.TimeoutExpired:
    psutil.Process(pid).kill()
    print(json.dumps({"worker": "still running 120 s after its session was killed"}))
except psutil.NoSuchProcess:
    print(json.dumps({"worker": "ended"}))
"""
ORPHAN_RUN = Job((sys.executable, "-c", DRIVER, ORPHAN), timeout=300)
early("orphan", ORPHAN_RUN)


def test_a_worker_ends_itself_when_its_session_was_killed(pytestconfig):
    done = finished(pytestconfig, ORPHAN_RUN)
    assert json.loads(done.stdout) == {"worker": "ended"}, done.stdout + done.stderr
