"""The corpus of real tutorials' programs (tutorials/), run as a matrix session like the article's.

Each program is its tutorial's, byte for byte (its claims file pins it), and the output its tutorial
shows, where the claims file gives it as its sample, holds its claims on the text. Each cell of the
matrix must have the verdict its claims file states: passed, fails as claimed, or n/a where the file
claims other start methods only. A few cells cannot be stated by any claims file yet (issue 24);
they are listed here with the reason, so that they show rather than hide: a failure of one start
method on some Pythons only (FINDINGS), and a `default` column whose start method the claims file
does not claim (`start_methods` names columns, and `default` is always one). The session's JUnit
file lands in results/tutorials/, where `tox -e report` reads it (`tox -e report -- results/tutorials`).
"""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from harness import examples
from harness.launcher import finished
from harness.platforms import PLATFORM
from harness.plugin import ROOT
from harness.pythons import interpreter_info
from harness.report import build, find_files
from harness.vocabulary import TEXT_CHECKS
from sessions import Job, early, matrix_session

CORPUS = ROOT / "tutorials"
PROGRAMS = examples.discover(CORPUS)
INFO = interpreter_info(sys.executable)
METHODS = ("default", "fork", "spawn", "forkserver")
NAME = f"emulated-{PLATFORM}" if os.environ.get("HARNESS_EMULATE") else PLATFORM
JUNIT = ROOT / "results" / "tutorials" / f"junit.{NAME}.xml"

# The programs that choose spawn themselves: the start method of their `default` column.
CHOOSES_SPAWN = {"docs_set_start_method", "docs_get_context", "docs_main_guard_spawn"}

# (program, start method used, from which CPython): (claim, a piece of the diagnosis), for the
# failures no claims file can state (a failure of some Python versions only: issue 24, item 8).
FINDINGS = {
    # main puts the tasks on the queue, which starts its feeder thread, before it forks the workers:
    # from 3.12, -X dev shows os.fork()'s warning about forking a process with threads.
    ("mp_workers", "fork", (3, 12)): ("stderr", "DeprecationWarning: This process (pid="),
}

RUN = Job(matrix_session("-q", f"--examples-dir={CORPUS}", f"--junitxml={JUNIT}"))
early("tutorials_matrix", RUN)


@pytest.fixture(scope="module")
def tutorials_matrix(pytestconfig):
    finished(pytestconfig, RUN)
    return build(find_files([JUNIT]))


def test_the_corpus_is_there():
    assert len(PROGRAMS) >= 15, sorted(PROGRAMS)


@pytest.mark.parametrize("program", PROGRAMS)
def test_each_program_is_its_tutorials_and_has_claims(program):
    example = PROGRAMS[program]
    assert example.has_claims and example.sha256, f"{program}: no claims file, or no sha256 in it"
    digest = hashlib.sha256(example.program.read_bytes()).hexdigest()
    assert digest == example.sha256, f"tutorials/{program}.py is not its tutorial's program any more (sha256 {digest[:12]}...)"


@pytest.mark.parametrize("program", [name for name, program in PROGRAMS.items() if program.sample])
def test_the_output_its_tutorial_shows_holds_its_claims(program):
    spec = PROGRAMS[program].text
    for name, value in spec.items():
        TEXT_CHECKS[name].check(PROGRAMS[program].sample.lstrip("\n"), value, spec)


def expected(program: str, method: str) -> tuple[str, str, str]:
    """(status, claim, a piece of the diagnosis or note) a cell must have."""
    example = PROGRAMS[program]
    if method != "default" and method not in INFO["methods"]:
        return "not_available", "", f"start method {method} is not available on"
    if method not in example.start_methods:
        return "not_available", "", f"({program}.toml)"
    used = "spawn" if program in CHOOSES_SPAWN else INFO["default"] if method == "default" else method
    if program == "docs_lock" and used == "spawn" and sys.platform == "win32":
        # Windows itself, not its emulation: a Lock is a handle the parent duplicates into the child
        # as it starts it, not a named semaphore the parent unlinks at exit, so it works there (not
        # seen here: the Windows CI job is its proof). [fails] cannot name a platform (item 8).
        return "failed", "exit_status", f"ran cleanly, but the claims say it fails under {used} with"
    if used in example.fails:  # [fails] is read by the start method the run used, in the default column too
        return "passed", "", f"fails as claimed: {example.fails[used]}"
    for (name, where, since), (claim, words) in FINDINGS.items():
        if (name, where) == (program, used) and sys.implementation.name == "cpython" and sys.version_info >= since:
            return "failed", claim, words
    if used not in example.start_methods:  # a default column whose method the claims file does not claim
        return "failed", "", ""
    return "passed", "", ""


@pytest.mark.parametrize("program", PROGRAMS)
def test_each_cell_has_the_verdict_its_claims_file_states(tutorials_matrix, program):
    (column,) = tutorials_matrix.columns
    assert program in tutorials_matrix.examples, f"{program} has no row in {JUNIT}"
    wrong = []
    for method in METHODS:
        cell = tutorials_matrix.cell(column, program, method)
        status, claim, words = expected(program, method)
        said = cell.note if status == "passed" else cell.diagnosis
        if cell.status != status or (claim and cell.claim != claim) or words not in said:
            wrong.append(f"{method}: {cell.status} {cell.claim} {cell.diagnosis or cell.note!r}; expected {status} {claim} {words!r}")
        if status == "passed" and method == "default" and program in CHOOSES_SPAWN:
            assert cell.observed_start_method == "spawn", cell
    assert not wrong, f"{program}:\n" + "\n".join(wrong)
