"""Bad input to the suite gets a one-line error and a non-zero exit, never a traceback.

A bad option stops pytest before any run, so each case is a pytest session run in this process
(pytester: the same code path, its output and exit status as a user sees them, ~10 ms instead of an
interpreter's start-up); one of them is also a session of its own, as a user starts it, to show that
it is the same there, started by the launcher with the session's runs (tests/sessions.py). (What
--examples-dir does with a folder of programs: tests/test_own_programs.py.)"""

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from harness import examples
from harness.launcher import finished
from harness.platforms import PLATFORM
from harness.plugin import ROOT, SHIPPED_EXAMPLES
from harness.runner import Run, execute
from sessions import Job, early, matrix_session

# Made by the first job that needs them (prepare), removed by the fixture that used them. Resolved,
# as the plugin reports --examples-dir: the runners' temporary folders are reached through names
# that resolve() changes (macOS: /var -> /private/var; Windows: C:\Users\RUNNER~1, a short name).
SCRATCH = Path(tempfile.gettempdir()).resolve() / f"bad-input-{uuid.uuid4().hex[:8]}"
EMPTY, FAKE = SCRATCH / "no-examples", SCRATCH / "bin"
# Programs given as --python that are not a Python: one prints nothing, one a fake version, one garbage.
NOT_PYTHONS = {
    "prints-nothing": "#!/bin/sh\nexit 0\n",
    "prints-a-version": "#!/bin/sh\necho 'Python 3.12.1'\n",
    "prints-garbage": "#!/bin/sh\nprintf '{\\033[2J not json'\n",
    "prints-other-json": '#!/bin/sh\necho \'{"name": "CPython 3.12.1"}\'\n',
}


def write_bad_inputs() -> None:
    """The folder without programs and the programs that are not the Python they say (again after
    the module's clean-up: the tests of other modules may run in between)."""
    for folder in (EMPTY, FAKE):
        folder.mkdir(parents=True, exist_ok=True)
    (EMPTY / "README.txt").write_text("no programs here\n")
    if PLATFORM != "win32":  # a `python3.99` on PATH that is really this Python
        if not (FAKE / "python3.99").is_symlink():
            (FAKE / "python3.99").symlink_to(sys.executable)
        for name, script in NOT_PYTHONS.items():
            (FAKE / name).write_text(script)
            (FAKE / name).chmod(0o755)


@pytest.fixture(scope="module", autouse=True)
def scratch():
    yield
    shutil.rmtree(SCRATCH, ignore_errors=True)


BAD_OPTIONS = {
    "unknown-start-method": (["--start-method", "thread"], "argument --start-method: invalid choice: 'thread'"),
    "missing-interpreter": (["--python", "/nonexistent/python3"], "cannot run interpreter /nonexistent/python3"),
    "missing-interpreter-beside": (["--python", sys.executable.replace("python", "no-such-python")], "cannot run interpreter"),
    "unknown-python-name": (["--python", "3.99"], "--python 3.99: no such Python on PATH or among pyenv's versions"),
    "no-free-threaded-build": (["--python", "3.99t"], "--python 3.99t: no such Python"),
    "missing-folder": (["--examples-dir", "/nonexistent"], f"--examples-dir {Path('/nonexistent')}: no such folder"),  # \nonexistent on Windows
    "folder-without-programs": (["--examples-dir", EMPTY], f"--examples-dir {EMPTY}: no programs (*.py) in it"),
    "zero-timeout": (["--example-timeout", "0"], "--example-timeout 0: must be a positive, finite number of seconds"),
    "infinite-timeout": (["--example-timeout", "inf"], "--example-timeout inf: must be a positive, finite number of seconds"),
    "nan-timeout": (["--example-timeout", "04_pool=nan"], "--example-timeout 04_pool=nan: must be a positive, finite number of seconds"),
    "timeout-of-no-example": (["--example-timeout", "05_nothing=3"], "--example-timeout 05_nothing=3: no example '05_nothing'"),
    "gate-dir-is-a-file": (["--gate-dir", ROOT / "tests" / "test_claims.py"], f"--gate-dir {ROOT / 'tests' / 'test_claims.py'}: cannot write there"),
}


