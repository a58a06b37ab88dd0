"""One matrix from the JUnit files of every claims run: does the article hold, everywhere it ran?

    python -m harness.report [PATH ...] [--expect NAME,...] [--markdown FILE] [--json FILE] [--html FILE]
    tox -e report -- [the same arguments]

PATH is a JUnit XML file, or a folder searched (with its subfolders) for `junit*.xml`; the default
is `results/` (tox writes `results/tox/junit.<env>.xml`, the containers
`results/containers/junit.<service>.xml`). Each cell is read from its test case's properties (the
harness records example, start method, interpreter, platform, status, broken claim, diagnosis,
observed start method, a summary of the evidence and the path of the run's timeline); test cases
without them are not cells, and a file without any cell (the selftest's) is listed as ignored. A
cell whose properties are not what the harness records (an unknown or a missing one, a status, a
number of seconds or evidence that is not one) makes the file unusable: nothing is made up from it.
So does a file of cells whose session did not record that it ran to its end (the suite's `cells`
property, how many cells the session had, written only by a session that ran every one of them):
an interrupted session's cells are not its matrix.

The matrix: a row per example (each one any file has a cell of) and start method, a column per
interpreter and platform (test cases of several files with the same interpreter and platform share
a column). Every cell is one of harness/cells.py's statuses: passed (for `default`, with the method
it resolved to), failed (with the broken claim in one line), timed out, error (the harness could
not judge it, and why), n/a (the platform lacks that start method, or the program chooses another
itself), skipped (any other reason), or not run (no file had that test case: a gap, never shown as
a pass). When several files have the same cell, the worst outcome wins.

A run that left no file at all would be an absent column; `--expect 3.10,3.11,...` names the runs
that must be there (NAME as in `junit.NAME.xml`: a tox env or a compose service; or a Python of
tox.ini's list that `tox -e local` ran, `--python 3.12`), and each one missing shows as a column of
"not run" cells. A run named after a Python that ran another interpreter is an error. In the
column of an expected run every cell must have run: a "not run" cell there fails the report too.

The table is always printed; --markdown writes GitHub Markdown (for $GITHUB_STEP_SUMMARY, which is
a fresh file for each step, or the README), --json the cells with their diagnoses and captured
output, --html a self-contained page (inline CSS, the output of each failure in a <details>, and
the run's timeline drawn inline as SVG for every failed cell, and for the cells --timeline names).
A timeline is read only from a regular file of at most 16 MiB under its JUnit file's folder (the
path's folders resolved, the file itself not a symbolic link); any other (a device, a FIFO, a link,
a path out of the folder, a larger or damaged file)
is drawn as "timeline not available" with the reason, and changes nothing else. No output carries
a terminal control character raw (NUL, ESC, CR, DEL, the C1 set): each is shown as \\xNN.

Exit status: 0 when no cell failed; 1 when a cell failed, errored or timed out, or an expected run
left no file or a cell not run; 2 when an input is unusable (missing, empty, not well-formed, not JUnit, a folder without
JUnit files, no test_claims results in any file, a damaged cell, a partial file) or an output cannot be written,
with a one-line error naming the file (and the test case, and the problem).
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import math
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from junitparser import Error as JUnitError, JUnitXmlError
from junitparser.xunit2 import JUnitXml

from harness import pythons
from harness.bounded import Unreadable, read_regular
from harness.cells import BAD, MULTILINE, RANK, RECORDED, START_METHODS, STATUSES, md_escape, visible
from harness.timeline import svg

DEFAULT_PATH = Path("results")


# The properties the harness records on a cell (harness/plugin.py); a cell with another, or without
# one of REQUIRED, is a damaged file.
REQUIRED = ("example", "start_method", "interpreter", "platform")
KNOWN = (
    *REQUIRED,
    "example_claim",
    "python",
    "status",
    "claim",
    "diagnosis",
    "note",
    "observed_start_method",
    "seconds",
    "evidence",
    "trace",
    "warning",
    "intervention",
    "intervened_trace",
    "stderr",
)
STDERR_LABEL = "the end of the run's stderr"  # an unjudged run's (Cell.stderr)
TRACE_LIMIT = 16 << 20  # bytes: a timeline larger than this is not read
JUNIT_LIMIT = 256 << 20  # bytes: a JUnit file larger than this is not read (a matrix's: a few MiB)
# A program's name is its file's, without .py: any a file system allows, each control character
# shown as \xNN (four characters for one), so at most 4 x 255.
NAME_LIMIT = 4 * 255


class ReportError(Exception):
    """An input the report cannot use; the message names it, in one line."""


@dataclass
class Cell:
    status: str
    diagnosis: str = ""  # the one line that says why, for every status but passed and not_run
    claim: str = ""  # which claim broke (claims.Verdict.claim)
    output: str = ""  # the evidence of a failure: captured stdout and stderr, the processes
    observed_start_method: str = ""  # how the run's children were started, as they recorded it
    evidence: dict = field(default_factory=dict)  # a summary: processes, writes, queue, lock and pool events
    trace: str = ""  # the run's timeline (Trace Event Format), a path
    seconds: float | None = None
    source: str = ""  # the JUnit file
    warning: str = ""  # what the harness could not keep of a judged run (its timeline), one line
    note: str = ""  # a passed cell's remark: "fails as claimed: ..." (the claims file said it fails there)
    intervention: str = ""  # what the cell's twin run perturbed ("alter", "stretch", "slow"): the cell holds for both runs
    intervened_trace: str = ""  # the twin's timeline
    stderr: str = ""  # an unjudged run's: the last lines of its stderr, which is its supervisor's too (a traceback of its own)


@dataclass
class Column:
    interpreter: str  # "CPython 3.12.1", or the expected run's name when it left no file
    platform: str  # sys.platform: "linux", "darwin", "win32"; "" when it left no file
    runs: list[str] = field(default_factory=list)  # the NAME of each junit.NAME.xml, and of each Python asked for
    absent: bool = False  # an --expect'ed run that left no file
    expected: bool = False  # an --expect'ed run: each of its cells must have run

    @property
    def title(self) -> str:
        return f"{self.interpreter} on {self.platform}" if not self.absent else f"{self.interpreter}: no results"


@dataclass
class Matrix:
    columns: list[Column]
    cells: dict[tuple[str, str, str], Cell]  # (column title, example, start method)
    files: list[tuple[str, str]]  # (path, what it gave: the columns, or why it was ignored)
    examples: dict[str, str] = field(default_factory=dict)  # the rows: each example found in a file, with its claim

    def cell(self, column: Column, example: str, method: str) -> Cell:
        return self.cells.get((column.title, example, method), Cell("not_run"))

    def all_cells(self):
        for example in self.examples:
            for method in START_METHODS:
                for column in self.columns:
                    yield column, example, method, self.cell(column, example, method)

    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for *_, cell in self.all_cells():
            counts[cell.status] += 1
        return {status: n for status, n in counts.items() if n}

    @property
    def ok(self) -> bool:
        return not any(c.absent for c in self.columns) and not any(
            cell.status in BAD or (cell.status == "not_run" and column.expected) for column, *_, cell in self.all_cells()
        )


def find_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.rglob("junit*.xml"))
            if not found:
                raise ReportError(f"{path}: no JUnit files (junit*.xml) in this folder")
            # A results folder is where runs wrote while their session went on: what is found there
            # is read as a regular file only, never through a link (a path given is the user's own).
            link = next((f for f in found if f.is_symlink()), None)
            if link:
                raise ReportError(f"{link}: a symbolic link: a JUnit file found in a folder is read only as a regular file")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ReportError(f"{path}: no such file or folder")
    return list(dict.fromkeys(files))


def run_name(path: Path) -> str:
    """junit.3.12.xml -> 3.12; junit.sid-pypy3.xml -> sid-pypy3."""
    return path.name.removeprefix("junit.").removesuffix(".xml")


def load(path: Path) -> JUnitXml:
    """A JUnit file, read only from a regular file of at most JUNIT_LIMIT bytes (a FIFO or a device
    named junit.x.xml is refused, not waited for or read for ever)."""
    try:
        data = read_regular(path, JUNIT_LIMIT)
    except Unreadable as why:
        raise ReportError(f"{path}: cannot read it ({why})") from None
    if not data:
        raise ReportError(f"{path}: empty file")
    try:
        return JUnitXml.fromstring(data)
    except SyntaxError as exc:  # xml.etree's and lxml's ParseError both derive from it
        raise ReportError(f"{path}: not well-formed XML ({exc})") from None
    except JUnitXmlError:
        raise ReportError(f"{path}: not a JUnit file (its root is neither <testsuites> nor <testsuite>)") from None


def properties(element) -> dict[str, str]:
    return {visible(p.name or ""): visible(p.value or "", lines=p.name in MULTILINE) for p in element.properties()}


def quoted(value: str) -> str:
    return f"'{value[:40]}...'" if len(value) > 40 else f"'{value}'"


def check_cell(props: dict[str, str], own: dict[str, str], case) -> None:
    """Raise ValueError with the problem in a few words if the cell's properties are not what the
    harness records: a damaged or hostile file, never a cell made up from it."""
    unknown = [name for name in own if name not in KNOWN]
    if unknown:
        raise ValueError(f"unknown property {unknown[0]}")
    missing = [name for name in REQUIRED if name not in props]
    if missing:
        raise ValueError(f"no property {missing[0]}")
    if not 0 < len(props["example"]) <= NAME_LIMIT or "/" in props["example"]:  # what a file system allows
        raise ValueError(f"property example={quoted(props['example'])}: not a program's name")
    for name, allowed in (("start_method", START_METHODS), ("status", RECORDED)):
        if name in props and props[name] not in allowed:
            raise ValueError(f"property {name}={quoted(props[name])}: not one of {', '.join(allowed)}")
    if "status" not in props and not case.result:
        raise ValueError("no property status, and its test passed")
    if "seconds" in props:
        try:
            seconds = float(props["seconds"])
        except ValueError:
            seconds = math.nan
        if not 0 <= seconds < math.inf:
            raise ValueError(f"property seconds={quoted(props['seconds'])}: not a number of seconds")
    if "evidence" in props:
        try:
            evidence = json.loads(props["evidence"])
        except (ValueError, RecursionError):
            evidence = None
        if not isinstance(evidence, dict):
            raise ValueError(f"property evidence={quoted(props['evidence'])}: not a JSON object")
    for name, shape, what in (
        ("claim", r"[a-z_]*", "a claim's name"),
        ("observed_start_method", r"[a-z_+]*", "a start method"),
        ("intervention", r"[a-z+]*", "an intervention"),
    ):
        if not re.fullmatch(shape, props.get(name, "")):
            raise ValueError(f"property {name}={quoted(props[name])}: not {what}")


def judge(case, props: dict[str, str], source: Path) -> Cell:
    """A cell from its test case: the harness's properties say what happened; a test case without
    a status (it could not run: an error in setup) is judged by its JUnit result."""
    cell = Cell(
        props.get("status", "passed"),
        diagnosis=props.get("diagnosis", ""),
        warning=props.get("warning", ""),
        note=props.get("note", ""),
        stderr=props.get("stderr", ""),
        claim=props.get("claim", ""),
        observed_start_method=props.get("observed_start_method", ""),
        source=str(source),
        seconds=float(props["seconds"]) if "seconds" in props else None,
        evidence=json.loads(props.get("evidence") or "{}"),
        intervention=props.get("intervention", ""),
    )
    if props.get("trace"):
        cell.trace = str(source.parent / props["trace"])
    if props.get("intervened_trace"):
        cell.intervened_trace = str(source.parent / props["intervened_trace"])
    results = case.result
    if results:
        result = results[0]
        message = visible((result.message or "").removeprefix("Failed: "), lines=True)
        first = message.split("\n", 1)[0].strip()
        text = visible(result.text or "", lines=True)
        # The failure's text is the headline, then the evidence (claims.evidence): keep the evidence.
        # An unjudged run's text is its one line and the end of its stderr, which `stderr` holds.
        cell.output = text.split("\n", 1)[1] if "\n" in text and text.startswith(first) else text
        if cell.stderr and isinstance(result, JUnitError):
            cell.output = ""
        for extra, label in ((case.system_out, "captured stdout"), (case.system_err, "captured stderr")):
            if extra:
                cell.output += f"\n--- {label} ---\n{visible(extra, lines=True)}"
        if isinstance(result, JUnitError):  # could not run: pytest's "failed on setup with ..."
            # the harness's one line when it recorded why, else pytest's
            cell.status, cell.diagnosis = "error", (props.get("status") == "error" and props.get("diagnosis")) or first or "error"
        elif "status" not in props:
            cell.status, cell.diagnosis = ("skipped" if case.is_skipped else "failed"), first
    return cell


def build(files: list[Path], expect: list[str] = ()) -> Matrix:
    columns: dict[str, Column] = {}
    cells: dict[tuple[str, str, str], Cell] = {}
    rows: dict[str, str] = {}
    report = []
    ran = set()
    for path in files:
        xml = load(path)
        cases = [(suite, case) for suite in xml for case in suite]
        if not cases:
            raise ReportError(f"{path}: no test cases in it")
        seen, count, recorded = [], 0, []
        for suite in xml:
            suite_props = properties(suite)
            if "cells" in suite_props:
                recorded.append(suite_props["cells"])
            for case in suite:
                own = properties(case)
                props = {**suite_props, **own}
                example, method = props.get("example"), props.get("start_method")
                if example is None and method is None:
                    continue  # not a cell of the matrix (the harness's own tests)
                try:
                    check_cell(props, own, case)
                except ValueError as problem:
                    raise ReportError(f"{path}: {visible(case.name or '?')}: {problem}") from None
                count += 1
                rows.setdefault(example, props.get("example_claim", ""))
                interpreter = props.get("interpreter", f"unknown interpreter ({path.name})")
                platform = props.get("platform", "unknown platform")
                column = columns.setdefault(f"{interpreter} on {platform}", Column(interpreter, platform))
                # The run (junit.NAME.xml) and the interpreter it was asked for (--python 3.12): both
                # are names --expect may give, and a Python's name must be the Python that ran.
                names = [visible(run_name(path)), *([props["python"]] if pythons.NAME.fullmatch(props.get("python", "")) else [])]
                for name in names:
                    if name not in column.runs:
                        column.runs.append(name)
                if column.title not in seen:
                    seen.append(column.title)
                key = (column.title, example, method)
                cell = judge(case, props, path)
                wrong = next((name for name in names if not pythons.matches(name, interpreter)), None)
                if wrong:
                    cell.status, cell.diagnosis = "error", f"{run_name(path)} was to run Python {wrong} but ran {interpreter}"
                if key not in cells or RANK[cell.status] < RANK[cells[key].status]:
                    cells[key] = cell
        if count and not recorded:
            raise ReportError(
                f"{path}: its session did not record that it ran to its end (interrupted, stopped early, killed as it wrote it?): "
                f"its {count} cell(s) are not read"
            )
        if count and recorded != [str(count)]:
            raise ReportError(f"{path}: {count} cell(s) in it, but its session recorded {', '.join(recorded)}: a partial or damaged file")
        if seen:
            ran.update(name for title in seen for name in columns[title].runs)
        report.append((visible(str(path)), ", ".join(seen) if seen else "ignored: no test_claims results in it"))
    if not columns:
        raise ReportError(f"no test_claims results in {', '.join(str(f) for f in files)}")
    ordered = sorted(columns.values(), key=lambda c: (c.platform, *version_key(c.interpreter)))
    for column in ordered:
        column.expected = any(name in expect for name in column.runs)
    ordered += [Column(name, "", absent=True, expected=True) for name in expect if name not in ran]
    return Matrix(ordered, cells, report, dict(sorted(rows.items())))


def version_key(interpreter: str) -> tuple:
    """'CPython 3.10.13' sorts after 'CPython 3.9.18'."""
    name, _, version = interpreter.partition(" ")
    return name, [(int(part) if part.isdigit() else -1, part) for part in re.findall(r"\d+|\D+", version)]


# --- renderers -----------------------------------------------------------------------------------


def cell_words(cell: Cell, method: str, shout: bool = False) -> str:
    """'passed (forkserver)' for default; in the terminal, what needs a look in capitals."""
    words = STATUSES[cell.status].text
    if cell.status == "passed" and method == "default" and cell.observed_start_method:
        words += f" ({cell.observed_start_method})"
    if cell.status == "passed" and cell.note:
        words += f": {visible(cell.note)}"
    if cell.status == "passed" and cell.intervention:
        words += f", +{cell.intervention}"  # and so did its twin, with the mechanism perturbed
    return words.upper() if shout and (cell.status in BAD or cell.status == "not_run") else words


def noted(cell: Cell) -> bool:
    """Whether the cell's diagnosis is shown: the legend says enough for the other statuses."""
    return cell.status in BAD or cell.status == "skipped"


