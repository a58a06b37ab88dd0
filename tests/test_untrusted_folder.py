"""A checked folder is a stranger's pull request: nothing of it is imported by pytest, however
--examples-dir is written (a space or `=`, after tox's `--`, as a container's arguments).

The folder holds a conftest.py that would judge every cell passed and a queue.py that would shadow
the standard library's (an INTERNALERROR once), each leaving a mark when a process of pytest
imports it, and a program that exits 3. Each command line is a pytest session of its own, started
with the session's runs (tests/sessions.py); the tox envs' command lines are tox.ini's own."""

from __future__ import annotations

import configparser
import functools
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from harness.cells import START_METHODS
from harness.launcher import finished
from harness.plugin import ROOT
from harness.report import build
from sessions import Job, early, matrix_session

SCRATCH = Path(tempfile.gettempdir()).resolve() / f"untrusted-{uuid.uuid4().hex[:8]}"

# Each module leaves a mark when a process that has loaded pytest imports it; the conftest would
# then pass every cell.
CONFTEST = """import sys
from pathlib import Path
if "_pytest" in sys.modules:
    Path({marks!r}, "conftest").write_text(" ".join(sys.argv))
    import harness.verdict as verdict
    verdict.verdict = verdict.cell_verdict = lambda *_: verdict.Verdict("passed")
"""
QUEUE = """import sys
from pathlib import Path
if "_pytest" in sys.modules:
    Path({marks!r}, "queue").write_text(" ".join(sys.argv))
"""


def folder(spelling: str) -> Path:
    """The folder a session checks (its own, so that one session's marks are not another's)."""
    return SCRATCH / spelling / "folder"


def write_folder(spelling: str) -> None:
    path, marks = folder(spelling), SCRATCH / spelling / "marks"
    path.mkdir(parents=True, exist_ok=True)
    marks.mkdir(exist_ok=True)
    (path / "conftest.py").write_text(CONFTEST.format(marks=str(marks)), encoding="utf-8")
    (path / "queue.py").write_text(QUEUE.format(marks=str(marks)), encoding="utf-8")
    (path / "exits_3.py").write_text("import sys\nsys.exit(3)\n", encoding="utf-8")


def marks(spelling: str) -> dict[str, str]:
    return {path.name: path.read_text() for path in (SCRATCH / spelling / "marks").iterdir()}


@pytest.fixture(scope="module", autouse=True)
def scratch():
    yield
    shutil.rmtree(SCRATCH, ignore_errors=True)


def tox_commands() -> dict[str, list[str]]:
    """Each tox env's pytest command line as tox.ini writes it ({tox_root} filled in, the JUnit file
    in the scratch folder), with `--examples-dir FOLDER --collect-only` as its {posargs}: collection
    is enough, pytest imports the initial conftests before it. Run by the env's `pytest` script, as
    tox runs it (no current folder on sys.path), where there is one."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini", encoding="utf-8")
    script = Path(sys.executable).with_name("pytest")
    pytest_command = [str(script)] if script.is_file() else [sys.executable, "-m", "pytest"]
    found = {}
    for section in config.sections():
        argv = shlex.split(config[section].get("commands", "").replace("{tox_root}", str(ROOT)).replace("{posargs}", ""))
        if argv[:3] == ["python", "-m", "harness.platforms"]:
            argv = argv[3:]  # the command it runs, in a temporary folder spelled as the emulated platform spells it
        if argv[:1] != ["pytest"]:
            continue
        env = section.partition(":")[2].replace("{windows,macos}", "macos") or "3.12"
        junit = f"--junitxml={SCRATCH / f'junit.tox-{env}.xml'}"
        argv = [junit if arg.startswith("--junitxml") else arg for arg in argv[1:]]
        found[f"tox-{env}"] = [*pytest_command, *argv, "-p", "no:cacheprovider", "--examples-dir", str(folder(f"tox-{env}")), "--co", "-q"]
    return found


def container_command() -> list[str]:
    """docker/run-target's pytest command line, its variables filled in as on this machine."""
    script = (ROOT / "docker" / "run-target").read_text(encoding="utf-8")
    line = re.search(r'^exec "\$TARGET_PYTHON" -m pytest (.*?[^\\])$', script.replace("\\\n", " "), re.MULTILINE)[1]
    values = {'"$(command -v "$TARGET_PYTHON")"': sys.executable, '"$junit"': str(SCRATCH / "junit.container.xml"), '"$target"': "container"}
    values.update({"=$target": "=container", "/results/.gate": str(SCRATCH / "gate"), "/src/": f"{ROOT}/"})
    for variable, value in values.items():
        line = line.replace(variable, shlex.quote(value) if variable.startswith('"') else value)
    argv = shlex.split(line.replace('"$@"', ""))
    return [sys.executable, "-m", "pytest", *argv, "--examples-dir", str(folder("container"))]