@pytest.fixture
def bad_session(pytester, monkeypatch):
    """A pytest session of the harness, in this process, on a bad command line: its exit status and
    what it printed."""
    write_bad_inputs()

    def start(*args, env: dict[str, str] | None = None):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        return pytester.runpytest_inprocess("-p", "harness.launcher", "-p", "harness.plugin", "-p", "no:cacheprovider", *map(str, args))

    return start


def one_line_error(done) -> str:
    """The session's error: exit 4, one line of it (argparse adds its usage lines), no traceback."""
    assert done.ret == 4, done.outlines + done.errlines  # pytest's usage error
    said = "\n".join(done.outlines + done.errlines)
    assert "Traceback" not in said and "\x1b" not in said, said
    errors = [line for line in done.errlines if line.startswith("ERROR:") or ": error: " in line]
    assert errors, said
    return errors[-1]


@pytest.mark.parametrize(("args", "message"), list(BAD_OPTIONS.values()), ids=list(BAD_OPTIONS))
def test_bad_option_is_one_clear_line(bad_session, args, message):
    assert message in one_line_error(bad_session(*args))


def test_an_unknown_emulation_is_one_clear_line(bad_session):
    assert "HARNESS_EMULATE=beos: the harness emulates win32 or darwin" in one_line_error(bad_session(env={"HARNESS_EMULATE": "beos"}))


@pytest.mark.skipif(PLATFORM == "win32", reason="needs a symlink named python3.99 on PATH")
def test_a_python_named_for_another_version_is_refused(bad_session):
    said = one_line_error(bad_session("--python", "3.99", env={"PATH": f"{FAKE}{os.pathsep}{os.environ.get('PATH', '')}"}))
    assert f"--python 3.99: {FAKE / 'python3.99'} is CPython " in said and ", not Python 3.99" in said


@pytest.mark.skipif(PLATFORM == "win32", reason="the programs that are not a Python are shell scripts")
@pytest.mark.parametrize("program", [*NOT_PYTHONS, "bin-true"])
def test_a_program_that_is_not_a_python_is_refused(bad_session, program):
    """/bin/true, or a script that prints a version or garbage: one line, exit 4, nothing raw."""
    python = shutil.which("true") or "/bin/true" if program == "bin-true" else FAKE / program
    assert " is not a Python: its probe printed " in one_line_error(bad_session("--python", python))


# The same as a user starts it: a process of its own, its stderr one line, exit 4.
AS_A_USER = Job(matrix_session("--example-timeout", "inf"))
early("as_a_user", AS_A_USER)


@pytest.fixture
def as_a_user(pytestconfig):
    return finished(pytestconfig, AS_A_USER)


