"""The claim checks reject broken copies of the examples, for the right reason, and accept
copies that differ only in ways the article's claims do not care about.

Each copy is the shipped example with a few exact text edits, written to a temporary folder and
run like the real one (all of them at once, by the launcher in conftest.py).
"""
from __future__ import annotations

import multiprocessing
import re
import sys
from dataclasses import dataclass

import pytest

from conftest import SHIPPED_EXAMPLES
from harness.claims import evidence, headline, verdict
from harness.runner import START_METHODS, Run, members

HANG_TIMEOUT = 5.0  # for the copies that never end: long enough for a loaded machine to start them


@dataclass(frozen=True)
class Copy:
    id: str
    example: str
    edits: tuple[tuple[str, str], ...]  # (old, new): `old` must occur exactly once
    diagnosis: str = ""  # regex the one-line verdict must match; empty for an equivalent copy
    method: str = "default"
    timeout: float = 60.0
    posix_only: bool = False  # needs the resource tracker, which Windows does not have

    def source(self) -> str:
        text = (SHIPPED_EXAMPLES / f"{self.example}.py").read_text(encoding="utf-8")
        for old, new in self.edits:
            assert text.count(old) == 1, f"{self.id}: {old!r} occurs {text.count(old)} times in {self.example}"
            text = text.replace(old, new)
        return text

    def run(self, method: str | None = None) -> Run:
        return Run(self.example, method or self.method, python="", source=self.source(), timeout=self.timeout)


LEFTOVER = "import subprocess, sys\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
TOGETHER = '''
class Together:
    """A 'lock' that lets every worker in at once."""
    def __init__(self, barrier):
        self.barrier = barrier
    def __enter__(self):
        self.barrier.wait()
    def __exit__(self, *exc):
        pass
'''

BROKEN = [
    # 01_processes: twenty tokens, each once, in order, from two workers running at once
    Copy("01-digit-missing", "01_processes", (("range(10)", "range(9)"),), r"never printed: 9$"),
    Copy("01-letter-twice", "01_processes", (("'abcdefghij'", "'abcdefghijj'"),), r"printed more than once: j \(2 times\)"),
    Copy("01-digits-reversed", "01_processes", (("range(10)", "reversed(range(10))"),), r"digits out of order: 9 8 7"),
    Copy("01-letters-shuffled", "01_processes", (("'abcdefghij'", "'abcdefhgij'"),), r"letters out of order"),
    Copy("01-extra-output", "01_processes", (("    process2.join()\n", "    process2.join()\n    print('done')\n"),),
         r"unexpected output"),
    Copy("01-one-worker", "01_processes", (("    process2.start()\n", ""), ("    process2.join()\n", "")), r"never printed: a b c"),
    Copy("01-one-after-the-other", "01_processes",
         (("time.sleep(1)\n        print(i)", "time.sleep(0.1)\n        print(i)"),
          ("time.sleep(1)\n        print(letter)", "time.sleep(0.1)\n        print(letter)"),
          ("    process2.start()\n\n    process1.join()", "    process1.join()\n    process2.start()\n")),
         r"did not run at the same time: all digits came before the first of the letters"),
    Copy("01-worker-raises", "01_processes", (("print(letter)", "print(letter)\n        if letter == 'c':\n            raise RuntimeError('boom')"),),
         r"wrote to stderr under -X dev: RuntimeError: boom$"),
    Copy("01-warning", "01_processes", (("import time\n", "import time\nimport warnings\nwarnings.warn('new in this release', DeprecationWarning)\n"),),
         r"wrote to stderr under -X dev: .*DeprecationWarning: new in this release"),
    Copy("01-hang", "01_processes", (("for i in range(10):", "for i in __import__('itertools').count():"),),
         r"timed out after 5 s", timeout=HANG_TIMEOUT),
    Copy("01-exit-status", "01_processes", (("    process2.join()\n", "    process2.join()\n    raise SystemExit(3)\n"),),
         r"exit status 3: nothing on stderr"),
    # 02_queue: exactly one line, Hello, world!
    Copy("02-other-message", "02_queue", (("'Hello, world!'", "'Hello world!'"),), r"stdout is 'Hello world!\\n', expected exactly"),
    Copy("02-no-newline", "02_queue", (("print(q.get())", "print(q.get(), end='')"),), r"stdout is 'Hello, world!', expected"),
    Copy("02-said-twice", "02_queue", (("    print(q.get())\n", "    print(q.get())\n    print('Hello, world!')\n"),), r"stdout is 'Hello, world!\\nHello"),
    Copy("02-nothing-sent", "02_queue", (("q.put('Hello, world!')", "pass"),), r"timed out after 5 s", timeout=HANG_TIMEOUT),
    Copy("02-worker-crashes", "02_queue", (("q.put('Hello, world!')", "q.put(1 / 0)"),), r"timed out|wrote to stderr", timeout=HANG_TIMEOUT),
    Copy("02-grandchild-left", "02_queue", (("    q.put('Hello, world!')\n", f"    {LEFTOVER}    q.put('Hello, world!')\n"),),
         r"1 process\(es\) still running after the main process exited: pid \d+: .*time.sleep\(120\)"),
    Copy("02-main-crashes", "02_queue", (("    p.join()\n", "    p.join()\n    {}['missing']\n"),), r"exit status 1: KeyError: 'missing'"),
    # 03_lock: five workers, one at a time, counter 0 -> 5
    Copy("03-no-increment", "03_lock", (("current_value + 1", "current_value"),), r"line 2: counter went 0 -> 0, expected 0 -> 1"),
    Copy("03-six-workers", "03_lock", (("range(5)", "range(6)"),), r"blank line then 'Final counter value: 5"),
    Copy("03-four-workers", "03_lock", (("range(5)", "range(4)"),), r"line 9: expected 'Process-Process-N:1 entered"),
    Copy("03-other-names", "03_lock", (('f"Process-{Process().name}"', 'f"Process-{current_process().name}"'),
                                        ("import Process, Lock, Value", "import Process, Lock, Value, current_process")),
         r"line 1: expected 'Process-Process-N:1 entered critical section', got 'Process-Process-\d entered"),
    Copy("03-no-lock", "03_lock", (("import random\n", "import random\nfrom multiprocessing import Barrier\n" + TOGETHER),
                                    ("    with lock:", "    with Together(lock):"),
                                    ("time.sleep(0.1)  #", "time.sleep(1)  #"),
                                    ("process_lock = Lock()", "process_lock = Barrier(5)")),
         r"line 2: expected 'Process-Process-\d:1 modified counter: 0 -> 1' after it entered, got 'Process-Process-\d:1 entered"),
    Copy("03-no-blank-line", "03_lock", ((r'print(f"\nFinal', 'print(f"Final'),), r"expected a blank line then"),
    Copy("03-final-claim", "03_lock", (("(expected value: 5)", "(expected: 5)"),), r"expected a blank line then"),
    Copy("03-hang-holding-lock", "03_lock", (("time.sleep(0.1)  #", "time.sleep(3600)  #"),), r"timed out after 5 s",
         method="spawn", timeout=HANG_TIMEOUT),
    Copy("03-semaphore-leaked", "03_lock", (('(expected value: 5)")', '(expected value: 5)", flush=True)\n    __import__("os")._exit(0)'),),
         r"wrote to stderr under -X dev: .*leaked semaphore", method="spawn", posix_only=True),
    # 04_pool: exactly [1, 4, 9, 16, 25]
    Copy("04-short-input", "04_pool", (("[1, 2, 3, 4, 5]", "[1, 2, 3, 4]"),), r"stdout is '\[1, 4, 9, 16\]\\n'"),
    Copy("04-wrong-function", "04_pool", (("return x * x", "return x + x"),), r"stdout is '\[2, 4, 6, 8, 10\]\\n'"),
    Copy("04-pool-not-closed", "04_pool", (("    with Pool(5) as p:\n        print", "    p = Pool(5)\n    if True:\n        print"),),
         r"wrote to stderr under -X dev: .*ResourceWarning: unclosed running multiprocessing pool"),
    Copy("04-worker-dies", "04_pool", (("return x * x", "__import__('os')._exit(1)"),), r"timed out after 5 s", timeout=HANG_TIMEOUT),
]