COMMANDS = {
    "space": matrix_session("--examples-dir", folder("space"), f"--junitxml={SCRATCH / 'junit.space.xml'}"),
    "equals": matrix_session(f"--examples-dir={folder('equals')}", f"--junitxml={SCRATCH / 'junit.equals.xml'}"),
    "container": container_command(),
    **tox_commands(),
}
SPELLINGS = {spelling: Job(tuple(argv), prepare=functools.partial(write_folder, spelling)) for spelling, argv in COMMANDS.items()}
early("spelled", *SPELLINGS.values())


@pytest.fixture
def spelled(pytestconfig, spelling) -> subprocess.CompletedProcess:
    return finished(pytestconfig, SPELLINGS[spelling])


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_nothing_of_the_folder_is_imported_by_pytest(spelled, spelling):
    done = spelled
    assert "INTERNALERROR" not in done.stdout + done.stderr, done.stdout + done.stderr
    if spelling in ("space", "equals", "container"):  # the program exits 3 under every start method: each of its cells that ran fails
        assert done.returncode == 1, done.stdout + done.stderr
        matrix = build([SCRATCH / f"junit.{spelling}.xml"])
        (column,) = matrix.columns
        statuses = {method: matrix.cell(column, "exits_3", method).status for method in START_METHODS}
        assert statuses["default"] == "failed" and set(statuses.values()) <= {"failed", "not_available"}, statuses
    else:
        assert done.returncode == 0, done.stdout + done.stderr
    assert not marks(spelling), f"pytest imported the folder's modules: {marks(spelling)}"


def test_tox_envs_and_the_container_are_checked():
    """The spellings above cover every tox env that runs pytest, and the container's command line."""
    assert {"tox-3.12", "tox-local", "tox-selftest", "tox-emulate-macos", "tox-containers"} <= set(SPELLINGS), list(SPELLINGS)
    assert "-c" in container_command()


def test_a_folder_on_sys_path_is_refused(pytester, monkeypatch):
    """However the folder came to be on sys.path (pytest run from inside it as `python -m pytest`),
    the session stops in one line before any run: its modules would shadow the harness's."""
    write_folder("on-sys-path")
    path = folder("on-sys-path")
    monkeypatch.syspath_prepend(str(path))
    done = pytester.runpytest_inprocess("-p", "harness.launcher", "-p", "harness.plugin", "-p", "no:cacheprovider", "--examples-dir", str(path))
    assert done.ret == 4, done.outlines + done.errlines
    assert (
        done.errlines[0] == f"ERROR: --examples-dir {path}: the folder is on this process's sys.path ({path}): its modules would shadow the harness's"
    )


