"""How long the whole local matrix takes, against its slowest example run alone.

    python benchmarks/matrix_speed.py [--repeat N] [-- TOX ARGS]

Runs 01_processes (the slowest example: 10 s of sleeps) alone (as a reader runs it, its claims checked), then the
matrix with `tox p -p all -m matrix` (every local interpreter x 4 start methods x 4 examples),
and prints both wall times and their ratio. Run it once before, so that the tox envs are warm.
With --repeat N the matrix runs N times and the failed runs are counted too.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time

from slowest_alone import ROOT, slowest_alone


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="run the matrix N times (default 1)")
    parser.add_argument("tox_args", nargs="*", help="more arguments for tox, after --")
    args = parser.parse_args()
    if shutil.which("tox") is None:
        sys.exit("matrix_speed: tox is not on PATH; install it with: python3 -m pip install 'tox>=4.22'")

    alone = slowest_alone()
    print(f"01_processes alone:   {alone:6.2f} s")

    failures, walls = 0, []
    for attempt in range(1, args.repeat + 1):
        started = time.monotonic()
        done = subprocess.run(["tox", "p", "-p", "all", "-m", "matrix", *args.tox_args], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        walls.append(time.monotonic() - started)
        if done.returncode != 0:
            failures += 1
            print(done.stdout[-3000:])
        status = "ok" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
        print(f"matrix run {attempt:2}/{args.repeat}: {walls[-1]:6.2f} s  ratio {walls[-1] / alone:4.2f}  {status}")
    print(f"matrix wall (median of {len(walls)}): {sorted(walls)[len(walls) // 2]:6.2f} s; "
          f"ratio to the slowest example alone: {sorted(walls)[len(walls) // 2] / alone:4.2f}; "
          f"failed runs: {failures}/{len(walls)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
