"""Start-up hook for every Python process of an example run.

The harness puts this folder first on PYTHONPATH, so Python imports this file at start-up in the
example's main process and in every spawned child, the fork server and the resource tracker: the
example file itself stays byte for byte the article's. (It shadows a distribution's own
sitecustomize, which only matters for crash reporters such as Debian's apport.)
"""

import os
import sys

if os.environ.get("HARNESS_EVIDENCE"):
    # Records what the process does; its stdout is line-buffered as in a terminal. First, so that
    # multiprocessing is patched however it comes to be imported.
    import mp_evidence

    mp_evidence.install()
elif sys.stdout is not None:
    # In a terminal stdout is line-buffered; written to a file it would be block-buffered and each
    # child's output would arrive in one piece at its exit, hiding how the processes interleaved.
    sys.stdout.reconfigure(line_buffering=True, write_through=False)

# HARNESS_EMULATE=win32 or darwin: another platform's start methods, so that the suite's
# platform-dependent branches run on Linux too (tox -e emulate-windows, emulate-macos).
_emulate = os.environ.get("HARNESS_EMULATE")
if _emulate:
    import multiprocessing.context as _context

    _methods = {"win32": ["spawn"], "darwin": ["spawn", "fork", "forkserver"]}[_emulate]
    for _name in list(_context._concrete_contexts):
        if _name not in _methods:
            del _context._concrete_contexts[_name]  # set_start_method('fork') now fails as there
    _context._default_context._default_context = _context._concrete_contexts["spawn"]
    _context.DefaultContext.get_all_start_methods = lambda _self: list(_methods)
    sys.modules["multiprocessing"].get_all_start_methods = _context._default_context.get_all_start_methods
    if _emulate == "win32":  # and Windows' order of creating a spawn child: win32_spawn.py
        import win32_spawn  # noqa: F401

# The start method the run asks for, as the interpreter's default: the program may still choose
# its own (set_start_method, get_context), as it could on an interpreter whose default this is.
_method = os.environ.get("HARNESS_START_METHOD")
if _method:
    import multiprocessing.context as _context

    _context._default_context._default_context = _context._concrete_contexts[_method]
