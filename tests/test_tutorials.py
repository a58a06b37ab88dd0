"""The corpus of real tutorials' programs (tutorials/), run as a matrix session like the article's.

Each program is its tutorial's, byte for byte (its claims file pins it), and the output its tutorial
shows, where the claims file gives it as its sample, holds its claims on the text. Each cell of the
matrix must have the verdict its claims file states: passed, fails as claimed (by the start method
the run used, the program's own choice if it makes one, on the Pythons and platforms its [fails]
table names), or n/a where the file claims other start methods only; a `default` column whose
start method the claims file does not claim fails (`default` is always a column). The session's JUnit
file lands in results/tutorials/, where `tox -e report` reads it (`tox -e report -- results/tutorials`).
"""

from __future__ import annotations

import dataclasses
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
from sessions import Job, early, matrix_session

CORPUS = ROOT / "tutorials"
PROGRAMS = examples.discover(CORPUS)
INFO = interpreter_info(sys.executable)
METHODS = ("default", "fork", "spawn", "forkserver")
NAME = f"emulated-{PLATFORM}" if os.environ.get("HARNESS_EMULATE") else PLATFORM
JUNIT = ROOT / "results" / "tutorials" / f"junit.{NAME}.xml"

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
    example = PROGRAMS[program]
    assert examples.sample_problem(dataclasses.replace(example, sample=example.sample.lstrip("\n"))) is None


def expected(program: str, method: str) -> tuple[str, str, str]:
    """(status, claim, a piece of the diagnosis or note) a cell must have: what its claims file states."""
    example = PROGRAMS[program]
    if method != "default" and method not in INFO["methods"]:
        return "not_available", "", f"start method {method} is not available on"
    if method not in example.start_methods:
        return "not_available", "", f"({program}.toml)"
    used = example.chooses_start_method or (INFO["default"] if method == "default" else method)
    failure = example.fails.get(used)  # [fails] is read by the start method the run used, in the default column too
    if failure is not None and failure.applies(INFO["name"], sys.platform):
        return "passed", "", f"fails as claimed: {failure}"
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
        if status == "passed" and method == "default" and PROGRAMS[program].chooses_start_method:
            assert cell.observed_start_method == PROGRAMS[program].chooses_start_method, cell
    assert not wrong, f"{program}:\n" + "\n".join(wrong)
