"""Everything this machine can reach, in one command: the claims matrix on every local Python of
tox.ini's list (as `tox` runs it), every container target of compose.yaml (as `docker compose up`
runs them) at the same time, a progress line as cells finish, then one report of all of it.

    tox -e all [-- REPORT OPTIONS]        # e.g. -- --html matrix.html

Without a Docker engine (or compose v2) the local part runs alone, and one line says why the
containers were skipped. Exit status: the report's (0 when every claim holds), or 1 if a part
failed to run at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness import compose_targets, examples, pythons, report
from harness.cells import START_METHODS
from harness.gate import Peers

ROOT = Path(__file__).resolve().parent.parent
LOCAL, CONTAINERS = ROOT / "results" / "tox", ROOT / "results" / "containers"
CELLS = len(examples.discover(ROOT / "examples")) * len(START_METHODS)  # per interpreter
GATE = CONTAINERS / ".gate"  # where the sessions wait for each other's slow runs (docker/run-target's too)


def docker_missing() -> str | None:
    """Why the containers cannot run here, in a few words; None when they can."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    for args, why in (
        (["info"], "no Docker engine reachable (docker info failed)"),
        (["compose", "version"], "no compose v2 plugin (docker compose version failed)"),
    ):
        if subprocess.run(["docker", *args], capture_output=True, timeout=60).returncode != 0:
            return why
    return None


def targets() -> list[str]:
    """compose.yaml's targets, by the one rule (harness/compose_targets.py)."""
    done = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"all: docker compose config failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return list(compose_targets.targets(json.loads(done.stdout)))


def main(argv: list[str]) -> int:
    local = [name for name in pythons.listed() if pythons.find(name)]
    for folder in (LOCAL / "traces" / "local", CONTAINERS / "traces"):
        shutil.rmtree(folder, ignore_errors=True)  # the progress count is of this run's timelines
    why = docker_missing()
    names = [] if why else targets()
    Peers.expect(GATE, ["local", *names])  # no session's fast runs before every session's slow ones
    parts = {
        "local": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/test_claims.py",
                "--python",
                "all",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={LOCAL / 'junit.local.xml'}",
                f"--gate-dir={GATE}",
                "--gate-name=local",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    }
    expected = {"local": CELLS * len(local)}
    if why:
        print(f"all: containers skipped: {why}; the local Pythons only")
    else:
        expected["containers"] = CELLS * len(names)
        parts["containers"] = subprocess.Popen(["docker", "compose", "up"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = {}
    readers = {name: _drain(proc, outputs.setdefault(name, [])) for name, proc in parts.items()}
    progress = Progress(expected, sys.stdout)
    while any(proc.poll() is None for proc in parts.values()):
        # Each cell writes its timeline as it ends.
        progress.show({"local": len(list((LOCAL / "traces" / "local").glob("*.json"))), "containers": len(list(CONTAINERS.glob("traces/*/*.json")))})
        time.sleep(0.5)
    progress.end()
    for reader in readers.values():
        reader.join()
    if parts.get("containers"):
        subprocess.run(["docker", "compose", "down", "-t", "1"], cwd=ROOT, capture_output=True)
    broken = [name for name, proc in parts.items() if proc.returncode not in (0, 1)]  # 1: a claim broke; the report says which
    for name in broken:
        print(f"all: the {name} part failed to run (exit {parts[name].returncode}):\n" + "".join(outputs[name][-40:]))
    paths = [str(LOCAL / "junit.local.xml")] + ([str(CONTAINERS)] if "containers" in parts else [])
    status = report.main([*paths, "--expect", ",".join(local + names), *argv])
    return status or (1 if broken else 0)


class Progress:
    """How many cells each part has done: on a terminal one line rewritten in place; in a file or a
    CI log (no carriage returns there) a line of its own at each quarter of a part, and at its end."""

    def __init__(self, expected: dict[str, int], out):
        self.expected, self.out, self.started = expected, out, time.monotonic()
        self.terminal = out.isatty()
        self.shown, self.marks = "", {}

    def show(self, done: dict[str, int]) -> None:
        line = ", ".join(f"{name} {done[name]}/{total}" for name, total in self.expected.items())
        if line == self.shown:
            return
        self.shown = line
        text = f"cells done: {line} ({time.monotonic() - self.started:.0f} s)"
        if self.terminal:
            print(f"\r{text}", end="", file=self.out, flush=True)
            return
        marks = {name: 4 * min(done[name], total) // max(total, 1) for name, total in self.expected.items()}
        if marks != self.marks:
            self.marks = marks
            print(text, file=self.out, flush=True)

    def end(self) -> None:
        if self.terminal:
            print(file=self.out)


def _drain(proc: subprocess.Popen, into: list[str]):
    """Read a part's output as it comes (it would block on a full pipe), to show it if it fails."""
    thread = threading.Thread(target=lambda: into.extend(proc.stdout), daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
