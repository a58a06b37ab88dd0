"""How long the Linux container matrix takes, against its slowest example run alone.

    python benchmarks/containers_speed.py [--repeat N]   # warm: images built, `docker compose up`
    python benchmarks/containers_speed.py --cold         # from a bare engine (deletes the images!)

Warm: runs 01_processes (the slowest example: 10 s of sleeps) alone (as a reader runs it, its
claims checked) on this machine, then `docker compose up` N times with the images already built,
and prints each wall time, its ratio to the example alone and where it went (when the first target
started, how long the slowest one ran, how long compose took after it), then the median ratio.
Cold: deletes the matrix's images, the Debian base images and the build cache, then times
docker/bootstrap-images (no registry here; as root) + `docker compose build` + the first
`docker compose up`, each part and their sum. Needs a Docker engine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone

from slowest_alone import ROOT, cpu_floor, machine_cpu, slowest_alone
from stress import upper_bound

from harness import compose_targets  # after slowest_alone, which puts the repository on sys.path

TIMEOUT = 900  # seconds; a hung command is an error, not a figure


def fail(message: str) -> None:
    sys.exit(f"containers_speed: {message}")


def run(*command: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        fail(f"{' '.join(command)} did not finish within {TIMEOUT} s")


def timed(*command: str) -> float:
    started = time.monotonic()
    done = run(*command)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(done.stdout[-3000:])
        fail(f"{' '.join(command)} exited {done.returncode} after {seconds:.1f} s")
    return seconds


def compose_config() -> dict:
    done = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"docker compose config exited {done.returncode}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def images(config: dict) -> list[str]:
    """Every image `docker compose build` makes (targets and helpers) and the base images they build on."""
    built = [f"{config['name']}-{name}" for name, service in config["services"].items() if "build" in service]
    return sorted(built) + sorted(compose_targets.base_images(config).values())


def since(start: datetime, stamp: str) -> float:
    # Docker's timestamps carry nanoseconds; fromisoformat takes at most microseconds.
    day, _, fraction = stamp.rstrip("Z").partition(".")
    return (datetime.fromisoformat(f"{day}.{fraction[:6] or 0}") - start).total_seconds()


def where_it_went(config: dict, up_started: datetime, wall: float) -> str:
    """From the stopped containers of the last `up`: first target started, slowest target's run, tail."""
    ids = run("docker", "compose", "ps", "-aq").stdout.split()
    states = (
        {c["Config"]["Labels"]["com.docker.compose.service"]: c["State"] for c in json.loads(run("docker", "inspect", *ids).stdout or "[]")}
        if ids
        else {}
    )
    targets = [states[name] for name in compose_targets.targets(config) if name in states]
    if not targets:
        return ""
    first = min(since(up_started, s["StartedAt"]) for s in targets)
    name, state = max(
        ((n, states[n]) for n in compose_targets.targets(config) if n in states), key=lambda item: since(up_started, item[1]["FinishedAt"])
    )
    ran = since(up_started, state["FinishedAt"]) - since(up_started, state["StartedAt"])
    last = since(up_started, state["FinishedAt"])
    return f"  first target started {first:4.2f} s, slowest {name} ran {ran:5.2f} s, compose after it {wall - last:4.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="warm: run `docker compose up` N times")
    parser.add_argument("--cold", action="store_true", help="delete the images first and time bootstrap + build + up")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode:
        fail("no Docker engine reachable (docker info failed); see .ci/docker-engine")
    config = compose_config()
    try:
        compose_targets.targets(config)
    except compose_targets.RuleBroken as broken:
        fail(f"compose.yaml breaks the target rule: {str(broken).splitlines()[0]}")

    if args.cold:
        run("docker", "compose", "down", "-t", "1")
        run("docker", "rmi", "-f", *images(config))
        run("docker", "builder", "prune", "-af")
        bootstrap = timed(str(ROOT / "docker" / "bootstrap-images"))
        build = timed("docker", "compose", "build", "--quiet")
        up = timed("docker", "compose", "up")
        print(f"cold: bootstrap {bootstrap:5.1f} s + build {build:5.1f} s + first up {up:5.1f} s = {bootstrap + build + up:5.1f} s")
    else:
        timed("docker", "compose", "build", "--quiet")  # warm means built: a no-op if they are

    alone = slowest_alone()
    print(f"01_processes alone:     {alone:6.2f} s")
    walls, failures = [], 0
    for attempt in range(1, args.repeat + 1):
        started = datetime.now(timezone.utc).replace(tzinfo=None)  # as docker inspect's (UTC)
        begun, cpu = time.monotonic(), machine_cpu()
        done = run("docker", "compose", "up")
        walls.append(time.monotonic() - begun)
        spent = None if cpu is None else machine_cpu() - cpu
        if done.returncode != 0:  # a claim broke somewhere: counted, as benchmarks/stress.py counts them
            failures += 1
            print(done.stdout[-3000:])
        status = "" if done.returncode == 0 else f"  FAILED (exit {done.returncode})"
        print(
            f"warm docker compose up {attempt:2}/{args.repeat}: {walls[-1]:6.2f} s  ratio {walls[-1] / alone:4.2f}"
            + where_it_went(config, started, walls[-1])
            + f"  ({cpu_floor(spent)})"
            + status
        )
    run("docker", "compose", "down", "-t", "1")
    median = sorted(walls)[len(walls) // 2]
    print(
        f"warm up (median of {len(walls)}): {median:6.2f} s; ratio to the slowest example alone: "
        f"{median / alone:4.2f}; failed runs {failures}/{len(walls)} (false-failure rate below "
        f"{upper_bound(failures, len(walls)):.1%} at 95 %); load average {os.getloadavg()[0]:.1f}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
