"""How long the commands people type take, against the slowest example run alone.

    python3 benchmarks/matrix_speed.py [--repeat N] [--commands tox,tox-p,tox-all,matrix]

Runs 01_processes (the slowest example: 10 s of sleeps) alone (as a reader runs it, its claims
checked), then each command N times on warm envs, and prints each one's wall time, its ratio to
the slowest example, and how many runs failed with a 95 % upper bound on the false-failure rate
(benchmarks/stress.py's). The commands:
  tox      plain `tox`: every local Python and the harness's own tests, in one session (README)
  tox-p    `tox p -p all`: the same, through tox's parallel mode
  tox-all  `tox -e all`: every local Python and every container target at once, one report
  matrix   the local claims matrix alone (`tox -e local -- tests/test_claims.py`)
Run each once before, so that the tox envs (and the container images) are warm.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time

from slowest_alone import ROOT, cpu_floor, machine_cpu, slowest_alone
from stress import upper_bound

COMMANDS = {
    "tox": ["tox", "-q"],
    "tox-p": ["tox", "p", "-p", "all"],
    "tox-all": ["tox", "-q", "-e", "all"],
    "matrix": ["tox", "-q", "-e", "local", "--", "tests/test_claims.py"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="run each command N times (default 1)")
    parser.add_argument("--commands", default="tox,tox-p", help=f"which, comma-separated, of: {', '.join(COMMANDS)} (default tox,tox-p)")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in COMMANDS]
    if unknown or not chosen:
        parser.error(f"--commands: unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(COMMANDS)}")
    if shutil.which("tox") is None:
        sys.exit("matrix_speed: tox is not on PATH; install it with: python3 -m pip install 'tox>=4.51'")

    alone = slowest_alone()
    print(f"01_processes alone: {alone:6.2f} s")
    failed_any = False
    for name in chosen:
        walls, cpus, failures = [], [], 0
        for attempt in range(1, args.repeat + 1):
            started, cpu = time.monotonic(), machine_cpu()
            done = subprocess.run(COMMANDS[name], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            walls.append(time.monotonic() - started)
            cpus.append(None if cpu is None else machine_cpu() - cpu)
            if done.returncode != 0:
                failures += 1
                print(done.stdout[-3000:])
            status = "ok" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
            print(
                f"{' '.join(COMMANDS[name])} {attempt:2}/{args.repeat}: {walls[-1]:6.2f} s  ratio {walls[-1] / alone:4.2f}  "
                f"({cpu_floor(cpus[-1])})  {status}",
                flush=True,
            )
        median = sorted(walls)[len(walls) // 2]
        print(
            f"{' '.join(COMMANDS[name])}: median of {len(walls)} {median:6.2f} s, ratio to the slowest example alone "
            f"{median / alone:4.2f}; failed runs {failures}/{len(walls)} (false-failure rate below "
            f"{upper_bound(failures, len(walls)):.1%} at 95 %)"
        )
        failed_any |= failures > 0
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
