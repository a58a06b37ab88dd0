"""Programs no one here wrote, and a fifth example, checked with no harness code.

- A fifth example is two files, a program and its claims file (tests/fifth_example/): it passes
  under every start method, and a copy broken in the way its claims name fails for that claim.
- A claims file may claim that its program fails under a start method, with the line it prints:
  that cell then passes, and it fails when the program does not fail.
- A folder of tutorial programs (tests/others/, no claims files) gets the full matrix with the
  general claims alone, which tell the programs that work from those that break under spawn and
  forkserver (a lambda target, no main guard, a target defined under the guard); a program that
  chooses its own start method has the other columns shown as n/a, never as passed.
All of them are one folder, checked by one pytest session of the matrix started with the session's
runs; a copy that only needs one column to show its point claims only that one (`start_methods`).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from harness.launcher import finished
from harness.pythons import interpreter_info
from harness.report import build, find_files
from sessions import Job, early, matrix_session, once

HERE = Path(__file__).resolve().parent
SCRATCH = Path(tempfile.gettempdir()).resolve() / f"own-programs-{uuid.uuid4().hex[:8]}"
FOLDER, RESULTS = SCRATCH / "programs", SCRATCH / "results"
INFO = interpreter_info(sys.executable)
METHODS = ("default", "fork", "spawn", "forkserver")
GUARDED_FAILURE = "Can't get attribute 'greet'"


@once
def write_programs() -> None:
    """The fifth example as shipped, a copy broken as its claims forbid, a program whose claims
    file says where it fails, one that claims a failure it does not have, and the tutorial programs."""
    FOLDER.mkdir(parents=True)
    RESULTS.mkdir()
    program, claims = HERE / "fifth_example" / "05_pipe.py", HERE / "fifth_example" / "05_pipe.toml"
    shutil.copy(program, FOLDER)
    shutil.copy(claims, FOLDER)
    # The child prints the text instead of sending it: `printed_by = "main"` must reject it.
    broken = program.read_text(encoding="utf-8").replace("    conn.send('Hello through a pipe')\n", "    print('Hello through a pipe')\n")
    broken = broken.replace("    print(parent_end.recv())\n", "")
    (FOLDER / "06_child_prints.py").write_text(broken, encoding="utf-8")
    (FOLDER / "06_child_prints.toml").write_text('start_methods = ["spawn"]\n' + claims.read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copy(HERE / "others" / "defined_under_the_guard.py", FOLDER / "07_fails_where_claimed.py")
    (FOLDER / "07_fails_where_claimed.toml").write_text(
        f'claim = "fails under spawn, as its claims say"\nstart_methods = ["spawn"]\n[fails]\nspawn = "{GUARDED_FAILURE}"\n',
        encoding="utf-8",
    )
    shutil.copy(program, FOLDER / "08_fails_nowhere.py")
    (FOLDER / "08_fails_nowhere.toml").write_text('start_methods = ["fork"]\n[fails]\nfork = "RuntimeError"\n', encoding="utf-8")
    for other in OTHERS:
        shutil.copy(other, FOLDER)


OTHERS = sorted((HERE / "others").glob("*.py"))
RUN = Job(
    matrix_session("-q", f"--examples-dir={FOLDER}", f"--junitxml={RESULTS / 'junit.x.xml'}"),
    prepare=write_programs,
)
early("matrix", RUN)


@pytest.fixture(scope="module")
def matrix(pytestconfig):
    finished(pytestconfig, RUN)
    yield build(find_files([RESULTS]))
    shutil.rmtree(SCRATCH, ignore_errors=True)


def cells(matrix, example: str) -> dict:
    (column,) = matrix.columns
    return {method: matrix.cell(column, example, method) for method in METHODS}


def available(method: str) -> bool:
    return method == "default" or method in INFO["methods"]


def test_a_fifth_example_is_a_program_and_its_claims_file(matrix):
    assert matrix.examples["05_pipe"] == "prints exactly Hello through a pipe, received by main from one child process"
    for method, cell in cells(matrix, "05_pipe").items():
        assert cell.status == ("passed" if available(method) else "not_available"), (method, cell)


def test_a_copy_of_it_broken_as_its_claims_forbid_fails_for_that_claim(matrix):
    for method, cell in cells(matrix, "06_child_prints").items():
        if method in ("fork", "forkserver"):  # it claims spawn only (or the platform lacks the method: that reason first)
            assert cell.status == "not_available", cell
            if available(method):
                assert cell.diagnosis.endswith("(06_child_prints.toml)"), cell
            else:
                assert cell.diagnosis.startswith(f"start method {method} is not available on"), cell
        elif available(method):
            assert (cell.status, cell.claim) == ("failed", "evidence"), (method, cell)
            assert cell.diagnosis.startswith("'Hello through a pipe' printed by Process-1 (pid "), cell.diagnosis
            assert cell.diagnosis.endswith("), not by the main process"), cell.diagnosis


def test_a_failure_its_claims_file_claims_is_a_pass_and_its_absence_a_failure(matrix):
    for method, cell in cells(matrix, "07_fails_where_claimed").items():
        assert cell.status == ("passed" if method in ("default", "spawn") else "not_available"), (method, cell)
    assert cells(matrix, "07_fails_where_claimed")["spawn"].note == f"fails as claimed: {GUARDED_FAILURE}"
    nowhere = cells(matrix, "08_fails_nowhere")["fork"]
    if available("fork"):
        assert (nowhere.status, nowhere.diagnosis) == ("failed", "ran cleanly, but the claims say it fails under fork with 'RuntimeError'")


# What the general claims say of each tutorial program, by the start method the run used.
BREAKS_WITHOUT_FORK = {"lambda_target", "no_main_guard", "defined_under_the_guard"}


def expected(program: str, method: str) -> str:
    used = INFO["default"] if method == "default" else method
    if not available(method):
        return "not_available"
    if program == "chooses_spawn":
        return "passed" if method in ("default", "spawn") else "not_available"
    return "failed" if program in BREAKS_WITHOUT_FORK and used != "fork" else "passed"


def test_a_folder_of_programs_no_one_here_wrote_gets_the_full_matrix(matrix):
    programs = [path.stem for path in OTHERS]
    assert set(programs) <= set(matrix.examples)
    seen = {(program, method): cells(matrix, program)[method] for program in programs for method in METHODS}
    wrong = {key: (cell.status, cell.claim, cell.diagnosis) for key, cell in seen.items() if cell.status != expected(*key)}
    assert not wrong, "\n".join(
        f"{program} {method}: {status} {claim}: {why} (expected {expected(program, method)})"
        for (program, method), (status, claim, why) in wrong.items()
    )
    for (program, method), cell in seen.items():
        if cell.status == "failed":
            assert cell.claim in ("exit_status", "stderr") and cell.diagnosis, cell
        if program == "chooses_spawn" and cell.status == "not_available" and available(method):
            assert cell.diagnosis == f"the program chooses spawn itself (set_start_method at chooses_spawn.py:11): the {method} column does not apply"
