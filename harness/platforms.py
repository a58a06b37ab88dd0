"""Which platform's branches the harness takes, and the emulation of Windows and macOS on Linux.

PLATFORM is sys.platform, or under emulation (HARNESS_EMULATE=win32 or darwin: `tox -e
emulate-windows`, `tox -e emulate-macos`) the platform it names. Every platform-dependent branch
of the harness and of its tests reads PLATFORM, so that the emulation takes it as that platform
would; only the lines that need the platform itself read sys.platform, and say why (ctypes'
WinDLL, prctl, Windows' process creation flags). The examples' own processes import nothing of the
harness: inject/ reads HARNESS_EMULATE for them (sitecustomize.py, mp_evidence.py).

    python -m harness.platforms COMMAND...

runs COMMAND (the emulated suite: tox.ini) with a temporary folder spelled as the emulated
platform's CI runners spell theirs, through a name that Path.resolve() changes, so that a test
comparing a path as written with one resolved fails here as it would there. The folder is made in
the real temporary folder, kept short for the AF_UNIX socket paths multiprocessing puts in it,
and removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EMULATIONS = ("win32", "darwin")  # inject/sitecustomize.py has each one's start methods
PLATFORM = os.environ.get("HARNESS_EMULATE") or sys.platform

# How GitHub's runners spell their temporary folder: (a name, the folder it stands for, the path
# below it). macOS: TMPDIR is /var/folders/xx/.../T/, and /var is a symlink to /private/var.
# Windows: TEMP is C:\Users\RUNNER~1\AppData\Local\Temp, an 8.3 short name of runneradmin that
# resolve() expands. (A `..` in TMPDIR would not do: tempfile normalises it away.)
TEMP_SPELLINGS = {
    "darwin": ("var", "private/var", "folders/zz/T"),
    "win32": ("RUNNER~1", "runneradmin", "AppData/Local/Temp"),
}


def problem() -> str | None:
    """Why HARNESS_EMULATE cannot be used, in one line, or None."""
    asked = os.environ.get("HARNESS_EMULATE")
    if asked and asked not in EMULATIONS:
        return f"HARNESS_EMULATE={asked}: the harness emulates {' or '.join(EMULATIONS)}"
    return None


def spelled_temp_folder(root: Path, platform: str) -> Path:
    """A temporary folder under `root`, reached through the name that `platform`'s runners use."""
    alias, real, below = TEMP_SPELLINGS[platform]
    (root / real / below).mkdir(parents=True, exist_ok=True)
    (root / alias).symlink_to(real, target_is_directory=True)
    return root / alias / below


def main(argv: list[str]) -> int:
    why = problem() or (None if os.environ.get("HARNESS_EMULATE") else "HARNESS_EMULATE is not set: there is no platform to emulate")
    if why or not argv:
        print(f"harness.platforms: {why or 'usage: python -m harness.platforms COMMAND...'}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix=f"emulated-{PLATFORM}-"))
    try:
        env = dict(os.environ, TMPDIR=str(spelled_temp_folder(root, PLATFORM)))
        with subprocess.Popen(argv, env=env) as command:
            while True:
                try:
                    return command.wait()
                except KeyboardInterrupt:
                    pass  # the command got it too (one process group): let it stop as it does
    except OSError as exc:
        print(f"harness.platforms: cannot run {argv[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
