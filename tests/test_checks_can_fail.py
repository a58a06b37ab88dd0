"""The claims reject broken copies of the examples, for the right reason, and accept copies that
differ only in ways the article's claims do not care about.

Each copy is the shipped example with a few exact text edits, written to a temporary folder and
run like the real one (all of them at once, by the launcher in harness/plugin.py). Many broken
copies print exactly the article's text: they cheat on what the processes do (the main process or a
thread prints, the start method is forced, the lock is not shared, the pool is a thread pool), and
only the evidence of what the processes did can reject them.
"""

from __future__ import annotations

import re
import sys
import uuid
from dataclasses import dataclass

import psutil
import pytest

from harness import examples
from harness.examples import START_METHODS
from harness.platforms import PLATFORM
from harness.plugin import SHIPPED_EXAMPLES, make_run, not_applicable
from harness.pythons import interpreter_info
from harness.runner import CONTAINMENT
from harness.verdict import evidence, headline
from sessions import COPIES_NICE, in_command_line, live, members

SHIPPED = examples.discover(SHIPPED_EXAMPLES)

HANG_TIMEOUT = 5.0  # for the copies that never end: long enough for a loaded machine to start them


@dataclass(frozen=True)
class Copy:
    id: str
    example: str
    edits: tuple[tuple[str, str], ...]  # (old, new): `old` must occur exactly once
    diagnosis: str = ""  # regex the one-line verdict must match; empty for an equivalent copy
    claim: str = ""  # the claim the verdict must name (verdict.Verdict.claim)
    method: str = "default"
    timeout: float | None = None
    needs: str = ""  # a start method it uses whatever the run asks for: skipped where that is not available
    posix_only: bool = False  # needs the resource tracker or an empty environment, which Windows does not offer
    # Caught by the kernel's word on who sent each record (Linux); where there is none (macOS's tree
    # containment, Windows) it passes, as the README says.
    needs_facts: bool = False
    # Forks from a thread (a Pool replacing its workers): from CPython 3.12 that warns under -X dev,
    # a line on stderr the general claims reject, as a reader running with warnings on would see it.
    forks_from_a_thread: bool = False
    cpython_only: bool = False  # needs CPython's reference counting (a ResourceWarning at exit), which PyPy does not have
    linux_only: bool = False  # needs /proc, or a socket as the run's stdout (the supervisor on Linux)

    def source(self) -> str:
        text = (SHIPPED_EXAMPLES / f"{self.example}.py").read_text(encoding="utf-8")
        for old, new in self.edits:
            assert text.count(old) == 1, f"{self.id}: {old!r} occurs {text.count(old)} times in {self.example}"
            text = text.replace(old, new)
        return text


