"""No process of a run outlives the runner, however the runner ends: here it is killed with
SIGKILL (a cancelled CI job, an OOM kill, a closed terminal) in the middle of a run that hangs,
whose worker has also started a grandchild. (A process that hides from the run, started with an
empty environment in a new session, is in tests/test_checks_can_fail.py: `02-escapee-left`.)"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import psutil

from harness.plugin import ROOT, SHIPPED_EXAMPLES


def command_line(proc: psutil.Process) -> str:
    """'' for a process that is gone or a zombie (the runner's own short-lived children come and go)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    running = []
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                running.append(proc)
        except psutil.NoSuchProcess:
            pass
    return running


def wait_for(condition, seconds: float):
    """Poll until `condition()` is truthy; its last value (a bound, so that a broken harness fails
    the test instead of hanging it)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_killing_the_runner_kills_the_run(tmp_path):
    token = f"hang-{uuid.uuid4().hex}"
    hanging = (
        (SHIPPED_EXAMPLES / "02_queue.py")
        .read_text(encoding="utf-8")
        .replace(
            "    q.put('Hello, world!')\n",
            f"    import subprocess, sys, time\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)  # {token}'])\n"
            "    time.sleep(600)\n",
        )
    )
    (tmp_path / "02_queue.py").write_text(hanging, encoding="utf-8")
    runner = psutil.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_claims.py",
            "-p",
            "no:cacheprovider",
            "-q",
            "--examples-dir",
            str(tmp_path),
            "--start-method",
            "spawn",
            "--example-timeout",
            "600",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run: list[psutil.Process] = []
    try:
        started = wait_for(lambda: any(token in command_line(p) for p in runner.children(recursive=True)), 60)
        assert started, "the hanging run never started its grandchild"
        run = runner.children(recursive=True)  # the supervisor, the example's processes, the grandchild
        runner.kill()  # SIGKILL: nothing of the runner can react
        runner.wait()
        wait_for(lambda: not alive(run), 30)
        survivors = alive(run)
        assert not survivors, f"left running after the runner was killed: {[command_line(p) for p in survivors]}"
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for proc in alive(run):
            proc.kill()
