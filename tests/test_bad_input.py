"""Bad input to the suite gets a one-line error and a non-zero exit, never a traceback; and
--examples-dir checks every program of a folder, with its claims file's claims or the general ones.

Each case is a pytest session of its own, as a user would start it; the launcher starts them all
with the session's runs (harness.plugin.Job), and each test reads its session's result."""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from harness.launcher import finished
from harness.platforms import PLATFORM
from harness.plugin import SHIPPED_EXAMPLES
from sessions import Job, early, once

# Made by the first job that needs them (prepare), removed by the fixture that used them. Resolved,
# as the plugin reports --examples-dir: the runners' temporary folders are reached through names
# that resolve() changes (macOS: /var -> /private/var; Windows: C:\Users\RUNNER~1, a short name).
SCRATCH = Path(tempfile.gettempdir()).resolve() / f"bad-input-{uuid.uuid4().hex[:8]}"
VARIANTS, EMPTY, FAKE = SCRATCH / "variants", SCRATCH / "no-examples", SCRATCH / "bin"
# Programs given as --python that are not a Python: one prints nothing, one a fake version, one garbage.
NOT_PYTHONS = {
    "prints-nothing": "#!/bin/sh\nexit 0\n",
    "prints-a-version": "#!/bin/sh\necho 'Python 3.12.1'\n",
    "prints-garbage": "#!/bin/sh\nprintf '{\\033[2J not json'\n",
    "prints-other-json": '#!/bin/sh\necho \'{"name": "CPython 3.12.1"}\'\n',
}


def session(*args, **job) -> Job:
    """A separate pytest session on the claims matrix."""
    return Job((sys.executable, "-m", "pytest", "tests/test_claims.py", "-p", "no:cacheprovider", *map(str, args)), **job)


@once
def write_scratch() -> None:
    for folder in (VARIANTS, EMPTY, FAKE):
        folder.mkdir(parents=True, exist_ok=True)
    (VARIANTS / "02_queue.py").write_text((SHIPPED_EXAMPLES / "02_queue.py").read_text().replace("Hello, world!", "Hello, World!"))
    (VARIANTS / "02_queue.toml").write_text((SHIPPED_EXAMPLES / "02_queue.toml").read_text())  # the article's claims
    (VARIANTS / "04_pool.py").write_text((SHIPPED_EXAMPLES / "04_pool.py").read_text().replace("Pool(5)", "Pool(3)"))  # the general claims only
    (EMPTY / "README.txt").write_text("no programs here\n")
    if PLATFORM != "win32":  # a `python3.99` on PATH that is really this Python
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
    "zero-timeout": (["--example-timeout", "0"], "--example-timeout 0: must be a positive, finite number of seconds"),
    "infinite-timeout": (["--example-timeout", "inf"], "--example-timeout inf: must be a positive, finite number of seconds"),
    "nan-timeout": (["--example-timeout", "04_pool=nan"], "--example-timeout 04_pool=nan: must be a positive, finite number of seconds"),
    "timeout-of-no-example": (["--example-timeout", "05_nothing=3"], "--example-timeout 05_nothing=3: no example '05_nothing'"),
    "gate-dir-is-a-file": (["--gate-dir", "tests/test_claims.py"], f"--gate-dir {Path('tests/test_claims.py')}: cannot write there"),
    "unknown-emulation": ([], "HARNESS_EMULATE=beos: the harness emulates win32 or darwin"),
}
SESSIONS = {name: session(*args) for name, (args, _) in BAD_OPTIONS.items()}
SESSIONS["unknown-emulation"] = session(env=(("HARNESS_EMULATE", "beos"),))
# A name of the list whose interpreter is another Python: the run would fill the wrong column.
WRONG_PYTHON = session("--python", "3.99", prepare=write_scratch, env=(("PATH", f"{FAKE}{os.pathsep}{os.environ.get('PATH', '')}"),))
NOT_PYTHON_RUNS = {name: session("--python", FAKE / name, prepare=write_scratch) for name in NOT_PYTHONS}
if PLATFORM != "win32":
    NOT_PYTHON_RUNS["bin-true"] = session("--python", shutil.which("true") or "/bin/true")
VARIANTS_RUN = session("--examples-dir", VARIANTS, "--start-method", "spawn", "-v", prepare=write_scratch)
NO_EXAMPLES = session("--examples-dir", EMPTY, prepare=write_scratch)
early("variant_sessions", VARIANTS_RUN, NO_EXAMPLES)


@pytest.fixture(scope="module")
def variant_sessions(pytestconfig):
    return {job: finished(pytestconfig, job) for job in (VARIANTS_RUN, NO_EXAMPLES)}


@pytest.fixture
def finished_job(pytestconfig, job: Job) -> subprocess.CompletedProcess:
    return finished(pytestconfig, job)


@pytest.mark.parametrize(("job", "message"), [pytest.param(SESSIONS[name], message, id=name) for name, (_, message) in BAD_OPTIONS.items()])
def test_bad_option_is_one_clear_line(finished_job, message):
    done = finished_job
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert message in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.skipif(PLATFORM == "win32", reason="needs a symlink named python3.99 on PATH")
@pytest.mark.parametrize("job", [WRONG_PYTHON], ids=["3.99-is-another-python"])
def test_a_python_named_for_another_version_is_refused(finished_job):
    done = finished_job
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"--python 3.99: {FAKE / 'python3.99'} is CPython " in done.stderr and ", not Python 3.99" in done.stderr


@pytest.mark.skipif(PLATFORM == "win32", reason="the programs that are not a Python are shell scripts")
@pytest.mark.parametrize("job", list(NOT_PYTHON_RUNS.values()), ids=list(NOT_PYTHON_RUNS))
def test_a_program_that_is_not_a_python_is_refused(finished_job):
    """/bin/true, or a script that prints a version or garbage: one line, exit 4, nothing raw."""
    done = finished_job
    assert done.returncode == 4, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and " is not a Python: its probe printed " in lines[0], done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "Traceback" not in done.stdout + done.stderr


def test_examples_dir_checks_every_program_in_it(variant_sessions):
    """A cell per program: with its claims file, the article's claims; without, the general ones."""
    done = variant_sessions[VARIANTS_RUN]
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed" in done.stdout
    assert "02_queue under spawn on " in done.stdout and "stdout is 'Hello, World!\\n', expected exactly 'Hello, world!\\n'" in done.stdout
    assert "test_claims.py::test_claims[04_pool-spawn] PASSED" in done.stdout


def test_a_folder_without_programs_is_an_error_not_a_pass(variant_sessions):
    done = variant_sessions[NO_EXAMPLES]
    assert done.returncode == 4, done.stdout
    assert f"--examples-dir {EMPTY}: no programs (*.py) in it" in done.stderr
