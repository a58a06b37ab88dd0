"""Options of the suite, and the launcher that starts every example run of a session at once.

A test that takes a `run` parameter (a harness.runner.Run) gets its `outcome` from the launcher:
all the session's runs start as soon as collection ends, the slow ones first, so the whole matrix
takes about as long as its slowest run instead of the sum of them.
"""
from __future__ import annotations

import dataclasses
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.claims import EXAMPLES
from harness.runner import START_METHODS, InterpreterError, Outcome, Run, execute, interpreter_info, stop_all

ROOT = Path(__file__).resolve().parent.parent
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


def pytest_configure(config: pytest.Config) -> None:
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


def pytest_report_header(config: pytest.Config) -> list[str]:
    info = interpreter_info(config.option.python)
    return [f"examples: {config.option.examples_dir} run by {info['name']} ({config.option.python}); "
            f"default start method {info['default']}, available: {', '.join(info['methods'])}"]


def matrix_params(config: pytest.Config) -> list:
    """One Run per example and start method: `03_lock-spawn`; a method this interpreter lacks is
    skipped with the reason, and so is an example missing from --examples-dir."""
    python = config.option.python
    info = interpreter_info(python)
    methods = config.option.start_method or START_METHODS
    params = []
    for example in EXAMPLES:
        script = config.option.examples_dir / f"{example}.py"
        for method in START_METHODS:
            if method not in methods:
                continue
            run = Run(example, method, python, script=script, timeout=config.option.example_timeout)
            marks = []
            if not script.is_file():
                marks.append(pytest.mark.skip(reason=f"{config.option.examples_dir} has no {script.name}"))
            elif method != "default" and method not in info["methods"]:
                marks.append(pytest.mark.skip(reason=f"start method {method} is not available on {sys.platform} ({info['name']})"))
            params.append(pytest.param(run, id=run.id, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "matrix_run" in metafunc.fixturenames:
        metafunc.parametrize("run", matrix_params(metafunc.config))


def session_run(config: pytest.Config, run: Run) -> Run:
    """A run declared without an interpreter gets the session's; only the slow examples run at
    normal priority."""
    return dataclasses.replace(run, python=run.python or config.option.python, background=not EXAMPLES[run.example].slow)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    runs = []
    for item in session.items:
        run = getattr(item, "callspec", None) and item.callspec.params.get("run")
        if isinstance(run, Run) and not item.get_closest_marker("skip"):
            runs.append(session_run(session.config, run))
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
                        ("platform", sys.platform), ("default_start_method", info["default"]),
                        ("available_start_methods", " ".join(info["methods"]))]:
        record_testsuite_property(name, value)


@pytest.fixture
def matrix_run(suite_properties) -> None:
    """Requested by a test to be parametrized over the example x start-method matrix."""


@pytest.fixture
def outcome(request: pytest.FixtureRequest, run: Run) -> Outcome:
    run = session_run(request.config, run)
    future: Future | None = request.config.stash.get(LAUNCHED, {}).get(run)
    result = future.result() if future else execute(run)
    request.node.user_properties.extend([
        ("example", run.example), ("start_method", run.method),
        ("resolved_start_method", result.resolved_method), ("interpreter", result.interpreter),
        ("platform", sys.platform), ("seconds", f"{result.seconds:.2f}"),
    ])
    return result