def test_a_bad_option_is_one_line_in_a_session_of_its_own(as_a_user):
    done = as_a_user
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == ["ERROR: --example-timeout inf: must be a positive, finite number of seconds"], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# A claims file that cannot be used: one line naming the file and the problem, before any run.
BAD_CLAIMS = {
    "not-toml": ("claim = ", "x.toml: Invalid value"),
    "unknown-key": ('claim = "x"\nprinted = true\n', "x.toml: unknown key 'printed' (the keys: "),
    "unknown-check": ("[processes]\nprinted = 'main'\n", "x.toml: [processes] has no check 'printed' (the vocabulary: printed_by, "),
    "bad-argument": ("[processes]\nprinted_by = 'children'\n", "x.toml: [processes] printed_by: one of main"),
    "bad-regex": ("[processes]\nnames_writer = '(?P<identity>['\n", "x.toml: [processes] names_writer: not a regular expression: "),
    "two-text-checks": ("[text]\nexact = 'a'\nlines = ['a']\n", "x.toml: [text] exact: one check of the text at a time, not exact and lines"),
    "unknown-method": ('start_methods = ["thread"]\n', "x.toml: unknown start method 'thread' (the start methods: default, fork, spawn, forkserver)"),
    "bad-timeout": ("timeout = -1\n", "x.toml: timeout must be a positive number of seconds"),
    "bad-pin": ('sha256 = "abc"\n', "x.toml: sha256 must be 64 hexadecimal digits"),
    # A claims file is checked whole before it is used: its size and depth before it is parsed (a
    # 40 KB dotted key took pytest to 2.36 GB; deep arrays gave a RecursionError INTERNALERROR),
    # every key's type (a boolean is no number), its pin and its sample wherever they are given.
    "dotted-key-20000-deep": ("a" + ".a" * 20_000 + " = 1\n", "x.toml: nested deeper than 32 levels (arrays, tables or a dotted key's parts)"),
    "quoted-key-10000-deep": ('"a"' + '."a"' * 10_000 + " = 1\n", "x.toml: nested deeper than 32 levels"),
    "arrays-3000-deep": ("claim = " + "[" * 3000 + "]" * 3000 + "\n", "x.toml: nested deeper than 32 levels"),
    "inline-tables-3000-deep": ("claim = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n", "x.toml: nested deeper than 32 levels"),
    "too-large": ("claim = '" + "x" * (64 << 10) + "'\n", "x.toml: larger than 64 KiB"),
    "not-utf8": ("claim = '\udcff'\n", "x.toml: not UTF-8 (invalid start byte at byte 9)"),
    "timeout-true": ("timeout = true\n", "x.toml: timeout must be a positive number of seconds"),
    "children-true": ("[processes]\nchildren = true\n", "x.toml: [processes] children: a number"),
    "per-hold-true": ("[processes]\nunder_one_lock = { lines = 'x', per_hold = true }\n", "x.toml: [processes] under_one_lock: { lines = "),
    "repeat-true": ("[text]\nlines = [{ repeat = true, lines = ['x'] }]\n", "x.toml: [text] lines: a repeated block is { repeat = N, "),
    "distinct-not-a-string": (
        "[text]\nlines = [{ repeat = 2, lines = ['(?P<n>x)'], distinct = ['n'] }]\n",
        "x.toml: [text] lines: distinct names a group: a string",
    ),
    "start-methods-a-number": ("start_methods = 3\n", "x.toml: start_methods must be a list of start methods (default, fork, spawn, forkserver)"),
    "start-methods-nested": ('start_methods = [["spawn"]]\n', "x.toml: start_methods must be a list of start methods"),
    "slow-a-string": ('slow = "yes"\n', "x.toml: slow must be true or false"),
    "fails-default": (
        "[fails]\ndefault = 'RuntimeError'\n",
        "x.toml: [fails] default: name the start method it fails under (fork, spawn, forkserver), not default",
    ),
    "pin-of-another-program": (f'sha256 = "{"0" * 64}"\n', "x.toml: x.py is not the program its sha256 pins (sha256 "),
    # Issue 24's words: each form refused with what it takes.
    "printed-by-nobody": (
        "[processes]\nprinted_by = { 'x' = 'thread' }\n",
        "x.toml: [processes] printed_by: one of main, child, pool worker, manager",
    ),
    "shows-writer-shows-nothing": ("[processes]\nshows_writer = 'x'\n", "x.toml: [processes] shows_writer: 'x' shows nothing of its writer"),
    "from-queue-no-lines": ("[processes]\nfrom_queue = { each_is = 'pid' }\n", "x.toml: [processes] from_queue: true, or { lines = "),
    "pool-inputs-and-count": (
        "[processes]\npool = [{ function = 'f', lines = 'x', inputs = [1], count = 1 }]\n",
        "x.toml: [processes] pool: inputs or count, not both",
    ),
    "pool-values-and-pid": (
        "[processes]\npool = [{ function = 'f', lines = '(?P<values>.*) (?P<pid>\\\\d+)' }]\n",
        "x.toml: [processes] pool: a line of `values` (a printed list of results) shows no other value, pid or name",
    ),
    "children-a-bad-count": (
        "[processes]\nchildren = 'cpu_count x 2'\n",
        "x.toml: [processes] children: a number (or cpu_count, times, plus or minus",
    ),
    "back-reference-to-nothing": (
        "[text]\nlines = ['(?P=n)']\n",
        "x.toml: [text] lines: (?P=n) refers to a group of no earlier line, nor of its own",
    ),
    "chooses-thread": ('chooses_start_method = "thread"\n', "x.toml: chooses_start_method must be one of fork, spawn, forkserver"),
    "by-start-method-missing-one": (
        "[by_start_method]\nm = { fork = 'a' }\n",
        "x.toml: [by_start_method] m: a value for each of fork, spawn, forkserver and no other",
    ),
    "fails-both": (
        "[fails.fork]\nstderr = 'x'\nhangs = true\n",
        "x.toml: [fails] fork: stderr = 'the line it fails with', or hangs = true (one of them)",
    ),
    "fails-bad-python": ("[fails.fork]\nstderr = 'x'\npython = '3.12'\n", "x.toml: [fails] fork: python is a version bound: '>=3.12'"),
    "fails-unknown-key": (
        "[fails.fork]\nstderr = 'x'\nwhen = 'always'\n",
        "x.toml: [fails] fork: the line it fails with, or a table of stderr, hangs",
    ),
    "options-that-turn-off-the-hook": ('interpreter_options = ["-I"]\n', "x.toml: interpreter_options must be a list among -B, -O"),
    "sample-with-cpu-count": (
        'sample = "x\\n"\n[text]\nlines = [{ repeat = "cpu_count", lines = ["x"] }]\n',
        "x.toml: a sample cannot be checked against [text] claims that follow cpu_count",
    ),
    "sample-breaking-its-text": (
        'sample = "y\\n"\n[text]\nexact = "x\\n"\n',
        "x.toml: its sample breaks its own [text] exact: stdout is 'y\\n', expected exactly 'x\\n'",
    ),
}


