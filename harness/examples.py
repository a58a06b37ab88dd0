"""The examples: every program in a folder, each with the claims declared beside it.

An example is a program, `NAME.py`, run unchanged, and optionally its claims, `NAME.toml`: the
sentence a report shows, the article's sample output, the check of the text, the claims on what
the processes did (a small vocabulary of predicates, harness/vocabulary.py: PREDICATES), the start
methods it holds under, the failures it claims, whether it is slow, its timeout, and the SHA-256
of the article's program. A program without a claims file gets the general claims only, so any
folder of multiprocessing programs can be checked.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import bounded
from harness.cells import START_METHODS
from harness.vocabulary import PREDICATES, TEXT_CHECKS, ClaimBroken

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


CLAIMS_LIMIT = 64 << 10  # bytes of a claims file: the shipped ones have 2 KiB
# How deep a claims file nests tables, arrays and dotted keys (the shipped ones: 3). Parsing is
# quadratic in a dotted key's parts (20,000 of them: 2.36 GB) and recursive in the nesting.
DEPTH_LIMIT = 32
# A TOML string (multi-line first), a comment, or a run of anything else: what nests is outside the
# strings and comments (a dotted key's quoted parts are strings, the dots between them are not).
TOML_TOKEN = re.compile(r'"""(?:\\.|[^\\])*?"""|\'\'\'.*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\'|#[^\n]*|[^"\'#]+|["\'#]', re.DOTALL)


def discover(folder: Path) -> dict[str, Example]:
    """Every program in the folder (`*.py`, not recursing), by name. Raises ClaimsFileError: also
    for what would otherwise be ignored, a program that is not a regular file and a claims file
    without its program."""
    programs = sorted(folder.glob("*.py"))
    for path in programs:
        if not path.is_file():
            raise ClaimsFileError(f"{path.name}: not a regular file (a program is one)")
    names = {path.stem for path in programs}
    for path in sorted(folder.glob("*.toml")):
        if path.stem not in names:
            raise ClaimsFileError(f"{path.name}: a claims file without its program ({path.stem}.py) beside it")
    return {path.stem: load(path) for path in programs}


def nesting(text: str) -> tuple[int, int]:
    """How deep the text nests arrays and tables ([ and {), and the most parts of a dotted key (the
    dots outside strings and comments between two of =, [, ], {, }, a comma or a line's end)."""
    depth = deepest = dots = most = 0
    for token in TOML_TOKEN.findall(text):
        if token[0] in "\"'#" and len(token) > 1:
            continue  # a string or a comment
        for char in token:
            if char in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif char in "]}":
                depth -= 1
            if char in "=[]{},\n":
                dots = 0
            elif char == ".":
                dots += 1
                most = max(most, dots + 1)
    return deepest, most


def read_claims(path: Path) -> dict:
    """A claims file's tables, read within CLAIMS_LIMIT and DEPTH_LIMIT. Raises ClaimsFileError."""
    where = path.name
    try:
        text = bounded.read_regular(path, CLAIMS_LIMIT).decode("utf-8")
    except bounded.Unreadable as exc:
        raise ClaimsFileError(f"{where}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ClaimsFileError(f"{where}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    deepest, most = nesting(text)
    if max(deepest, most) > DEPTH_LIMIT:
        raise ClaimsFileError(f"{where}: nested deeper than {DEPTH_LIMIT} levels (arrays, tables or a dotted key's parts)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClaimsFileError(f"{where}: {exc}") from None
    except (RecursionError, MemoryError):
        raise ClaimsFileError(f"{where}: nested too deep to read") from None


def is_number(value: Any) -> bool:
    """An int or a float, not a boolean (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load(program: Path) -> Example:
    """The example of a program: its claims file's declarations, or the general claims alone."""
    path = program.with_suffix(".toml")
    if not os.path.lexists(path):
        return Example(program.stem, program)
    where = path.name
    data = read_claims(path)
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ClaimsFileError(f"{where}: unknown key {unknown[0]!r} (the keys: {', '.join(sorted(KEYS))})")
    for key, kind, what in (("claim", str, "a string"), ("sample", str, "a string"), ("sha256", str, "a string"), ("slow", bool, "true or false")):
        if key in data and not isinstance(data[key], kind):
            raise ClaimsFileError(f"{where}: {key} must be {what}")
    text, processes = table(data, "text", where), table(data, "processes", where)
    for key, checks, what in ((text, TEXT_CHECKS, "[text]"), (processes, PREDICATES, "[processes]")):
        for name, value in key.items():
            if name not in checks:
                raise ClaimsFileError(f"{where}: {what} has no check {name!r} (the vocabulary: {', '.join(checks)})")
            problem = checks[name].invalid(value, key)
            if problem:
                raise ClaimsFileError(f"{where}: {what} {name}: {problem}")
    listed = data.get("start_methods", list(START_METHODS))
    if not (isinstance(listed, list) and all(isinstance(method, str) for method in listed)):
        raise ClaimsFileError(f"{where}: start_methods must be a list of start methods ({', '.join(START_METHODS)})")
    # `default` is always a column: whatever the interpreter, or the program itself, chooses.
    methods = tuple(dict.fromkeys(["default", *listed]))
    fails = table(data, "fails", where)
    for method in (*methods, *fails):
        if method not in START_METHODS:
            raise ClaimsFileError(f"{where}: unknown start method {method!r} (the start methods: {', '.join(START_METHODS)})")
    if "default" in fails:  # the default column is judged as the method it resolves to: [fails] names that one
        raise ClaimsFileError(f"{where}: [fails] default: name the start method it fails under (fork, spawn, forkserver), not default")
    if not all(isinstance(line, str) and line for line in fails.values()):
        raise ClaimsFileError(f"{where}: [fails] maps a start method to the line the program fails with")
    timeout = data.get("timeout")
    if timeout is not None and not (is_number(timeout) and 0 < timeout < float("inf")):
        raise ClaimsFileError(f"{where}: timeout must be a positive number of seconds")
    if data.get("sha256"):
        if not re.fullmatch(r"[0-9a-f]{64}", data["sha256"]):
            raise ClaimsFileError(f"{where}: sha256 must be 64 hexadecimal digits")
        digest = sha256(program)
        if digest != data["sha256"]:
            raise ClaimsFileError(
                f"{where}: {program.name} is not the program its sha256 pins (sha256 {digest[:12]}..., pinned {data['sha256'][:12]}...): "
                "restore the program, or pin the new one (python -m harness.examples pin PROGRAM.py)"
            )
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


def sha256(program: Path) -> str:
    digest = hashlib.sha256()
    with open(program, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sample_problem(example: Example) -> str | None:
    """Why a claims file's sample (the article's output) breaks its own [text] claims, or None.
    The patterns are the claims file's: the plugin calls it within a bound of time (harness/bounded.py)."""
    for name, value in example.text.items():
        try:
            TEXT_CHECKS[name].check(example.sample, value, example.text)
        except ClaimBroken as broken:
            return f"its sample breaks its own [text] {name}: {broken}"
    return None


def table(data: dict, key: str, where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ClaimsFileError(f"{where}: {key} must be a table ([{key}])")
    return value


def pin(program: Path) -> str:
    """Pin a program to its bytes: its SHA-256 as the `sha256` of its claims file (the line replaced,
    or added before the first table, a claims file made if missing). Returns the line written."""
    claims = program.with_suffix(".toml")
    line = f'sha256 = "{sha256(program)}"'
    text = claims.read_text(encoding="utf-8") if claims.exists() else ""
    if re.search(r"^sha256\s*=.*$", text, re.M):
        text = re.sub(r"^sha256\s*=.*$", line, text, count=1, flags=re.M)
    else:
        first_table = re.search(r"^\[", text, re.M)
        at = first_table.start() if first_table else len(text)
        text = text[:at] + line + "\n" + ("\n" if first_table else "") + text[at:]
    claims.write_text(text, encoding="utf-8")
    return line


def main(argv: list[str] | None = None) -> int:
    """python -m harness.examples pin PROGRAM.py...: each program's SHA-256 into its claims file."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m harness.examples", description="pin programs to their bytes (the sha256 of their claims files)")
    parser.add_argument("command", choices=["pin"])
    parser.add_argument("programs", nargs="+", type=Path, metavar="PROGRAM.py")
    args = parser.parse_args(argv)
    for program in args.programs:
        if program.suffix != ".py" or not program.is_file():
            print(f"examples: {program}: not a program (NAME.py)", file=sys.stderr)
            return 2
        print(f"{program.with_suffix('.toml')}: {pin(program)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
