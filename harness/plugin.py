"""The pytest plugin of the harness: its options, the matrix (every example of --examples-dir x
start method x interpreter), and the fixtures that judge a run and record it as a cell.

A test that takes a `run` parameter (a harness.runner.Run, built by `make_run`) gets its
`outcome` from the launcher (harness/launcher.py), which starts every run of the session at once;
`judged` asks for the verdict (harness/verdict.py), in a worker process within
--judge-timeout (harness/bounded.py), and for a cell of the matrix records it as data in the JUnit
file (testcase properties: example, start method, interpreter, status, broken claim, diagnosis,
observed start method, a summary of the evidence, the timeline's path), every control character
shown (harness/cells.py: visible). A session that ran every test to its end records how many cells
it has (the suite's `cells` property); one that did not keeps no JUnit file. Loaded before pytest
reads its command line (`-p`, pyproject.toml's addopts), so that the checked folder is never taken
for a test path; the repository's root conftest.py loads it too.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from pathlib import Path

import pytest
from _pytest import junitxml  # its xml_key: the one way to add a property to the JUnit file's suite outside a test

from harness import bounded, examples, launcher, platforms, pythons, results, scratch
from harness.cells import MULTILINE, START_METHODS, STATUSES, visible
from harness.examples import ClaimsFileError, Example
from harness.pythons import interpreter_info, platform_label
from harness.runner import Outcome, Run, RunError
from harness.verdict import Verdict, cell_verdict
from harness.vocabulary import interventions

ROOT = Path(__file__).resolve().parent.parent  # the repository
SHIPPED_EXAMPLES = ROOT / "examples"
EXAMPLES = pytest.StashKey[dict]()  # {name: Example} of --examples-dir
PYTHONS = pytest.StashKey[dict]()  # {name: interpreter} the matrix runs the examples under
TIMEOUTS = pytest.StashKey[dict]()  # {example or "": seconds}
TWINS = pytest.StashKey[dict]()  # {run: the same run with its example's interventions (vocabulary.interventions)}
CLAIMED = pytest.StashKey[results.Claimed]()  # the JUnit file this session holds (harness/results.py)
SELECTED = pytest.StashKey[set]()  # the node ids of the session's tests, and of those that ran to their end
RAN = pytest.StashKey[set]()
TRACES = pytest.StashKey[tuple]()  # the timelines' folder as the session began (device, inode)
UNFINISHED = pytest.StashKey[str]()  # why the session did not run to its end: its JUnit file is removed once written
JUDGE = pytest.StashKey[bounded.Worker]()  # the process the claims are judged in, each judgement within --judge-timeout
DEFAULT_TIMEOUT = 60.0
STDERR_HEADING = "--- the end of the run's stderr ---"
# Seconds judging one cell may take: milliseconds as a rule, a second on a loaded machine. Past it a
# claims file's pattern backtracks catastrophically on the run's output, or a check does not end.
JUDGE_TIMEOUT = 30.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("examples", "running the article's examples")
    group.addoption(
        "--examples-dir",
        type=Path,
        default=SHIPPED_EXAMPLES,
        metavar="DIR",
        help="check every program in DIR (*.py, with NAME.toml claims beside it if any) instead of the shipped examples",
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
        help=f"kill a run and its processes after this long (default: {DEFAULT_TIMEOUT:g}, or the example's claims file); "
        "EXAMPLE=SECONDS for one example, repeatable",
    )
    group.addoption(
        "--judge-timeout",
        type=float,
        default=JUDGE_TIMEOUT,
        metavar="SECONDS",
        help=f"stop judging a cell after this long, an error cell (default: {JUDGE_TIMEOUT:g})",
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


EARLY = pytest.StashKey[bool]()  # the plugin was loaded before pytest's early parse of the command line


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Called only when this plugin was loaded before pytest read the command line a first time
    (`-p harness.plugin`, from pyproject.toml's addopts): then `--examples-dir DIR`, with a space,
    was read as the option it is, and DIR is no initial test path whose conftest.py pytest imports."""
    early_config.stash[EARLY] = True


def pytest_configure(config: pytest.Config) -> None:
    try:
        configure(config)
    except pytest.UsageError as exc:  # it may name a file of the folder, or quote a claims file
        raise pytest.UsageError(visible(str(exc))) from None


