"""The words of issue 24 on real runs: each new claim rejects copies broken as it forbids, for that
claim, with a one-line diagnosis, and holds of programs that show it (and of equivalent copies)
under every start method.

- tests/words/: programs written for these tests, each with its claims file, for what no corpus
  program shows (an Event's order, a JoinableQueue joined, cpu_count() workers, a child the program
  terminates, stdin and the interpreter's options, pool workers' names), and equivalent copies of
  them and of corpus programs;
- tutorials/broken/: copies of the corpus's programs that print the same text without the mechanism
  their tutorial teaches, each held to its original's claims file; and copies of these tests'
  programs broken as one word forbids.
Each copy runs like a cell of the matrix (with its twin, when its claims rest on an intervention),
launched with the session's runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import examples
from harness.cells import START_METHODS
from harness.plugin import ROOT, make_run, not_applicable
from harness.verdict import evidence, headline
from sessions import COPIES_NICE, members

WORDS = ROOT / "tests" / "words"
CORPUS = ROOT / "tutorials"
BROKEN = CORPUS / "broken"
SPECS = {**examples.discover(WORDS), **examples.discover(CORPUS)}


@dataclass(frozen=True)
class Copy:
    id: str
    original: str  # the program whose claims file the copy is held to (tests/words/ or tutorials/)
    edits: tuple[tuple[str, str], ...] = ()  # (old, new): `old` must occur exactly once
    diagnosis: str = ""  # regex the one-line verdict must match; empty for an equivalent copy
    claim: str = ""  # the claim the verdict must name
    method: str = "default"
    written: bool = False  # the copy is tutorials/broken/ID.py, written out in full

    def source(self) -> str:
        if self.written:
            return (BROKEN / f"{self.id}.py").read_text(encoding="utf-8")
        text = SPECS[self.original].program.read_text(encoding="utf-8")
        for old, new in self.edits:
            assert text.count(old) == 1, f"{self.id}: {old!r} occurs {text.count(old)} times in {self.original}"
            text = text.replace(old, new)
        return text


def corpus(name: str, claim: str, diagnosis: str, method: str = "default") -> Copy:
    return Copy(name, name.split("__")[0], diagnosis=diagnosis, claim=claim, method=method, written=True)


# Every copy of tutorials/broken/, with the claim it breaks (its README's table says why each).
# Those of docs_lock run under fork: under spawn and forkserver the original fails itself, and its
# claims file states that failure only (the children that would print are the ones that fail).
BROKEN_CORPUS = [
    corpus("docs_intro_pool__main_computes", "evidence", r"^no pool worker computed f\(1,\)"),
    corpus("docs_intro_pool__thread_pool", "evidence", r"^f\(\d,\) ran in the main process \(pid \d+\), not in a pool worker process$"),
    corpus(
        "docs_process_hello__main_prints",
        "evidence",
        r"^'hello bob' printed by the main process \(pid \d+\), not by a child process the program started$",
    ),
    corpus("docs_freeze_support__main_prints", "evidence", r"^'hello world!' printed by the main process \(pid \d+\), not by a child process"),
    corpus("docs_queue__main_puts", "evidence", r"no child process put it there \(put by: the main process \(pid \d+\)\)$"),
    corpus("docs_queue__child_prints", "evidence", r"printed by Process-1 \(pid \d+\), not by the main process$"),
    corpus("docs_lock__no_lock", "evidence", r"^line 1 was printed by Process-\d+ \(pid \d+\) while it held no multiprocessing lock$", "fork"),
    corpus("docs_lock__own_locks", "evidence", r"^no multiprocessing lock was held by every worker as it printed", "fork"),
    corpus("docs_lock__main_prints", "evidence", r"^'hello world 0' printed by the main process \(pid \d+\), not by a child process", "fork"),
    corpus("docs_set_start_method__fork", "", r"the claims say the program chooses spawn itself, but it chose fork|exit status 1"),
    corpus("docs_get_context__no_context", "start_method", r"^the claims say the program chooses spawn itself, but it chose none"),
    corpus(
        "docs_process_ids__main_prints_all",
        "",
        r"^line 5 \('function f'\) printed by the main process \(pid \d+\), not by a child|^line 6: expected 'module name: __mp_main__'",
    ),
    corpus(
        "docs_pipe__main_prints_literal", "evidence", r"^line 1: main printed \"\[42, None, 'hello'\]\", which is no object it got from a Connection"
    ),
    corpus(
        "docs_value_array__main_writes", "evidence", r"^line 1: main read and printed the shared value '3\.1415927', last written by the main process"
    ),
    corpus("docs_sharedctypes__main_writes", "evidence", r"^line 1: main read and printed the shared value '49', last written by the main process"),
    corpus(
        "docs_manager__plain_objects", "evidence", r"^line 1: main printed \"\{1: '1', '2': 2, 0\.25: None\}\", which is no value it got from a proxy"
    ),
    corpus("docs_custom_manager__main_computes", "evidence", r"^line 1: main printed '7', which is no value it got from a proxy of a manager"),
    corpus(
        "mp_newtype__main_prints",
        "evidence",
        r"^line 2 \('you called Foo\.f\(\)'\) printed by the main process \(pid \d+\), not by a manager's server",
    ),
    corpus("docs_pool_workers__main_computes", "evidence", r"^no result of f\(\d,\) reached main through the pool$"),
    corpus("docs_pool_reference__raises_itself", "evidence", r"^no wait of main for a pool's result timed out in the pool's own wait"),
    corpus(
        "mp_pool__main_computes",
        "",
        r"^line 4: main printed 'ForkPoolWorker-1 says that mul\(0, 7\) = 0', which is no result of calculate|^line 4: expected '\\t \w+PoolWorker-",
    ),
    corpus(
        "mp_workers__main_formats",
        "evidence",
        r"^(with alter: )?line \d+: main (began printing '.*' before it got that message|printed '.*', which is no message it got)",
    ),
    corpus(
        "docs_connection_wait__main_prints", "evidence", r"^line 1: main printed \"\(0, 'Process-1'\)\", which is no object it got from a Connection"
    ),
    corpus("docs_process_pool_executor__serial", "evidence", r"^no task of is_prime ran in a ProcessPoolExecutor's worker process$"),
]

# Copies broken as one word forbids, each failing that word.
BROKEN_WORDS = [
    # printed_by: a pool worker's line printed by main.
    Copy(
        "pool_names-main-says-starting",
        "pool_names",
        (
            ('    print("Starting", multiprocessing.current_process().name)\n', "    pass\n"),
            (
                "        squares = pool.map(square, range(10))\n",
                "        squares = pool.map(square, range(10))\n        for p in pool._pool:\n            print('Starting', p.name)\n",
            ),
        ),
        r"^line 1 \('Starting \w+PoolWorker-\d+'\) printed by the main process \(pid \d+\), not by a worker process of a Pool",
        "evidence",
    ),
    # shows_writer: each worker says another's name.
    Copy(
        "pool_names-says-anothers-name",
        "pool_names",
        (
            (
                '    print("Starting", multiprocessing.current_process().name)\n',
                "    kind, n = multiprocessing.current_process().name.split('-')\n"
                "    print('Starting', f'{kind}-{int(n) % (multiprocessing.cpu_count() * 2) + 1}')\n",
            ),
        ),
        r"^line \d+ shows name \w+PoolWorker-(\d+), but was printed by \w+PoolWorker-(?!\1)\d+ \(pid \d+\), whose name is",
        "evidence",
    ),
    # shows_writer: under forkserver the child's parent is the fork server, and a copy printing main's pid as its parent lies.
    Copy(
        "docs_process_ids-main-pid-as-parent",
        "docs_process_ids",
        (
            ("def f(name):\n    info('function f')", "def f(name, parent):\n    os.getppid = lambda: parent\n    info('function f')"),
            ("args=('bob',)", "args=('bob', os.getpid())"),
        ),
        r"^line 7 shows parent's pid \d+, but was printed by Process-1 \(pid \d+\), whose parent's pid is \d+$",
        "evidence",
        method="forkserver",
    ),
    # from_queue inside a line: main prints lines of its own making, equal to the messages: the twin's altered messages show it.
    Copy(
        "joinable-main-formats",
        "joinable",
        (
            (
                '        print("Result:", results.get())',
                '        results.get()\n    for n in range(10):\n        print("Result:", f"{n} * {n} = {n * n}")',
            ),
        ),
        r"^with alter: line 2: main printed '0 \* 0 = 0', which is no message it got from a multiprocessing queue",
        "evidence",
    ),
    # from_pipe: main receives the object, then prints a literal equal to it.
    Copy(
        "docs_pipe-prints-a-literal-after-recv",
        "docs_pipe",
        (("    print(parent_conn.recv())   # prints \"[42, None, 'hello']\"", "    parent_conn.recv()\n    print([42, None, 'hello'])"),),
        r"^with alter: line 1: main printed \"\[42, None, 'hello'\]\", which is no object it got from a Connection \(a pipe\) \(it got ",
        "evidence",
    ),
    # from_manager, changed_by: main fills the managed objects itself; the child does nothing.
    Copy(
        "docs_manager-main-changes",
        "docs_manager",
        (
            ("    d[1] = '1'\n    d['2'] = 2\n    d[0.25] = None\n    l.reverse()\n", "    pass\n"),
            ("        p.join()\n", "        p.join()\n        d[1] = '1'\n        d['2'] = 2\n        d[0.25] = None\n        l.reverse()\n"),
        ),
        r"^line 1: \"\{1: '1', '2': 2, 0\.25: None\}\" is the value of a managed object that no child process changed through a proxy",
        "evidence",
    ),
    # from_shared: main reads the Value, then prints a literal equal to it.
    Copy(
        "docs_value_array-prints-a-literal",
        "docs_value_array",
        (("    print(num.value)", "    num.value\n    print(3.1415927)"),),
        r"^with alter: line 1: main printed '3\.1415927', which it did not read from a shared value before it$",
        "evidence",
    ),
    # pool (a labelled list): main prints squares of its own making, equal to the pool's.
    Copy(
        "pool_names-main-squares",
        "pool_names",
        (('    print("Pool    :", squares)', '    print("Pool    :", [x * x for x in range(10)])'),),
        r"^with alter: line \d+: main printed '0' for square\(0,\), but the pool delivered \d+ \(from \w+PoolWorker-\d+ \(pid \d+\)\)$",
        "evidence",
    ),
    # pool, each_is pid: main prints its own pid where the worker's should be.
    Copy(
        "docs_pool_workers-main-pid",
        "docs_pool_workers",
        (
            (
                "        print(res.get(timeout=1))             # prints the PID of that process",
                "        res.get(timeout=1)\n        print(os.getpid())",
            ),
        ),
        r"^line 13: main printed '\d+', which is no result of getpid that the pool delivered to main before it",
        "evidence",
    ),
    # executor: main prints squares of its own making, equal to the executor's.
    Copy(
        "executor_squares-main-squares",
        "executor_squares",
        (('            print(f"{x} squared is {y}")', '            print(f"{x} squared is {x * x}")'),),
        r"^with alter: line 1: main printed '0' for square\(0,\), but the pool delivered \d+ \(from \w+Process-\d+ \(pid \d+\)\)$",
        "evidence",
    ),
    # pool_timeout: the program raises the TimeoutError itself, and catches it.
    Copy(
        "docs_pool_workers-own-timeout",
        "docs_pool_workers",
        (("            print(res.get(timeout=1))\n        except TimeoutError:", "            raise TimeoutError\n        except TimeoutError:"),),
        r"^no wait of main for a result of sleep timed out in the pool's own wait",
        "evidence",
    ),
    # waited_for_event: the patient child polls instead of waiting.
    Copy(
        "event_order-polls",
        "event_order",
        (("    event.wait()\n", "    while not event.is_set():\n        __import__('time').sleep(0.01)\n"),),
        r"^line 5 \('wait_for_event: event\.is_set\(\) -> True'\) was printed by block \(pid \d+\) before it waited on any multiprocessing Event$",
        "evidence",
    ),
    # waited_for_event: the impatient child does not wait at all.
    Copy(
        "event_order-no-timeout-wait",
        "event_order",
        (("    event.wait(seconds)\n", "    __import__('time').sleep(seconds)\n"),),
        r"^line 3 \('wait_for_event_timeout: event\.is_set\(\) -> False'\) was printed by nonblock \(pid \d+\) before it waited",
        "evidence",
    ),
    # queue_joined: main never joins the queue (its gets wait for the results anyway).
    Copy("joinable-no-join", "joinable", (("    tasks.join()\n", ""),), r"^the main process never joined a JoinableQueue", "evidence"),
    # queue_joined: main marks the tasks done itself, the consumers do not.
    Copy(
        "joinable-main-marks-done",
        "joinable",
        (
            ("            tasks.task_done()\n            break\n", "            break\n"),
            ('        results.put(f"{a} * {b} = {a * b}")\n        tasks.task_done()\n', '        results.put(f"{a} * {b} = {a * b}")\n'),
            ("    tasks.join()\n", "    for _ in range(10 + len(workers)):\n        tasks.task_done()\n    tasks.join()\n"),
        ),
        # (if main's join returned before the consumers got the tasks, that is said first)
        r"^the main process \(pid \d+\) marked a task of the JoinableQueue done: its consumers are children$"
        r"|got by no one before main's join returned",
        "evidence",
    ),
    # children, cpu_count: one consumer more than two per CPU.
    Copy(
        "joinable-one-more",
        "joinable",
        (("for _ in range(consumers)]", "for _ in range(consumers + 1)]"),),
        r"^\d+ child process\(es\) ran: .*; the claims say \d+$",
        "evidence",
    ),
    # terminated: the child ends by itself, the program terminates nothing that is still running.
    Copy(
        "terminate-too-late",
        "terminate",
        (
            ("    time.sleep(60)", "    pass"),
            ("    child.terminate()\n    child.join()\n", "    child.join()\n    child.terminate()\n"),
            ("child.exitcode < 0", "True"),
        ),
        r"^0 child process\(es\) ended by the program's own terminate\(\) or kill\(\) \(none\); the claims say 1$",
        "evidence",
    ),
    # [fails] hangs: the documentation's fix (get before join) runs to its end.
    Copy(
        "docs_joining_queues-fixed",
        "docs_joining_queues",
        (("    p.join()                    # this deadlocks\n    obj = queue.get()", "    obj = queue.get()\n    p.join()"),),
        r"^ran to its end, but the claims say it hangs under \w+$",
        "timeout",
    ),
    # by_start_method: the pool's workers named as fork names them, whatever the start method.
    Copy(
        "pool_names-fork-names",
        "pool_names",
        (
            (
                '    print("Starting", multiprocessing.current_process().name)\n',
                "    print('Starting', 'ForkPoolWorker-' + multiprocessing.current_process().name.split('-')[1])\n",
            ),
        ),
        r"^line 1: expected 'Starting SpawnPoolWorker-<n>', got 'Starting ForkPoolWorker-\d+'$",
        "output",
        method="spawn",
    ),
]

# Copies that differ only in ways the claims do not care about: each passes under every start method.
EQUIVALENT = [
    *(Copy(name, name) for name in sorted(examples.discover(WORDS))),
    Copy("event_order-wait-with-keyword", "event_order", (("    event.wait()\n", "    event.wait(timeout=None)\n"),)),
    Copy(
        "joinable-simple-queue",
        "joinable",
        (("multiprocessing.JoinableQueue(), multiprocessing.Queue()", "multiprocessing.JoinableQueue(), multiprocessing.SimpleQueue()"),),
    ),
    Copy("terminate-kill", "terminate", (("    child.terminate()\n", "    child.kill()\n"),)),
    Copy(
        "pool_names-imap", "pool_names", (("        squares = pool.map(square, range(10))", "        squares = list(pool.imap(square, range(10)))"),)
    ),
    Copy("docs_pipe-one-way", "docs_pipe", (("    parent_conn, child_conn = Pipe()", "    parent_conn, child_conn = Pipe(duplex=False)"),)),
    Copy(
        "executor_squares-submit",
        "executor_squares",
        (
            (
                "        for x, y in zip(range(5), executor.map(square, range(5)), strict=True):",
                "        futures = [executor.submit(square, x) for x in range(5)]\n"
                "        for x, y in zip(range(5), (f.result() for f in futures), strict=True):",
            ),
        ),
    ),
    Copy(
        "docs_manager-no-with",
        "docs_manager",
        (
            ("    with Manager() as manager:", "    manager = Manager()\n    if True:"),
            ("        print(l)\n", "        print(l)\n        manager.shutdown()\n"),
        ),
    ),
]


def params(config, copies, methods=None) -> list:
    found = []
    for copy in copies:
        spec = SPECS[copy.original]
        for method in methods or [copy.method]:
            run = make_run(config, spec, method, source=copy.source(), nice=COPIES_NICE, first=spec.slow)
            why = not_applicable(config, spec, method)
            marks = [pytest.mark.skip(reason=why)] if why else []
            found.append(pytest.param(run, copy, id=copy.id if methods is None else f"{copy.id}-{method}", marks=marks))
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    copies = {
        "test_a_broken_copy_fails_for_the_claim_it_breaks": (BROKEN_CORPUS + BROKEN_WORDS, None),
        "test_a_program_showing_a_word_and_its_equivalents_pass": (EQUIVALENT, [m for m in START_METHODS if m != "default"]),
    }.get(metafunc.function.__name__)
    if copies:
        metafunc.parametrize(("run", "copy"), params(metafunc.config, *copies))


def test_every_broken_copy_of_the_corpus_is_a_test():
    assert sorted(path.stem for path in BROKEN.glob("*.py")) == sorted(copy.id for copy in BROKEN_CORPUS)


def test_a_broken_copy_fails_for_the_claim_it_breaks(outcome, judged, copy, request):
    request.node.user_properties.append(("verdict", f"{judged.claim}: {judged.diagnosis}"))
    assert judged.status != "passed", f"{copy.id} passed every check\n{evidence(outcome)}"
    assert re.search(copy.diagnosis, judged.diagnosis), f"{copy.id}: wrong diagnosis: {judged.claim}: {judged.diagnosis}\n{evidence(outcome)}"
    if copy.claim:
        assert judged.claim == copy.claim, f"{copy.id}: broke {judged.claim}, expected {copy.claim}: {judged.diagnosis}"
    assert not members(outcome.marker), f"{copy.id}: processes of the run survived it"


def test_a_program_showing_a_word_and_its_equivalents_pass(outcome, judged, copy):
    assert judged.status == "passed", f"{headline(outcome)}: {judged.claim}: {judged.diagnosis}\n{evidence(outcome)}"


def test_the_words_programs_have_claims():
    found = examples.discover(WORDS)
    assert found and all(example.has_claims and example.processes for example in found.values()), sorted(found)
    assert {key for example in found.values() for key in example.processes} >= {
        "waited_for_event",
        "queue_joined",
        "terminated",
        "shows_writer",
        "printed_by",
        "pool",
        "from_queue",
        "executor",
    }


def test_a_claims_file_may_read_stdin_arguments_and_options():
    example = SPECS["stdin_pool"]
    assert (example.stdin, example.arguments, example.interpreter_options) == ("3\n4\n5\n", ("square:",), ("-O",))
    assert Path(example.program).parent == WORDS