def to_text(matrix: Matrix) -> str:
    notes: list[str] = []
    numbered = 0
    header = [["example", "method", *(c.interpreter for c in matrix.columns)], ["", "", *(c.platform or "(no file)" for c in matrix.columns)]]
    rows = []
    for example in matrix.examples:
        for method in START_METHODS:
            row = [example if method == START_METHODS[0] else "", method]
            for column in matrix.columns:
                cell = matrix.cell(column, example, method)
                words = cell_words(cell, method, shout=True)
                if noted(cell) or cell.warning:
                    numbered += 1
                    notes.append(f"[{numbered}] {example} {method}, {column.title}: {cell.diagnosis if noted(cell) else cell.warning}")
                    notes += [f"    {STDERR_LABEL}:", *(f"    | {line}" for line in cell.stderr.splitlines())] if cell.stderr else []
                    words += f" [{numbered}]"
                row.append(words)
            rows.append(row)
    widths = [max(len(r[i]) for r in header + rows) for i in range(len(header[0]))]
    lines = [summary(matrix), ""]
    for row in header + rows:
        lines.append("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip())
    lines.insert(4, "  ".join("-" * width for width in widths))
    lines += ["", *notes] if notes else []
    lines += ["", "Claims:", *(f"  {name}: {claim}" for name, claim in matrix.examples.items())]
    lines += ["Files:", *(f"  {path}: {what}" for path, what in matrix.files)]
    lines += [f"  {c.interpreter}: expected, but no junit.{c.interpreter}.xml was given" for c in matrix.columns if c.absent]
    return "\n".join(lines) + "\n"


def summary(matrix: Matrix) -> str:
    totals = ", ".join(f"{n} {STATUSES[status].text.lower()}" for status, n in matrix.totals().items())
    missing = [c.interpreter for c in matrix.columns if c.absent]
    verdict = "The article's claims hold everywhere they ran" if matrix.ok else "Some claims do NOT hold"
    gaps = f"; expected but absent: {', '.join(missing)}" if missing else ""
    used = sum(1 for _, what in matrix.files if not what.startswith("ignored"))
    return f"Claims matrix, {len(matrix.columns)} column(s) from {used} JUnit file(s): {totals}{gaps}. {verdict}."


def to_markdown(matrix: Matrix) -> str:
    lines = [summary(matrix), ""]
    heads = [
        f"{md_escape(c.interpreter)}<br>{md_escape(c.platform)}<br><sub>{md_escape(', '.join(c.runs))}</sub>"
        if not c.absent
        else f"{md_escape(c.interpreter)}<br>no results file"
        for c in matrix.columns
    ]
    lines += ["| example | method | " + " | ".join(heads) + " |", "|---|---|" + "---|" * len(heads)]
    for example, claim in matrix.examples.items():
        for method in START_METHODS:
            first = f"**{example}**<br>{md_escape(claim)}" if method == START_METHODS[0] else ""
            row = [first, method]
            for column in matrix.columns:
                cell = matrix.cell(column, example, method)
                icon = STATUSES[cell.status].icon
                words = f"{icon} {cell_words(cell, method)}"
                if noted(cell):
                    words = f"{icon} {md_escape(cell.diagnosis)}" if cell.status == "timed_out" else f"{words}: {md_escape(cell.diagnosis)}"
                row.append(words)
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", " · ".join(f"{STATUSES[s].icon} {STATUSES[s].text}: {STATUSES[s].legend}" for s in matrix.totals())]
    for column, example, method, cell in matrix.all_cells():
        if cell.stderr:  # below the table: a cell of it holds one line
            fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", cell.stderr)), default=0))
            lines += ["", f"**{md_escape(example)} {method}, {md_escape(column.title)}**: {STDERR_LABEL}", "", fence, cell.stderr, fence]
    return "\n".join(lines) + "\n"


def to_json(matrix: Matrix) -> str:
    return (
        json.dumps(
            {
                "ok": matrix.ok,
                "summary": summary(matrix),
                "totals": matrix.totals(),
                "examples": [{"name": name, "claim": claim} for name, claim in matrix.examples.items()],
                "start_methods": list(START_METHODS),
                "columns": [
                    {
                        "title": c.title,
                        "interpreter": c.interpreter if not c.absent else None,
                        "platform": c.platform if not c.absent else None,
                        "runs": c.runs,
                        "expected_but_absent": c.interpreter if c.absent else None,
                    }
                    for c in matrix.columns
                ],
                "cells": [
                    {"example": example, "start_method": method, "column": column.title, **asdict(cell)}
                    for column, example, method, cell in matrix.all_cells()
                ],
                "files": [{"path": path, "gave": what} for path, what in matrix.files],
            },
            indent=2,
        )
        + "\n"
    )


CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; }
table { border-collapse: collapse; }
th, td { border: 1px solid #bbb; padding: 4px 8px; vertical-align: top; text-align: left; }
thead th { background: #eee; }
th.example { background: #fafafa; max-width: 16em; font-weight: normal; }
th.example b { display: block; }
.not_run { outline: 2px dashed #b08900; outline-offset: -3px; }
.not_available, .skipped { color: #555; }
.diagnosis { display: block; max-width: 28em; font-size: 12px; }
details pre { max-width: 60em; max-height: 20em; overflow: auto; background: #fff; border: 1px solid #ccc; padding: 4px; font-size: 12px; }
.legend span { display: inline-block; margin: 2px 8px 2px 0; padding: 1px 6px; border: 1px solid #bbb; }
""" + "".join(f".{s.name} {{ background: {s.colour}; }}\n" for s in STATUSES.values())  # the colour is the outcome: no icon font needed


def timeline(cell: Cell, path: str = "") -> str:
    """The cell's run (or its twin's: `path`) drawn as SVG, from its trace file; a note saying why
    when that file is not at hand or is not one the report reads."""
    path = path or cell.trace
    if not path:
        return ""
    try:
        trace = read_trace(Path(path), Path(cell.source).parent)
        try:
            drawing = svg(trace)
        except Exception:  # any shape a damaged file may have: it is not a timeline, the page still is
            raise ValueError("not a timeline") from None
    except ValueError as why:
        return f'<p class="diagnosis">timeline not available: {html.escape(path)} ({html.escape(str(why))})</p>'
    return drawing


def read_trace(path: Path, results: Path) -> dict:
    """A timeline, from a regular file of at most TRACE_LIMIT bytes under `results` (the JUnit file's
    folder, symbolic links resolved): a trace property naming /dev/zero, a FIFO, a huge file or a
    path out of the results is never read. ValueError says why not, in a few words."""
    if not path.resolve().is_relative_to(results.resolve()):
        raise ValueError("not under the JUnit file's folder")
    data = read_regular(path, TRACE_LIMIT, follow=False)  # (Unreadable is a ValueError: the reason, in a few words)
    try:
        trace = json.loads(data)
    except (ValueError, RecursionError):
        trace = None
    if not isinstance(trace, dict):
        raise ValueError("not a timeline")
    return trace


def to_html(matrix: Matrix, timelines: set[str] = frozenset()) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Claims matrix</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Does the article hold?</h1>",
        f'<p id="summary">{e(summary(matrix))}</p>',
        "<table><thead><tr><th>example</th><th>method</th>",
    ]
    drawings: list[tuple[str, str]] = []
    for column in matrix.columns:
        runs = ", ".join(column.runs) if not column.absent else "no results file"
        out.append(f"<th>{e(column.interpreter)}<br>{e(column.platform)}<br><small>{e(runs)}</small></th>")
    out.append("</tr></thead><tbody>")
    for example, claim in matrix.examples.items():
        for i, method in enumerate(START_METHODS):
            out.append("<tr>")
            if i == 0:
                out.append(f'<th class="example" rowspan="{len(START_METHODS)}"><b>{e(example)}</b>{e(claim)}</th>')
            out.append(f"<th>{e(method)}</th>")
            for column in matrix.columns:
                cell = matrix.cell(column, example, method)
                body = e(cell_words(cell, method))
                for said in (cell.diagnosis, cell.warning):
                    if said:
                        body += f'<span class="diagnosis">{e(said)}</span>'
                if cell.output:
                    body += f"<details><summary>output</summary><pre>{e(cell.output)}</pre></details>"
                if cell.stderr:
                    body += f"<details><summary>{e(STDERR_LABEL)}</summary><pre>{e(cell.stderr)}</pre></details>"
                if cell.trace and (cell.status in BAD or "all" in timelines or f"{example}-{method}" in timelines):
                    drawings.append((f"{example} under {method} on {column.title}: {cell_words(cell, method)}", timeline(cell)))
                    body += f' <a href="#timeline-{len(drawings)}">timeline</a>'  # drawn below the table
                    if cell.intervened_trace:  # its twin, beside it
                        drawn = timeline(cell, cell.intervened_trace)
                        drawings.append((f"{example} under {method} on {column.title}, with {cell.intervention}", drawn))
                        body += f' <a href="#timeline-{len(drawings)}">with {e(cell.intervention)}</a>'
                title = e(f"{example} {method} on {column.title}")
                out.append(f'<td class="{cell.status}" title="{title}">{body}</td>')
            out.append("</tr>")
    out.append("</tbody></table>")
    if drawings:
        out.append(
            "<h2>Timelines</h2><p>One lane per process: its lifetime (grey), lock holds (orange), pool tasks (blue), "
            "queue puts and gets (green triangles), writes to stdout (black ticks). Hover for details; the same "
            "trace opens in Perfetto (ui.perfetto.dev) or chrome://tracing.</p>"
        )
        out += [f'<h3 id="timeline-{n}">{e(title)}</h3>{drawing}' for n, (title, drawing) in enumerate(drawings, 1)]
    out.append(
        '<p class="legend">' + "".join(f'<span class="{s}">{e(STATUSES[s].text)}: {e(STATUSES[s].legend)}</span>' for s in matrix.totals()) + "</p>"
    )
    out.append("<h2>Files</h2><ul>" + "".join(f"<li><code>{e(path)}</code>: {e(what)}</li>" for path, what in matrix.files) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help=f"JUnit XML files, or folders searched for junit*.xml (default: {DEFAULT_PATH}/)"
    )
    parser.add_argument(
        "--expect",
        default="",
        metavar="NAME,...",
        help="runs that must be there, NAME as in junit.NAME.xml (a tox env or compose service); "
        "each one absent shows as a column of 'not run' cells and fails the report",
    )
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the matrix as GitHub Markdown")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every cell as JSON")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML page")
    parser.add_argument(
        "--timeline",
        default="",
        metavar="CELL,...",
        help="in the HTML page, also draw the timeline of these cells (EXAMPLE-METHOD, e.g. 03_lock-spawn, or all); every failed cell has one anyway",
    )
    args = parser.parse_args(argv)
    try:
        matrix = build(find_files(args.paths or [DEFAULT_PATH]), [n.strip() for n in args.expect.split(",") if n.strip()])
    except ReportError as exc:
        print(f"report: error: {visible(str(exc))}", file=sys.stderr)
        return 2
    sys.stdout.reconfigure(errors="backslashreplace")  # a diagnosis may quote what a legacy console cannot show
    sys.stdout.write(to_text(matrix))
    timelines = {n.strip() for n in args.timeline.split(",") if n.strip()}
    page = functools.partial(to_html, timelines=timelines)
    for target, render in ((args.markdown, to_markdown), (args.json, to_json), (args.html, page)):
        if target:
            try:
                target.write_text(render(matrix), encoding="utf-8")
            except OSError as exc:
                print(f"report: error: {target}: cannot write it ({exc.strerror})", file=sys.stderr)
                return 2
    return 0 if matrix.ok else 1


if __name__ == "__main__":
    sys.exit(main())