def configure(config: pytest.Config) -> None:
    if why := platforms.problem():
        raise pytest.UsageError(why)
    config.addinivalue_line("markers", "cell(status): the matrix cell's status when it cannot run (not_available)")
    if not config.stash.get(EARLY, False):
        raise pytest.UsageError(
            "the harness was loaded after pytest's first reading of the command line, where --examples-dir DIR reads as a test path "
            "(DIR's conftest.py imported): run pytest with this repository's configuration (-c pyproject.toml, as tox does)"
        )
    folder = config.option.examples_dir
    if not folder.is_dir():
        raise pytest.UsageError(f"--examples-dir {folder}: no such folder")
    if why := imported_from(folder.resolve()):
        raise pytest.UsageError(f"--examples-dir {folder}: {why}")
    try:
        found = examples.discover(folder.resolve())
    except ClaimsFileError as exc:
        raise pytest.UsageError(f"--examples-dir {folder}: {exc}") from None
    if not found:
        raise pytest.UsageError(f"--examples-dir {folder}: no programs (*.py) in it")
    config.option.examples_dir = folder.resolve()
    config.stash[EXAMPLES] = found
    config.stash[TIMEOUTS] = timeouts(config.option.example_timeout, found)
    try:
        config.stash[PYTHONS] = pythons.resolve(config.option.python or [sys.executable])
    except pythons.InterpreterError as exc:
        raise pytest.UsageError(str(exc)) from None
    xml = getattr(config.option, "xmlpath", None)
    if config.option.trace_dir is None and xml:
        xml = Path(xml)
        config.option.trace_dir = xml.parent / "traces" / xml.stem.removeprefix("junit.")
    if not 0 < config.option.judge_timeout < math.inf:
        raise pytest.UsageError(f"--judge-timeout {config.option.judge_timeout:g}: must be a positive, finite number of seconds")
    claim_results(config)
    scratch.sweep()  # the run folders of sessions that were killed
    config.stash[JUDGE] = judge = bounded.Worker()
    config.add_cleanup(judge.close)
    check_samples(config, folder, found)


def check_samples(config: pytest.Config, folder: Path, found: dict[str, Example]) -> None:
    """Each claims file's sample holds its own [text] claims (checked within --judge-timeout: the
    patterns are the claims file's); one line and exit 4 if not."""
    for example in found.values():
        if not (example.sample and example.text):
            continue
        try:
            problem = config.stash[JUDGE].call(config.option.judge_timeout, examples.sample_problem, example)
        except bounded.Overtime as exc:
            problem = f"checking its sample against its [text] claims {exc} and was stopped (a pattern that backtracks catastrophically?)"
        if problem:
            raise pytest.UsageError(f"--examples-dir {folder}: {example.claims_file.name}: {problem}")


def imported_from(folder: Path) -> str | None:
    """Why the folder's own code may already run in this process (it is on sys.path, or a module was
    imported from it), or None: a checked folder is run, never imported, by the harness."""
    for entry in sys.path:
        if Path(entry or ".").resolve() == folder:
            return f"the folder is on this process's sys.path ({entry or 'the current folder'}): its modules would shadow the harness's"
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if where and Path(where).resolve().is_relative_to(folder):
            return f"module {name} was imported from it ({where})"
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Collection never enters the checked folder: its conftest.py and test files are not the harness's."""
    folder = config.option.examples_dir
    return True if collection_path.resolve().is_relative_to(folder.resolve()) else None


def claim_results(config: pytest.Config) -> None:
    """Before any run: the results can be written, this session alone writes its JUnit file, and the
    previous session's file is gone (harness/results.py); all of it one line and exit 4 if not."""
    xml = getattr(config.option, "xmlpath", None)
    if xml and not hasattr(config, "workerinput"):
        try:
            claimed = results.claim(Path(xml))
        except results.Unusable as exc:
            raise pytest.UsageError(f"--junitxml {xml}: {exc}") from None
        config.stash[CLAIMED] = claimed
        config.add_cleanup(lambda: results.release(claimed, keep=not config.stash.get(UNFINISHED, None)))  # after pytest has written the file
    if config.option.trace_dir and not config.option.collectonly:
        why = results.writable(config.option.trace_dir)
        if why:
            raise pytest.UsageError(f"--trace-dir {config.option.trace_dir}: cannot write there ({why})")
        config.stash[TRACES] = results.identity(os.stat(config.option.trace_dir))


