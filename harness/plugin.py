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
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.claims import EXAMPLES, START_METHODS
from harness.runner import InterpreterError, Outcome, Run, execute, interpreter_info, platform_label, stop_all

ROOT = Path(__file__).resolve().parent.parent  # the repository
SHIPPED_EXAMPLES = ROOT / "examples"
LAUNCHED = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("examples", "running the article's examples")
    group.addoption("--examples-dir", type=Path, default=SHIPPED_EXAMPLES, metavar="DIR",
                    help="check the examples in DIR (same file names) instead of the shipped ones")
    group.addoption("--python", default=sys.executable, metavar="PATH",
                    help="interpreter that runs the examples (default: the one running pytest)")
    group.addoption("--start-method", action="append", choices=START_METHODS, metavar="METHOD",
                    help=f"run only these start methods, repeatable (default: all of {', '.join(START_METHODS)})")
    group.addoption("--example-timeout", type=float, default=60.0, metavar="SECONDS",
                    help="kill a run and its processes after this long (default: 60)")
    group.addoption("--trace-dir", type=Path, metavar="DIR",
                    help="write each run's timeline (Trace Event Format) here (default: traces/NAME/ beside --junitxml)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cell(status): the matrix cell's status when it cannot run (not_available, missing)")
    if config.option.example_timeout <= 0:
        raise pytest.UsageError("--example-timeout must be a positive number of seconds")
    examples_dir = config.option.examples_dir
    if not examples_dir.is_dir():
        raise pytest.UsageError(f"--examples-dir {examples_dir}: no such folder")
    if not any((examples_dir / f"{name}.py").is_file() for name in EXAMPLES):
        raise pytest.UsageError(f"--examples-dir {examples_dir}: holds none of {', '.join(f'{n}.py' for n in EXAMPLES)}")
    config.option.examples_dir = examples_dir.resolve()
    try:
        interpreter_info(config.option.python)
    except InterpreterError as exc:
        raise pytest.UsageError(str(exc)) from None
    xml = getattr(config.option, "xmlpath", None)
    if config.option.trace_dir is None and xml:
        xml = Path(xml)
        config.option.trace_dir = xml.parent / "traces" / xml.stem.removeprefix("junit.")


def pytest_report_header(config: pytest.Config) -> list[str]:
    info = interpreter_info(config.option.python)
    return [f"examples: {config.option.examples_dir} run by {info['name']} ({config.option.python}) on {platform_label(info)}; "
            f"default start method {info['default']}, available: {', '.join(info['methods'])}"]


def make_run(config: pytest.Config, example: str, method: str, **how) -> Run:
    """The one way a Run is built: the session's interpreter and timeout unless given; only the slow
    examples run at normal priority."""
    how.setdefault("python", config.option.python)
    how.setdefault("timeout", config.option.example_timeout)
    return Run(example, method, background=not EXAMPLES[example].slow, **how)


def unavailable(config: pytest.Config, method: str) -> str | None:
    """Why this start method cannot run here, or None."""
    info = interpreter_info(config.option.python)
    if method != "default" and method not in info["methods"]:
        return f"start method {method} is not available on {platform_label(info)} ({info['name']})"
    return None


def matrix_params(config: pytest.Config) -> list:
    """One Run per example and start method: `03_lock-spawn`; a method this interpreter lacks is
    skipped with the reason, and so is an example missing from --examples-dir."""
    methods = config.option.start_method or START_METHODS
    params = []
    for example in EXAMPLES:
        script = config.option.examples_dir / f"{example}.py"
        for method in START_METHODS:
            if method not in methods:
                continue
            run = make_run(config, example, method, script=script)
            marks = []
            if not script.is_file():
                marks = [pytest.mark.skip(reason=f"{config.option.examples_dir} has no {script.name}"), pytest.mark.cell("missing")]
            elif unavailable(config, method):
                marks = [pytest.mark.skip(reason=unavailable(config, method)), pytest.mark.cell("not_available")]
            params.append(pytest.param(run, id=run.id, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "matrix_run" in metafunc.fixturenames:
        metafunc.parametrize("run", matrix_params(metafunc.config))


def cell_properties(config: pytest.Config, run: Run) -> list[tuple[str, str]]:
    info = interpreter_info(run.python)
    return [("example", run.example), ("start_method", run.method), ("interpreter", info["name"]),
            ("platform", platform_label(info))]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A cell that cannot run still says what it is and why, as data (its test is skipped before
    # any fixture runs).
    for item in items:
        cell = item.get_closest_marker("cell")
        run = getattr(item, "callspec", None) and item.callspec.params.get("run")
        if cell and isinstance(run, Run):
            reason = item.get_closest_marker("skip").kwargs["reason"]
            item.user_properties += [*cell_properties(item.config, run), ("status", cell.args[0]), ("diagnosis", reason)]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    runs = []
    for item in session.items:
        run = getattr(item, "callspec", None) and item.callspec.params.get("run")
        if isinstance(run, Run) and not item.get_closest_marker("skip"):
            runs.append(run)
    runs = list(dict.fromkeys(sorted(runs, key=lambda r: r.background)))  # the slow ones first
    if not runs:
        return
    # One thread per run: each mostly waits on its process, and all of them must run at once.
    pool = ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="example-run")
    session.config.stash[LAUNCHED] = {run: pool.submit(execute, run) for run in runs}

    def finish() -> None:
        # Runs no test waited for (after -x, or an interrupt) are stopped, not left running.
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all()
        pool.shutdown(wait=True)

    session.config.add_cleanup(finish)


@pytest.fixture(scope="session")
def suite_properties(pytestconfig: pytest.Config, record_testsuite_property) -> None:
    """Stamp the interpreter and platform into the JUnit file, schema-safely (testsuite level)."""
    info = interpreter_info(pytestconfig.option.python)
    for name, value in [("interpreter", info["name"]), ("python", pytestconfig.option.python),
                        ("platform", platform_label(info)), ("default_start_method", info["default"]),
                        ("available_start_methods", " ".join(info["methods"]))]:
        record_testsuite_property(name, value)


@pytest.fixture
def matrix_run(suite_properties) -> None:
    """Requested by a test to be parametrized over the example x start-method matrix."""


@pytest.fixture
def outcome(request: pytest.FixtureRequest, run: Run) -> Outcome:
    future: Future | None = request.config.stash.get(LAUNCHED, {}).get(run)
    result = future.result() if future else execute(run)
    judged = result.verdict
    properties = [*cell_properties(request.config, run), ("status", judged.status), ("claim", judged.claim),
                  ("diagnosis", judged.diagnosis), ("observed_start_method", result.observed_method),
                  ("seconds", f"{result.seconds:.2f}"), ("evidence", json.dumps(result.evidence.summary()))]
    trace = write_trace(request, result)
    if trace:
        properties.append(("trace", trace))
    request.node.user_properties.extend(properties)
    return result


def write_trace(request: pytest.FixtureRequest, result: Outcome) -> str | None:
    """The run's timeline as DIR/ID.json; returns its path relative to the JUnit file's folder."""
    folder: Path | None = request.config.option.trace_dir
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{request.node.callspec.id}.json"
    path.write_text(json.dumps(result.evidence.trace()), encoding="utf-8")
    xml = getattr(request.config.option, "xmlpath", None)
    base = Path(xml).resolve().parent if xml else Path.cwd()
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return path.resolve().as_posix()
