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
from harness.vocabulary import PREDICATES, TEXT_CHECKS, ClaimBroken, resolved, uses_cpu_count

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (3.10)
    import tomli as tomllib

GENERAL = "the general claims: exit 0, a clean stderr, every child started by the start method asked for, nothing left running"
INTERPRETER_OPTIONS = ("-B", "-O", "-OO", "-R", "-b", "-bb", "-u")  # none of them turns off -X dev's checks nor the start-up hook
# Every key of a claims file but [text] and [processes] (harness/vocabulary.py), with what it says: the
# README's vocabulary table is generated from these (harness/readme.py).
KEYS = {
    "claim": "the sentence a report shows",
    "sample": "the output the article shows: it must hold the file's [text] claims",
    "sha256": "the program, pinned byte for byte",
    "slow": "its runs start first (ten seconds of sleeps, say)",
    "timeout": "seconds a run may take",
    "start_methods": "the columns it claims to hold in (default always): the others are n/a, the file named as the reason",
    "chooses_start_method": "the program chooses this start method itself: every column runs it, and in each every child must be started "
    "by that method (as the parent, the child and the kernel saw it), the program's own choice recorded",
    "by_start_method": "values that follow the start method a run used: { module = { fork = '__main__', spawn = '__mp_main__', "
    "forkserver = '__mp_main__' } }, each {module} of the [text] and [processes] claims then that run's value (a regular expression "
    "where a pattern is expected); {cpu_count}, and a count written cpu_count (times, plus or minus a number), are os.cpu_count() as "
    "the main process saw it",
    "stdin": "text the main process reads on its standard input (else nothing: /dev/null)",
    "arguments": "the program's command-line arguments (a list of strings)",
    "interpreter_options": "the interpreter's options after -X dev, among " + ", ".join(INTERPRETER_OPTIONS),
    "text": "[text]: one check of the text a reader sees (below)",
    "processes": "[processes]: the claims on what the processes did (below)",
    "fails": "[fails]: where it must fail, by start method: spawn = 'the line it fails with' (on stderr), or a table (below); the cell "
    "then passes as fails as claimed",
}
# [fails.METHOD] as a table: its keys, with what each says.
FAILS = {
    "stderr": "the line it fails with, on stderr (its exit status may be anything); a message over several lines as one line, "
    "each run of spaces and line ends one space",
    "hangs": "true: it never ends, and is stopped at its timeout (the claims file's timeout, short)",
    "python": "only on these Pythons: '>=3.12', '<3.14', both with a comma; elsewhere every claim must hold",
    "implementation": "only on this implementation: cpython or pypy",
    "platforms": "only on these platforms (sys.platform): ['linux', 'darwin']",
    "keeps_claims": "true: the file's [text] and [processes] claims still hold of what it did before it failed",
}


class ClaimsFileError(Exception):
    """A claims file that cannot be used; the message names it and says why, in one line."""


@dataclass(frozen=True)
class Failure:
    """A failure a claims file claims, under one start method (its [fails] table)."""

    stderr: str = ""  # the line it fails with
    hangs: bool = False  # it never ends: stopped at its timeout
    python: str = ""  # only on these Pythons: ">=3.12", "<3.14", ">=3.12,<3.14"
    implementation: str = ""  # only on this implementation: cpython, pypy
    platforms: tuple[str, ...] = ()  # only on these platforms (sys.platform)
    keeps_claims: bool = False  # the file's other claims still hold of what it did

    def __str__(self) -> str:
        return "it hangs" if self.hangs else self.stderr

    def applies(self, interpreter: str, platform: str) -> bool:
        """Whether it is claimed on this interpreter ("CPython 3.12.1") and platform (sys.platform)."""
        name, _, version = interpreter.partition(" ")
        if self.implementation and name.lower() != self.implementation:
            return False
        if self.platforms and platform not in self.platforms:
            return False
        found = re.match(r"(\d+)\.(\d+)", version)
        if self.python and found:
            have = (int(found[1]), int(found[2]))
            for operator, major, minor in VERSION_BOUND.findall(self.python):
                wanted = (int(major), int(minor))
                if not {">=": have >= wanted, "<": have < wanted, "<=": have <= wanted, ">": have > wanted, "==": have == wanted}[operator]:
                    return False
        return True