def timeouts(asked: list[str], found: dict[str, Example]) -> dict[str, float]:
    """--example-timeout 30 --example-timeout 04_pool=5 -> {"": 30.0, "04_pool": 5.0}."""
    chosen = {"": DEFAULT_TIMEOUT}
    for spec in asked:
        example, _, seconds = spec.rpartition("=")
        if example and example not in found:
            raise pytest.UsageError(f"--example-timeout {spec}: no example {example!r} (the examples: {', '.join(found)})")
        try:
            chosen[example] = float(seconds)
        except ValueError:
            chosen[example] = 0.0
        if not 0 < chosen[example] < math.inf:
            raise pytest.UsageError(f"--example-timeout {spec}: must be a positive, finite number of seconds")
    return chosen


def pytest_report_header(config: pytest.Config) -> list[str]:
    found = config.stash[EXAMPLES]
    lines = [f"examples: {config.option.examples_dir} ({len(found)}: {', '.join(found)})"]
    for name, python in config.stash[PYTHONS].items():
        info = interpreter_info(python)
        lines.append(
            f"python {name}: {info['name']} ({python}) on {platform_label(info)}; "
            f"default start method {info['default']}, available: {', '.join(info['methods'])}"
        )
    if "all" in (config.option.python or []):
        missing = [name for name in pythons.listed() if name not in config.stash[PYTHONS]]
        lines.append(f"not on this machine: {', '.join(missing) or 'none'}")
    return [visible(line) for line in lines]


def session_python(config: pytest.Config) -> str:
    """The interpreter of runs that name none (the harness's own test copies): the one asked for,
    if one was, else the one running pytest."""
    chosen = list(config.stash[PYTHONS].values())
    return chosen[0] if len(chosen) == 1 else sys.executable


def make_run(config: pytest.Config, example: Example, method: str, **how) -> Run:
    """The one way a Run is built: the session's interpreter, and the timeout of the option, else
    of the claims file, else the default, unless given."""
    how.setdefault("python", session_python(config))
    limits = config.stash[TIMEOUTS]
    how.setdefault("timeout", limits.get(example.name, example.timeout or limits[""]))
    how.setdefault("nice", 10)
    return Run(example.name, method, spec=example, **how)


def not_applicable(config: pytest.Config, example: Example, method: str, python: str | None = None) -> str | None:
    """Why this cell cannot run, or None."""
    info = interpreter_info(python or session_python(config))
    if method != "default" and method not in info["methods"]:
        return f"start method {method} is not available on {platform_label(info)} ({info['name']})"
    if method not in example.start_methods:
        return visible(f"{example.name} claims to hold under {', '.join(example.start_methods)} only ({example.claims_file.name})")
    return None


def matrix_params(config: pytest.Config) -> list:
    """One Run per interpreter, example and start method: `03_lock-spawn` (`3.12-03_lock-spawn` when
    there are several interpreters); a cell that cannot run is skipped with the reason."""
    methods = config.option.start_method or START_METHODS
    chosen = config.stash[PYTHONS]
    params = []
    for name, python in chosen.items():
        for example in config.stash[EXAMPLES].values():
            for method in (m for m in START_METHODS if m in methods):
                # The slow examples' runs start first at normal priority; the matrix's other cells below them.
                run = make_run(config, example, method, script=example.program, python=python, nice=0 if example.slow else 10, first=example.slow)
                why = not_applicable(config, example, method, python)
                marks = [pytest.mark.skip(reason=why), pytest.mark.cell(STATUSES["not_available"].name)] if why else []
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
        ("example_claim", run.spec.claim),
        ("start_method", run.method),
        ("python", name),
        ("interpreter", info["name"]),
        ("platform", platform_label(info)),
    ]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
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


