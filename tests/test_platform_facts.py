"""What a platform decides is read from the platform, never written as Linux's literal: a scan of the
harness's and the tests' source for the literals that made tests pass here and fail on another
runner (SIGSTOP is 19 on Linux and 17 on macOS; Windows' text for a missing program is not Linux's
strerror). Docstrings and comments may name them; code may not:

- an errno text of this platform (`os.strerror(n)` of every errno it knows) in a string: read it
  with os.strerror(errno.ENOENT), or provoke the same error and take its strerror;
- a signal's number in text ("signal 19"), other than the few POSIX fixes for every system
  (HUP 1, INT 2, QUIT 3, KILL 9, ALRM 14, TERM 15): read it from `signal` (signal.SIGSTOP);
- a POSIX temporary folder ("/tmp/..."): tempfile.gettempdir() is the platform's.

Lock semantics are the platform's in harness/results.py (Windows' mandatory byte-range locks, which
emulate-windows emulates: tests/test_results.py). The checks below are shown to fail on the
literals they exist for.
"""

from __future__ import annotations

import ast
import errno
import os
import re
from pathlib import Path

import pytest

from harness.plugin import ROOT

# Every file but this one, whose broken inputs hold the literals on purpose.
SCANNED = sorted(path for folder in ("harness", "tests") for path in (ROOT / folder).rglob("*.py") if path != Path(__file__).resolve())
ERRNO_TEXTS = sorted({os.strerror(number) for number in errno.errorcode}, key=len, reverse=True)
# The numbers POSIX gives these signals on every system (the kill utility's -n); any other number
# is the platform's own (Windows has few of them: SIGABRT is 22 there).
PORTABLE_SIGNALS = {1, 2, 3, 9, 14, 15}
SIGNAL_NUMBER = re.compile(r"\bsignal (\d+)")
TEMP_FOLDER = re.compile(r"(?<![\w.~/])/tmp(?:/|$)")


def docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def literals(source: str, name: str = "<source>") -> list[str]:
    """Each platform fact written as Linux's literal in `source`: 'NAME:LINE: what'."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    problems = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in skip:
            continue
        text = node.value
        where = f"{name}:{node.lineno}"
        problems += [f"{where}: the errno text {found!r} (os.strerror, or the error provoked)" for found in ERRNO_TEXTS if found in text][:1]
        problems += [
            f"{where}: signal number {number} in text (the signal module's)"
            for number in SIGNAL_NUMBER.findall(text)
            if int(number) not in PORTABLE_SIGNALS
        ]
        problems += [f"{where}: the temporary folder as /tmp (tempfile.gettempdir())"] if TEMP_FOLDER.search(text) else []
    return problems


def test_the_harness_and_its_tests_write_no_platform_fact_as_linuxs_literal():
    problems = [problem for path in SCANNED for problem in literals(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('assert line == "the supervisor was stopped by signal 19 (SIGSTOP)"\n', "signal number 19"),
        ('expected = f"cannot run {path}: {os.strerror(errno.ENOENT)}"\nold = "cannot run /x: ' + os.strerror(errno.ENOENT) + '"\n', "errno text"),
        ('MOUNT = ("read-only", "' + os.strerror(errno.EROFS) + '")\n', "errno text"),
        ('SCRATCH = "/tmp/scratch"\n', "temporary folder"),
    ],
    ids=["sigstop-19", "enoent-text", "erofs-text", "tmp"],
)
def test_the_scan_finds_the_literals_it_exists_for(source, found):
    problems = literals(source)
    assert len(problems) == 1 and found in problems[0], problems


def test_the_scan_leaves_docstrings_portable_numbers_and_read_facts_alone():
    source = (
        '"""SIGSTOP is 19 on Linux, 17 on macOS; ' + os.strerror(errno.ENOENT) + '."""\n'
        'line = f"was stopped by signal {signal.SIGSTOP.value} (SIGSTOP)"\n'
        'killed = "was killed by signal 9 (SIGKILL)", "killed by signal 15"\n'
        "why = os.strerror(errno.ENOENT)\n"
        'folder = "~/tmp", "C:/Users/x", "var/tmp"\n'
    )
    assert literals(source) == []