LEFTOVER = "import subprocess, sys\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
# Started with an empty environment in a new session, then double-forked (on Windows: detached, in
# a new process group): nothing of the run's marker or process group is left on it; only a
# subreaper (Linux) or the job object (Windows) still has it.
ESCAPEE_TOKEN = f"escapee-{uuid.uuid4().hex[:12]}"  # this session's: another session's escapee is not ours
ESCAPEE = """import os, subprocess, sys
    if sys.platform == 'win32':
        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)  # ESCAPEE'], env={'SYSTEMROOT': os.environ['SYSTEMROOT']},
                         creationflags=subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP)
    else:
        subprocess.Popen([sys.executable, '-c', 'import os, time\\nif os.fork() == 0:\\n    time.sleep(120)  # ESCAPEE'],
                         env={}, start_new_session=True)
""".replace("ESCAPEE", ESCAPEE_TOKEN)
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
# How a program sends records of its own making: on the supervisor's socket where there is one
# (Linux: the kernel names the sender), else appended to a process's record file.
FORGE = """    import json, os, socket, sys
    hook = sys.modules['mp_evidence']
    def forge(pid, *records, into=None):  # into: whose record file (where there are files): the forger's own by default
        with hook._lock:  # the hook's own records (the queue's feeder thread's) keep their numbers
            lines = []
            for r in records:  # numbered as the hook numbers them: the forger's own go on from its last
                n = hook._n if pid == os.getpid() else forge.__dict__.setdefault(pid, 0)
                lines.append(json.dumps({'pid': pid, 't': hook._clock(), 'n': n, **r}).encode())
                if pid == os.getpid():
                    hook._n += 1
                else:
                    forge.__dict__[pid] += 1
            address = os.environ.get('HARNESS_RECORDS')
            if address:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                    for line in lines:
                        sock.sendto(line, '\\0' + address[1:])
            else:
                with open(os.path.join(os.environ['HARNESS_EVIDENCE'], f'{into or os.getpid()}.log'), 'ab') as f:
                    f.write(b''.join(line + b'\\n' for line in lines))
"""
# Main puts the message itself, then sends a put of it in its child's name: the message main gets
# looks as if the child had sent it.
FORGE_02 = (
    FORGE
    + """    q.put('Hello, world!')
    msg = f'{os.getpid()}.{next(hook._ids) - 1}'
    forge(p.pid, {'e': 'put', 'queue': '?', 'kind': 'Queue', 'msg': msg, 'value': "'Hello, world!'", 'text': 'Hello, world!'})
"""
)
# Main puts the message itself and sends the records of a child that never existed: its start, its
# put of that very message, its exit. Without the kernel's word on who sent what (tree
# containment: macOS) it passes, as the README says.
FORGE_CHILD_02 = (
    FORGE
    + """    q.put('Hello, world!')
    me, fake = os.getpid(), 4194301
    msg = f'{me}.{next(hook._ids) - 1}'
    how = __import__('multiprocessing').get_start_method()
    forge(me, {'e': 'started', 'child': fake, 'name': 'Process-1', 'method': how, 'daemon': False, 'target': '__main__.worker', 'pool_worker': False,
               'by': 'program'},
          {'e': 'returncode', 'child': fake, 'code': 0})
    forge(fake, {'e': 'start', 'ppid': me, 'argv': []},
          {'e': 'bootstrap', 'name': 'Process-1', 'identity': [1], 'how': how, 'ppid': me, 'target': '__main__.worker'},
          {'e': 'put', 'queue': '?', 'kind': 'Queue', 'msg': msg, 'value': "'Hello, world!'", 'text': 'Hello, world!'}, {'e': 'exit', 'code': 0},
          into=fake)
"""
)
# A Process whose "Popen" forks and runs the child through a function named spawn_main in a file
# named spawn.py: by name it looks like spawn_main's frame; only the code object tells them apart.
LOOK_ALIKE_02 = """import os, sys
from pathlib import Path
Path(__file__).with_name('spawn.py').write_text('def spawn_main(process_obj):\\n    return process_obj._bootstrap()\\n')
sys.path.insert(0, str(Path(__file__).parent))
import spawn

class LookAlike:
    method = 'spawn'
    def __init__(self, process_obj):
        self.returncode = None
        self.sentinel, done = os.pipe()  # readable once the child has exited
        self.pid = os.fork()
        if self.pid == 0:  # as popen_fork's child: flush the queue's feeder thread, then leave
            from multiprocessing import util
            code = spawn.spawn_main(process_obj)
            util._exit_function()
            os._exit(code)
        os.close(done)
    def poll(self, flag=os.WNOHANG):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, flag)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode
    def wait(self, timeout=None):
        return self.poll(0)
    def close(self):
        os.close(self.sentinel)

class Process(Process):
    @staticmethod
    def _Popen(process_obj):
        return LookAlike(process_obj)

def main():
"""
# A Process whose "Popen" forks, then runs the child as spawn does (spawn's own spawn_main, fed the
# pickled process through a pipe): the child's stack and the parent's record both say spawn; only
# the kernel knows it began as a fork, never an exec.
FORKED_AS_SPAWNED_02 = """import atexit, os, sys
from multiprocessing import reduction, spawn, util
from multiprocessing.context import set_spawning_popen

class Forked:
    method = 'spawn'
    def __init__(self, process_obj):
        self.returncode = None
        prep = spawn.get_preparation_data(process_obj._name)
        child_r, parent_w = os.pipe()
        self.sentinel, done = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # as popen_fork's child: its own exit functions (the queue's feeder is joined there)
            os.close(parent_w)
            code = 1
            try:
                atexit._clear()
                atexit.register(util._exit_function)
                STARTER
            except SystemExit as exc:
                code = exc.code or 0
            finally:
                atexit._run_exitfuncs()
                os._exit(code)
        os.close(child_r)
        os.close(done)
        set_spawning_popen(self)
        try:
            with open(parent_w, 'wb') as f:
                reduction.dump(prep, f)
                reduction.dump(process_obj, f)
        finally:
            set_spawning_popen(None)
    def duplicate_for_child(self, fd):
        return fd
    def DupFd(self, fd):  # the child inherits every descriptor: a fork
        from multiprocessing.popen_spawn_posix import _DupFd
        return _DupFd(fd)
    def poll(self, flag=os.WNOHANG):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, flag)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode
    def wait(self, timeout=None):
        return self.poll(0)
    def close(self):
        os.close(self.sentinel)

class Process(Process):
    @staticmethod
    def _Popen(process_obj):
        return Forked(process_obj)

def main():
"""
FORKED_AS_SERVED_02 = FORKED_AS_SPAWNED_02.replace("method = 'spawn'", "method = 'forkserver'").replace(
    "STARTER",
    "from multiprocessing import forkserver, resource_tracker\n"
    "                code = forkserver._serve_one(child_r, [os.dup(2), resource_tracker._resource_tracker._fd], [], {})",
)
FORKED_AS_SPAWNED_02 = FORKED_AS_SPAWNED_02.replace("STARTER", "sys.argv[1:] = ['--multiprocessing-fork']\n                spawn.spawn_main(child_r)")
# A grandchild forked through libc (so no at-fork hook sees it) that blanks its command line, the
# way an exiting process's reads, and outlives main.
HIDDEN_GRANDCHILD = """    import ctypes, os, time
    if ctypes.PyDLL(None).fork() == 0:  # PyDLL: the call keeps the GIL, which the child then holds
        with open('/proc/self/stat', 'rb') as f:
            fields = f.read().rsplit(b')', 1)[1].split()
        start, end = int(fields[45]), int(fields[46])
        ctypes.memset(start, 0, end - start)
        time.sleep(30)  # outlives main however loaded the machine (the harness kills it then)
        os._exit(0)
"""
MAIN_PRINTS_01 = """if __name__ == '__main__':
    for i, letter in zip(range(10), 'abcdefghij'):
        print(i)
        print(letter)
"""
# Shorter sleeps, for the copies broken in ways found before the check that the workers ran at once:
# the run takes a second instead of ten.
FAST_01 = (
    ("time.sleep(1)\n        print(i)", "time.sleep(0.05)\n        print(i)"),
    ("time.sleep(1)\n        print(letter)", "time.sleep(0.05)\n        print(letter)"),
)
# Bytes that reached stdout around sys.stdout: the kernel names their writer (Linux), or no recorded write explains them.
UNRECORDED_WRITE = (
    r"^stdout from byte \d+ \('[a-j]\\n.*was written by "
    r"(Process-\d \(pid \d+\) but not through its sys.stdout|no process of the run through its sys.stdout)$"
)
ONE_AFTER_ANOTHER_03 = ("        p.start()\n", "        p.start()\n        p.join()\n")  # no two workers at once: no lock needed

