"""The matrix report (harness/report.py) on JUnit files made by real runs of tests/test_claims.py.

The session runs the claims suite twice, at once, on broken copies of the examples with their
claims files: 02_queue printing something else, 03_lock unchanged, 04_pool hanging. One run covers
default and spawn, the other forkserver, so fork is a gap the report must show.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
import zlib
from pathlib import Path

import pytest

from harness import examples
from harness.examples import START_METHODS
from harness.launcher import finished
from harness.plugin import ROOT, SHIPPED_EXAMPLES
from harness.pythons import interpreter_info, platform_label
from harness.report import STDERR_LABEL, build, find_files, main
from sessions import Job, early, matrix_session, once, unpinned

SHIPPED = examples.discover(SHIPPED_EXAMPLES)
TIMEOUT = 3  # seconds for the hanging copy of 04_pool; the others get the default, ample on a loaded machine
INFO = interpreter_info(sys.executable)
PLATFORM = platform_label(INFO)
COLUMN = f"{INFO['name']} on {PLATFORM}"
WRONG = "Goodbye, world!"


def has_forkserver() -> bool:
    return "forkserver" in INFO["methods"]  # of the interpreter under test, emulated or not


def suite(cases: str, cells: int | None = -1) -> str:
    """A JUnit file shaped like pytest's, for the cases no real run here can make: its session ran
    to its end and recorded how many cells it had (the cases given), or `cells`."""
    cells = cases.count('<property name="example"') if cells == -1 else cells
    recorded = f'<properties><property name="cells" value="{cells}"/></properties>' if cells is not None else ""
    head = '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest">'
    return f"{head}{recorded}{cases}</testsuite></testsuites>"


def case(example: str, method: str, result: str = "", **props: str) -> str:
    """A matrix cell as the harness records it: its properties say what it is and what happened."""
    props = {
        "example": example,
        "example_claim": f"the claim of {example}",
        "start_method": method,
        "interpreter": "CPython 3.12.1",
        "platform": "linux",
        **props,
    }
    listed = "".join(f'<property name="{k}" value="{html.escape(v)}"/>' for k, v in props.items() if v is not None)
    return f'<testcase classname="tests.test_claims" name="test_claims[{example}-{method}]"><properties>{listed}</properties>{result}</testcase>'


# The two claims runs behind `results`, started by the launcher with the session's own runs. Resolved,
# as the plugin reports --examples-dir (the runners' temporary folders are reached through names
# that resolve() changes: see tests/test_bad_input.py).
SCRATCH = Path(tempfile.gettempdir()).resolve() / f"report-{uuid.uuid4().hex[:8]}"
BROKEN, RESULTS = SCRATCH / "broken", SCRATCH / "results"
SESSIONS = {"default-spawn": ["--start-method", "default", "--start-method", "spawn"], "forkserver": ["--start-method", "forkserver"]}


@once
def write_broken() -> None:
    BROKEN.mkdir(parents=True)
    RESULTS.mkdir()
    queue = (SHIPPED_EXAMPLES / "02_queue.py").read_text(encoding="utf-8")
    (BROKEN / "02_queue.py").write_text(queue.replace("Hello, world!", WRONG), encoding="utf-8")
    shutil.copy(SHIPPED_EXAMPLES / "03_lock.py", BROKEN)
    pool = (SHIPPED_EXAMPLES / "04_pool.py").read_text(encoding="utf-8")
    (BROKEN / "04_pool.py").write_text(pool.replace("return x * x", "import time; time.sleep(600)"), encoding="utf-8")
    for name in ("02_queue", "03_lock", "04_pool"):  # each with the article's claims (but the pin: two are changed)
        (BROKEN / f"{name}.toml").write_text(unpinned(SHIPPED_EXAMPLES / f"{name}.toml"), encoding="utf-8")


RUNS = {
    name: Job(
        matrix_session(
            "-q", "--examples-dir", BROKEN, "--example-timeout", f"04_pool={TIMEOUT}", f"--junitxml={RESULTS / f'junit.{name}.xml'}", *args
        ),
        prepare=write_broken,
    )
    for name, args in SESSIONS.items()
}
early("results", *RUNS.values())


@pytest.fixture(scope="session")
def results(pytestconfig) -> Path:
    """results/junit.{default-spawn,forkserver}.xml from two real runs of the claims suite."""
    # Where forkserver is not available (Windows) every cell of that run is skipped: nothing fails.
    expected = {"default-spawn": 1, "forkserver": 1 if has_forkserver() else 0}
    for name, job in RUNS.items():
        done = finished(pytestconfig, job)
        assert done.returncode == expected[name], f"the claims run {name} should have exited {expected[name]}, got {done.returncode}:\n{done.stdout}"
    yield RESULTS
    shutil.rmtree(SCRATCH, ignore_errors=True)


def report(*args: str | Path, memory: int | None = None) -> subprocess.CompletedProcess:
    """python -m harness.report ARGS; `memory`: a limit on its address space (Linux), so that a
    report that reads without bound fails instead of exhausting the machine."""

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "harness.report", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=120,
        preexec_fn=limit if memory and sys.platform == "linux" else None,
    )


def test_cells_of_real_runs(results):
    matrix = build(find_files([results]))
    assert [c.title for c in matrix.columns] == [COLUMN]
    # The rows: the examples the runs had, each with the claim its cells recorded.
    assert matrix.examples == {name: SHIPPED[name].claim for name in ("02_queue", "03_lock", "04_pool")}
    column = matrix.columns[0]
    assert column.runs == ["default-spawn", "forkserver"]
    methods = ["default", "spawn"] + (["forkserver"] if has_forkserver() else [])
    for method in methods:
        queue = matrix.cell(column, "02_queue", method)
        assert queue.status == "failed"
        assert queue.diagnosis == f"stdout is '{WRONG}\\n', expected exactly 'Hello, world!\\n'"
        assert queue.output.startswith("--- stdout (") and f"\n{WRONG}\n--- stderr (0 bytes) ---\n" in queue.output
        assert matrix.cell(column, "03_lock", method).status == "passed"
        pool = matrix.cell(column, "04_pool", method)
        assert (pool.status, pool.diagnosis) == ("timed_out", f"timed out after {TIMEOUT} s; its processes were killed")
    lock = matrix.cell(column, "03_lock", "default")
    assert lock.observed_start_method == INFO["default"]
    assert lock.evidence["children"] and Path(lock.trace).is_file()
    if not has_forkserver():
        assert matrix.cell(column, "03_lock", "forkserver").status == "not_available"
    for example in matrix.examples:  # no run asked for fork: a gap, shown as such
        assert matrix.cell(column, example, "fork").status == "not_run"
    assert not matrix.ok


def test_cli_writes_every_output_and_fails(results, tmp_path):
    out = {kind: tmp_path / f"matrix.{kind}" for kind in ("md", "json", "html")}
    done = report(results, "--expect", "default-spawn,forkserver,3.99", "--markdown", out["md"], "--json", out["json"], "--html", out["html"])
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    text = done.stdout
    assert re.search(r"^02_queue +default +FAILED \[\d+\] +NOT RUN$", text, re.M), text
    assert f"02_queue default, {COLUMN}: stdout is '{WRONG}\\n'" in text
    assert re.search(r"^ +fork +NOT RUN +NOT RUN$", text, re.M), text
    assert "expected but absent: 3.99" in text.splitlines()[0]

    data = json.loads(out["json"].read_text(encoding="utf-8"))
    assert data["ok"] is False
    assert [c["title"] for c in data["columns"]] == [COLUMN, "3.99: no results"]
    assert len(data["cells"]) == 3 * len(START_METHODS) * 2
    cells = {(c["column"], c["example"], c["start_method"]): c for c in data["cells"]}
    queue = cells[COLUMN, "02_queue", "spawn"]
    assert queue["status"] == "failed" and queue["diagnosis"].startswith(f"stdout is '{WRONG}")
    assert cells[COLUMN, "04_pool", "spawn"]["status"] == "timed_out"
    assert cells[COLUMN, "03_lock", "default"]["observed_start_method"] == INFO["default"]
    assert cells[COLUMN, "02_queue", "spawn"]["claim"] == "output"
    assert {c["status"] for k, c in cells.items() if k[0] == "3.99: no results"} == {"not_run"}

    markdown = out["md"].read_text(encoding="utf-8")
    assert f"| {INFO['name']}<br>{PLATFORM}<br><sub>default-spawn, forkserver</sub> | 3.99<br>no results file |" in markdown
    assert f"| **03_lock**<br>{SHIPPED['03_lock'].claim} | default | ✅ passed ({INFO['default']}), +stretch | ❔ not run |" in markdown
    assert f"|  | spawn | ❌ failed: stdout is '{WRONG}\\\\n', expected exactly 'Hello, world!\\\\n' | ❔ not run |" in markdown
    assert f"| ⏱️ timed out after {TIMEOUT} s; its processes were killed |" in markdown
    assert "|  | fork | ❔ not run | ❔ not run |" in markdown

    page = out["html"].read_text(encoding="utf-8")
    assert "<details><summary>output</summary><pre>--- stdout (" in page and f"{WRONG}\n--- stderr (0 bytes) ---\n&lt;empty&gt;" in page
    assert not re.search(r"\bsrc=|\bhref=\"[^#]|@import|url\(", page), "the page must load nothing"
    # every failed or timed-out cell has its run's timeline drawn below the table, one lane per process
    # (and its twin's beside it, the run with the mechanism perturbed, where it had one)
    bad = sum(1 + bool(c["intervened_trace"]) for c in data["cells"] if c["status"] in ("failed", "timed_out"))
    assert page.count('<svg class="timeline"') == bad > 0
    assert "the main process (pid" in page and "<title>stdout" in page


def test_all_held_exits_0_and_gaps_still_show(tmp_path):
    single = tmp_path / "junit.one.xml"
    single.write_text(suite(case("03_lock", "spawn", status="passed")), encoding="utf-8")
    done = report(single)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^03_lock +default +NOT RUN$", done.stdout, re.M)
    assert re.search(r"^ +spawn +passed$", done.stdout, re.M)


def test_not_run_cells_of_an_expected_run_fail(tmp_path):
    """--expect: the run must be there and every cell of its column must have run."""
    (tmp_path / "junit.one.xml").write_text(suite(case("03_lock", "spawn", status="passed")), encoding="utf-8")
    done = report(tmp_path, "--expect", "one")
    assert done.returncode == 1, done.stdout
    assert "Some claims do NOT hold" in done.stdout.splitlines()[0]
    assert report(tmp_path, "--expect", "other").returncode == 1  # absent
    whole = suite("".join(case("03_lock", m, status="passed") for m in START_METHODS))
    (tmp_path / "junit.one.xml").write_text(whole, encoding="utf-8")
    assert report(tmp_path, "--expect", "one").returncode == 0


@pytest.mark.parametrize(("file", "python"), [("junit.3.12.xml", None), ("junit.local.xml", "3.12")], ids=["tox-env", "local-column"])
def test_a_run_named_for_a_python_must_have_run_it(tmp_path, file, python):
    """tox -e 3.12 (junit.3.12.xml), or --python 3.12 in one session: the cells must come from 3.12."""
    (tmp_path / file).write_text(suite(case("02_queue", "spawn", status="passed", interpreter="CPython 3.11.7", python=python)), encoding="utf-8")
    matrix = build(find_files([tmp_path]), expect=["3.12"])
    cell = matrix.cell(matrix.columns[0], "02_queue", "spawn")
    assert (cell.status, cell.diagnosis) == ("error", f"{file[6:-4]} was to run Python 3.12 but ran CPython 3.11.7")
    assert not matrix.ok
    (tmp_path / file).write_text(suite(case("02_queue", "spawn", status="passed", interpreter="CPython 3.12.1", python=python)), encoding="utf-8")
    matrix = build(find_files([tmp_path]), expect=["3.12"])
    assert matrix.cell(matrix.columns[0], "02_queue", "spawn").status == "passed"
    assert matrix.columns[0].expected and not matrix.ok  # 3.12's other cells did not run


def test_the_worst_outcome_of_a_cell_wins(tmp_path):
    (tmp_path / "junit.a.xml").write_text(suite(case("02_queue", "fork", status="passed")), encoding="utf-8")
    failure = '<failure message="Failed: 02_queue under fork on CPython 3.12.1: stdout is wrong">...</failure>'
    (tmp_path / "junit.b.xml").write_text(
        suite(case("02_queue", "fork", failure, status="failed", claim="output", diagnosis="stdout is wrong")), encoding="utf-8"
    )
    matrix = build(find_files([tmp_path]))
    cell = matrix.cell(matrix.columns[0], "02_queue", "fork")
    assert (cell.status, cell.claim, cell.diagnosis, Path(cell.source).name) == ("failed", "output", "stdout is wrong", "junit.b.xml")


def test_a_test_that_could_not_run_is_an_error(tmp_path):
    error = '<error message="failed on setup with &quot;InterpreterError: boom&quot;">Traceback ...</error>'
    (tmp_path / "junit.a.xml").write_text(suite(case("04_pool", "spawn", error)), encoding="utf-8")
    matrix = build(find_files([tmp_path]))
    cell = matrix.cell(matrix.columns[0], "04_pool", "spawn")
    assert (cell.status, cell.diagnosis, cell.output) == ("error", 'failed on setup with "InterpreterError: boom"', "Traceback ...")
    assert not matrix.ok


def test_the_end_of_an_unjudged_runs_stderr_is_in_every_form(tmp_path):
    """An error cell's `stderr` property (its supervisor's traceback, say: the run's folder is gone)
    is in the text, Markdown, JSON and HTML forms, its lines kept, its control characters escaped,
    and in Markdown in a code block that its own backticks cannot close."""
    stderr = "Traceback (most recent call last):\n  ```\x9b2J\nAttributeError: module 'os' has no attribute 'posix_spawnp'"
    line = "the supervisor of 04_pool-spawn exited 1 without a report (see the run's stderr): the run's processes were killed, and it was not judged"
    error = f'<error message="failed on setup with &quot;Failed: {line}&quot;">{html.escape(line)}&#10;{html.escape(stderr)}</error>'
    file = tmp_path / "junit.a.xml"
    file.write_text(suite(case("04_pool", "spawn", error, status="error", diagnosis=line, stderr=stderr)).replace("\n", "&#10;"), encoding="utf-8")
    out = {kind: tmp_path / f"matrix.{kind}" for kind in ("md", "html", "json")}
    done = report(file, "--markdown", out["md"], "--html", out["html"], "--json", out["json"])
    assert done.returncode == 1, done.stdout + done.stderr
    shown = stderr.replace("\x9b", "\\x9b")
    assert f"{STDERR_LABEL}:\n" + "".join(f"    | {part}\n" for part in shown.splitlines()) in done.stdout, done.stdout
    assert f"\n````\n{shown}\n````\n" in out["md"].read_text(encoding="utf-8")
    (cell,) = [c for c in json.loads(out["json"].read_text(encoding="utf-8"))["cells"] if c["status"] == "error"]
    assert (cell["diagnosis"], cell["stderr"], cell["output"]) == (line, shown, "")
    assert f"<summary>{html.escape(STDERR_LABEL)}</summary><pre>{html.escape(shown)}</pre>" in out["html"].read_text(encoding="utf-8")


def test_a_cell_is_read_from_its_properties_not_its_wording(tmp_path):
    """The status and reason come from the data the harness recorded, whatever the messages say."""
    skipped = '<skipped type="pytest.skip" message="any wording at all">x</skipped>'
    (tmp_path / "junit.windows.xml").write_text(
        suite(
            case("02_queue", "fork", skipped, platform="win32", status="not_available", diagnosis="fork: not on Windows")
            + case(
                "02_queue",
                "spawn",
                '<failure message="Failed: anything">x</failure>',
                platform="win32",
                status="timed_out",
                claim="timeout",
                diagnosis="timed out after 60 s",
            )
            + '<testcase classname="tests.test_pinned" name="test_claims[02_queue-spawn]"/>'
        ),
        encoding="utf-8",
    )  # not a cell: no properties
    matrix = build(find_files([tmp_path]))
    assert [c.title for c in matrix.columns] == ["CPython 3.12.1 on win32"]
    fork, spawn = (matrix.cell(matrix.columns[0], "02_queue", m) for m in ("fork", "spawn"))
    assert (fork.status, fork.diagnosis) == ("not_available", "fork: not on Windows")
    assert (spawn.status, spawn.claim, spawn.diagnosis) == ("timed_out", "timeout", "timed out after 60 s")


NOT_CLAIMS = suite('<testcase classname="tests.test_pinned" name="test_pins_cover_exactly_the_examples"/>')


@pytest.mark.parametrize(
    ("content", "error"),
    [
        pytest.param("", "{path}: empty file", id="empty"),
        pytest.param(None, "{path}: not well-formed XML (", id="truncated"),
        pytest.param(
            '<?xml version="1.0"?><coverage/>', "{path}: not a JUnit file (its root is neither <testsuites> nor <testsuite>)", id="not-junit"
        ),
        pytest.param('<testsuites><testsuite name="pytest" tests="0"/></testsuites>', "{path}: no test cases in it", id="no-cases"),
        # An interrupted session's cells (pytest writes them when it is interrupted), or cells lost.
        pytest.param(
            suite(case("02_queue", "spawn", status="passed"), cells=None),
            "{path}: its session did not record that it ran to its end (interrupted, stopped early, killed as it wrote it?): "
            "its 1 cell(s) are not read",
            id="unfinished-session",
        ),
        pytest.param(
            suite(case("02_queue", "spawn", status="passed"), cells=2),
            "{path}: 1 cell(s) in it, but its session recorded 2: a partial or damaged file",
            id="cells-missing",
        ),
    ],
)
def test_unusable_file_is_a_one_line_error(results, tmp_path, content, error):
    """Beside good files, one bad file stops the report: no traceback, no smaller table."""
    folder = shutil.copytree(results, tmp_path / "results")
    bad = folder / "junit.bad.xml"
    if content is None:
        good = (results / "junit.default-spawn.xml").read_text(encoding="utf-8")
        content = good[: len(good) // 2]
    bad.write_text(content, encoding="utf-8")
    done = report(folder)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("report: error: " + error.format(path=bad)), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


# A cell's properties as a damaged or hostile file may have them: (properties changed, the problem
# the one line names). The cell is 02_queue under spawn, beside a good one.
DAMAGED = {
    "evidence-not-json": ({"evidence": "{not json"}, "property evidence='{not json': not a JSON object"),
    "evidence-a-list": ({"evidence": "[1, 2]"}, "property evidence='[1, 2]': not a JSON object"),
    "evidence-nested-deep": ({"evidence": "[" * 100_000}, "property evidence='" + "[" * 40 + "...': not a JSON object"),
    "seconds-not-a-number": ({"seconds": "abc"}, "property seconds='abc': not a number of seconds"),
    "seconds-negative": ({"seconds": "-1"}, "property seconds='-1': not a number of seconds"),
    "seconds-nan": ({"seconds": "nan"}, "property seconds='nan': not a number of seconds"),
    "status-bogus": ({"status": "bogus"}, "property status='bogus': not one of failed, timed_out, error, passed, not_available"),
    "status-missing": ({"status": None}, "no property status, and its test passed"),
    "interpreter-missing": ({"interpreter": None}, "no property interpreter"),
    "platform-missing": ({"platform": None}, "no property platform"),
    "example-not-a-name": ({"example": "05 nothing/.."}, "property example='05 nothing/..': not a program's name"),
    "method-unknown": ({"start_method": "thread"}, "property start_method='thread': not one of default, fork, spawn, forkserver"),
    "observed-method-not-a-name": ({"observed_start_method": "fork spawn"}, "property observed_start_method='fork spawn': not a start method"),
    "claim-not-a-name": ({"claim": "x y"}, "property claim='x y': not a claim's name"),
    "unknown-field": ({"colour": "red"}, "unknown property colour"),
}
GOOD = {"status": "passed", "claim": "", "diagnosis": "", "observed_start_method": "spawn", "seconds": "0.31", "evidence": '{"processes": 2}'}


@pytest.mark.parametrize(("changed", "problem"), list(DAMAGED.values()), ids=list(DAMAGED))
def test_a_damaged_property_is_a_one_line_error(tmp_path, capsys, changed, problem):
    """Whatever a property holds, the report names the file, the test case and the problem in one
    line, exit 2: no traceback, no cell made up."""
    damaged = {k: v for k, v in {**GOOD, **changed}.items() if v is not None}
    example, method = damaged.pop("example", "02_queue"), damaged.pop("start_method", "spawn")
    file = tmp_path / "junit.x.xml"
    file.write_text(suite(case("03_lock", "spawn", **GOOD) + case(example, method, **damaged)), encoding="utf-8")
    if "interpreter" in changed or "platform" in changed:  # case() fills them in: take them out again
        text = file.read_text(encoding="utf-8")
        gone = {"interpreter": "CPython 3.12.1", "platform": "linux"}
        for name in changed:
            head, _, tail = text.rpartition(f'<property name="{name}" value="{gone[name]}"/>')
            text = head + tail
        file.write_text(text, encoding="utf-8")
    status = main([str(file)])  # in this process: 15 interpreters fewer to start
    out, err = capsys.readouterr()
    assert (status, out) == (2, ""), out + err
    assert err == f"report: error: {file}: test_claims[{example}-{method}]: {problem}\n"


def hostile_traces(folder: Path) -> dict[str, str]:
    """{trace property: why its timeline is not drawn} for traces the report must not read."""
    outside = folder.parent / "outside.json"
    outside.write_text('{"traceEvents": []}', encoding="utf-8")
    (folder / "link-out.json").symlink_to(outside)
    with open(folder / "huge.json", "wb") as f:  # 2 GiB, sparse: nothing written
        f.truncate(2 << 30)
    os.mkfifo(folder / "fifo.json")
    (folder / "deep.json").write_text("[" * 100_000, encoding="utf-8")
    (folder / "a-list.json").write_text("[1, 2]", encoding="utf-8")
    (folder / "good.json").write_text('{"traceEvents": []}', encoding="utf-8")
    (folder / "link-in.json").symlink_to(folder / "good.json")  # a run may have replaced its timeline so
    return {
        "link-in.json": "a symbolic link",
        "/dev/zero": "not under the JUnit file's folder",
        "../outside.json": "not under the JUnit file's folder",
        "link-out.json": "not under the JUnit file's folder",
        "huge.json": "larger than 16 MiB",
        "fifo.json": "not a regular file",
        "deep.json": "not a timeline",
        "a-list.json": "not a timeline",
        "missing.json": "no such file",
    }


@pytest.mark.skipif(sys.platform == "win32", reason="needs /dev/zero, symbolic links and a FIFO")
def test_a_trace_that_is_not_a_small_file_under_the_results_is_not_read(tmp_path):
    """A trace property is a path the report opens: one that leads out of the results, to a device,
    a FIFO or a huge file is never read; its cell says "timeline not available" and why, and the
    rest of the page is as usual. (A limit on the report's memory makes a report that reads them
    fail instead of exhausting the machine.)"""
    folder = tmp_path / "results"
    folder.mkdir()
    traces = hostile_traces(folder)
    methods = [(e, m) for e in SHIPPED for m in START_METHODS][: len(traces)]
    cases = "".join(
        case(e, m, '<failure message="Failed: x">x</failure>', status="failed", claim="output", diagnosis="wrong", trace=trace)
        for (e, m), trace in zip(methods, traces, strict=True)
    )
    (folder / "junit.x.xml").write_text(suite(cases), encoding="utf-8")
    page = tmp_path / "matrix.html"
    done = report(folder, "--html", page, memory=1 << 30)
    assert (done.returncode, done.stderr) == (1, ""), done.stderr
    text = page.read_text(encoding="utf-8")
    for trace, why in traces.items():
        assert html.escape(f"timeline not available: {folder / trace} ({why})") + "</p>" in text, (trace, why)
    assert '<svg class="timeline"' not in text


@pytest.mark.skipif(sys.platform == "win32", reason="needs /dev/zero, symbolic links and a FIFO")
@pytest.mark.parametrize(
    ("make", "error"),
    [
        pytest.param(lambda f: os.mkfifo(f / "junit.fifo.xml"), "{folder}/junit.fifo.xml: cannot read it (not a regular file)", id="fifo-found"),
        pytest.param(
            lambda f: (f / "junit.link.xml").symlink_to(f / "junit.x.xml"),
            "{folder}/junit.link.xml: a symbolic link: a JUnit file found in a folder is read only as a regular file",
            id="link-found",
        ),
        pytest.param(lambda f: (f / "junit.zero.xml").symlink_to("/dev/zero"), "{folder}/junit.zero.xml: a symbolic link", id="zero-found"),
        pytest.param(
            lambda f: os.truncate(f / "junit.huge.xml", 2 << 30) if (f / "junit.huge.xml").touch() is None else None,  # sparse
            "{folder}/junit.huge.xml: cannot read it (larger than 256 MiB)",
            id="huge-found",
        ),
    ],
)
def test_a_junit_file_that_is_not_a_small_regular_file_is_not_read(tmp_path, make, error):
    """What a results folder holds (a run could have made it) is read as a regular file only, and
    only so much: a FIFO is not waited for, /dev/zero not read for ever, a link not followed. One
    line, exit 2, within a bound on time and memory."""
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "junit.x.xml").write_text(suite(case("02_queue", "spawn", status="passed")), encoding="utf-8")
    make(folder)
    done = report(folder, memory=1 << 30)
    assert (done.returncode, done.stdout) == (2, ""), done.stdout + done.stderr
    assert done.stderr.startswith("report: error: " + error.format(folder=folder)), done.stderr


def test_a_junit_file_given_as_a_device_is_not_read():
    done = report("/dev/zero", memory=1 << 30)
    assert (done.returncode, done.stderr) == (2, "report: error: /dev/zero: no such file or folder\n"), done.stderr


CONTROL = "\x00\x1b]0;pwned\x07\x1b[2J"  # what an example may print: NUL, set the window title, clear the screen
# XML 1.0 cannot hold C0 controls (pytest writes them as #x1B); the C1 ones, CR and DEL it can.
IN_XML = "\u009b2J\u009d0;pwned\u009c\r\x7f"


def test_control_characters_are_shown_escaped(tmp_path):
    """The report never sends a terminal control character from a JUnit file raw: escaped as
    \\xNN in the text, Markdown and HTML outputs (JSON escapes them itself)."""
    failure = f'<failure message="Failed: {IN_XML}">{IN_XML}</failure>'
    file = tmp_path / "junit.x.xml"
    cells = case("02_queue", "spawn", failure, status="failed", claim="output", diagnosis=f"stdout is {IN_XML}", interpreter=f"CPython{IN_XML}")
    file.write_text(suite(cells).replace("\r", "&#13;"), encoding="utf-8")  # (a raw CR in an attribute reads as a space)
    out = {kind: tmp_path / f"matrix.{kind}" for kind in ("md", "html", "json")}
    done = report(file, "--markdown", out["md"], "--html", out["html"], "--json", out["json"])
    assert done.returncode == 1, done.stdout + done.stderr
    shown = r"\x9b2J\x9d0;pwned\x9c\x0d\x7f"
    for name, text in (("terminal", done.stdout), *((kind, path.read_text(encoding="utf-8")) for kind, path in out.items())):
        raw = sorted({f"{ord(c):#x}" for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F})
        assert not raw, f"{name}: control characters sent raw: {raw}"
        assert shown in text.replace("\\\\", "\\"), f"{name}: the characters are not shown escaped"


@pytest.mark.parametrize("name", ["no-such-path", "empty-folder", "no-claims"])
def test_unusable_folder_is_a_one_line_error(tmp_path, name):
    target = tmp_path / "results"
    if name != "no-such-path":
        target.mkdir()
    if name == "no-claims":
        (target / "junit.selftest.xml").write_text(NOT_CLAIMS, encoding="utf-8")
    done = report(target)
    expected = {
        "no-such-path": f"{target}: no such file or folder",
        "empty-folder": f"{target}: no JUnit files (junit*.xml) in this folder",
        "no-claims": f"no test_claims results in {target / 'junit.selftest.xml'}",
    }[name]
    assert (done.returncode, done.stderr) == (2, f"report: error: {expected}\n")


def test_timeline_on_request(results, tmp_path):
    """--timeline draws the named cells' runs too (all of them with `all`), passed ones included."""
    page = tmp_path / "matrix.html"
    assert report(results, "--html", page, "--timeline", "03_lock-spawn").returncode == 1
    assert re.search(r'<h3 id="timeline-\d+">03_lock under spawn on .*: passed, \+stretch</h3><svg', page.read_text(encoding="utf-8"))
    assert re.search(r'<h3 id="timeline-\d+">03_lock under spawn on .*, with stretch</h3><svg', page.read_text(encoding="utf-8"))  # its twin
    assert report(results, "--html", page, "--timeline", "all").returncode == 1
    drawn = page.read_text(encoding="utf-8").count('<svg class="timeline"')
    assert drawn == sum(1 for f in results.glob("traces/*/*.json"))


