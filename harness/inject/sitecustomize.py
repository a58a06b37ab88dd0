"""Start-up hook for every Python process of an example run.

The harness puts this folder first on PYTHONPATH, so Python imports this file at start-up in the
example's main process and in every spawned child, the fork server and the resource tracker: the
example file itself stays byte for byte the article's. (It shadows a distribution's own
sitecustomize, which only matters for crash reporters such as Debian's apport.)

mp_evidence records what the process does where the run asks for records, and in any case sets
the start method asked for (HARNESS_START_METHOD) and another platform's start methods
(HARNESS_EMULATE) when multiprocessing is first imported: importing it here, before the program,
would hide a program's own module of that name.
"""

import sys

import mp_evidence

if not mp_evidence.install() and sys.stdout is not None:
    # In a terminal stdout is line-buffered; written to a file it would be block-buffered and each
    # child's output would arrive in one piece at its exit, hiding how the processes interleaved.
    sys.stdout.reconfigure(line_buffering=True, write_through=False)
