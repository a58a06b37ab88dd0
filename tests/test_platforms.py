"""harness/platforms.py: PLATFORM is the emulated platform when there is one, and `python -m
harness.platforms` runs a command with the temporary folder spelled as that platform's runners
spell theirs (a name that Path.resolve() changes), removed afterwards; bad input is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.platforms import TEMP_SPELLINGS
from harness.plugin import ROOT

# What the command sees: TMPDIR as tempfile spells it, resolved, and the emulated platform.
SEE = (
    "import json, pathlib, sys, tempfile; from harness.platforms import PLATFORM;"
    "print(json.dumps([tempfile.gettempdir(), str(pathlib.Path(tempfile.gettempdir()).resolve()), PLATFORM]))"
)


def platforms(*command: str, emulate: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_EMULATE"} | ({"HARNESS_EMULATE": emulate} if emulate else {})
    return subprocess.run([sys.executable, "-m", "harness.platforms", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(sys.platform == "win32", reason="the emulation runs on Linux (its temporary folder is reached through a symlink)")
@pytest.mark.parametrize(
    ("platform", "spelled", "resolved"), [("darwin", "/var/folders/", "/private/var/folders/"), ("win32", "/RUNNER~1/", "/runneradmin/")]
)
def test_the_temporary_folder_is_spelled_as_the_runners_spell_it(platform, spelled, resolved):
    done = platforms(sys.executable, "-c", SEE, emulate=platform)
    assert done.returncode == 0, done.stderr
    written, real, seen = json.loads(done.stdout)
    assert spelled in written and resolved in real and resolved not in written, (written, real)
    assert seen == platform
    _, target, below = TEMP_SPELLINGS[platform]
    root = Path(real).parents[len(Path(target, below).parts) - 1]  # the folder it made for the command
    assert root.name.startswith(f"emulated-{platform}-"), root
    assert not root.exists(), f"{root} was left behind"


def test_the_exit_status_is_the_commands():
    assert platforms(sys.executable, "-c", "raise SystemExit(3)", emulate="darwin").returncode == 3


def cannot_run(program: str) -> str:
    """What this platform says when `program` cannot be started: the same error, provoked here
    (Linux's strerror says "No such file or directory", Windows "The system cannot find the file
    specified")."""
    try:
        subprocess.run([program], check=False)
    except OSError as exc:
        return exc.strerror or str(exc)
    raise AssertionError(f"{program} ran")


@pytest.mark.parametrize(
    ("command", "emulate", "message"),
    [
        ([sys.executable, "-V"], None, "harness.platforms: HARNESS_EMULATE is not set: there is no platform to emulate\n"),
        ([sys.executable, "-V"], "beos", "harness.platforms: HARNESS_EMULATE=beos: the harness emulates win32 or darwin\n"),
        ([], "darwin", "harness.platforms: usage: python -m harness.platforms COMMAND...\n"),
        (["/nonexistent/python"], "darwin", f"harness.platforms: cannot run /nonexistent/python: {cannot_run('/nonexistent/python')}\n"),
    ],
    ids=["not-emulating", "unknown-platform", "no-command", "missing-command"],
)
def test_bad_input_is_one_line(command, emulate, message):
    done = platforms(*command, emulate=emulate)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message)