EQUIVALENT = [
    Copy("01-shorter-sleeps-other-comments", "01_processes",
         (("time.sleep(1)\n        print(i)", "time.sleep(0.5)\n        print(i)"),
          ("time.sleep(1)\n        print(letter)", "time.sleep(0.5)\n        print(letter)"),
          ("#  join method is used to wait for the process to finish", "# wait for both workers"))),
    Copy("02-keyword-args", "02_queue", (("Process(target=worker, args=(q,))", "Process(target=worker, kwargs={'q': q})"),)),
    Copy("03-other-sleeps", "03_lock", (("random.uniform(0.1, 0.5)", "random.uniform(0, 0.05)"), ("time.sleep(0.1)  #", "time.sleep(0.01)  #"))),
    Copy("04-smaller-pool", "04_pool", (("Pool(5)", "Pool(2)"),)),
    Copy("04-imap", "04_pool", (("print(p.map(square, [1, 2, 3, 4, 5]))", "print(list(p.imap(square, [1, 2, 3, 4, 5])))"),)),
]


AVAILABLE = multiprocessing.get_all_start_methods()  # of the interpreter these copies run under by default


def params(copies, methods=None) -> list:
    return list(_params(copies, methods))


def _params(copies, methods):
    for copy in copies:
        for method in methods or [copy.method]:
            marks = [] if method in ("default", *AVAILABLE) else [pytest.mark.skip(reason=f"start method {method} is not available on {sys.platform}")]
            if copy.posix_only and sys.platform == "win32":
                marks.append(pytest.mark.skip(reason="Windows has no resource tracker to report leaks"))
            yield pytest.param(copy.run(method), copy, id=copy.id if methods is None else f"{copy.id}-{method}", marks=marks)


@pytest.mark.parametrize(("run", "copy"), params(BROKEN))
def test_broken_copy_is_rejected_for_the_right_reason(outcome, copy):
    problem = verdict(outcome)
    assert problem is not None, f"{copy.id} passed every check\n{evidence(outcome)}"
    assert re.search(copy.diagnosis, problem), f"{copy.id}: wrong diagnosis: {problem}\n{evidence(outcome)}"
    assert not members(outcome.marker), f"{copy.id}: processes of the run survived it"


@pytest.mark.parametrize(("run", "copy"), params(EQUIVALENT, START_METHODS))
def test_equivalent_copy_passes(outcome, copy):
    problem = verdict(outcome)
    assert problem is None, f"{headline(outcome)}: {problem}\n{evidence(outcome)}"


@pytest.mark.parametrize(("run", "copy"), params(c for c in BROKEN if c.id == "01-hang"))
def test_timeout_report_keeps_the_output_so_far(outcome, copy):
    assert outcome.timed_out
    assert {"0", "a"} <= set(outcome.stdout.split()), evidence(outcome)
