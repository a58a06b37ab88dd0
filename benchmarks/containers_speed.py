"""How long the Linux container matrix takes, against its slowest example run alone.

    python benchmarks/containers_speed.py [--repeat N]   # warm: images built, `docker compose up`
    python benchmarks/containers_speed.py --cold         # from a bare engine (deletes the images!)

Warm: runs 01_processes (the slowest example: 10 s of sleeps) alone (as a reader runs it, its claims checked) on this
machine, then `docker compose up` N times with the images already built, and prints both wall
times and their ratio. Cold: deletes the matrix's images, the Debian base images and the build
cache, then times docker/bootstrap-images + `docker compose build` + the first `docker compose up`.
Needs a Docker engine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from slowest_alone import ROOT, slowest_alone


def timed(*command: str) -> float:
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(done.stdout[-3000:])
        sys.exit(f"containers_speed: {' '.join(command)} exited {done.returncode} after {seconds:.1f} s")
    return seconds


def images() -> list[str]:
    """The matrix's images and the base images they build on."""
    config = json.loads(subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=ROOT,
                                       capture_output=True, text=True, check=True).stdout)
    names = {s["image"] for s in config["services"].values() if "image" in s}
    names |= {f"{config['name']}-{name}" for name, s in config["services"].items() if "build" in s}
    names |= {f"local/debian:{s['build']['args']['SUITE']}" for s in config["services"].values() if "build" in s}
    return sorted(names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="warm: run `docker compose up` N times")
    parser.add_argument("--cold", action="store_true", help="delete the images first and time bootstrap + build + up")
    args = parser.parse_args()
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode:
        sys.exit("containers_speed: no Docker engine reachable (docker info failed); see .ci/docker-engine")

    if args.cold:
        subprocess.run(["docker", "compose", "down", "-t", "1"], cwd=ROOT, capture_output=True)
        subprocess.run(["docker", "rmi", "-f", *images()], capture_output=True)
        subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True)
        bootstrap = timed(str(ROOT / "docker" / "bootstrap-images"))
        build = timed("docker", "compose", "build", "--quiet")
        up = timed("docker", "compose", "up")
        total = bootstrap + build + up
        print(f"cold: bootstrap {bootstrap:5.1f} s + build {build:5.1f} s + first up {up:5.1f} s = {total:5.1f} s")
    else:
        timed("docker", "compose", "build", "--quiet")  # warm means built: a no-op if they are

    alone = slowest_alone()
    print(f"01_processes alone:     {alone:6.2f} s")
    walls = []
    for attempt in range(1, args.repeat + 1):
        walls.append(timed("docker", "compose", "up"))
        print(f"warm docker compose up {attempt:2}/{args.repeat}: {walls[-1]:6.2f} s  ratio {walls[-1] / alone:4.2f}")
    subprocess.run(["docker", "compose", "down", "-t", "1"], cwd=ROOT, capture_output=True)
    median = sorted(walls)[len(walls) // 2]
    print(f"warm up (median of {len(walls)}): {median:6.2f} s; ratio to the slowest example alone: "
          f"{median / alone:4.2f}; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