def test_a_harness_loaded_after_the_first_parse_is_refused(pytester):
    """Loaded only by a conftest (not by -p before pytest reads the command line), the harness
    cannot know that --examples-dir's folder was not taken for a test path: one line, exit 4."""
    pytester.makeconftest('pytest_plugins = ["harness.launcher", "harness.plugin"]\n')
    done = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert done.ret == 4, done.outlines + done.errlines
    assert done.errlines[0].startswith("ERROR: the harness was loaded after pytest's first reading of the command line"), done.errlines


# --- judging is bounded in time: a pattern that backtracks catastrophically is an error cell -------

# `(a+)+b` against a line of 40 a's and no b backtracks through 2**40 ways to split them: far
# longer than any bound here; a plain program beside them shows that the session goes on.
CATASTROPHIC = {
    "backtracks_in_lines": "[text]\nlines = ['(a+)+b']\n",
    "backtracks_in_names_writer": "[processes]\nnames_writer = '(?P<identity>\\d)?(a+)+b'\n",
}
JUDGE_TIMEOUT = 5


def write_catastrophic() -> None:
    path = folder("catastrophic")
    path.mkdir(parents=True, exist_ok=True)
    for name, claims in CATASTROPHIC.items():
        (path / f"{name}.py").write_text(f"print({'a' * 40!r})\n", encoding="utf-8")
        (path / f"{name}.toml").write_text(claims, encoding="utf-8")
    (path / "plain.py").write_text("print('hello')\n", encoding="utf-8")


CATASTROPHIC_RUN = Job(
    matrix_session(
        "--examples-dir", folder("catastrophic"), "--start-method", "spawn", "--judge-timeout", JUDGE_TIMEOUT,
        f"--junitxml={SCRATCH / 'catastrophic' / 'junit.x.xml'}",
    ),
    prepare=write_catastrophic,
)  # fmt: skip
early("catastrophic", CATASTROPHIC_RUN)


@pytest.fixture
def catastrophic(pytestconfig) -> subprocess.CompletedProcess:
    return finished(pytestconfig, CATASTROPHIC_RUN)


def test_a_pattern_that_backtracks_catastrophically_is_an_error_cell(catastrophic):
    done = catastrophic
    assert done.returncode == 1, done.stdout + done.stderr
    matrix = build([SCRATCH / "catastrophic" / "junit.x.xml"])
    (column,) = matrix.columns
    for name in CATASTROPHIC:
        cell = matrix.cell(column, name, "spawn")
        assert (cell.status, cell.diagnosis) == (
            "error",
            f"judging {name}-spawn took more than {JUDGE_TIMEOUT} s and was stopped (a pattern of its claims file that backtracks "
            "catastrophically on this output, or a check that does not end): it was not judged",
        )
    assert matrix.cell(column, "plain", "spawn").status == "passed"


def test_a_sample_that_makes_a_pattern_backtrack_is_one_line(pytester):
    """A claims file's sample is checked against its patterns when the session starts, within the
    same bound: one line, exit 4."""
    path = folder("catastrophic-sample")
    path.mkdir(parents=True, exist_ok=True)
    (path / "x.py").write_text("print('x')\n", encoding="utf-8")
    (path / "x.toml").write_text(f'sample = "{"a" * 40}\\n"\n{CATASTROPHIC["backtracks_in_lines"]}', encoding="utf-8")
    done = pytester.runpytest_inprocess(
        "-p", "harness.launcher", "-p", "harness.plugin", "-p", "no:cacheprovider", "--examples-dir", str(path), "--judge-timeout", "1"
    )
    assert done.ret == 4, done.outlines + done.errlines
    assert done.errlines[0] == (
        f"ERROR: --examples-dir {path}: x.toml: checking its sample against its [text] claims took more than 1 s and was stopped "
        "(a pattern that backtracks catastrophically?)"
    )


# --- what a folder contributes reaches no output raw, and every name the plugin takes is reported --

