"""The start-up hook (harness/inject/mp_evidence.py) in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from harness.inject import mp_contract as contract
from harness.plugin import ROOT

# Records made while a record is being made: the garbage collector may run a finalizer (a queue's
# clean-up, a lock's) at any allocation, in the middle of record() itself.
REENTERED = """import gc, mp_evidence
gc.set_threshold(1, 1, 1)
gc.callbacks.append(lambda phase, info: mp_evidence.record("role", role="from a finalizer") if phase == "start" else None)
for _ in range(300):
    mp_evidence.record("role", role="x")
    [[]]  # garbage
"""


def test_a_record_made_while_one_is_being_made_waits_its_turn(tmp_path):
    """It is sent right after, numbered in order: never a deadlock on the record lock (which is not
    reentrant), never a gap or a record out of place."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "harness" / "inject"), contract.EVIDENCE: str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", REENTERED], env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    (log,) = tmp_path.glob("*.log")
    numbers = [json.loads(line)["n"] for line in log.read_text(encoding="ascii").splitlines()]
    assert numbers == list(range(len(numbers))) and len(numbers) > 600


# A send that finds the supervisor's queue full although the poll before it saw room: PyPy's timed
# send raises BlockingIOError then (CPython polls again), and the process's records must go on.
CROWDED = """import errno, os, mp_evidence
class Crowded:
    sent = []
    refusals = 3
    def send(self, line):
        if Crowded.refusals:
            Crowded.refusals -= 1
            raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        Crowded.sent.append(line)
mp_evidence._sock = Crowded()
for i in range(5):
    mp_evidence.record("role", role=str(i))
print(len(Crowded.sent), mp_evidence._active)
"""


def test_a_full_queue_delays_a_record_and_loses_none(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "harness" / "inject"), contract.EVIDENCE: str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", CROWDED], env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "5 True\n")