BROKEN = [
    # 01_processes: twenty tokens, each once, in order, from two workers running at once
    Copy(
        "01-digit-missing",
        "01_processes",
        (
            *FAST_01,
            ("range(10)", "range(9)"),
        ),
        r"never printed: 9$",
        "output",
    ),
    Copy(
        "01-letter-twice",
        "01_processes",
        (
            *FAST_01,
            ("'abcdefghij'", "'abcdefghijj'"),
        ),
        r"printed more than once: j \(2 times\)",
        "output",
    ),
    Copy(
        "01-digits-reversed",
        "01_processes",
        (
            *FAST_01,
            ("range(10)", "reversed(range(10))"),
        ),
        r"digits out of order: 9 8 7",
        "output",
    ),
    Copy(
        "01-letters-shuffled",
        "01_processes",
        (
            *FAST_01,
            ("'abcdefghij'", "'abcdefhgij'"),
        ),
        r"letters out of order",
        "output",
    ),
    Copy(
        "01-extra-output",
        "01_processes",
        (
            *FAST_01,
            ("    process2.join()\n", "    process2.join()\n    print('done')\n"),
        ),
        r"unexpected output",
        "output",
    ),
    Copy(
        "01-one-worker", "01_processes", (*FAST_01, ("    process2.start()\n", ""), ("    process2.join()\n", "")), r"never printed: a b c", "output"
    ),
    Copy(
        "01-one-after-the-other",
        "01_processes",
        (
            ("time.sleep(1)\n        print(i)", "time.sleep(0.1)\n        print(i)"),
            ("time.sleep(1)\n        print(letter)", "time.sleep(0.1)\n        print(letter)"),
            ("    process2.start()\n\n    process1.join()", "    process1.join()\n    process2.start()\n"),
        ),
        r"did not run at the same time: all digits came before the first of the letters",
        "output",
    ),
    Copy(
        "01-worker-raises",
        "01_processes",
        (
            *FAST_01,
            ("print(letter)", "print(letter)\n        if letter == 'c':\n            raise RuntimeError('boom')"),
        ),
        r"wrote to stderr under -X dev: RuntimeError: boom$",
        "stderr",
    ),
    Copy(
        "01-warning",
        "01_processes",
        (
            *FAST_01,
            ("import time\n", "import time\nimport warnings\nwarnings.warn('new in this release', DeprecationWarning)\n"),
        ),
        r"wrote to stderr under -X dev: .*DeprecationWarning: new in this release",
        "stderr",
    ),
    Copy(
        "01-hang",
        "01_processes",
        (("for i in range(10):", "for i in __import__('itertools').count():"),),
        r"timed out after 5 s",
        "timeout",
        timeout=HANG_TIMEOUT,
    ),
    Copy(
        "01-exit-status",
        "01_processes",
        (
            *FAST_01,
            ("    process2.join()\n", "    process2.join()\n    raise SystemExit(3)\n"),
        ),
        r"exit status 3: nothing on stderr",
        "exit_status",
    ),
    # ... the right text, by other means
    Copy(
        "01-main-prints",
        "01_processes",
        (("if __name__ == '__main__':\n", MAIN_PRINTS_01 + "if False:\n"),),
        r"^the digits printed by the main process \(pid \d+\), not by a worker process$",
        "evidence",
    ),
    Copy(
        "01-threads",
        "01_processes",
        (
            *FAST_01,
            ("from multiprocessing import Process\n", "from threading import Thread as Process\n"),
        ),
        r"^the digits printed by the main process \(pid \d+\), not by a worker process$",
        "evidence",
    ),
    Copy(
        "01-one-process-prints-both",
        "01_processes",
        (
            ("    process1 = Process(target=print_numbers)\n", "    process1 = Process(target=both)\n"),
            ("    process2.start()\n", ""),
            ("    process2.join()\n", ""),
            (
                "if __name__",
                "def both():\n    for i, letter in zip(range(10), 'abcdefghij'):\n        print(i)\n        print(letter)\n\nif __name__",
            ),
        ),
        r"^the digits and the letters were printed by the same process, Process-1 \(pid \d+\)$",
        "evidence",
    ),
    Copy(
        "01-os-fork",
        "01_processes",
        (
            *FAST_01,
            (
                "if __name__ == '__main__':\n",
                "if __name__ == '__main__':\n    import os\n    for job in (print_numbers, print_letters):\n"
                "        if os.fork() == 0:\n            job()\n            os._exit(0)\n    os.wait(); os.wait()\nif False:\n",
            ),
        ),
        r"^pid \d+ was not started by multiprocessing: forked by pid \d+ outside multiprocessing$",
        "start_method",
        needs="fork",
    ),
    Copy(
        "01-subprocess",
        "01_processes",
        (
            *FAST_01,
            (
                "if __name__ == '__main__':\n",
                "if __name__ == '__main__':\n    import subprocess, sys\n    jobs = [subprocess.Popen([sys.executable, "
                "'-c', f'import __main__; exec(open({__file__!r}).read().split(\"if __name__\")[0]); {job}()']) "
                "for job in ('print_numbers', 'print_letters')]\n    [job.wait() for job in jobs]\nif False:\n",
            ),
        ),
        r"^pid \d+ was not started by multiprocessing: started by pid \d+ as: .+ -c import __main__",
        "start_method",
    ),
    Copy(
        "01-empty-environment",
        "01_processes",
        (
            (
                "if __name__ == '__main__':\n",
                "if __name__ == '__main__':\n    import subprocess, sys\n    jobs = [subprocess.Popen([sys.executable, "
                "'-u', '-c', f'exec(open({__file__!r}).read().split(\"if __name__\")[0]); {job}()'], env={}) "
                "for job in ('print_numbers', 'print_letters')]\n    [job.wait() for job in jobs]\nif False:\n",
            ),
        ),
        # the kernel's account of processes (root on Linux), the kernel's account of writers, or neither
        r"^pid \d+ was not started by multiprocessing: started by pid \d+ as: .+ -u -c exec"
        r"|^stdout from byte 0 \(.*\) was written by (pid \d+ but not through its sys.stdout|no process of the run through its sys.stdout)$",
        "",
        posix_only=True,
    ),
    Copy(
        "01-os-write",
        "01_processes",
        (("        print(letter)", "        __import__('os').write(1, f'{letter}\\n'.encode())"),),
        UNRECORDED_WRITE,
        "evidence",
    ),
    Copy(
        "01-forced-fork",
        "01_processes",
        (
            *FAST_01,
            ("import time\n", "import time\nimport multiprocessing\nmultiprocessing.set_start_method('fork', force=True)\n"),
        ),
        r"^requested spawn, but Process-1 \(pid \d+\) was started by fork: the program chose fork itself \(set_start_method at 01_processes.py:4\)$",
        "start_method",
        method="spawn",
        needs="fork",
    ),
    # 02_queue: exactly one line, Hello, world!
    Copy("02-other-message", "02_queue", (("'Hello, world!'", "'Hello world!'"),), r"stdout is 'Hello world!\\n', expected exactly", "output"),
    Copy("02-no-newline", "02_queue", (("print(q.get())", "print(q.get(), end='')"),), r"stdout is 'Hello, world!', expected", "output"),
    Copy(
        "02-said-twice",
        "02_queue",
        (("    print(q.get())\n", "    print(q.get())\n    print('Hello, world!')\n"),),
        r"stdout is 'Hello, world!\\nHello",
        "output",
    ),
    Copy("02-nothing-sent", "02_queue", (("q.put('Hello, world!')", "pass"),), r"timed out after 5 s", "timeout", timeout=HANG_TIMEOUT),
    Copy("02-worker-crashes", "02_queue", (("q.put('Hello, world!')", "q.put(1 / 0)"),), r"timed out|wrote to stderr", timeout=HANG_TIMEOUT),
    Copy(
        "02-grandchild-left",
        "02_queue",
        (("    q.put('Hello, world!')\n", f"    {LEFTOVER}    q.put('Hello, world!')\n"),),
        r"\d process\(es\) still running after the main process exited: pid \d+: .*time.sleep\(120\)",
        "leftovers",
    ),
    Copy(
        "02-main-crashes",
        "02_queue",
        (("    p.join()\n", "    p.join()\n    {}['missing']\n"),),
        r"exit status 1: KeyError: 'missing'",
        "exit_status",
    ),
    # ... the right text, by other means
    Copy(
        "02-main-prints-without-queue",
        "02_queue",
        (("    print(q.get())\n", "    print('Hello, world!')\n"),),
        r"^the main process printed 'Hello, world!\\n' but got nothing from a multiprocessing queue before it$",
        "evidence",
    ),
    Copy(
        "02-child-prints",
        "02_queue",
        (("    q.put('Hello, world!')", "    print('Hello, world!')"), ("    print(q.get())\n", "")),
        r"^'Hello, world!' printed by Process-1 \(pid \d+\), not by the main process$",
        "evidence",
    ),
    Copy(
        "02-thread",
        "02_queue",
        (("from multiprocessing import Process, Queue", "from multiprocessing import Queue\nfrom threading import Thread as Process"),),
        r"^the main process got 'Hello, world!' from a queue, but no child process put it there \(put by: the main process \(pid \d+\)\)$",
        "evidence",
    ),
    Copy(
        "02-forced-fork",
        "02_queue",
        (("def main():\n", "def main():\n    import multiprocessing\n    multiprocessing.set_start_method('fork', force=True)\n"),),
        r"^requested forkserver, but Process-1 \(pid \d+\) was started by fork: the program chose fork itself \(set_start_method at 02_queue.py:8\)$",
        "start_method",
        method="forkserver",
        needs="fork",
    ),
    Copy(
        "02-child-fails-silently",
        "02_queue",
        (("    q.put('Hello, world!')\n", "    q.put('Hello, world!')\n    raise SystemExit(7)\n"),),
        r"^Process-1 \(pid \d+\) exited with status 7$",
        "child_exit",
    ),
    # 03_lock: five workers, one at a time, counter 0 -> 5
    Copy(
        "03-no-increment",
        "03_lock",
        (("current_value + 1", "current_value"),),
        r"^line 2: expected 'Process-Process-\d:1 modified counter: 0 -> 1', got 'Process-Process-\d:1 modified counter: 0 -> 0'$",
        "output",
    ),
    Copy(
        "03-six-workers",
        "03_lock",
        (("range(5)", "range(6)"),),
        # the sixth worker, wherever it came: one name too many, or a pair after the fifth
        r"^line \d+: expected '<worker> entered critical section', got 'Process-Process-6:1 entered"
        r"|^line 11: expected '', got 'Process-Process-\d:1 entered",
        "output",
    ),
    Copy("03-four-workers", "03_lock", (("range(5)", "range(4)"),), r"^line 9: expected '<worker> entered critical section', got ''$", "output"),
    Copy(
        "03-other-names",
        "03_lock",
        (
            ('f"Process-{Process().name}"', 'f"Process-{current_process().name}"'),
            ("import Process, Lock, Value", "import Process, Lock, Value, current_process"),
        ),
        r"^line 1: expected '<worker> entered critical section', got 'Process-Process-\d entered critical section'$",
        "output",
    ),
    Copy(
        "03-no-lock",
        "03_lock",
        (
            ("import random\n", "import random\nfrom multiprocessing import Barrier\n" + TOGETHER),
            ("    with lock:", "    with Together(lock):"),
            ("time.sleep(0.1)  #", "time.sleep(1)  #"),
            ("process_lock = Lock()", "process_lock = Barrier(5)"),
        ),
        r"^line 2: expected 'Process-Process-\d:1 modified counter: 0 -> 1', got 'Process-Process-\d:1 entered critical section'$",
        "output",
    ),
    Copy(
        "03-no-blank-line",
        "03_lock",
        ((r'print(f"\nFinal', 'print(f"Final'),),
        r"^line 11: expected '', got 'Final counter value: 5 \(expected value: 5\)'$",
        "output",
    ),
    Copy(
        "03-final-claim",
        "03_lock",
        (("(expected value: 5)", "(expected: 5)"),),
        r"^line 12: expected 'Final counter value: 5 \(expected value: 5\)', got 'Final counter value: 5 \(expected: 5\)'$",
        "output",
    ),
    Copy(
        "03-hang-holding-lock",
        "03_lock",
        (("time.sleep(0.1)  #", "time.sleep(3600)  #"),),
        r"timed out after 5 s",
        "timeout",
        method="spawn",
        timeout=HANG_TIMEOUT,
    ),
    Copy(
        "03-semaphore-leaked",
        "03_lock",
        (('(expected value: 5)")', '(expected value: 5)", flush=True)\n    __import__("os")._exit(0)'),),
        r"wrote to stderr under -X dev: .*leaked semaphore",
        "stderr",
        method="spawn",
        posix_only=True,
    ),
    # ... the right text, by other means: the workers run one after another, so the counter and the
    # order come out right however the lock is used
    Copy(
        "03-no-lock-in-turn",
        "03_lock",
        (ONE_AFTER_ANOTHER_03, ("    with lock:", "    if True:")),
        r"^line 1 was printed by Process-1 \(pid \d+\) while it held no multiprocessing lock$",
        "evidence",
    ),
    Copy(
        "03-own-lock-each",
        "03_lock",
        (ONE_AFTER_ANOTHER_03, ("    with lock:", "    with type(lock)(ctx=__import__('multiprocessing').get_context()):")),
        r"^no multiprocessing lock was held by every worker as it printed: line 1 under ",
        "evidence",
    ),
    Copy(
        "03-released-before-modified",
        "03_lock",
        (
            ONE_AFTER_ANOTHER_03,
            (
                '        print(f"{process_name} entered critical section")\n',
                '        print(f"{process_name} entered critical section")\n    if True:\n',
            ),
        ),
        r"^line 2 was printed by Process-1 \(pid \d+\) while it held no multiprocessing lock$",
        "evidence",
    ),
    Copy(
        "03-main-prints",
        "03_lock",
        (
            ('        print(f"{process_name} entered critical section")\n', ""),
            ('        print(f"{process_name} modified counter: {current_value} -> {shared_counter.value}")\n', ""),
            (
                "        p.start()\n",
                '        p.start()\n        p.join()\n        print(f"Process-{p.name}:1 entered critical section")\n'
                '        print(f"Process-{p.name}:1 modified counter: {counter.value - 1} -> {counter.value}")\n',
            ),
        ),
        r"^line 1 printed by the main process \(pid \d+\), not by a worker process$",
        "evidence",
    ),
    Copy(
        "03-names-swapped",
        "03_lock",
        (
            ('f"Process-{Process().name}"', 'f"Process-Process-{6 - current_process()._identity[0]}:1"'),
            ("import Process, Lock, Value", "import Process, Lock, Value, current_process"),
        ),
        r"^line \d+ shows Process-Process-(\d):1 but was printed by Process-(?!\1)\d \(pid \d+\)$",
        "evidence",
    ),
    # 04_pool: exactly [1, 4, 9, 16, 25]
    Copy(
        "02-floods-stdout",
        "02_queue",
        (("    print(q.get())\n", "    for _ in range(5000):\n        print('x' * 1023)\n    print(q.get())\n"),),
        r"^printed more than 4 MiB to stdout: the run was stopped there$",
        "output_limit",
    ),
    Copy("04-short-input", "04_pool", (("[1, 2, 3, 4, 5]", "[1, 2, 3, 4]"),), r"stdout is '\[1, 4, 9, 16\]\\n'", "output"),
    Copy("04-wrong-function", "04_pool", (("return x * x", "return x + x"),), r"stdout is '\[2, 4, 6, 8, 10\]\\n'", "output"),
    Copy(
        "04-pool-not-closed",
        "04_pool",
        (("    with Pool(5) as p:\n        print", "    p = Pool(5)\n    if True:\n        print"),),
        r"wrote to stderr under -X dev: .*ResourceWarning: unclosed running multiprocessing pool",
        "stderr",
        cpython_only=True,
    ),
    Copy("04-worker-dies", "04_pool", (("return x * x", "__import__('os')._exit(1)"),), r"timed out after 5 s", "timeout", timeout=HANG_TIMEOUT),
    # ... the right text, by other means
    Copy(
        "04-thread-pool",
        "04_pool",
        (("from multiprocessing import Pool", "from multiprocessing.pool import ThreadPool as Pool"),),
        r"^square\(\d,\) ran in the main process \(pid \d+\), not in a pool worker process$",
        "evidence",
    ),
    Copy(
        "04-computed-in-main",
        "04_pool",
        (("print(p.map(square, [1, 2, 3, 4, 5]))", "print(list(map(square, [1, 2, 3, 4, 5])))"),),
        r"^no pool worker ran square: the results were not computed by a multiprocessing Pool$",
        "evidence",
    ),
    Copy(
        "04-process-pool-executor",
        "04_pool",
        (
            ("from multiprocessing import Pool", "from concurrent.futures import ProcessPoolExecutor as Pool"),
            ("print(p.map(square, [1, 2, 3, 4, 5]))", "print(list(p.map(square, [1, 2, 3, 4, 5])))"),
        ),
        r"^no pool worker ran square",
        "evidence",
        method="spawn",
    ),
    Copy(
        "04-forced-fork",
        "04_pool",
        (("Pool(5)", "__import__('multiprocessing').get_context('fork').Pool(5)"),),
        r"^requested spawn, but ForkPoolWorker-\d \(pid \d+\) was started by fork: the program chose fork itself \(get_context at 04_pool.py:\d+\)$",
        "start_method",
        method="spawn",
        needs="fork",
    ),
    # --- the mechanism, not its traces: each copy prints the article's text and leaves the traces
    # a weaker claim looked for, while the mechanism did not happen (issue: presence, not exclusion;
    # equality, not provenance; bytes by content, not destination; exit excuses; trust).
    Copy(
        "03-lock-released-by-main",
        "03_lock",
        (
            ("        p.start()\n", "        p.start()\n        p.join()\n        process_lock.release()\n"),
            ("    with lock:", "    lock.acquire()\n    if True:"),
        ),
        r"^the main process \(pid \d+\) released Lock [\d.]+, which it did not hold: a lock anyone may release excludes nobody$",
        "evidence",
    ),
    Copy(
        "03-counter-read-outside-the-lock",
        "03_lock",
        (
            ONE_AFTER_ANOTHER_03,
            ("    with lock:", "    current_value = shared_counter.value\n    with lock:"),
            ("        current_value = shared_counter.value\n", ""),
        ),
        # read inside the shared Value's own lock only, written inside the article's lock: not one hold for both
        r"^Process-1 \(pid \d+\) wrote 1 to the shared value without reading it in the same hold: not an increment under the lock$",
        "evidence",
    ),
    Copy(
        "02-main-prints-its-own-equal-message",
        "02_queue",
        (("    print(q.get())\n", "    mine = Queue()\n    mine.put('Hello, world!')\n    print(mine.get())\n    q.get()\n"),),
        r"^the main process got 'Hello, world!' from a queue, but no child process put it there \(put by: the main process \(pid \d+\)\)$",
        "evidence",
    ),
    Copy(
        "04-squares-computed-by-main",
        "04_pool",
        (("return x * x", "return x"), ("[1, 2, 3, 4, 5]", "[x * x for x in [1, 2, 3, 4, 5]]")),
        r"^no pool worker computed square\(2,\): the workers ran square on .*, not on the program's inputs \[1, 2, 3, 4, 5\]$",
        "evidence",
    ),
    Copy(
        "01-letters-to-devnull-and-around-the-hook",
        "01_processes",
        (
            (
                "    for letter in 'abcdefghij':\n",
                "    import os\n    out = os.dup(1)\n    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)\n    for letter in 'abcdefghij':\n",
            ),
            ("        print(letter)", "        print(letter)\n        os.write(out, f'{letter}\\n'.encode())"),
        ),
        UNRECORDED_WRITE,
        "evidence",
        posix_only=True,
    ),
    Copy(
        "02-child-terminated",
        "02_queue",
        (
            ("    q.put('Hello, world!')\n", "    q.put('Hello, world!')\n    __import__('time').sleep(60)\n"),
            ("    p.join()\n", "    p.terminate()\n    p.join()\n"),
        ),
        r"^Process-1 \(pid \d+\) was killed by signal 15 \(terminated by the program\)$",
        "child_exit",
        posix_only=True,
    ),
    Copy(
        "02-a-child-that-never-ran",
        "02_queue",
        (("    p = Process(target=worker, args=(q,))\n    p.start()\n", FORGE_CHILD_02), ("    p.join()\n", "")),
        r"^pid \d+ sent a record \(\w+\) in the name of pid 4194301: a process's records are its own$",
        "records",
        needs_facts=True,
    ),
    Copy(
        "01-main-exits-before-its-workers",
        "01_processes",
        # The article's 1 s sleeps: the workers must still be running when main's exit is seen, even on a loaded machine.
        (("    process2.start()\n", "    process2.start()\n    __import__('os')._exit(0)\n"),),
        r"^[12] process\(es\) still running after the main process exited: pid \d+: ",
        "leftovers",
    ),
    Copy(
        "02-look-alike-spawn-frame",
        "02_queue",
        (("def main():\n", LOOK_ALIKE_02),),
        r"^requested spawn, but Process-1 \(pid \d+\) was started by unknown \(spawn_main <- .*\) \(as it saw it; its parent said spawn\)$",
        "start_method",
        method="spawn",
        needs="fork",
        posix_only=True,
    ),
    Copy(
        "02-record-in-a-childs-name",
        "02_queue",
        (
            ("    q.put('Hello, world!')\n", "    pass\n"),
            ("    print(q.get())\n", FORGE_02 + "    print(q.get())\n"),
        ),
        r"^pid \d+ sent a record \(put\) in the name of pid \d+: a process's records are its own$"
        r"|^\d+\.log holds records of pid \d+: a process's records name it$",
        "records",
    ),
    # --- the whole run as a specification, proven by intervention (issue: claims as specifications):
    # each copy prints the article's text and touches nothing of the harness; what it lacks is the
    # mechanism, which the history of the run or the run's twin (the mechanism perturbed) shows.
    Copy(
        "03-read-and-write-in-two-holds",  # the lost-update race the Lock example exists to show
        "03_lock",
        (
            ONE_AFTER_ANOTHER_03,
            ("    with lock:\n        print(", "    with lock:\n        current_value = shared_counter.value\n    with lock:\n        print("),
            ("        current_value = shared_counter.value\n        time.sleep", "        time.sleep"),
        ),
        r"^Process-\d \(pid \d+\) wrote 1 to the shared value without reading it in the same hold: not an increment under the lock$",
        "evidence",
    ),
    Copy(
        "03-main-increments",  # the workers only read and print; main makes every increment, outside any lock
        "03_lock",
        (
            ("        p.start()\n", "        p.start()\n        p.join()\n        counter.value += 1\n"),
            ("        shared_counter.value = current_value + 1\n", ""),
            ("{current_value} -> {shared_counter.value}", "{current_value} -> {current_value + 1}"),
        ),
        r"^the main process \(pid \d+\) wrote 1 to the shared value: only the workers' increments may change it$",
        "evidence",
    ),
    Copy(
        "03-semaphore-as-the-lock",  # nothing is excluded; the holds just happen not to overlap
        "03_lock",
        (
            ONE_AFTER_ANOTHER_03,
            ("import Process, Lock, Value", "import Process, Semaphore, Value"),
            ("process_lock = Lock()", "process_lock = Semaphore(5)"),
        ),
        r"^Semaphore [\d.]+, which every worker held as it printed, admits 5 holders at once: it is not a lock, it excluded nobody$",
        "evidence",
    ),
    Copy(
        # A wait with a timeout whose answer is ignored: with holds as short as these it always gets
        # the lock, until the twin stretches every hold past the timeout (the workers meet at a
        # barrier first, so they wait for each other whatever the machine's speed).
        "03-acquire-with-a-timeout-ignored",
        "03_lock",
        (
            ("import Process, Lock, Value", "import Process, Lock, Value, Barrier"),
            ("def worker(lock, shared_counter):", "def worker(lock, shared_counter, barrier):"),
            ("    time.sleep(random.uniform(0.1, 0.5))\n", "    barrier.wait()\n"),
            ("    with lock:\n", "    got = lock.acquire(timeout=0.05)\n    try:\n"),
            ("        time.sleep(0.1)  # Simulate time-consuming operation (amplifying race condition)\n", ""),
            (
                '        print(f"{process_name} modified counter: {current_value} -> {shared_counter.value}")\n',
                '        print(f"{process_name} modified counter: {current_value} -> {shared_counter.value}")\n'
                "    finally:\n        if got:\n            lock.release()\n",
            ),
            ("    processes = []\n", "    processes = []\n    barrier = Barrier(5)\n"),
            ("args=(process_lock, counter)", "args=(process_lock, counter, barrier)"),
        ),
        # Whether a wait timed out in the plain run or only in the stretched one is the machine's
        # doing: any check that says the lock did not guard the section is the right reason.
        r"^(line \d+(: expected '.*', got '.*'| was printed by .* while it held no multiprocessing lock)"
        r"|no multiprocessing lock was held by every worker as it printed: .*"
        r"|.* acquired the lock while .* held it: the lock excluded nobody"
        r"|.* the shared value \(\d+\) outside any hold of a lock"
        r"|no one lock was held around every worker's access to the shared value: .*)$",
    ),
    Copy(
        "02-line-begun-before-the-get",  # main prints the text before the queue exists, and only the line's end after the get
        "02_queue",
        (
            ("    q = Queue()\n", "    print('Hello, world!', end='', flush=True)\n    q = Queue()\n"),
            ("    print(q.get())\n", "    q.get()\n    print()\n"),
        ),
        r"^the main process began printing 'Hello, world!\\n' before it got that message from the queue$",
        "evidence",
    ),
    Copy(
        "02-main-prints-its-own-copy",  # it gets the message, and prints an equal text of its own
        "02_queue",
        (("    print(q.get())\n", "    q.get()\n    print('Hello, world!')\n"),),
        r"^with alter: the main process printed 'Hello, world!\\n', not the message it got "
        r"\('Hello, world!~[0-9a-f]+', altered in transit from 'Hello, world!'\)",
        "evidence",
    ),
    Copy(
        "02-message-checked-then-own-copy-printed",
        "02_queue",
        (("    print(q.get())\n", "    message = q.get()\n    print('Hello, world!' if message.startswith('Hello') else message)\n"),),
        r"^with alter: the main process printed 'Hello, world!\\n', not the message it got",
        "evidence",
    ),
    Copy(
        "02-message-from-its-parts",  # the child sends part of the text; main adds the rest
        "02_queue",
        (("q.put('Hello, world!')", "q.put('Hello')"), ("    print(q.get())\n", "    print(q.get() + ', world!')\n")),
        r"^the main process printed 'Hello, world!\\n' but got only 'Hello' from a multiprocessing queue before it$",
        "evidence",
    ),
    Copy(
        "04-main-prints-its-own-squares-beside-the-pool",  # the pool computes them; main prints what it computed itself
        "04_pool",
        (
            (
                "        print(p.map(square, [1, 2, 3, 4, 5]))",
                "        p.map(square, [1, 2, 3, 4, 5])\n        print([x * x for x in [1, 2, 3, 4, 5]])",
            ),
        ),
        r"^with alter: the main process printed 1 for square\(1,\), but the pool delivered \d+ \(from \w+PoolWorker-\d \(pid \d+\)\)$",
        "evidence",
    ),
    Copy(
        "04-printed-before-the-pool-delivered",
        "04_pool",
        (("        print(p.map(square, [1, 2, 3, 4, 5]))", "        print([1, 4, 9, 16, 25])\n        p.map(square, [1, 2, 3, 4, 5])"),),
        r"^the main process began printing the results before the pool delivered square\(1,\)$",
        "evidence",
    ),
    # --- facts the program cannot write (issue: testimony the program cannot write)
    Copy(
        "02-forked-child-that-calls-itself-spawned",  # forked, then runs spawn's own spawn_main: its stack says spawn
        "02_queue",
        (("def main():\n", FORKED_AS_SPAWNED_02),),
        r"^requested spawn, but Process-1 \(pid \d+\) began fork \(the kernel's account\)$",
        "start_method",
        method="spawn",
        needs="fork",
        posix_only=True,
        needs_facts=True,
    ),
    Copy(
        "02-no-fork-server",  # forked by main, then runs the fork server's own _serve_one: its stack says forkserver
        "02_queue",
        (("def main():\n", FORKED_AS_SERVED_02),),
        r"^requested forkserver, but Process-1 \(pid \d+\) began fork \(the kernel's account\)$",
        "start_method",
        method="forkserver",
        needs="forkserver",
        posix_only=True,
        needs_facts=True,
    ),
    Copy(
        "02-grandchild-without-a-command-line",  # forked through libc (no at-fork hook), blanks its command line, outlives main
        "02_queue",
        (("    q.put('Hello, world!')\n", f"{HIDDEN_GRANDCHILD}    q.put('Hello, world!')\n"),),
        r"^1 process\(es\) still running after the main process exited: pid \d+: ",
        "leftovers",
        linux_only=True,
    ),
    Copy(
        "02-takes-back-its-output",  # prints a line, then truncates stdout and writes the article's text
        "02_queue",
        (
            (
                "    print(q.get())\n",
                "    print('debug: waiting', flush=True)\n    import os\n"
                "    try:\n        os.ftruncate(1, 0); os.lseek(1, 0, 0)\n    except OSError:\n        pass\n    print(q.get())\n",
            ),
        ),
        r"^stdout is 'debug: waiting\\nHello, world!\\n', expected exactly 'Hello, world!\\n'$",
        "output",
        linux_only=True,
    ),
    Copy(
        "02-drops-its-own-write-records",  # patches the hook in its own memory: its writes go unrecorded
        "02_queue",
        (
            (
                "    print(q.get())\n",
                "    import sys\n    hook = sys.modules['mp_evidence']\n    original = hook.record\n"
                "    hook.record = lambda event, **f: None if event == 'write' else original(event, **f)\n    print(q.get())\n",
            ),
        ),
        r"^stdout from byte 0 \('Hello, world!\\n'\) was written by "
        r"(the main process \(pid \d+\) but not through its sys.stdout|no process of the run through its sys.stdout)$",
        "evidence",
    ),
]

