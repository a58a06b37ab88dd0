"""The examples: every program in a folder, each with the claims declared beside it.

An example is a program, `NAME.py`, run unchanged, and optionally its claims, `NAME.toml`: the
sentence a report shows, the article's sample output, the check of the text, the claims on what
the processes did (a small vocabulary of predicates, harness/claims.py: PREDICATES), the start
methods it holds under, the failures it claims, whether it is slow, its timeout, and the SHA-256
of the article's program. A program without a claims file gets the general claims only, so any
folder of multiprocessing programs can be checked.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cells import START_METHODS
from harness.claims import PREDICATES, TEXT_CHECKS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (3.10)
    import tomli as tomllib

GENERAL = "the general claims: exit 0, a clean stderr, every child started by the start method asked for, nothing left running"
KEYS = {"claim", "sha256", "sample", "slow", "timeout", "text", "processes", "start_methods", "fails"}


class ClaimsFileError(Exception):
    """A claims file that cannot be used; the message names it and says why, in one line."""


@dataclass(frozen=True)
class Example:
    name: str  # the program's file name without .py: test ids, reports
    program: Path
    claim: str = GENERAL  # what its claims come to, in a few words, for the reader of a report
    sample: str = ""  # the output the article shows
    text: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # how stdout is checked (TEXT_CHECKS)
    processes: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # predicate -> its argument (PREDICATES)
    start_methods: tuple[str, ...] = START_METHODS  # the columns it claims to hold in (default always); the others are n/a
    fails: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # start method -> the line it fails with there
    slow: bool = False  # its runs start first, so that the matrix takes about as long as it does
    timeout: float | None = None  # seconds, instead of the session's
    sha256: str = ""  # the article's program, byte for byte (tests/test_pinned.py)
    has_claims: bool = False  # it has a claims file: the article's claims, not only the general ones

    @property
    def claims_file(self) -> Path:
        return self.program.with_suffix(".toml")


def discover(folder: Path) -> dict[str, Example]:
    """Every program in the folder (`*.py`, not recursing), by name. Raises ClaimsFileError."""
    return {path.stem: load(path) for path in sorted(folder.glob("*.py")) if path.is_file()}


def load(program: Path) -> Example:
    """The example of a program: its claims file's declarations, or the general claims alone."""
    path = program.with_suffix(".toml")
    if not path.is_file():
        return Example(program.stem, program)
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ClaimsFileError(f"{where}: {exc}") from None
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ClaimsFileError(f"{where}: unknown key {unknown[0]!r} (the keys: {', '.join(sorted(KEYS))})")
    text, processes = table(data, "text", where), table(data, "processes", where)
    for key, checks, what in ((text, TEXT_CHECKS, "[text]"), (processes, PREDICATES, "[processes]")):
        for name, value in key.items():
            if name not in checks:
                raise ClaimsFileError(f"{where}: {what} has no check {name!r} (the vocabulary: {', '.join(checks)})")
            problem = checks[name].invalid(value, key)
            if problem:
                raise ClaimsFileError(f"{where}: {what} {name}: {problem}")
    # `default` is always a column: whatever the interpreter, or the program itself, chooses.
    methods = tuple(dict.fromkeys(["default", *data.get("start_methods", START_METHODS)]))
    fails = table(data, "fails", where)
    for method in (*methods, *fails):
        if method not in START_METHODS:
            raise ClaimsFileError(f"{where}: unknown start method {method!r} (the start methods: {', '.join(START_METHODS)})")
    if not all(isinstance(line, str) and line for line in fails.values()):
        raise ClaimsFileError(f"{where}: [fails] maps a start method to the line the program fails with")
    timeout = data.get("timeout")
    if timeout is not None and not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
        raise ClaimsFileError(f"{where}: timeout must be a positive number of seconds")
    for key, kind in (("claim", str), ("sample", str), ("sha256", str), ("slow", bool)):
        if key in data and not isinstance(data[key], kind):
            raise ClaimsFileError(f"{where}: {key} must be a {kind.__name__}")
    if data.get("sha256") and not re.fullmatch(r"[0-9a-f]{64}", data["sha256"]):
        raise ClaimsFileError(f"{where}: sha256 must be 64 hexadecimal digits")
    return Example(
        program.stem,
        program,
        claim=data.get("claim", GENERAL),
        sample=data.get("sample", ""),
        text=text,
        processes=processes,
        start_methods=methods,
        fails=fails,
        slow=data.get("slow", False),
        timeout=float(timeout) if timeout is not None else None,
        sha256=data.get("sha256", ""),
        has_claims=True,
    )


def table(data: dict, key: str, where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ClaimsFileError(f"{where}: {key} must be a table ([{key}])")
    return value