def test_help_documents_the_cli_and_exit_status(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in (
        "--expect NAME,...",
        "--markdown FILE",
        "--json FILE",
        "--html FILE",
        "--timeline CELL,...",
        "default: results/",
        "Exit status: 0 when no cell failed; 1 when a cell failed",
    ):
        assert words in text


# --- the HTML page in a real browser -------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FAILED_RGB = (0xF7, 0xC9, 0xC9)  # .failed in harness/report.py's CSS
PROBE = """<script>
const cell = document.querySelector('td.failed');
const table = document.querySelector('table');
const probe = document.createElement('pre');
probe.id = 'probe';
probe.textContent = JSON.stringify({
  failed_background: getComputedStyle(cell).backgroundColor,
  not_run_background: getComputedStyle(document.querySelector('td.not_run')).backgroundColor,
  rows: document.querySelectorAll('tbody tr').length,
  headers: [...document.querySelectorAll('thead th')].map(th => th.innerText),
  failure_outputs: document.querySelectorAll('td.failed details pre').length,
  table_width: table.getBoundingClientRect().width,
  resources: performance.getEntriesByType('resource').length,
  timelines: document.querySelectorAll('svg.timeline').length,
  bad_cells: document.querySelectorAll('td.failed, td.timed_out').length,
  bad_cells_linked: [...document.querySelectorAll('td.failed, td.timed_out')].filter(td => td.querySelector('a[href^="#timeline-"]')).length,
  links: [...document.querySelectorAll('td a[href^="#timeline-"]')].map(a => {
    const heading = document.querySelector(a.getAttribute('href'));
    return !!(heading && heading.nextElementSibling && heading.nextElementSibling.matches('svg.timeline'));
  }),
  timeline_lanes: document.querySelector('svg.timeline') ? document.querySelector('svg.timeline').querySelectorAll('rect.process').length : 0,
});
document.body.append(probe);
</script>"""


@pytest.fixture
def chromium(tmp_path):
    if not CHROMIUM:
        reason = "chromium is not installed (apt-get install chromium): the HTML page is not checked in a browser"
        if os.environ.get("REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"REQUIRE_CHROMIUM=1 but {reason}", pytrace=False)
        pytest.skip(reason)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_html_page_renders_in_chromium(results, tmp_path, chromium):
    page = tmp_path / "matrix.html"
    assert report(results, "--html", page).returncode == 1
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    # One browser start for both: the page after its scripts ran, and the top of it on screen (the
    # probe's output goes at the bottom, out of the shot). A small window keeps the pure-Python PNG
    # decoding below cheap.
    shot = tmp_path / "matrix.png"
    done = chromium("--window-size=900,500", f"--screenshot={shot}", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium did not run the page:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    seen = json.loads(html.unescape(found[1]))
    assert seen["failed_background"] == "rgb({}, {}, {})".format(*FAILED_RGB)
    assert seen["not_run_background"] != seen["failed_background"]
    assert seen["rows"] == 3 * len(START_METHODS)  # 02_queue, 03_lock, 04_pool
    assert seen["headers"][:2] == ["example", "method"] and seen["headers"][2].split("\n")[:2] == [INFO["name"], PLATFORM]
    # Every failed cell links to its timeline (and its twin's, when it had one), each link to a drawing.
    assert seen["bad_cells_linked"] == seen["bad_cells"] > 0 and all(seen["links"])
    assert seen["timelines"] == len(seen["links"]) > seen["bad_cells"] and seen["timeline_lanes"] >= 2
    assert seen["failure_outputs"] == (3 if has_forkserver() else 2)
    assert 0 < seen["table_width"] <= 1400
    assert seen["resources"] == 0, "the page loaded something"

    # The top of the page holds the first rows, failed cells among them.
    assert shot.is_file(), done.stderr[-2000:]
    width, height, pixels = read_png(shot.read_bytes())
    assert (width, height) == (900, 500)
    assert pixels.count(bytes(FAILED_RGB)) > 1000, "no failed cell painted on screen"
    if os.environ.get("REPORT_SCREENSHOT"):  # to look at it
        shutil.copy(shot, os.environ["REPORT_SCREENSHOT"])


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    pixels, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride) if kind else ():
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            else:
                guess = left + up - corner
                near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
                line[x] = (line[x] + near[2]) & 255
        pixels += [bytes(line[x : x + 3]) for x in range(0, stride, channels)]
        previous = line
    return width, height, pixels
