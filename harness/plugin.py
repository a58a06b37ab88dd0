"""The pytest plugin of the harness: options, the example x start-method matrix, and the launcher
that starts every example run of a session at once.

A test that takes a `run` parameter (a harness.runner.Run, built by `make_run`) gets its `outcome`
from the launcher: all the session's runs start as soon as collection ends, the slow ones first,
so the whole matrix takes about as long as its slowest run instead of the sum of them. The outcome
fixture records each cell as data in the JUnit file (testcase properties: status, broken claim,
diagnosis, observed start method, a summary of the evidence) and writes the run's timeline in the
Trace Event Format beside it. Loaded by the repository's root conftest.py.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import pythons, results, timeline
from harness.claims import EXAMPLES, START_METHODS
from harness.gate import Peers
from harness.runner import InterpreterError, Outcome, Run, RunError, interpreter_info, platform_label, stop_all, workers_going

ROOT = Path(__file__).resolve().parent.parent  # the repository
SHIPPED_EXAMPLES = ROOT / "examples"
LAUNCHED = pytest.StashKey[dict]()
PYTHONS = pytest.StashKey[dict]()  # {name: interpreter} the matrix runs the examples under
TIMEOUTS = pytest.StashKey[dict]()  # {example or "": seconds}
TRACES = pytest.StashKey[dict]()  # {run: its timeline's file}, for the runs of the matrix
PEERS = pytest.StashKey["Peers"]()  # the sessions sharing this machine (--gate-dir)
GATE = 5.0  # seconds the other runs wait at most for the slow runs' workers to get going


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("examples", "running the article's examples")
    group.addoption(
        "--examples-dir",
        type=Path,
        default=SHIPPED_EXAMPLES,
        metavar="DIR",
        help="check the examples in DIR (same file names) instead of the shipped ones",
    )
    group.addoption(
        "--python",
        action="append",
        metavar="PATH|NAME|all",
        help="interpreter that runs the examples, repeatable: a path, a name of tox.ini's `pythons` list "
        "(3.12, pypy3, 3.14t: found on PATH or in pyenv), or `all`, every one of them found here; "
        "each is a column of its own (default: the one running pytest)",
    )
    group.addoption(
        "--start-method",
        action="append",
        choices=START_METHODS,
        metavar="METHOD",
        help=f"run only these start methods, repeatable (default: all of {', '.join(START_METHODS)})",
    )
    group.addoption(
        "--example-timeout",
        action="append",
        default=[],
        metavar="[EXAMPLE=]SECONDS",
        help="kill a run and its processes after this long (default: 60); EXAMPLE=SECONDS for one example, repeatable",
    )
    group.addoption(
        "--gate-dir",
        type=Path,
        metavar="DIR",
        help="sessions sharing one machine (the container targets, tox -e all) meet here: every session's "
        "fast runs wait until every session's slow runs have their workers going",
    )
    group.addoption("--gate-name", metavar="NAME", help="this session's name in --gate-dir (default: host name and pid)")
    group.addoption(
        "--trace-dir", type=Path, metavar="DIR", help="write each run's timeline (Trace Event Format) here (default: traces/NAME/ beside --junitxml)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cell(status): the matrix cell's status when it cannot run (not_available, missing)")
    config.stash[TIMEOUTS] = timeouts(config.option.example_timeout)
    examples_dir = config.option.examples_dir
    if not examples_dir.is_dir():
        raise pytest.UsageError(f"--examples-dir {examples_dir}: no such folder")
    if not any((examples_dir / f"{name}.py").is_file() for name in EXAMPLES):
        raise pytest.UsageError(f"--examples-dir {examples_dir}: holds none of {', '.join(f'{n}.py' for n in EXAMPLES)}")
    config.option.examples_dir = examples_dir.resolve()
    config.stash[PYTHONS] = chosen = resolve_pythons(config.option.python or [sys.executable])
    with ThreadPoolExecutor() as pool:  # each probe starts an interpreter: all at once
        probes = dict(zip(chosen, pool.map(probe, chosen.values()), strict=True))
    for name, python in chosen.items():
        info = probes[name]
        if isinstance(info, InterpreterError):
            raise pytest.UsageError(str(info))
        if not pythons.matches(name, info["name"]):
            raise pytest.UsageError(f"--python {name}: {python} is {info['name']}, not Python {name}")
    if config.option.gate_dir and not config.option.collectonly:  # as early as can be: the peers may be going soon
        config.stash[PEERS] = peers = Peers(config.option.gate_dir, config.option.gate_name)
        if not peers.started():
            raise pytest.UsageError(f"--gate-dir {config.option.gate_dir}: cannot write there")
    xml = getattr(config.option, "xmlpath", None)
    if config.option.trace_dir is None and xml:
        xml = Path(xml)
        config.option.trace_dir = xml.parent / "traces" / xml.stem.removeprefix("junit.")
    claim_results(config)


def claim_results(config: pytest.Config) -> None:
    """Before any run: the results can be written, this session alone writes its JUnit file, and the
    previous session's file is gone (harness/results.py); all of it one line and exit 4 if not."""
    xml = getattr(config.option, "xmlpath", None)
    if xml and not hasattr(config, "workerinput"):
        try:
            fd = results.claim(Path(xml))
        except results.Unusable as exc:
            raise pytest.UsageError(f"--junitxml {xml}: {exc}") from None
        config.add_cleanup(lambda: results.release(fd))  # after pytest has written the file
    if config.option.trace_dir and not config.option.collectonly:
        why = results.writable(config.option.trace_dir)
        if why:
            raise pytest.UsageError(f"--trace-dir {config.option.trace_dir}: cannot write there ({why})")