# Each copy changes what the claims do not care about; variations that do not touch each other
# share a copy (each run under three start methods costs a few interpreter start-ups).
EQUIVALENT = [
    Copy(
        "01-shorter-sleeps-other-comments-daemon-workers",
        "01_processes",
        (
            ("time.sleep(1)\n        print(i)", "time.sleep(0.5)\n        print(i)"),
            ("time.sleep(1)\n        print(letter)", "time.sleep(0.5)\n        print(letter)"),
            ("#  join method is used to wait for the process to finish", "# wait for both workers"),
            ("Process(target=print_numbers)", "Process(target=print_numbers, daemon=True)"),
        ),
    ),
    Copy(
        "01-process-subclass",
        "01_processes",
        (
            (
                "if __name__",
                "class Worker(Process):\n    def __init__(self, job):\n        super().__init__()\n        self.job = job\n\n"
                "    def run(self):\n        self.job()\n\nif __name__",
            ),
            ("Process(target=print_numbers)", "Worker(print_numbers)"),
            ("Process(target=print_letters)", "Worker(print_letters)"),
        ),
    ),
    Copy(
        "02-keyword-args-get-with-timeout",
        "02_queue",
        (("Process(target=worker, args=(q,))", "Process(target=worker, kwargs={'q': q})"), ("print(q.get())", "print(q.get(timeout=60))")),
    ),
    Copy("02-simple-queue", "02_queue", (("import Process, Queue", "import Process, SimpleQueue as Queue"),)),
    Copy("02-joinable-queue", "02_queue", (("import Process, Queue", "import Process, JoinableQueue as Queue"),)),
    Copy(
        "03-other-sleeps-raw-value-acquire-and-release",
        "03_lock",
        (
            ("random.uniform(0.1, 0.5)", "random.uniform(0, 0.05)"),
            ("time.sleep(0.1)  #", "time.sleep(0.01)  #"),
            ("Value('i', 0)", "Value('i', 0, lock=False)"),
            ("    with lock:\n", "    lock.acquire()\n    try:\n"),
            ("        # ---- Critical section ends ----\n", "        # ---- Critical section ends ----\n    finally:\n        lock.release()\n"),
        ),
    ),
    Copy("03-rlock", "03_lock", (("import Process, Lock, Value", "import Process, RLock as Lock, Value"),)),
    Copy("03-values-own-lock", "03_lock", (("    with lock:", "    with shared_counter.get_lock():"),)),
    Copy(
        "04-smaller-pool-imap",
        "04_pool",
        (("Pool(5)", "Pool(2)"), ("print(p.map(square, [1, 2, 3, 4, 5]))", "print(list(p.imap(square, [1, 2, 3, 4, 5])))")),
    ),
    Copy(
        "04-map-async-chunks-of-one",
        "04_pool",
        (("print(p.map(square, [1, 2, 3, 4, 5]))", "print(p.map_async(square, [1, 2, 3, 4, 5], chunksize=1).get())"),),
    ),
    Copy(
        "04-apply-async-per-input",
        "04_pool",
        (("print(p.map(square, [1, 2, 3, 4, 5]))", "print([p.apply_async(square, (x,)).get() for x in [1, 2, 3, 4, 5]])"),),
    ),
    Copy("04-one-task-per-worker", "04_pool", (("Pool(5)", "Pool(5, maxtasksperchild=1)"),), forks_from_a_thread=True),
    Copy("04-starmap", "04_pool", (("p.map(square, [1, 2, 3, 4, 5])", "p.starmap(square, [(x,) for x in [1, 2, 3, 4, 5]])"),)),
    Copy("04-imap-unordered-sorted", "04_pool", (("p.map(square, [1, 2, 3, 4, 5])", "sorted(p.imap_unordered(square, [1, 2, 3, 4, 5]))"),)),
    Copy(
        "02-own-newline-written-as-is-process-subclass-close-join-thread",
        "02_queue",
        (
            (
                "def worker(q):\n    q.put('Hello, world!')\n",
                "class Worker(Process):\n    def __init__(self, q):\n        super().__init__()\n"
                "        self.q = q\n\n    def run(self):\n        self.q.put('Hello, world!\\n')\n"
                "        self.q.close()\n        self.q.join_thread()\n",
            ),
            ("    p = Process(target=worker, args=(q,))\n", "    p = Worker(q)\n"),
            ("    print(q.get())\n", "    import sys\n    sys.stdout.write(q.get())\n    q.close()\n    q.join_thread()\n"),
        ),
    ),
    Copy(
        "03-barrier-before-the-lock-increment-through-get-obj",
        "03_lock",
        (
            ("def worker(lock, shared_counter):", "def worker(lock, shared_counter, barrier):"),
            ("    with lock:\n", "    barrier.wait()\n    with lock:\n"),
            ("shared_counter.value = current_value + 1", "shared_counter.get_obj().value = current_value + 1"),
            ("import Process, Lock, Value", "import Process, Lock, Value, Barrier"),
            ("    processes = []\n", "    processes = []\n    barrier = Barrier(5)\n"),
            ("args=(process_lock, counter)", "args=(process_lock, counter, barrier)"),
        ),
    ),
    Copy(
        "03-bounded-semaphore-of-one",
        "03_lock",
        (("import Process, Lock, Value", "import Process, BoundedSemaphore, Value"), ("process_lock = Lock()", "process_lock = BoundedSemaphore(1)")),
    ),
    Copy(
        "04-imap-with-a-chunk-size",
        "04_pool",
        (("print(p.map(square, [1, 2, 3, 4, 5]))", "print(list(p.imap(square, [1, 2, 3, 4, 5], chunksize=2)))"),),
    ),
    Copy(
        "04-map-async-with-a-callback",
        "04_pool",
        (
            (
                "print(p.map(square, [1, 2, 3, 4, 5]))",
                "results = []\n        p.map_async(square, [1, 2, 3, 4, 5], callback=results.extend).wait()\n        print(results)",
            ),
        ),
    ),
]