HOSTILE_NAME = "e\x1b[2Jvil" if sys.platform != "win32" else "evil"  # Windows allows no control character in a file's name
HOSTILE = """import multiprocessing as mp
import sys


def work():
    print("\\x1b[31mred\\x1b[0m from a child", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    p = mp.Process(target=work, name="\\x1b]0;a title\\x07worker")
    p.start()
    p.join()
"""
# Control characters: C0 but tab and newline, DEL, C1.
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def write_hostile() -> None:
    path = folder("hostile")
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{HOSTILE_NAME}.py").write_text(HOSTILE, encoding="utf-8")
    (path / f"{HOSTILE_NAME}.toml").write_text('claim = "a claim \\u001b[5m blinking"\n', encoding="utf-8")
    (path / "a b.py").write_text("print('a b')\n", encoding="utf-8")


HOSTILE_RUN = Job(
    matrix_session(
        "--examples-dir", folder("hostile"), "--start-method", "spawn", "-v", "-ra", "--color=no",
        f"--junitxml={SCRATCH / 'hostile' / 'junit.x.xml'}",
    ),
    prepare=write_hostile,
)  # fmt: skip
early("hostile", HOSTILE_RUN)


@pytest.fixture
def hostile(pytestconfig) -> subprocess.CompletedProcess:
    return finished(pytestconfig, HOSTILE_RUN)


def test_control_characters_reach_no_output_raw(hostile):
    """A program's file name, its process's name, its output and its claims file carry terminal
    control characters; the session's output, the JUnit file, and the report's every form
    (terminal, Markdown, JSON, HTML with its SVG timelines) show each one escaped. A program named
    `a b` is a cell like any other (the report refused the whole file for it)."""
    done, results = hostile, SCRATCH / "hostile"
    assert done.returncode == 1, done.stdout + done.stderr
    shown = HOSTILE_NAME.replace("\x1b", "\\x1b")
    assert f"{shown} under spawn on " in done.stdout and "\\x1b]0;a title\\x07worker (pid " in done.stdout, done.stdout
    forms = ["--markdown", results / "m.md", "--json", results / "m.json", "--html", results / "m.html", "--timeline", "all"]
    report = subprocess.run(
        [sys.executable, "-m", "harness.report", results, *forms],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert report.returncode == 1, report.stdout + report.stderr
    assert f"\n{shown}  " in report.stdout and "\na b  " in report.stdout, report.stdout
    outputs = {"session": done.stdout + done.stderr, "report": report.stdout + report.stderr}
    outputs.update({name: (results / name).read_text(encoding="utf-8") for name in ("junit.x.xml", "m.md", "m.json", "m.html")})
    assert {name: sorted(set(RAW.findall(text))) for name, text in outputs.items()} == {name: [] for name in outputs}
    assert "<svg" in outputs["m.html"] and "\\x1b]0;a title\\x07worker" in outputs["m.html"]


# --- a folder's own module named like the standard library's is what `python FILE` imports -------

SHADOWS = "import sys\nprint('the folder\\'s own multiprocessing')\n"
IMPORTS_IT = "import multiprocessing\nprint(multiprocessing.__file__.endswith('shadowed/multiprocessing.py'))\n"


@pytest.mark.parametrize("method", ["default", "fork", "spawn", "forkserver"])
def test_a_programs_own_multiprocessing_module_is_the_one_it_imports(tmp_path, method):
    """A reader's `python FILE` imports the program's own `multiprocessing.py` beside it; so does every
    column: the hook sets the start method when multiprocessing is first imported (the standard
    library's only), not before the program runs."""
    from harness.runner import Run, execute

    folder = tmp_path / "shadowed"
    folder.mkdir()
    (folder / "multiprocessing.py").write_text(SHADOWS, encoding="utf-8")
    (folder / "prog.py").write_text(IMPORTS_IT, encoding="utf-8")
    done = execute(Run("prog", method, sys.executable, script=folder / "prog.py", timeout=60))
    assert (done.returncode, done.stdout, done.stderr) == (0, "the folder's own multiprocessing\nTrue\n", "")