def probe(python: str) -> dict | InterpreterError:
    try:
        return interpreter_info(python)
    except InterpreterError as exc:
        return exc


def timeouts(asked: list[str]) -> dict[str, float]:
    """--example-timeout 30 --example-timeout 04_pool=5 -> {"": 30.0, "04_pool": 5.0}."""
    found = {"": 60.0}
    for spec in asked:
        example, _, seconds = spec.rpartition("=")
        if example and example not in EXAMPLES:
            raise pytest.UsageError(f"--example-timeout {spec}: no example {example!r} (the examples: {', '.join(EXAMPLES)})")
        try:
            found[example] = float(seconds)
        except ValueError:
            found[example] = 0.0
        if not 0 < found[example] < math.inf:  # nan and inf too: a run must end
            raise pytest.UsageError(f"--example-timeout {spec}: must be a positive, finite number of seconds")
    return found


def resolve_pythons(asked: list[str]) -> dict[str, str]:
    """{name: interpreter} for --python: paths as given, names found on PATH or in pyenv, `all`
    for every name of tox.ini's list found here. A name asked for by itself must be found."""
    chosen: dict[str, str] = {}
    for spec in asked:
        if spec == "all":
            found = {name: path for name in pythons.listed() if (path := pythons.find(name))}
            if not found:
                raise pytest.UsageError(f"--python all: none of tox.ini's pythons ({', '.join(pythons.listed())}) is on this machine")
            chosen.update(found)
        elif pythons.NAME.fullmatch(spec):
            path = pythons.find(spec)
            if path is None:
                raise pytest.UsageError(f"--python {spec}: no such Python on PATH or among pyenv's versions")
            chosen[spec] = path
        else:
            chosen[spec] = spec
    return chosen


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"examples: {config.option.examples_dir}"]
    for name, python in config.stash[PYTHONS].items():
        info = interpreter_info(python)
        lines.append(
            f"python {name}: {info['name']} ({python}) on {platform_label(info)}; "
            f"default start method {info['default']}, available: {', '.join(info['methods'])}"
        )
    if "all" in (config.option.python or []):
        missing = [name for name in pythons.listed() if name not in config.stash[PYTHONS]]
        lines.append(f"not on this machine: {', '.join(missing) or 'none'}")
    return lines