# The main process prints at once, then its workers print forever: killed at its timeout, the run
# still shows what it printed (ten seconds leave a loaded machine ample time to print one line).
PRINTS_THEN_HANGS = Copy(
    "01-prints-then-hangs",
    "01_processes",
    (
        ("    process1.start()\n", "    print('started')\n    process1.start()\n"),
        ("for i in range(10):", "for i in __import__('itertools').count():"),
    ),
    r"timed out after 30 s",
    "timeout",
    timeout=30.0,  # room for 'started' to come first on a loaded machine (its run is at nice 15): it then hangs
)
CONTAINED = Copy(
    "02-escapee-left",
    "02_queue",
    (("    q.put('Hello, world!')\n", f"    {ESCAPEE}    q.put('Hello, world!')\n"),),
    rf"\d process\(es\) still running after the main process exited: pid \d+: .*# {ESCAPEE_TOKEN}",
    "leftovers",
)


def params(config, copies, methods=None) -> list:
    found = []
    for copy in copies:
        for method in methods or [copy.method]:
            spec, source = SHIPPED[copy.example], copy.source()
            # A copy that hangs until its timeout, or keeps a slow example's sleeps, mostly sleeps:
            # started with the session's slow runs, its wait overlaps theirs (at the lowest priority).
            sleeps = copy.timeout is not None or (spec.slow and "time.sleep(1)" in source)
            run = make_run(config, spec, method, source=source, nice=COPIES_NICE, first=sleeps, **({"timeout": copy.timeout} if copy.timeout else {}))
            why = not_applicable(config, spec, method) or (copy.needs and not_applicable(config, spec, copy.needs))
            marks = [pytest.mark.skip(reason=why)] if why else []
            if copy.posix_only and PLATFORM == "win32":
                marks.append(pytest.mark.skip(reason="needs the resource tracker or an empty environment: not on Windows"))
            if copy.linux_only and (sys.platform != "linux" or CONTAINMENT == "tree"):
                marks.append(pytest.mark.skip(reason="needs /proc and the supervisor's sockets (Linux)"))
            if copy.cpython_only and not interpreter_info(run.python)["name"].startswith("CPython"):
                marks.append(pytest.mark.skip(reason="PyPy has no reference counting: an unclosed pool gives no ResourceWarning at exit"))
            found.append(pytest.param(run, copy, id=copy.id if methods is None else f"{copy.id}-{method}", marks=marks))
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    copies = {
        "test_broken_copy_is_rejected_for_the_right_reason": (BROKEN, None),
        # every start method; `default` is one of them under another name (the matrix shows which)
        "test_equivalent_copy_passes": (EQUIVALENT, [m for m in START_METHODS if m != "default"]),
        "test_timeout_report_keeps_the_output_so_far": ([PRINTS_THEN_HANGS], None),
        "test_a_process_that_hides_is_still_found_and_killed": ([CONTAINED], None),
    }.get(metafunc.function.__name__)
    if copies:
        metafunc.parametrize(("run", "copy"), params(metafunc.config, *copies))


