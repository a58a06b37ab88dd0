"""Starts every run of a pytest session at once, as soon as collection ends, so that the whole
matrix takes about as long as its slowest run instead of the sum of them.

A launchable is anything with `launch()` (a harness.runner.Run; the harness's own tests add their
pytest sessions) and `first` (start it before the others). The launcher finds every launchable
among the parameters of the selected tests, and those other plugins `add()`; a test (or fixture)
gets a result with `finished()`. The slow runs start first and alone; everything else once each of
them has its workers going (they then mostly sleep), or after GATE seconds at most. Sessions that
share a machine also wait for each other's slow runs (--gate-dir, harness/gate.py). What no test
waited for (after -x, or an interrupt) is stopped, not left running.

A session's state is a `Launcher` in its config's stash (a session run in-process by a test has its
own, and never sees another's): the launches, the runs under way (runner.UnderWay), the timelines.
Its threads are few whatever the folder's size (FIRST_IN_FLIGHT + IN_FLIGHT + the gate's), each
taking the next launch from a queue; they are daemon threads, so that a run blocking one for good
cannot keep the session from ending: the session's end (`finish`) waits for them within a bound.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from concurrent.futures import Future, wait
from pathlib import Path

import pytest

from harness import timeline
from harness.cells import visible
from harness.gate import Peers
from harness.pythons import interpreter_info
from harness.runner import Run, UnderWay

GATE = 5.0  # seconds the other runs wait at most for the slow runs' workers to get going
# Runs under way at once, besides the slow ones (which mostly sleep): enough to keep every core busy
# while some wait on their children, few enough that none waits so long for the CPU that its
# wall-clock timeout ends it (a timeout is about the run, not about the machine's queue).
IN_FLIGHT = 8 * (os.cpu_count() or 2)
# The slow runs under way at once: they mostly sleep, so all of them as a rule (the shipped matrix
# has 4 per Python), but a bound all the same: a thread each, and a container's pids limit counts
# threads (150 programs once gave 1,252 threads, and a session crashed on that limit).
FIRST_IN_FLIGHT = 64
FINISH = 20.0  # seconds the session's end waits for its threads once their runs were stopped
# Memory a run may take, by interpreter (a PyPy run of 04_pool: eight PyPy processes of 100 MB; a
# CPython one: 20 MB each): a run starts only while this much is free, or when nothing else runs, so
# that a small machine (a container's limit, a CI runner) runs fewer at once rather than have the
# kernel kill one (out of memory: SIGKILL).
MEMORY_PER_RUN = {"PyPy": 1 << 30, "": 256 << 20}
SESSION = pytest.StashKey["Launcher"]()


class Launcher:
    """One session's launches: what was added, where timelines go, each launch's Future, the runs
    under way, and the few threads that start them."""

    def __init__(self) -> None:
        self.added: list = []  # launchables other plugins asked for
        self.timelines: dict[Run, Path] = {}  # run -> where its timeline goes
        self.unwritten: dict[Path, str] = {}  # timeline -> why it could not be written: a warning on its cell, its verdict kept
        self.launched: dict[object, Future] = {}  # launchable -> its Future
        self.under_way = UnderWay()
        self.peers: Peers | None = None  # the sessions sharing this machine (--gate-dir)
        self.gate, self.stopping = threading.Event(), threading.Event()
        self.threads: list[threading.Thread] = []
        self.found: list = []

    def launch(self, launchable):
        result = launchable.launch(self.under_way) if isinstance(launchable, Run) else launchable.launch()
        trace = self.timelines.get(launchable)
        if trace:
            unwritten = timeline.write(trace, result.evidence.trace())
            if unwritten:
                self.unwritten[trace] = unwritten
        return result

    def start(self, found: list) -> None:
        """Start every launchable: the first ones at once, the others behind the gate, each group by
        a bounded number of threads taking from its queue, in order."""
        self.found = found
        self.launched = {p: Future() for p in found}
        first = collections.deque(p for p in found if p.first)
        later = collections.deque(p for p in found if not p.first)
        for queue, count, gated in ((first, min(len(first), FIRST_IN_FLIGHT), False), (later, min(len(later), IN_FLIGHT), True)):
            for _ in range(count):
                self.thread(self.work, queue, gated)
        self.thread(self.open_gate, [p for p in first if isinstance(p, Run)])

    def thread(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name="launcher", daemon=True)
        thread.start()
        self.threads.append(thread)

    def work(self, queue: collections.deque, gated: bool) -> None:
        if gated:
            self.gate.wait(GATE)
        while not self.stopping.is_set():
            try:
                launchable = queue.popleft()
            except IndexError:
                return
            future = self.launched[launchable]
            while isinstance(launchable, Run) and self.under_way.active and memory_free() < memory_needed(launchable) and not self.stopping.is_set():
                time.sleep(0.1)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self.launch(launchable))
            except BaseException as exc:  # the test waiting for it raises it
                future.set_exception(exc)

    def open_gate(self, first: list[Run]) -> None:
        deadline = time.monotonic() + GATE
        while time.monotonic() < deadline and not self.stopping.is_set():
            going = all(self.launched[p].done() or self.under_way.workers_going(p) for p in first)
            if going and (self.peers is None or self.peers.going()):
                break
            time.sleep(0.05)
        self.gate.set()

    def finish(self) -> None:
        """Stop what is still going: launches not started are cancelled, the runs under way stopped
        (each told, then killed), and the threads waited for within FINISH seconds: one blocked
        for good (by what a run left behind) does not keep the session from ending."""
        self.stopping.set()
        self.gate.set()
        for future in self.launched.values():
            future.cancel()  # those not started yet
        for launchable in self.found:
            getattr(launchable, "stop", lambda: None)()
        self.under_way.stop()
        deadline = time.monotonic() + FINISH
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def memory_needed(run: Run) -> int:
    implementation = interpreter_info(run.python)["name"].split()[0]
    return MEMORY_PER_RUN.get(implementation, MEMORY_PER_RUN[""])


def memory_free() -> float:
    """Bytes this session could still use: the least of the machine's available memory and what its
    cgroup (a container's limit) leaves, not counting the file cache the kernel can reclaim. Where it
    cannot be read, as good as infinite."""
    free = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            free += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
        with open("/proc/self/cgroup", encoding="ascii") as f:
            mine = dict(line.strip().split(":", 2)[1:] for line in f if line.count(":") >= 2)
    except (OSError, ValueError):
        return free[0] if free else float("inf")
    # cgroup v1 (its memory controller's folder), or v2 (the unified one): limit, usage, reclaimable cache
    for folder, limit, usage, cache in (
        (f"/sys/fs/cgroup/memory{mine.get('memory', '')}", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
        (f"/sys/fs/cgroup{mine.get('', '')}", "memory.max", "memory.current", "inactive_file"),
    ):
        try:
            with open(f"{folder}/{limit}", encoding="ascii") as f:
                most = f.read().strip()
            with open(f"{folder}/{usage}", encoding="ascii") as f:
                used = int(f.read())
            with open(f"{folder}/memory.stat", encoding="ascii") as f:
                used -= next((int(line.split()[1]) for line in f if line.split()[0] == cache), 0)
        except (OSError, ValueError, IndexError):
            continue
        if most.isdigit():
            free.append(int(most) - used)
    return min(free) if free else float("inf")


def state(config: pytest.Config) -> Launcher:
    """The session's Launcher (made on first use)."""
    if SESSION not in config.stash:
        config.stash[SESSION] = Launcher()
    return config.stash[SESSION]


def add(config: pytest.Config, *launchables) -> None:
    """Launch these with the session's runs (call it before collection finishes)."""
    state(config).added.extend(launchables)


def write_timelines(config: pytest.Config, where: dict[Run, Path]) -> None:
    """Each of these runs writes its timeline (Trace Event Format) there as soon as it ends."""
    state(config).timelines.update(where)


def timeline_of(config: pytest.Config, run: Run) -> Path | None:
    """Where the run's timeline is, if it was written."""
    launcher = state(config)
    path = launcher.timelines.get(run)
    return None if path is None or path in launcher.unwritten else path


def unwritten_timeline(config: pytest.Config, run: Run) -> list[tuple[str, str]]:
    launcher = state(config)
    why = launcher.unwritten.get(launcher.timelines.get(run))
    return [("warning", why)] if why else []


def pytest_terminal_summary(terminalreporter) -> None:
    unwritten = state(terminalreporter.config).unwritten
    if unwritten:
        terminalreporter.section("timelines not written (the verdicts are kept)", yellow=True)
        for why in unwritten.values():
            terminalreporter.write_line(visible(why))


def finished(config: pytest.Config, launchable):
    """The result of a run or job the launcher started (or of starting it now, if it did not)."""
    launcher = state(config)
    future = launcher.launched.get(launchable)
    if future is None:
        return launcher.launch(launchable)
    while not wait([future], timeout=1.0).done:  # woken every second: Ctrl-C interrupts no lock's wait on Windows
        pass
    return future.result()


def pytest_configure(config: pytest.Config) -> None:
    launcher = state(config)
    if config.option.gate_dir and not config.option.collectonly:  # as early as can be: the peers may be going soon
        launcher.peers = Peers(config.option.gate_dir, config.option.gate_name)
        if not launcher.peers.started():
            raise pytest.UsageError(f"--gate-dir {config.option.gate_dir}: cannot write there")


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly:
        return  # nothing will run
    found = []
    for item in session.items:
        params = (getattr(item, "callspec", None) and item.callspec.params) or {}
        if not item.get_closest_marker("skip"):
            found += [p for p in params.values() if hasattr(p, "launch")]
    launcher = state(config)
    found = list(dict.fromkeys([*found, *launcher.added]))
    if found:
        launcher.start(found)
        config.add_cleanup(launcher.finish)
