"""The yardstick of both benchmarks: the slowest example (01_processes, 10 s of sleeps) run alone,
as a reader runs it, with the text its claims file declares checked (no psutil needed: a bare python3 will do);
and the CPU time the whole machine spent, which bounds how fast a command can be on its cores."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import examples  # noqa: E402
from harness.vocabulary import TEXT_CHECKS, ClaimBroken  # noqa: E402


def slowest_alone() -> float:
    started = time.monotonic()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "harness" / "inject"))  # line-buffered, as in the matrix
    env.pop("PYTHONUNBUFFERED", None)
    done = subprocess.run([sys.executable, "-X", "dev", "examples/01_processes.py"], cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - started
    try:
        if done.returncode or done.stderr:
            raise ClaimBroken(f"exit status {done.returncode}, stderr {done.stderr[-300:]!r}")
        text = examples.load(ROOT / "examples" / "01_processes.py").text
        for name, value in text.items():
            TEXT_CHECKS[name].check(done.stdout, value, text)
    except ClaimBroken as broken:
        sys.exit(f"01_processes alone failed: {broken}")
    return seconds


def machine_cpu() -> float | None:
    """CPU-seconds every process of the machine has spent so far, containers' included (Linux's
    /proc/stat: user, nice, system, irq, softirq; not steal, time the hypervisor gave to others);
    None where there is no /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    return sum(int(fields[i]) for i in (1, 2, 3, 6, 7)) / os.sysconf("SC_CLK_TCK")


def cpu_floor(cpu_seconds: float | None) -> str:
    """'34.1 CPU-s on 2 cores: no less than 17.1 s', the wall time no scheduling can beat."""
    if cpu_seconds is None:
        return "CPU time not measured here (no /proc/stat)"
    cores = os.cpu_count() or 1
    return f"{cpu_seconds:5.1f} CPU-s on {cores} cores: no less than {cpu_seconds / cores:5.1f} s"