def session_python(config: pytest.Config) -> str:
    """The interpreter of runs that name none (the harness's own test copies): the one asked for,
    if one was, else the one running pytest."""
    chosen = list(config.stash[PYTHONS].values())
    return chosen[0] if len(chosen) == 1 else sys.executable


def make_run(config: pytest.Config, example: str, method: str, *, cell: bool = False, **how) -> Run:
    """The one way a Run is built: the session's interpreter and timeout unless given. The slow
    examples run at normal priority; the other cells of the matrix below them, and the harness's
    own copies of the fast examples below those: the matrix first, then the checks of the checks."""
    how.setdefault("python", session_python(config))
    limits = config.stash[TIMEOUTS]
    how.setdefault("timeout", limits.get(example, limits[""]))
    return Run(example, method, nice=0 if EXAMPLES[example].slow else 10 if cell else 15, **how)


def unavailable(config: pytest.Config, method: str, python: str | None = None) -> str | None:
    """Why this start method cannot run here, or None."""
    info = interpreter_info(python or session_python(config))
    if method != "default" and method not in info["methods"]:
        return f"start method {method} is not available on {platform_label(info)} ({info['name']})"
    return None


def matrix_params(config: pytest.Config) -> list:
    """One Run per interpreter, example and start method: `03_lock-spawn` (`3.12-03_lock-spawn` when
    there are several interpreters); a method an interpreter lacks is skipped with the reason, and
    so is an example missing from --examples-dir."""
    methods = config.option.start_method or START_METHODS
    chosen = config.stash[PYTHONS]
    params = []
    for name, python in chosen.items():
        for example in EXAMPLES:
            script = config.option.examples_dir / f"{example}.py"
            for method in START_METHODS:
                if method not in methods:
                    continue
                run = make_run(config, example, method, cell=True, script=script, python=python)
                marks = []
                if not script.is_file():
                    marks = [pytest.mark.skip(reason=f"{config.option.examples_dir} has no {script.name}"), pytest.mark.cell("missing")]
                elif why := unavailable(config, method, python):
                    marks = [pytest.mark.skip(reason=why), pytest.mark.cell("not_available")]
                params.append(pytest.param(run, id=f"{name}-{run.id}" if len(chosen) > 1 else run.id, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "matrix_run" in metafunc.fixturenames:
        metafunc.parametrize("run", matrix_params(metafunc.config))


def cell_properties(config: pytest.Config, run: Run) -> list[tuple[str, str]]:
    info = interpreter_info(run.python)
    name = next((name for name, python in config.stash[PYTHONS].items() if python == run.python), run.python)
    return [
        ("example", run.example),
        ("start_method", run.method),
        ("python", name),
        ("interpreter", info["name"]),
        ("platform", platform_label(info)),
    ]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # While the runs take their ten seconds, the tests that need none of them go first: those that
    # wait for jobs (done in seconds), then those that wait for nothing. The rest of the time is
    # spent waiting for the runs anyway.
    def waits_for(item: pytest.Item) -> int:
        params = ((getattr(item, "callspec", None) and item.callspec.params) or {}).values()
        if set(item.fixturenames) & set(EARLY) or any(isinstance(p, Job) for p in params):
            return 0
        return 2 if any(isinstance(p, Run) for p in params) else 1

    items.sort(key=waits_for)
    # Every cell says what it is before it runs, so that one whose run raises is still a cell (an
    # error, not a gap); a cell that cannot run also says why, as data (its test is skipped before
    # any fixture runs).
    for item in items:
        cell = item.get_closest_marker("cell")
        run = getattr(item, "callspec", None) and item.callspec.params.get("run")
        if isinstance(run, Run) and "matrix_run" in item.fixturenames:
            item.user_properties += cell_properties(item.config, run)
            if cell:
                item.user_properties += [("status", cell.args[0]), ("diagnosis", item.get_closest_marker("skip").kwargs["reason"])]


@dataclass(frozen=True)
class Job:
    """A command the launcher starts with the session's runs (a pytest session of the harness's own
    tests, say), so that its wait overlaps theirs instead of adding to them."""

    argv: tuple[str, ...]
    timeout: float = 300.0
    prepare: Callable[[], object] | None = None  # run first, in the launcher's thread (writes the files it needs)
    env: tuple[tuple[str, str], ...] = ()  # added to the environment

    def launch(self) -> subprocess.CompletedProcess:
        if self.prepare:
            self.prepare()
        with subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="backslashreplace",
            env={**os.environ, **dict(self.env)},
        ) as proc:
            JOBS.add(proc)
            try:
                out, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
            finally:
                JOBS.discard(proc)
        return subprocess.CompletedProcess(self.argv, proc.returncode, out, err)


JOBS: set[subprocess.Popen] = set()  # the jobs under way, killed if the session ends first
EARLY: dict[str, list[Job]] = {}  # fixture name -> the jobs it waits for


def once(prepare: Callable[[], object]) -> Callable[[], None]:
    """`prepare` for several jobs: the first to start runs it, the others wait until it is done."""
    lock, done = threading.Lock(), []

    def run_once() -> None:
        with lock:
            if not done:
                prepare()
                done.append(True)

    return run_once


def early(fixture: str, *jobs: Job) -> tuple[Job, ...]:
    """Declare the jobs a fixture waits for: the launcher starts them when collection ends, if a
    selected test uses that fixture; the fixture gets each one's result with `finished`."""
    EARLY.setdefault(fixture, []).extend(jobs)
    return jobs


def launch(launchable, trace: Path | None = None):
    result = launchable.launch()
    if trace:
        unwritten = timeline.write(trace, result.evidence.trace())
        if unwritten:
            UNWRITTEN[trace] = unwritten
    return result


UNWRITTEN: dict[Path, str] = {}  # timeline -> why it could not be written: a warning on its cell


def pytest_terminal_summary(terminalreporter) -> None:
    if UNWRITTEN:
        terminalreporter.section("timelines not written (the verdicts are kept)", yellow=True)
        for why in UNWRITTEN.values():
            terminalreporter.write_line(why)


def finished(config: pytest.Config, launchable):
    """The result of a run or job the launcher started (or of starting it now, if it did not)."""
    future: Future | None = config.stash.get(LAUNCHED, {}).get(launchable)
    return future.result() if future else launch(launchable, config.stash.get(TRACES, {}).get(launchable))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return  # nothing will run
    found = []
    for item in session.items:
        params = (getattr(item, "callspec", None) and item.callspec.params) or {}
        if not item.get_closest_marker("skip"):
            found += [p for p in params.values() if isinstance(p, (Run, Job))]
    used = {name for item in session.items for name in item.fixturenames}
    found += [job for name, jobs in EARLY.items() if name in used for job in jobs]
    # Each run of the matrix writes its timeline as soon as it ends (a progress count for `tox -e all`).
    folder: Path | None = session.config.option.trace_dir
    session.config.stash[TRACES] = traces = {
        item.callspec.params["run"]: folder / f"{item.callspec.id}.json"
        for item in session.items
        if folder and "matrix_run" in item.fixturenames and not item.get_closest_marker("skip")
    }
    # The matrix's slow runs (01_processes: ten seconds of sleeps, the session's critical path)
    # start first and alone; everything else once each of them has its workers going (they then
    # mostly sleep), or after GATE seconds at most, the fast examples at a lower priority. On one
    # machine the priority would do; across containers, each with an equal share of the CPU, it
    # cannot: there the sessions also wait for each other's slow runs (--gate-dir, class Peers).
    cells = {item.callspec.params["run"] for item in session.items if "matrix_run" in item.fixturenames}
    # (Jobs too: the suite's own sessions each start their few runs in the first second.)
    first = [p for p in dict.fromkeys(found) if isinstance(p, Job) or (p in cells and not p.nice)]
    later = [p for p in dict.fromkeys(found) if p not in first]
    if not first + later:
        return
    gate, stopping = threading.Event(), threading.Event()

    def after_gate(launchable, trace):
        gate.wait(GATE)
        if stopping.is_set():
            raise RuntimeError("the session was stopped before this run started")
        return launch(launchable, trace)

    # One thread each (and one to open the gate): each mostly waits on its process.
    pool = ThreadPoolExecutor(max_workers=len(first) + len(later) + 1, thread_name_prefix="launcher")
    launched = {p: pool.submit(launch, p, traces.get(p)) for p in first}
    launched.update({p: pool.submit(after_gate, p, traces.get(p)) for p in later})
    session.config.stash[LAUNCHED] = launched

    def open_gate(peers: Peers | None) -> None:
        deadline = time.monotonic() + GATE
        while time.monotonic() < deadline:
            going = all(launched[p].done() or workers_going(p) for p in first if isinstance(p, Run))
            if going and (peers is None or peers.going()):
                break
            time.sleep(0.05)
        gate.set()

    pool.submit(open_gate, session.config.stash.get(PEERS, None))

    def finish() -> None:
        # What no test waited for (after -x, or an interrupt) is stopped, not left running.
        stopping.set()
        gate.set()
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all()
        for proc in list(JOBS):
            proc.kill()
        pool.shutdown(wait=True)

    session.config.add_cleanup(finish)


@pytest.fixture
def matrix_run() -> None:
    """Requested by a test to be parametrized over the interpreter x example x start-method matrix;
    its outcome is then recorded as a cell of the matrix."""


@pytest.fixture
def outcome(request: pytest.FixtureRequest, run: Run) -> Outcome:
    try:
        return judged_outcome(request, run)
    except Exception as exc:
        if "matrix_run" in request.fixturenames:  # still a cell: an error, with its reason
            request.node.user_properties += unjudged(exc)
        if not isinstance(exc, RunError):
            raise  # a bug of the harness: its traceback helps
        why = str(exc)
    pytest.fail(why, pytrace=False)  # what the run did, said in one line


def unjudged(exc: Exception) -> list[tuple[str, str]]:
    """The properties of a cell the harness could not judge: status error, and why in one line."""
    lines = str(exc).strip().splitlines() or [""]
    why = lines[0] if isinstance(exc, RunError) else f"{type(exc).__name__}: {lines[0]}".rstrip(": ")
    return [("status", "error"), ("diagnosis", why)]


def judged_outcome(request: pytest.FixtureRequest, run: Run) -> Outcome:
    result = finished(request.config, run)
    trace = relative_trace(request.config, run)
    if "matrix_run" in request.fixturenames:  # a cell of the matrix, as data for the report
        judged = result.verdict
        request.node.user_properties += [
            ("status", judged.status),
            ("claim", judged.claim),
            ("diagnosis", judged.diagnosis),
            ("observed_start_method", result.observed_method),
            ("seconds", f"{result.seconds:.2f}"),
            ("evidence", json.dumps(result.evidence.summary())),
            *([("trace", trace)] if trace else []),
            *unwritten_timeline(request.config, run),
        ]
    return result


def unwritten_timeline(config: pytest.Config, run: Run) -> list[tuple[str, str]]:
    why = UNWRITTEN.get(config.stash.get(TRACES, {}).get(run))
    return [("warning", why)] if why else []


def relative_trace(config: pytest.Config, run: Run) -> str | None:
    """Where the run's timeline is, relative to the JUnit file's folder (where the report looks)."""
    path = config.stash.get(TRACES, {}).get(run)
    if path is None or path in UNWRITTEN or not path.is_file():  # (an earlier session's file is not this run's)
        return None
    xml = getattr(config.option, "xmlpath", None)
    base = Path(xml).resolve().parent if xml else Path.cwd()
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return path.resolve().as_posix()
