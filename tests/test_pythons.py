"""harness/pythons.py: tox.ini's `pythons` label is read, each name is found on PATH or among pyenv's
versions (never a pyenv shim that would fail), a name matches only its own interpreter, and the
command that names the Pythons CI requires fails when there is none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import pythons
from harness.platforms import PLATFORM
from harness.plugin import ROOT


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """An empty PATH and pyenv root: each test puts there the interpreters it needs."""
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    return tmp_path


def test_the_list_is_tox_ini_label():
    assert pythons.listed() == ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15", "pypy3"]
    assert pythons.labels("[tox]\nenv_list = local\n") == {}


@pytest.mark.skipif(PLATFORM == "win32", reason="POSIX file names (bin/python3.12) and executable bits")
def test_found_on_path_then_in_pyenv_never_a_shim(machine):
    shim = executable(machine / "pyenv" / "shims" / "python3.12")
    os.environ["PATH"] = os.pathsep.join([str(shim.parent), str(machine / "bin")])
    assert pythons.find("3.12") is None  # only a shim: pyenv has no 3.12
    older = executable(machine / "pyenv" / "versions" / "3.12.1" / "bin" / "python3.12")
    newer = executable(machine / "pyenv" / "versions" / "3.12.10" / "bin" / "python3.12")
    free = executable(machine / "pyenv" / "versions" / "3.14.0t" / "bin" / "python3.14t")
    assert pythons.find("3.12") == str(newer) != str(older)  # 3.12.10 sorts after 3.12.1
    assert pythons.find("3.14t") == str(free) and pythons.find("3.14") is None
    on_path = executable(machine / "bin" / "python3.12")
    assert pythons.find("3.12") == str(on_path)
    assert pythons.find("pypy3") is None and pythons.find("selftest") is None


@pytest.mark.skipif(sys.platform == "win32", reason="the fake launcher is a shell script")
def test_on_windows_the_python_launcher_is_asked(machine):
    launcher = executable(machine / "bin" / "py")  # knows 3.12 only, as `py -3.12` does
    launcher.write_text('#!/bin/sh\n[ "$1" = -3.12 ] && printf "%s\\n" "C:\\Python312\\python.exe"\n')
    assert pythons.find("3.12", platform="win32") == "C:\\Python312\\python.exe"
    assert pythons.find("3.11", platform="win32") is None
    assert pythons.find("3.12", platform="linux") is None  # elsewhere it is not asked


@pytest.mark.parametrize(
    ("name", "interpreter", "same"),
    [
        ("3.12", "CPython 3.12.1", True),
        ("3.12", "CPython 3.11.7", False),
        ("3.1", "CPython 3.12.1", False),
        ("3.14t", "CPython 3.14.0t", True),
        ("3.14", "CPython 3.14.0t", False),
        ("3.14t", "CPython 3.14.0", False),
        ("pypy3", "PyPy 3.11.17", True),
        ("pypy3", "CPython 3.11.7", False),
        ("3.11", "PyPy 3.11.17", False),
        ("/usr/bin/python3", "CPython 3.11.2", True),  # a path asks for nothing in particular
    ],
)
def test_a_name_matches_only_its_interpreter(name, interpreter, same):
    assert pythons.matches(name, interpreter) is same


def names_here(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.pythons"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(PLATFORM == "win32", reason="POSIX file names (bin/python3.12)")
def test_ci_names_the_pythons_it_requires_and_fails_without_any(machine):
    env = {**os.environ, "PATH": str(machine / "bin"), "PYENV_ROOT": str(machine / "pyenv")}
    none = names_here(env)
    assert none.returncode == 1 and none.stdout == ""
    assert none.stderr == "pythons: none of tox.ini's pythons (3.10, 3.11, 3.12, 3.13, 3.14, 3.15, pypy3) is on this machine\n"
    python = executable(machine / "pyenv" / "versions" / "3.11.7" / "bin" / "python3.11")
    some = names_here(env)
    assert (some.returncode, some.stdout) == (0, f"3.11 {python}\n")