def pytest_collection_finish(session: pytest.Session) -> None:
    """Each run whose example's claims rest on an intervention gets its twin, the same run with the
    mechanism perturbed (vocabulary.interventions), launched beside it; each run of the matrix writes
    its timeline as soon as it ends (a progress count for `tox -e all`)."""
    config = session.config
    config.stash[SELECTED] = {item.nodeid for item in session.items}
    config.stash[RAN] = set()
    if config.option.collectonly:
        return
    twins = config.stash.setdefault(TWINS, {})
    for item in session.items:
        run = getattr(item, "callspec", None) and item.callspec.params.get("run")
        if isinstance(run, Run) and run.twinned and not run.intervene and not item.get_closest_marker("skip") and run not in twins:
            wanted = interventions(run.spec) if run.spec is not None else ()
            if wanted:
                twins[run] = dataclasses.replace(run, intervene=wanted)
    launcher.add(config, *twins.values())
    folder: Path | None = config.option.trace_dir
    if folder:
        where = {}
        for item in session.items:
            if "matrix_run" in item.fixturenames and not item.get_closest_marker("skip"):
                run = item.callspec.params["run"]
                where[run] = folder / f"{item.callspec.id}.json"
                if run in twins:
                    where[twins[run]] = folder / f"{item.callspec.id}~{'+'.join(twins[run].intervene)}.json"
        launcher.write_timelines(config, where)


