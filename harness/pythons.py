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
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.platforms import PLATFORM

ROOT = Path(__file__).resolve().parent.parent
INJECT_DIR = ROOT / "harness" / "inject"  # the start-up hook, on every run's PYTHONPATH
NAME = re.compile(r"(?P<cpython>3\.(?P<minor>\d+))(?P<t>t?)|(?P<pypy>pypy3(\.\d+)?)")


class InterpreterError(Exception):
    """The interpreter is missing or does not run."""


@functools.cache
def interpreter_info(python: str) -> dict:
    """Name, version, default and available start methods of `python`."""
    probe = (
        "import json, multiprocessing as mp, os, platform, sys, sysconfig;"
        # free-threaded builds get their own name ('CPython 3.14.0t'), as their own column in reports
        "print(json.dumps({'name': platform.python_implementation() + ' ' + platform.python_version()"
        " + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''), 'executable': sys.executable,"
        "'base_executable': getattr(sys, '_base_executable', sys.executable),"
        "'platform': sys.platform, 'emulated': os.environ.get('HARNESS_EMULATE', ''),"
        "'default': mp.get_start_method(), 'methods': mp.get_all_start_methods()}))"
    )
    try:
        # In the hook's folder: `-c` puts the working folder on sys.path, and a checked folder's json.py
        # or platform.py there would answer for the interpreter.
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60, env=emulated_env(), cwd=INJECT_DIR)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterError(f"cannot run interpreter {python}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"interpreter {python} failed its probe: {last}")
    return probed(python, done.stdout)


PROBED = {"name": str, "executable": str, "platform": str, "emulated": str, "default": str, "methods": list}


def probed(python: str, printed: str) -> dict:
    """What the probe printed, if it is what a Python prints: /bin/true or a script printing a
    version is not a Python, and is named as such in one line."""
    try:
        info = json.loads(printed)
    except ValueError:
        info = None
    if not isinstance(info, dict) or any(not isinstance(info.get(key), kind) for key, kind in PROBED.items()):
        shown = ascii(printed.strip()[:80]) if printed.strip() else "nothing"
        raise InterpreterError(f"interpreter {python} is not a Python: its probe printed {shown}")
    return info


def platform_label(info: dict) -> str:
    """'linux'; under emulation 'win32 (emulated on linux)', a column of its own in reports."""
    return f"{info['emulated']} (emulated on {info['platform']})" if info["emulated"] else info["platform"]


# The environment as the session began. A test of the harness may change os.environ for a moment
# (PATH, HARNESS_EMULATE, to run a bad command line in-process) while runs start in other threads:
# those runs must not see it.
SESSION_ENVIRONMENT = dict(os.environ)


def emulated_env() -> dict:
    """The environment of an interpreter under test: with the start-up hook, which also applies
    HARNESS_EMULATE (another platform's start methods, see inject/sitecustomize.py)."""
    base = SESSION_ENVIRONMENT
    return dict(base, PYTHONPATH=os.pathsep.join(filter(None, [str(INJECT_DIR), base.get("PYTHONPATH")])))


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