def found_reason(judged, copy) -> str:
    """The reason to compare with the copy's: a race that a loaded machine hid in the plain run shows
    in its twin (the same run with the mechanism perturbed) for the same reason, so the twin's "with
    ...: " prefix is dropped unless the copy's own reason names the twin."""
    if judged.intervened and not copy.diagnosis.startswith(("^with ", "^(with ")):
        return re.sub(r"^with [\w+]+: ", "", judged.diagnosis)
    return judged.diagnosis


def test_broken_copy_is_rejected_for_the_right_reason(outcome, judged, copy, request):
    request.node.user_properties.append(("verdict", f"{judged.claim}: {judged.diagnosis}"))  # the JUnit file shows it
    if copy.needs_facts and not outcome.evidence.facts.attested:
        assert judged.status == "passed", f"{copy.id}: the README says this forgery passes without the kernel's word on senders: {judged.diagnosis}"
        return
    assert judged.status != "passed", f"{copy.id} passed every check\n{evidence(outcome)}"
    assert re.search(copy.diagnosis, found_reason(judged, copy)), f"{copy.id}: wrong diagnosis: {judged.diagnosis}\n{evidence(outcome)}"
    if copy.claim:
        assert judged.claim == copy.claim, f"{copy.id}: broke {judged.claim}, expected {copy.claim}: {judged.diagnosis}"
    assert not members(outcome.marker), f"{copy.id}: processes of the run survived it"


