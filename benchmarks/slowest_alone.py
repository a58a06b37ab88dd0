"""The yardstick of both benchmarks: the slowest example (01_processes, 10 s of sleeps) run alone,
as a reader runs it, with its claims checked (claims.py needs no psutil, so a bare python3 will do)."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.claims import ClaimBroken, check_processes  # noqa: E402


def slowest_alone() -> float:
    started = time.monotonic()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "harness" / "inject"))  # line-buffered, as in the matrix
    env.pop("PYTHONUNBUFFERED", None)
    done = subprocess.run([sys.executable, "-X", "dev", "examples/01_processes.py"], cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - started
    try:
        if done.returncode or done.stderr:
            raise ClaimBroken(f"exit status {done.returncode}, stderr {done.stderr[-300:]!r}")
        check_processes(done.stdout)
    except ClaimBroken as broken:
        sys.exit(f"01_processes alone failed: {broken}")
    return seconds
