"""tox finds interpreters by name on PATH; pyenv exposes only the versions `pyenv global` lists.
This inline plugin offers every pyenv-installed interpreter to tox's discovery as well (the same
ones harness/pythons.py finds for `tox -e local`), so `tox -e 3.12` finds its Python wherever
pyenv keeps it, and a machine without pyenv is unaffected."""

import sys
from pathlib import Path

from tox.plugin import impl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness.pythons import pyenv_versions


@impl
def tox_add_core_config(core_conf, state):  # noqa: ARG001
    found = [str(exe) for version in pyenv_versions() for exe in version.glob("bin/python3")]
    state.conf.options.discover = [*(state.conf.options.discover or []), *found]