def forked_from_a_thread(outcome) -> bool:
    """Whether main started a process from a thread of its own (a pool's worker handler replacing a
    worker that ended): whether it does before the pool is closed is the machine's doing."""
    ev = outcome.evidence
    return any("tid" in r for r in ev.of("started") if r["pid"] == ev.main_pid)


def test_equivalent_copy_passes(outcome, judged, copy):
    threaded_fork = copy.forks_from_a_thread and outcome.method == "fork" and forked_from_a_thread(outcome)
    if threaded_fork and THREADED_FORK_WARNS.match(outcome.interpreter):
        assert (judged.claim, bool(re.search(r"DeprecationWarning: This process \(pid=\d+\) is multi-threaded", judged.diagnosis))) == (
            "stderr",
            True,
        )
        return
    assert judged.status == "passed", f"{headline(outcome)}: {judged.diagnosis}\n{evidence(outcome)}"


THREADED_FORK_WARNS = re.compile(r"CPython 3\.(1[2-9]|[2-9]\d)\.")


def test_timeout_report_keeps_the_output_so_far(outcome, copy):
    assert outcome.timed_out
    assert outcome.stdout.startswith("started\n"), evidence(outcome)


def escapees() -> list[psutil.Process]:
    return live(in_command_line(ESCAPEE_TOKEN))


# Only the tree misses it: the subreaper (Linux) and the job object (Windows) hold every process.
@pytest.mark.xfail(
    CONTAINMENT == "tree",
    strict=True,
    reason="without a subreaper (macOS) an orphan with an empty environment is out of the run's tree and carries no marker: the README says so",
)
def test_a_process_that_hides_is_still_found_and_killed(outcome, judged, copy):
    try:
        assert (judged.claim, bool(re.search(copy.diagnosis, judged.diagnosis))) == ("leftovers", True), judged.diagnosis
        assert not escapees(), "the escapee survived the run"
    finally:
        for proc in escapees():  # the documented gap must not leave it running either
            proc.kill()
