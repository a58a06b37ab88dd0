"""Stress mode: "never flaky" as a number. Runs a command N times (by default the README's test
command, plain `tox`), optionally with added CPU load, and counts after each run which claims
broke in which cells (from the JUnit files' cell properties). Prints, per claim and per start
method, how many runs failed and a 95 % upper bound on the false-failure rate: with 0 failures in n
runs the rate is below about 3/n, so 100 clean runs bound it at 3 %.

    python3 benchmarks/stress.py --runs 100 [--load 2] [--results results/tox] [-- COMMAND ...]

Exit status 1 if any run failed. Standard library only.
"""

from __future__ import annotations

import argparse
import math
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def upper_bound(failures: int, runs: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound on a rate seen `failures` times in `runs`."""
    if runs == 0:
        return 1.0
    if failures >= runs:
        return 1.0
    alpha = 1 - confidence
    if failures == 0:
        return 1 - alpha ** (1 / runs)

    def cdf(p: float) -> float:  # P(X <= failures) for X ~ Binomial(runs, p)
        return sum(math.comb(runs, k) * p**k * (1 - p) ** (runs - k) for k in range(failures + 1))

    low, high = failures / runs, 1.0
    for _ in range(60):  # cdf falls as p grows: find where it reaches alpha
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) > alpha else (low, middle)
    return high


def broken_cells(results: Path) -> list[tuple[str, str, str]]:
    """(claim, start method, cell) of every cell that did not pass, and ("test", "-", name) of
    every other test that failed, in the JUnit files under `results`."""
    found = []
    for path in sorted(results.rglob("junit*.xml")):
        for case in ET.parse(path).getroot().iter("testcase"):
            props = {p.get("name"): p.get("value") for p in case.iter("property")}
            failed = case.find("failure") is not None or case.find("error") is not None
            if "status" in props:
                if props["status"] not in ("passed", "not_available", "missing"):
                    found.append((props.get("claim") or props["status"], props.get("start_method", "-"), case.get("name")))
            elif failed:
                found.append(("test", "-", case.get("name")))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="how many times to run the command (default 20)")
    parser.add_argument("--load", type=int, default=0, metavar="K", help="keep K busy processes running meanwhile (added CPU load)")
    parser.add_argument("--results", type=Path, default=ROOT / "results" / "tox", help="where the command writes its JUnit files")
    parser.add_argument("command", nargs="*", default=["tox"], help="the command, after -- (default: tox)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    # Stopped (SIGTERM: a cancelled job, `kill`), it passes the stop on to the run under way, which
    # ends its own processes as tox does, kills its busy processes and exits 143: nothing left
    # running. The handler raises nothing (an exception inside Popen would orphan the process it
    # was starting); a process started after it came is stopped as soon as it is known.
    stopped: list[int] = []
    running: list[subprocess.Popen] = []

    def stop(*_) -> None:
        stopped.append(signal.SIGTERM)
        for proc in running:
            proc.terminate()

    def start(command: list[str], **options) -> subprocess.Popen:
        proc = subprocess.Popen(command, **options)
        running.append(proc)
        if stopped:
            proc.terminate()
        return proc

    signal.signal(signal.SIGTERM, stop)
    load = [start([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    failed_runs, by_claim, by_method, walls = 0, Counter(), Counter(), []
    try:
        for attempt in range(1, args.runs + 1):
            for old in args.results.rglob("junit*.xml"):
                old.unlink()
            started = time.monotonic()
            with start(args.command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
                output = proc.communicate()[0]
            running.remove(proc)
            if stopped:
                break
            done = subprocess.CompletedProcess(args.command, proc.returncode, output)
            walls.append(time.monotonic() - started)
            broken = broken_cells(args.results) if args.results.is_dir() else []
            if done.returncode != 0 or broken:
                failed_runs += 1
                by_claim.update({claim for claim, _, _ in broken} or {f"exit {done.returncode}"})
                by_method.update({method for _, method, _ in broken if method != "-"})
                # All of it, kept: the tail alone can miss what went wrong first.
                log = args.results.parent / "stress" / f"run-{attempt:03}.log"
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text(done.stdout, encoding="utf-8")
                print(done.stdout[-2000:])
                print(f"(the whole output: {log})")
            status = (
                "ok"
                if done.returncode == 0 and not broken
                else f"FAILED: {', '.join(sorted({c for c, _, n in broken})) or f'exit {done.returncode}'}"
            )
            print(f"run {attempt:3}/{args.runs}: {walls[-1]:6.1f} s  {status}", flush=True)
    finally:
        for busy in load:
            busy.kill()
            busy.wait()
    if stopped:
        return 128 + signal.SIGTERM

    n = len(walls)
    print(
        f"\n{n} runs of `{' '.join(args.command)}` with {args.load} busy process(es) added: "
        f"median {sorted(walls)[n // 2]:.1f} s, {failed_runs} failed"
    )
    print(f"  {'':24} {'runs failed':>11}  95 % upper bound on the false-failure rate")
    print(f"  {'any claim':24} {failed_runs:>11}  {upper_bound(failed_runs, n):6.1%}")
    claims = [
        "start_method",
        "child_exit",
        "output",
        "evidence",
        "records",
        "lifetime",
        "leftovers",
        "exit_status",
        "stderr",
        "output_limit",
        "timeout",
    ]
    for claim in claims + sorted(set(by_claim) - set(claims)):  # a failure of another kind: "test", "exit 2"
        print(f"  {'claim ' + claim:24} {by_claim[claim]:>11}  {upper_bound(by_claim[claim], n):6.1%}")
    for method in ("default", "fork", "spawn", "forkserver"):
        print(f"  {'start method ' + method:24} {by_method[method]:>11}  {upper_bound(by_method[method], n):6.1%}")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
