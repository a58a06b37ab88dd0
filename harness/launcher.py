"""Starts every run of a pytest session at once, as soon as collection ends, so that the whole
matrix takes about as long as its slowest run instead of the sum of them.

A launchable is anything with `launch()` (a harness.runner.Run; the harness's own tests add their
pytest sessions) and `first` (start it before the others). The launcher finds every launchable
among the parameters of the selected tests, and those other plugins `add()`; a test (or fixture)
gets a result with `finished()`. The slow runs start first and alone; everything else once each of
them has its workers going (they then mostly sleep), or after GATE seconds at most. Sessions that
share a machine also wait for each other's slow runs (--gate-dir, harness/gate.py). What no test
waited for (after -x, or an interrupt) is stopped, not left running.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import timeline
from harness.gate import Peers
from harness.runner import Run, stop_all, workers_going

GATE = 5.0  # seconds the other runs wait at most for the slow runs' workers to get going
# Runs under way at once, besides the slow ones (which mostly sleep): enough to keep every core busy
# while some wait on their children, few enough that none waits so long for the CPU that its
# wall-clock timeout ends it (a timeout is about the run, not about the machine's queue).
IN_FLIGHT = 8 * (os.cpu_count() or 2)
LAUNCHED = pytest.StashKey[dict]()  # launchable -> its Future
ADDED = pytest.StashKey[list]()  # launchables other plugins asked for
TIMELINES = pytest.StashKey[dict]()  # run -> where its timeline goes
PEERS = pytest.StashKey[Peers]()  # the sessions sharing this machine (--gate-dir)


def add(config: pytest.Config, *launchables) -> None:
    """Launch these with the session's runs (call it before collection finishes)."""
    config.stash.setdefault(ADDED, []).extend(launchables)


def write_timelines(config: pytest.Config, where: dict[Run, Path]) -> None:
    """Each of these runs writes its timeline (Trace Event Format) there as soon as it ends."""
    config.stash.setdefault(TIMELINES, {}).update(where)


def launch(launchable, trace: Path | None = None):
    result = launchable.launch()
    if trace:
        unwritten = timeline.write(trace, result.evidence.trace())
        if unwritten:
            UNWRITTEN[trace] = unwritten
    return result


UNWRITTEN: dict[Path, str] = {}  # timeline -> why it could not be written: a warning on its cell, its verdict kept


def unwritten_timeline(config: pytest.Config, run: Run) -> list[tuple[str, str]]:
    why = UNWRITTEN.get(config.stash.get(TIMELINES, {}).get(run))
    return [("warning", why)] if why else []


def pytest_terminal_summary(terminalreporter) -> None:
    if UNWRITTEN:
        terminalreporter.section("timelines not written (the verdicts are kept)", yellow=True)
        for why in UNWRITTEN.values():
            terminalreporter.write_line(why)


def finished(config: pytest.Config, launchable):
    """The result of a run or job the launcher started (or of starting it now, if it did not)."""
    future: Future | None = config.stash.get(LAUNCHED, {}).get(launchable)
    return future.result() if future else launch(launchable, config.stash.get(TIMELINES, {}).get(launchable))


def pytest_configure(config: pytest.Config) -> None:
    if config.option.gate_dir and not config.option.collectonly:  # as early as can be: the peers may be going soon
        config.stash[PEERS] = peers = Peers(config.option.gate_dir, config.option.gate_name)
        if not peers.started():
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
    found = list(dict.fromkeys([*found, *config.stash.get(ADDED, [])]))
    if not found:
        return
    first = [p for p in found if p.first]
    later = [p for p in found if not p.first]
    traces = config.stash.get(TIMELINES, {})
    gate, stopping, slots = threading.Event(), threading.Event(), threading.BoundedSemaphore(IN_FLIGHT)

    def after_gate(launchable, trace):
        gate.wait(GATE)
        with slots:
            if stopping.is_set():
                raise RuntimeError("the session was stopped before this run started")
            return launch(launchable, trace)

    # One thread each (and one to open the gate): each mostly waits on its process.
    pool = ThreadPoolExecutor(max_workers=len(found) + 1, thread_name_prefix="launcher")
    launched = {p: pool.submit(launch, p, traces.get(p)) for p in first}
    launched.update({p: pool.submit(after_gate, p, traces.get(p)) for p in later})
    config.stash[LAUNCHED] = launched

    def open_gate(peers: Peers | None) -> None:
        deadline = time.monotonic() + GATE
        while time.monotonic() < deadline:
            going = all(launched[p].done() or workers_going(p) for p in first if isinstance(p, Run))
            if going and (peers is None or peers.going()):
                break
            time.sleep(0.05)
        gate.set()

    pool.submit(open_gate, config.stash.get(PEERS, None))

    def finish() -> None:
        stopping.set()
        gate.set()
        pool.shutdown(wait=False, cancel_futures=True)
        for launchable in found:
            getattr(launchable, "stop", lambda: None)()
        stop_all(set(found))  # this session's: a session run in-process by a test must not stop the others
        pool.shutdown(wait=True)

    config.add_cleanup(finish)