VERSION_BOUND = re.compile(r"\s*(>=|<=|==|<|>)\s*(\d+)\.(\d+)\s*")
VERSIONS = re.compile(rf"{VERSION_BOUND.pattern}(,{VERSION_BOUND.pattern})*")


@dataclass(frozen=True)
class Example:
    name: str  # the program's file name without .py: test ids, reports
    program: Path
    claim: str = GENERAL  # what its claims come to, in a few words, for the reader of a report
    sample: str = ""  # the output the article shows
    text: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # how stdout is checked (TEXT_CHECKS)
    processes: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # predicate -> its argument (PREDICATES)
    start_methods: tuple[str, ...] = START_METHODS  # the columns it claims to hold in (default always); the others are n/a
    fails: dict[str, Failure] = field(default_factory=dict, hash=False, compare=False)  # start method -> how it fails there
    chooses_start_method: str = ""  # the start method the program chooses itself, checked in every column
    by_start_method: dict[str, dict[str, str]] = field(default_factory=dict, hash=False, compare=False)  # name -> start method -> value
    stdin: str = ""  # what the main process reads on stdin
    arguments: tuple[str, ...] = ()  # the program's command-line arguments
    interpreter_options: tuple[str, ...] = ()  # after -X dev
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
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ClaimsFileError(f"{where}: unknown key {unknown[0]!r} (the keys: {', '.join(sorted(KEYS))})")
    for key, kind, what in (("claim", str, "a string"), ("sample", str, "a string"), ("sha256", str, "a string"), ("slow", bool, "true or false")):
        if key in data and not isinstance(data[key], kind):
            raise ClaimsFileError(f"{where}: {key} must be {what}")
    text, processes = table(data, "text", where), table(data, "processes", where)
    for key, checks, what in ((text, TEXT_CHECKS, "[text]"), (processes, PREDICATES, "[processes]")):
        for name in key:
            if name not in checks:
                raise ClaimsFileError(f"{where}: {what} has no check {name!r} (the vocabulary: {', '.join(checks)})")
    listed = data.get("start_methods", list(START_METHODS))
    if not (isinstance(listed, list) and all(isinstance(method, str) for method in listed)):
        raise ClaimsFileError(f"{where}: start_methods must be a list of start methods ({', '.join(START_METHODS)})")
    # `default` is always a column: whatever the interpreter, or the program itself, chooses.
    methods = tuple(dict.fromkeys(["default", *listed]))
    chooses = data.get("chooses_start_method", "")
    if chooses and chooses not in START_METHODS[1:]:
        raise ClaimsFileError(f"{where}: chooses_start_method must be one of {', '.join(START_METHODS[1:])}")
    fails = failures(table(data, "fails", where), where)
    for method in (*methods, *fails):
        if method not in START_METHODS:
            raise ClaimsFileError(f"{where}: unknown start method {method!r} (the start methods: {', '.join(START_METHODS)})")
    by_method = by_start_method(table(data, "by_start_method", where), [chooses] if chooses else [m for m in methods if m != "default"], where)
    for method in [chooses] if chooses else [m for m in methods if m != "default"] or ["fork"]:
        # The claims as a run under that start method reads them, with a machine of 4 CPUs.
        names = {name: values[method] for name, values in by_method.items() if method in values}
        for key, checks, what in ((text, TEXT_CHECKS, "[text]"), (processes, PREDICATES, "[processes]")):
            filled = resolved(key, names, 4)
            for name, value in filled.items():
                problem = checks[name].invalid(value, filled)
                if problem:
                    raise ClaimsFileError(f"{where}: {what} {name}: {problem}")
    if data.get("sample") and uses_cpu_count(text):
        raise ClaimsFileError(
            f"{where}: a sample cannot be checked against [text] claims that follow cpu_count (the sample's machine is not this one)"
        )
    timeout = data.get("timeout")
    if timeout is not None and not (is_number(timeout) and 0 < timeout < float("inf")):
        raise ClaimsFileError(f"{where}: timeout must be a positive number of seconds")
    stdin, arguments, options = data.get("stdin", ""), data.get("arguments", []), data.get("interpreter_options", [])
    if not isinstance(stdin, str):
        raise ClaimsFileError(f"{where}: stdin must be a string")
    if not (isinstance(arguments, list) and all(isinstance(a, str) for a in arguments)):
        raise ClaimsFileError(f"{where}: arguments must be a list of strings")
    if not (isinstance(options, list) and all(o in INTERPRETER_OPTIONS for o in options)):
        raise ClaimsFileError(f"{where}: interpreter_options must be a list among {', '.join(INTERPRETER_OPTIONS)}")
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
        chooses_start_method=chooses,
        by_start_method=by_method,
        stdin=stdin,
        arguments=tuple(arguments),
        interpreter_options=tuple(options),
    )


