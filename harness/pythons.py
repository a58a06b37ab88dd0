"""The Python versions of the matrix, and where each one is on this machine.

tox.ini's `pythons` label is the one list (`3.10, ..., 3.15, pypy3`): `tox -e 3.12` checks one of them (the
harness and the examples under it), plain `tox` checks every one found here in one session (the
harness under tox's Python, the examples under each: `pytest --python all`). A name is found as
its command on PATH (python3.12, pypy3, python3.14t), else among pyenv's versions, whether or not
pyenv has them active (toxfile.py hands the same interpreters to tox's own discovery), and on
Windows through the Python launcher (`py -3.12`).

    python -m harness.pythons      # NAME PATH of each version found here; exit 1 if none is
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.platforms import PLATFORM
from harness.runner import InterpreterError, interpreter_info

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"(?P<cpython>3\.(?P<minor>\d+))(?P<t>t?)|(?P<pypy>pypy3(\.\d+)?)")


def labels(tox_ini: str) -> dict[str, list[str]]:
    """tox.ini's [tox] labels: {'pythons': ['3.10', ..., 'pypy3'], ...}. Each is a plain list of env
    names, written out (no generative braces), so that a comma split reads it as tox does."""
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(tox_ini)
    found = {}
    for line in config["tox"].get("labels", "").splitlines():
        name, equals, envs = line.partition("=")
        if equals:
            found[name.strip()] = [env.strip() for env in envs.split(",") if env.strip()]
    return found


def listed(tox_ini: Path = ROOT / "tox.ini") -> list[str]:
    return labels(tox_ini.read_text(encoding="utf-8")).get("pythons", [])


def pyenv_versions() -> list[Path]:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return sorted((root / "versions").glob("*"), key=lambda p: [int(n) if n.isdigit() else n for n in re.split(r"(\d+)", p.name)])


def find(name: str, platform: str = PLATFORM) -> str | None:
    """The interpreter for a name of the list (3.12, 3.14t, pypy3), or None if this machine has none."""
    match = NAME.fullmatch(name)
    if not match:
        return None
    command = name if match["pypy"] else f"python{name}"
    # A pyenv shim on PATH fails unless pyenv has that version active: look past the shims.
    shims = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "shims"
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != shims)
    on_path = shutil.which(command, path=path)
    if on_path:
        return on_path
    if platform == "win32" and match["cpython"] and shutil.which("py"):  # the Python launcher knows them all
        done = subprocess.run(["py", f"-{name}", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    for version in reversed(pyenv_versions()):  # the newest patch release first
        exe = version / "bin" / command
        if exe.is_file() and (match["pypy"] or (version.name.startswith(f"{match['cpython']}.") and version.name.endswith("t") == bool(match["t"]))):
            return str(exe)
    return None


def matches(name: str, interpreter: str) -> bool:
    """Whether an interpreter ('CPython 3.12.1', 'CPython 3.14.0t', 'PyPy 3.11.17') is the one a
    name of the list asks for; a path asks for nothing in particular."""
    match = NAME.fullmatch(name)
    if not match:
        return True
    if match["pypy"]:
        return interpreter.startswith("PyPy ")
    return re.fullmatch(rf"CPython {re.escape(match['cpython'])}\.\d+\S*", interpreter) is not None and interpreter.endswith("t") == bool(match["t"])


def resolve(asked: list[str]) -> dict[str, str]:
    """{name: interpreter} for --python: paths as given, names found on PATH or in pyenv, `all`
    for every name of tox.ini's list found here; each probed (all at once: each probe starts an
    interpreter) and a name checked against the interpreter behind it. Raises InterpreterError."""
    chosen: dict[str, str] = {}
    for spec in asked:
        if spec == "all":
            found = {name: path for name in listed() if (path := find(name))}
            if not found:
                raise InterpreterError(f"--python all: none of tox.ini's pythons ({', '.join(listed())}) is on this machine")
            chosen.update(found)
        elif NAME.fullmatch(spec):
            path = find(spec)
            if path is None:
                raise InterpreterError(f"--python {spec}: no such Python on PATH or among pyenv's versions")
            chosen[spec] = path
        else:
            chosen[spec] = spec
    with ThreadPoolExecutor() as pool:
        probes = dict(zip(chosen, pool.map(probe, chosen.values()), strict=True))
    for name, python in chosen.items():
        if isinstance(probes[name], InterpreterError):
            raise probes[name]
        if not matches(name, probes[name]["name"]):
            raise InterpreterError(f"--python {name}: {python} is {probes[name]['name']}, not Python {name}")
    return chosen


def probe(python: str) -> dict | InterpreterError:
    try:
        return interpreter_info(python)
    except InterpreterError as exc:
        return exc


def main() -> int:
    names = listed()
    found = [(name, find(name)) for name in names]
    for name, path in found:
        if path:
            print(name, path)
    if not any(path for _, path in found):
        print(f"pythons: none of tox.ini's pythons ({', '.join(names) or 'an empty list'}) is on this machine", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
