"""What the README and docs/ say of the harness's limits is what the code holds: each figure a page
states is read from the page and compared with the constant behind it, so that a constant changed
without its page (or a page edited without the code) fails here."""

from __future__ import annotations

import os
import re

import pytest

from harness import examples, launcher, plugin, report, runner, supervisor
from harness.evidence import EVENTS_SHOWN
from harness.inject import mp_contract as contract
from harness.plugin import ROOT

UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def amount(text: str) -> float:
    """'4 MiB' -> 4194304, '60 s' -> 60, '1,022' -> 1022."""
    number, _, unit = text.replace(",", "").partition(" ")
    return float(number) * UNITS.get(unit.strip(), 1)


# (page, a pattern whose groups are the figures, the constants they must be)
STATED = [
    ("docs/claims.md", r"`timeout`: (\d+ s), or the claims file's", [plugin.DEFAULT_TIMEOUT]),
    ("docs/claims.md", r"`output_limit`: (\d+ MiB) on stdout and on stderr", [runner.OUTPUT_LIMIT]),
    ("docs/containment.md", r"at (\d+ MiB) on stdout or stderr the supervisor stops it", [supervisor.OUTPUT_LIMIT]),
    ("docs/containment.md", r"Its records: (\d+ MiB) per process, (\d+ MiB) per run", [contract.LOG_LIMIT, supervisor.RECORDS_LIMIT]),
    ("docs/containment.md", r"Files: (\d+ GiB) per file", [supervisor.FILE_SIZE]),
    ("docs/containment.md", r"cgroups of its own: (\d+) processes and (\d+ GiB) of memory", [supervisor.RUN_PIDS, supervisor.RUN_MEMORY]),
    (
        "docs/containment.md",
        r"\((\d+ GiB) for a PyPy run, (\d+ MiB)\s+for a CPython one",
        [launcher.MEMORY_PER_RUN["PyPy"], launcher.MEMORY_PER_RUN[""]],
    ),
    (
        "docs/containment.md",
        r"\((\d+) for the slow runs,\s+(\d+) per core for the others",
        [launcher.FIRST_IN_FLIGHT, launcher.IN_FLIGHT / (os.cpu_count() or 2)],
    ),
    ("docs/containment.md", r"timeout \+ 4 grace \+ (\d+) s", [runner.BOUND_MARGIN]),
    (
        "docs/containment.md",
        r"read as a regular file of at most (\d+ KiB), nested at\s+most (\d+) levels",
        [examples.CLAIMS_LIMIT, examples.DEPTH_LIMIT],
    ),
    ("docs/containment.md", r"`--judge-timeout` \((\d+) s\)", [plugin.JUDGE_TIMEOUT]),
    (
        "docs/own-programs.md",
        r"read as a regular file of at most (\d+ KiB), nested at most (\d+) levels",
        [examples.CLAIMS_LIMIT, examples.DEPTH_LIMIT],
    ),
    ("docs/own-programs.md", r"`--judge-timeout SECONDS` \((\d+)\)", [plugin.JUDGE_TIMEOUT]),
    ("docs/own-programs.md", r"`timeout`: seconds \((\d+) by default\)", [plugin.DEFAULT_TIMEOUT]),
    ("docs/evidence.md", r"at most (\d+ KiB) of a write's data is kept", [contract.WRITE_KEPT]),
    ("docs/evidence.md", r"a message's text at most (\d+ KiB)", [4096]),
    ("docs/evidence.md", r"waits, for up to (\d+) s, rather than", [contract.SEND_WAIT]),
    ("docs/evidence.md", r"A process may send (\d+ MiB) of records .* a whole run (\d+ MiB)", [contract.LOG_LIMIT, supervisor.RECORDS_LIMIT]),
    ("docs/report.md", r"regular files of bounded size \((\d+ MiB), (\d+ MiB)\)", [report.JUNIT_LIMIT, report.TRACE_LIMIT]),
    ("docs/report.md", r"a timeline keeps the first and last (\d+,\d+) events", [EVENTS_SHOWN / 2]),
    ("docs/report.md", r"\((\d+ MiB) on stdout and on stderr: `printed more than (\d+ MiB)", [runner.OUTPUT_LIMIT, runner.OUTPUT_LIMIT]),
]


@pytest.mark.parametrize(("page", "pattern", "constants"), STATED, ids=[f"{page}:{pattern[:30]}" for page, pattern, _ in STATED])
def test_a_stated_limit_is_the_codes(page, pattern, constants):
    text = " ".join((ROOT / page).read_text(encoding="utf-8").split())  # a figure may be wrapped over lines
    found = re.search(" ".join(pattern.split()), text, re.S)
    assert found, f"{page} no longer says {pattern!r}: say it again, or drop its line here"
    assert [amount(figure) for figure in found.groups()] == [float(c) for c in constants], f"{page}: {found[0]!r}"


def test_a_page_that_says_another_figure_fails():
    """The comparison above fails on a page that states another figure (shown on an edited copy)."""
    text = (ROOT / "docs/containment.md").read_text(encoding="utf-8").replace("1024 processes", "2048 processes")
    found = re.search(STATED[5][1], " ".join(text.split()))
    assert [amount(figure) for figure in found.groups()] != [float(c) for c in STATED[5][2]]
