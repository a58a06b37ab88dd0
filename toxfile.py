"""tox finds interpreters by name on PATH; pyenv exposes only the versions `pyenv global` lists.
This inline plugin offers every pyenv-installed interpreter to tox's discovery as well, so each
env finds its Python wherever pyenv keeps it, and a machine without pyenv is unaffected."""
import os
from pathlib import Path

from tox.plugin import impl


@impl
def tox_add_core_config(core_conf, state):  # noqa: ARG001
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = sorted(str(exe) for exe in root.glob("versions/*/bin/python3"))
    state.conf.options.discover = [*(state.conf.options.discover or []), *found]