@pytest.fixture(scope="session", autouse=True)
def harness_interpreter(record_testsuite_property) -> None:
    """The interpreter of the harness itself (pytest, the launcher, each run's supervisor), in the
    JUnit file: the examples' interpreter is each cell's, and the two may differ (--python)."""
    record_testsuite_property("harness", f"{interpreter_info(sys.executable)['name']} ({sys.executable})")


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    # Before pytest makes the report (a later plugin's hook runs first): every property recorded, in
    # the JUnit file, with each control character shown, as the report shows it.
    item.user_properties[:] = [(name, visible(str(value), lines=name in MULTILINE)) for name, value in item.user_properties]
    if call.when == "teardown" and RAN in item.config.stash:  # the test ran to its end
        item.config.stash[RAN].add(item.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Before pytest writes the JUnit file: a session that ran to its end records how many cells it
    has (the report reads a file only when they are all in it); one that did not (interrupted,
    stopped at a first failure, an internal error, its results folder tampered with) records
    nothing, says why, and its file is removed once written (harness/results.py: release)."""
    config = session.config
    if config.option.collectonly or SELECTED not in config.stash:
        return
    why = unfinished(session, exitstatus)
    if why:
        config.stash[UNFINISHED] = why
        if session.exitstatus == pytest.ExitCode.OK:  # every test passed, but the results are not what they seem
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    xml = config.stash.get(junitxml.xml_key, None)
    if xml is not None:
        xml.add_global_property("cells", str(sum(1 for item in session.items if "matrix_run" in item.fixturenames)))


def unfinished(session: pytest.Session, exitstatus: int) -> str | None:
    """Why the session did not run to its end, or None."""
    config = session.config
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "it was interrupted"
    if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        return "it ended on an internal error"
    if session.shouldfail or session.shouldstop:
        return f"it stopped early ({session.shouldfail or session.shouldstop})"
    missing = config.stash[SELECTED] - config.stash[RAN]
    if missing:
        return f"{len(missing)} of its {len(config.stash[SELECTED])} tests did not run"
    claimed = config.stash.get(CLAIMED, None)
    if claimed and (why := claimed.tampered()):
        return why
    if TRACES in config.stash:
        try:
            same = results.identity(os.stat(config.option.trace_dir)) == config.stash[TRACES]
        except OSError:
            same = False
        if not same:
            return f"its timelines' folder {config.option.trace_dir} was removed or replaced while it ran"
    return None


def pytest_terminal_summary(terminalreporter) -> None:
    why = terminalreporter.config.stash.get(UNFINISHED, None)
    xml = getattr(terminalreporter.config.option, "xmlpath", None)
    if why and xml:
        terminalreporter.write_line(visible(f"{xml}: not kept, the session did not run to its end: {why}"), red=True, bold=True)


@pytest.fixture
def matrix_run() -> None:
    """Requested by a test to be parametrized over the interpreter x example x start-method matrix;
    its verdict is then recorded as a cell of the matrix."""


@pytest.fixture
def outcome(request: pytest.FixtureRequest, run: Run) -> Outcome:
    try:
        return launcher.finished(request.config, run)
    except Exception as exc:
        if "matrix_run" in request.fixturenames:  # still a cell: an error, with its reason
            request.node.user_properties += unjudged(exc)
        if not isinstance(exc, RunError):
            raise  # a bug of the harness: its traceback helps
        why = str(exc) + (f"\n{STDERR_HEADING}\n{exc.stderr}" if exc.stderr else "")
    pytest.fail(visible(why, lines=True), pytrace=False)  # what the run did, said in one line (then the end of its stderr)


def unjudged(exc: Exception) -> list[tuple[str, str]]:
    """The properties of a cell the harness could not judge: status error, and why in one line."""
    lines = str(exc).strip().splitlines() or [""]
    why = lines[0] if isinstance(exc, RunError) else f"{type(exc).__name__}: {lines[0]}".rstrip(": ")
    stderr = exc.stderr if isinstance(exc, RunError) else ""
    return [("status", STATUSES["error"].name), ("diagnosis", why), *([("stderr", stderr)] if stderr else [])]


@pytest.fixture
def twin_outcome(request: pytest.FixtureRequest, run: Run) -> Outcome | None:
    """The outcome of the run's twin (the same run with its mechanism perturbed), or None if it has none."""
    twin = request.config.stash.get(TWINS, {}).get(run)
    if twin is None:
        return None
    try:
        return launcher.finished(request.config, twin)
    except Exception as exc:
        if "matrix_run" in request.fixturenames:
            request.node.user_properties += unjudged(exc)
        if not isinstance(exc, RunError):
            raise
        why = f"with {'+'.join(twin.intervene)}: {exc}" + (f"\n{STDERR_HEADING}\n{exc.stderr}" if exc.stderr else "")
    pytest.fail(visible(why, lines=True), pytrace=False)


@pytest.fixture
def judged(request: pytest.FixtureRequest, outcome: Outcome, twin_outcome: Outcome | None) -> Verdict:
    """The run's verdict, and its twin's (verdict.cell_verdict), judged within --judge-timeout; for a
    cell of the matrix, recorded as data for the report. Past the bound the cell is an error, in one line."""
    seconds = request.config.option.judge_timeout
    try:
        verdict = request.config.stash[JUDGE].call(seconds, cell_verdict, outcome, twin_outcome, outcome.run.spec)
    except bounded.Overtime:
        why = (
            f"judging {outcome.run.id} took more than {seconds:g} s and was stopped (a pattern of its claims file that backtracks "
            "catastrophically on this output, or a check that does not end): it was not judged"
        )
        if "matrix_run" in request.fixturenames:
            request.node.user_properties += unjudged(RunError(why))
        pytest.fail(visible(why), pytrace=False)
    # What the verdict quotes (a process's name, the output, the claims file) is shown, never sent raw.
    verdict = dataclasses.replace(verdict, claim=visible(verdict.claim), diagnosis=visible(verdict.diagnosis), note=visible(verdict.note))
    if "matrix_run" in request.fixturenames:
        trace = relative_trace(request.config, outcome.run)
        request.node.user_properties += [
            ("status", verdict.status),
            ("claim", verdict.claim),
            ("diagnosis", verdict.diagnosis),
            ("note", verdict.note),
            ("observed_start_method", outcome.observed_method),
            ("seconds", f"{outcome.seconds:.2f}"),
            ("evidence", json.dumps(outcome.evidence.summary())),
            *([("trace", trace)] if trace else []),
            *launcher.unwritten_timeline(request.config, outcome.run),
        ]
        if twin_outcome is not None:
            twin_trace = relative_trace(request.config, twin_outcome.run)
            request.node.user_properties += [
                ("intervention", "+".join(twin_outcome.run.intervene)),
                *([("intervened_trace", twin_trace)] if twin_trace else []),
            ]
    return verdict


def relative_trace(config: pytest.Config, run: Run) -> str | None:
    """Where the run's timeline is, relative to the JUnit file's folder (where the report looks)."""
    path = launcher.timeline_of(config, run)
    if path is None or not path.is_file():  # (an earlier session's file is not this run's)
        return None
    xml = getattr(config.option, "xmlpath", None)
    base = Path(xml).resolve().parent if xml else Path.cwd()
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return path.resolve().as_posix()