def failures(fails: dict, where: str) -> dict[str, Failure]:
    """[fails]: a start method -> the line it fails with, or a table of FAILS."""
    found = {}
    for method, how in fails.items():
        if method == "default":  # the default column is judged as the method it resolves to: [fails] names that one
            raise ClaimsFileError(f"{where}: [fails] default: name the start method it fails under (fork, spawn, forkserver), not default")
        if isinstance(how, str) and how:
            found[method] = Failure(stderr=how)
            continue
        shape = f"{where}: [fails] {method}: the line it fails with, or a table of {', '.join(FAILS)}"
        if not isinstance(how, dict) or not set(how) <= set(FAILS):
            raise ClaimsFileError(shape)
        failure = Failure(
            stderr=how.get("stderr", ""),
            hangs=how.get("hangs", False),
            python=how.get("python", ""),
            implementation=how.get("implementation", ""),
            platforms=tuple(how.get("platforms", ())),
            keeps_claims=how.get("keeps_claims", False),
        )
        kinds_ok = isinstance(failure.stderr, str) and isinstance(failure.hangs, bool) and isinstance(failure.keeps_claims, bool)
        if not kinds_ok or bool(failure.stderr) == failure.hangs:
            raise ClaimsFileError(f"{where}: [fails] {method}: stderr = 'the line it fails with', or hangs = true (one of them)")
        if failure.hangs and failure.keeps_claims:
            raise ClaimsFileError(f"{where}: [fails] {method}: a run that hangs is stopped at its timeout: keeps_claims would judge half a run")
        if failure.python and not (isinstance(failure.python, str) and VERSIONS.fullmatch(failure.python)):
            raise ClaimsFileError(f"{where}: [fails] {method}: python is a version bound: '>=3.12', '<3.14', '>=3.12,<3.14'")
        if failure.implementation not in ("", "cpython", "pypy"):
            raise ClaimsFileError(f"{where}: [fails] {method}: implementation is cpython or pypy")
        if not all(p in ("linux", "darwin", "win32") for p in failure.platforms):
            raise ClaimsFileError(f"{where}: [fails] {method}: platforms are among linux, darwin, win32")
        found[method] = failure
    return found


def by_start_method(values: dict, methods: list[str], where: str) -> dict[str, dict[str, str]]:
    """[by_start_method]: each name a table of a value per start method, for every method claimed."""
    for name, per_method in values.items():
        if not re.fullmatch(r"[A-Za-z_]\w*", name) or name == "cpu_count" or name in ("i",):
            raise ClaimsFileError(f"{where}: [by_start_method] {name!r}: a name is a word, not cpu_count or i")
        if not (isinstance(per_method, dict) and all(isinstance(v, str) for v in per_method.values())):
            raise ClaimsFileError(f"{where}: [by_start_method] {name}: a table of a string per start method (fork, spawn, forkserver)")
        unknown = sorted(set(per_method) - set(START_METHODS[1:]))
        missing = [m for m in methods if m not in per_method]
        if unknown or missing:
            raise ClaimsFileError(f"{where}: [by_start_method] {name}: a value for each of {', '.join(methods)} and no other")
    return values


def sha256(program: Path) -> str:
    digest = hashlib.sha256()
    with open(program, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sample_problem(example: Example) -> str | None:
    """Why a claims file's sample (the article's output) breaks its own [text] claims, or None: it
    holds them as a run under one of its start methods would read them (by_start_method).
    The patterns are the claims file's: the plugin calls it within a bound of time (harness/bounded.py)."""
    methods = [example.chooses_start_method] if example.chooses_start_method else [m for m in example.start_methods if m != "default"] or ["fork"]
    first = None
    for method in methods:
        names = {name: values[method] for name, values in example.by_start_method.items() if method in values}
        text = resolved(example.text, names, None)
        try:
            for name, value in text.items():
                TEXT_CHECKS[name].check(example.sample, value, text)
        except ClaimBroken as broken:
            first = first or f"its sample breaks its own [text] {name}: {broken}"
            continue
        return None
    return first


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