@pytest.mark.parametrize(("claims", "message"), list(BAD_CLAIMS.values()), ids=list(BAD_CLAIMS))
def test_a_claims_file_that_cannot_be_used_is_one_clear_line(bad_session, tmp_path, claims, message):
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "x.py").write_text("print('x')\n")
    (folder / "x.toml").write_bytes(claims.encode("utf-8", "surrogateescape"))
    assert one_line_error(bad_session("--examples-dir", folder)).startswith(f"ERROR: --examples-dir {folder}: {message}")


# What a folder holds that would otherwise be ignored in silence: one line, exit 4.
BAD_FOLDERS = {
    "claims-without-program": (lambda f: (f / "y.toml").write_text("claim = 'y'\n"), "y.toml: a claims file without its program (y.py) beside it"),
    "claims-a-folder": (lambda f: (f / "x.toml").mkdir(), "x.toml: not a regular file"),
    "claims-a-fifo": (lambda f: os.mkfifo(f / "x.toml"), "x.toml: not a regular file"),
    "claims-a-device": (lambda f: (f / "x.toml").symlink_to(os.devnull), "x.toml: not a regular file"),
    "claims-a-dangling-link": (lambda f: (f / "x.toml").symlink_to(f / "nowhere"), "x.toml: no such file"),
    "program-a-folder": (lambda f: (f / "y.py").mkdir(), "y.py: not a regular file (a program is one)"),
}


@pytest.mark.skipif(PLATFORM == "win32", reason="FIFOs, devices and symbolic links made the POSIX way")
@pytest.mark.parametrize(("make", "message"), list(BAD_FOLDERS.values()), ids=list(BAD_FOLDERS))
def test_what_a_folder_holds_is_never_ignored_in_silence(bad_session, tmp_path, make, message):
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "x.py").write_text("print('x')\n")
    make(folder)
    assert one_line_error(bad_session("--examples-dir", folder)) == f"ERROR: --examples-dir {folder}: {message}"


def test_what_a_test_sets_in_process_does_not_reach_the_runs(monkeypatch):
    """The in-process sessions above change os.environ for a moment (HARNESS_EMULATE, PATH) while
    the session's runs start in other threads: a run takes the environment the session began with
    (an emulation of 'beos' leaking into a run once broke it: found by benchmarks/stress.py)."""
    monkeypatch.setenv("HARNESS_EMULATE", "beos")
    monkeypatch.setenv("LEAKED", "yes")
    program = examples.Example("leak", SHIPPED_EXAMPLES / "02_queue.py")
    done = execute(Run("leak", "default", sys.executable, source="import os\nprint(os.environ.get('LEAKED'))\n", spec=program))
    assert (done.returncode, done.stdout, done.stderr) == (0, "None\n", "")
