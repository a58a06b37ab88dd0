"""The claims on made-up input: the article's own sample output (from each claims file) holds the
text checks, output that two processes wrote at once (split or merged lines) cannot cause a false
failure; then the claims on evidence, on records made up for the cases no real run can produce (two
holds of one lock at once with no stray release, a clock that says the workers never overlapped, a
write that never reached stdout, a record in the name of a process that never existed)."""

import json
import re
import signal

import pytest

from harness import examples
from harness.evidence import EVENTS_SHOWN, SEARCH_STEPS_PER_WRITE, Evidence, Facts, Unaccounted, parse
from harness.plugin import SHIPPED_EXAMPLES
from harness.verdict import check_child_exits, check_started, verdict
from harness.vocabulary import PREDICATES, TEXT_CHECKS, ClaimBroken, carries, resolved

SHIPPED = examples.discover(SHIPPED_EXAMPLES)
ARTICLE = {name: example.sample for name, example in SHIPPED.items()}


def check_text(example: str, stdout: str) -> None:
    spec = SHIPPED[example].text
    for name, value in spec.items():
        TEXT_CHECKS[name].check(stdout, value, spec)


@pytest.mark.parametrize("example", SHIPPED)
def test_the_articles_sample_output_holds_the_claims(example):
    assert ARTICLE[example], f"{example}.toml has no sample"
    check_text(example, ARTICLE[example])


@pytest.mark.parametrize(
    "stdout",
    [
        ARTICLE["01_processes"].replace("h\n7\n", "7h\n\n"),  # two lines merged: 7h, then an empty one
        "0a\n\nb\n1\nc\n2\nd\n3\ne\n4\n5\nf\ng\n6\nh\n7\n8\ni\nj\n9\n",
        "a\n0\n1\nb\n2c\n\n3\nd\ne\n4\n5\nf\ng\n6\nh\n7\n8\ni\nj\n9\n",
    ],
    ids=["7h", "0a", "2c"],
)
def test_lines_merged_by_concurrent_writes_still_hold(stdout):
    check_text("01_processes", stdout)


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [
        ("".join(f"{d}\n" for d in "0123456789") + "".join(f"{c}\n" for c in "abcdefghij"), "all digits came before the first of the letters"),
        ("".join(f"{c}\n" for c in "abcdefghij") + "".join(f"{d}\n" for d in "0123456789"), "all letters came before the first of the digits"),
        (ARTICLE["01_processes"].replace("9", "10"), "never printed: 9"),
        (ARTICLE["01_processes"] + "k\n", "unexpected output 'k'"),
        ("", "never printed: 0 1 2"),
        ("\n" * 100_000 + ARTICLE["01_processes"], r"^20 characters on 100020 line\(s\): each is printed on a line of its own$"),
        (ARTICLE["01_processes"].replace("\n", " \n"), r"and other whitespace \(' '\)"),
    ],
    ids=["sequential", "letters-first", "ten", "stranger", "empty", "blank-lines", "spaces"],
)
def test_broken_01_output(stdout, reason):
    with pytest.raises(ClaimBroken, match=reason):
        check_text("01_processes", stdout)


LOCK = ARTICLE["03_lock"]


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [
        (LOCK.replace("modified counter: 2 -> 3", "modified counter: 1 -> 3"), "line 6: expected 'Process-Process-5:1 modified counter: 2 -> 3'"),
        (LOCK.replace("Process-5:1 modified", "Process-3:1 modified"), "line 6: expected 'Process-Process-5:1 modified counter: 2 -> 3'"),
        (LOCK.replace("Process-4:1", "Process-1:1"), r"^line 9: n 1 again \(first on line 3\): each repetition has its own$"),
        (LOCK.rstrip("\n"), "does not end with a newline"),
        (LOCK + "\n", r"^line 13: '' after the last expected line$"),
        ("", "line 1: expected '<worker> entered critical section', got nothing"),
    ],
    ids=["lost-update", "other-process", "same-worker-twice", "no-final-newline", "extra-line", "empty"],
)
def test_broken_03_output(stdout, reason):
    with pytest.raises(ClaimBroken, match=reason):
        check_text("03_lock", stdout)


@pytest.mark.parametrize(
    ("example", "stdout"),
    [("02_queue", "Hello, world!\r\n"), ("02_queue", " Hello, world!\n"), ("04_pool", "[1, 4, 9, 16, 25]\n\n"), ("04_pool", "(1, 4, 9, 16, 25)\n")],
    ids=["crlf-left", "leading-space", "extra-line", "tuple"],
)
def test_exact_outputs_are_exact(example, stdout):
    with pytest.raises(ClaimBroken, match="expected exactly"):
        check_text(example, stdout)


# --- the claims on evidence, on records made up for the cases no real run can produce ----------


class Records:
    """A run's evidence written by hand: each call adds a record at the next tick of a fake clock."""

    def __init__(self):
        self.records, self.clock = [], 0

    def __call__(self, pid: int, event: str, /, **fields) -> dict:
        self.clock += 1000
        self.records.append({"e": event, "pid": pid, "t": self.clock, **fields})
        return self.records[-1]

    def child(self, parent: int, pid: int, name: str, method: str = "spawn", how: str = "spawn", pool_worker: bool = False):
        by = "pool" if pool_worker else "program"
        self(parent, "started", child=pid, name=name, method=method, daemon=False, target="__main__.worker", pool_worker=pool_worker, by=by)
        self(pid, "bootstrap", name=name, identity=[int(name.rsplit("-", 1)[1])], how=how, ppid=parent, target="__main__.worker")

    def ended(self, parent: int, pid: int, code: int = 0):
        self(pid, "exit", code=code)
        self(parent, "returncode", child=pid, code=code)

    def write(self, pid: int, data: bytes, dest=None):
        self(pid, "write", data=data, dest=dest)

    def stdout(self) -> bytes:
        return b"".join(r["data"] for r in self.records if r["e"] == "write")

    def evidence(self, **facts) -> Evidence:
        return Evidence([dict(r) for r in self.records], Facts(main_pid=1, **facts))


def holds(predicate: str, ev: Evidence, stdout: bytes, value) -> None:
    PREDICATES[predicate].check(ev, stdout, value)


DIGITS_LETTERS = {"digits": "0123456789", "letters": "abcdefghij"}


def test_the_workers_must_have_written_at_once():
    rec = Records()
    rec(1, "start", ppid=0, argv=["python", "01_processes.py"])
    rec.child(1, 2, "Process-1")
    for digit in "0123456789":
        rec.write(2, f"{digit}\n".encode())
    rec.ended(1, 2)
    rec.child(1, 3, "Process-2")  # started only once the first had ended
    for letter in "abcdefghij":
        rec.write(3, f"{letter}\n".encode())
    rec.ended(1, 3)
    holds("one_child_each", rec.evidence(), rec.stdout(), DIGITS_LETTERS)
    with pytest.raises(
        ClaimBroken, match=r"^the digits were all written before the first of the letters: their writers did not run at the same time$"
    ):
        holds("at_once", rec.evidence(), rec.stdout(), DIGITS_LETTERS)


def test_stdout_must_be_exactly_the_recorded_writes():
    rec = Records()
    rec.write(1, b"Hello, world!\n")
    ev = rec.evidence()
    assert [(s.pid, s.data) for s in ev.segments(b"Hello, world!\n")] == [(1, b"Hello, world!\n")]
    with pytest.raises(Unaccounted, match=r"^stdout from byte 0 \('Hello, World!\\n'\) was written by no process"):
        ev.segments(b"Hello, World!\n")
    with pytest.raises(Unaccounted, match=r"^the recorded writes do not add up to stdout"):
        ev.segments(b"")  # a write that never reached the file


def test_only_writes_to_the_runs_stdout_count():
    """A write made while fd 1 pointed elsewhere (/dev/null) does not explain the same bytes in stdout."""
    rec = Records()
    rec.write(1, b"Hello, world!\n", dest=(8, 99))  # /dev/null, say
    stdout = b"Hello, world!\n"
    assert rec.evidence(stdout=None).segments(stdout)  # without the fact, content alone
    assert rec.evidence(stdout=(8, 99)).segments(stdout)
    with pytest.raises(Unaccounted, match="was written by no process of the run"):
        rec.evidence(stdout=(2049, 7)).segments(stdout)


def test_a_short_or_failed_write_counts_for_what_it_wrote():
    rec = Records()
    rec.write(1, b"Hello, world!\n")
    rec(1, "wrote", count=5)
    rec.write(1, b"lost\n")
    rec(1, "write_failed")
    assert [s.data for s in rec.evidence().segments(b"Hello")] == [b"Hello"]


def test_the_last_write_of_a_killed_process_may_be_missing():
    """Recorded before it is made: a process killed right after the record never made it."""
    rec = Records()
    rec.child(1, 2, "Process-1")
    rec.write(2, b"a\n")
    rec.write(2, b"b\n")
    rec(1, "returncode", child=2, code=-9)
    assert [s.data for s in rec.evidence().segments(b"a\n")] == [b"a\n"]
    rec.records[-1]["code"] = 0  # exited cleanly: then its last write must be there
    with pytest.raises(Unaccounted):
        rec.evidence().segments(b"a\n")


def test_interleaved_writes_are_told_apart_by_process_order():
    rec = Records()
    for pid, data in ((2, b"x\n"), (3, b"x\n"), (2, b"y\n"), (3, b"z\n")):
        rec.write(pid, data)
    segments = rec.evidence().segments(b"x\nx\nz\ny\n")  # 3 wrote z before 2 wrote y reached the file
    assert [(s.pid, s.data) for s in segments] == [(2, b"x\n"), (3, b"x\n"), (3, b"z\n"), (2, b"y\n")]


def test_matching_a_hundred_thousand_writes_takes_a_step_each():
    """Linear: the search follows the recorded clock, one step a write (counted, not timed)."""
    rec = Records()
    for k in range(100_000):
        rec.write(2 + k % 2, b"\n")
    ev = rec.evidence()
    assert len(ev.segments(b"\n" * 100_000)) == 100_000
    assert ev.steps <= 100_000 + 1


def test_a_timeline_keeps_the_first_and_last_events_of_a_busy_run():
    rec = Records()
    for k in range(3 * EVENTS_SHOWN):
        rec.write(1, f"{k}\n".encode())
    events = rec.evidence().trace()["traceEvents"]
    writes = [e for e in events if e.get("cat") == "stdout"]
    assert len(writes) == EVENTS_SHOWN and writes[0]["args"]["data"] == "0\n" and writes[-1]["args"]["data"] == f"{3 * EVENTS_SHOWN - 1}\n"
    assert any(e["name"] == f"{2 * EVENTS_SHOWN} events not shown" for e in events)


def test_a_search_that_cannot_end_soon_gives_up_with_one_line():
    """Two processes writing the same bytes in an order the clock gets wrong: the search is bounded."""
    rec = Records()
    for pid in (2, 3):
        for _ in range(200):
            rec.write(pid, b"a")
    rec.write(2, b"b")
    ev = rec.evidence()
    with pytest.raises(Unaccounted, match=rf"could not be matched to stdout within {SEARCH_STEPS_PER_WRITE * 401 + 1000} steps|no process"):
        ev.segments(b"a" * 400 + b"c")


@pytest.mark.parametrize(
    ("code", "pool_worker", "ended_by", "reason"),
    [
        (1, False, "", r"^Process-1 \(pid 2\) exited with status 1$"),
        (-9, False, "", r"^Process-1 \(pid 2\) was killed by signal 9$"),
        (None, False, "", r"^Process-1 \(pid 2\) has no exit status"),
        (-15, True, "pool", None),  # the Pool ended its worker
        (-15, True, "exit", None),  # multiprocessing's exit handler ended a daemonic worker
        (-15, True, "program", r"^Process-1 \(pid 2\) was killed by signal 15 \(terminated by the program\)$"),
        (-15, False, "program", r"^Process-1 \(pid 2\) was killed by signal 15 \(terminated by the program\)$"),
        (-15, False, "exit", r"killed by signal 15 \(terminated by exit\)"),  # a daemon Process left to the exit handler
        (-15, False, "", r"killed by signal 15$"),
    ],
    ids=[
        "status-1",
        "killed",
        "no-status",
        "pool-worker-ended-by-pool",
        "pool-worker-at-exit",
        "pool-worker-by-program",
        "by-program",
        "daemon-at-exit",
        "by-someone-else",
    ],
)
def test_child_exit_status(code, pool_worker, ended_by, reason):
    rec = Records()
    rec.child(1, 2, "Process-1", pool_worker=pool_worker)
    if ended_by:
        rec(1, "terminate", child=2, kill=False, by=ended_by)
    if code is not None:
        rec(1, "returncode", child=2, code=code)
    if reason is None:
        check_child_exits(rec.evidence())
    else:
        with pytest.raises(ClaimBroken, match=reason):
            check_child_exits(rec.evidence())


@pytest.mark.parametrize(
    ("parent_saw", "child_saw", "reason"),
    [
        ("spawn", "spawn", None),
        ("fork", "fork", r"^requested spawn, but Process-1 \(pid 2\) was started by fork$"),
        ("spawn", "fork", r"^requested spawn, but Process-1 \(pid 2\) was started by fork \(as it saw it; its parent said spawn\)$"),
        ("spawn", "", r"started by nothing: it recorded no start of its own"),
        ("spawn", "unknown (spawn_main <- <module>)", r"started by unknown \(spawn_main <- <module>\)"),  # a look-alike, not multiprocessing's
    ],
    ids=["agree", "both-fork", "child-disagrees", "child-silent", "look-alike-frame"],
)
def test_start_method_seen_from_both_sides(parent_saw, child_saw, reason):
    rec = Records()
    if child_saw:
        rec.child(1, 2, "Process-1", method=parent_saw, how=child_saw)
    else:
        rec(1, "started", child=2, name="Process-1", method=parent_saw, daemon=False)
    rec.ended(1, 2)
    if reason is None:
        check_started(rec.evidence(), "spawn", "spawn")
    else:
        with pytest.raises(ClaimBroken, match=reason):
            check_started(rec.evidence(), "spawn", "spawn")


def lock_run(*, release_between=False, overlap=False, unreleased=False, capacity=1, excluded=True) -> tuple[Evidence, bytes]:
    """03_lock's records: five workers, each printing its pair inside a hold of lock L."""
    rec = Records()
    for n, pid in enumerate(range(2, 7), 1):
        rec.child(1, pid, f"Process-{n}")
    for n, pid in enumerate(range(2, 7), 1):
        rec(pid, "acquire", lock="L", kind="Lock", capacity=capacity, excluded=excluded, values={"V": str(n - 1)})
        rec.write(pid, f"Process-Process-{n}:1 entered critical section\n".encode())
        if release_between:
            rec(pid, "release", lock="L", kind="Lock", values={"V": str(n - 1)})
            rec(pid, "acquire", lock="L", kind="Lock", capacity=capacity, excluded=excluded, values={"V": str(n - 1)})
        rec(pid, "shared_get", value_of="V", value=str(n - 1))
        rec(pid, "shared_set", value_of="V", value=str(n))
        rec.write(pid, f"Process-Process-{n}:1 modified counter: {n - 1} -> {n}\n".encode())
        if not (unreleased and n == 5):
            rec(pid, "release", lock="L", kind="Lock", values={"V": str(n)})
    if overlap:  # worker 2 took the lock while worker 1 held it: only made-up records can say so
        second = next(r for r in rec.records if r["pid"] == 3 and r["e"] == "acquire")
        first_release = next(r for r in rec.records if r["pid"] == 2 and r["e"] == "release")
        second["t"] = first_release["t"] - 1
    for pid in range(2, 7):
        rec.ended(1, pid)
    rec.write(1, b"\nFinal counter value: 5 (expected value: 5)\n")
    return rec.evidence(), rec.stdout()


LOCKED = {"lines": r"Process-Process-\d+:1 ", "per_hold": 2}


def test_each_pair_is_printed_within_one_hold_of_the_lock():
    holds("under_one_lock", *lock_run(), LOCKED)
    with pytest.raises(ClaimBroken, match=r"^line 2: Process-1 \(pid 2\) released the lock between line 1 and this one$"):
        holds("under_one_lock", *lock_run(release_between=True), LOCKED)


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({"overlap": True}, r"^Process-2 \(pid 3\) acquired the lock while Process-1 \(pid 2\) held it: the lock excluded nobody$"),
        ({"unreleased": True}, r"^Process-5 \(pid 6\) acquired the lock and never released it$"),
        ({"capacity": 5}, r"^Lock L, which every worker held as it printed, admits 5 holders at once: it is not a lock, it excluded nobody$"),
        ({"excluded": False}, r"^Lock L, which every worker held as it printed, let others in while it was held: it is not a lock"),
    ],
)
def test_the_lock_is_a_lock_and_excluded(broken, reason):
    """A lock admits one holder (as it was made, and its semaphore at each hold), its holds never
    overlap, each is released by its holder."""
    with pytest.raises(ClaimBroken, match=reason):
        holds("under_one_lock", *lock_run(**broken), LOCKED)


COUNTER = {"start": 0, "increments": 5}
HELD = {"lock": "L", "kind": "Lock", "capacity": 1, "excluded": True}


def counter_run(edit=None) -> tuple[Evidence, bytes]:
    """03_lock's records, edited: each (pid, event) -> the records to put in its place."""
    ev, stdout = lock_run()
    records = ev.records
    for r in records:
        for key in ("seq", "at", "order"):
            r.pop(key, None)
    if edit:
        records = [new for r in records for new in edit(r)]
    return Evidence(records, Facts(main_pid=1)), stdout


def test_the_counter_is_incremented_only_by_workers_under_the_lock():
    holds("shared_counter", *counter_run(), COUNTER)
    # main may set it up before any worker touches it (PyPy's ctypes sets the value it is made with)
    set_up = {"e": "shared_set", "pid": 1, "t": 1, "value_of": "V", "value": "0"}
    holds("shared_counter", *counter_run(lambda r: [set_up, r] if r["e"] == "started" and r["child"] == 2 else [r]), COUNTER)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        # the lost update the Lock example exists to show: read in one hold, written in a second hold
        (
            lambda r: (
                [
                    r,
                    {**r, **HELD, "e": "release", "values": {"V": r["value"]}},
                    {**r, **HELD, "e": "acquire", "values": {"V": r["value"]}},
                ]
                if r["e"] == "shared_get" and r["pid"] == 3
                else [r]
            ),
            r"^Process-2 \(pid 3\) wrote 2 to the shared value without reading it in the same hold: not an increment under the lock$",
        ),
        # the workers read; main increments, outside any lock
        (
            lambda r: [{**r, "pid": 1}] if r["e"] == "shared_set" and r["pid"] == 4 else [r],
            r"^the main process \(pid 1\) wrote 3 to the shared value: only the workers' increments may change it$",
        ),
        # a worker reads the counter before taking the lock
        (
            lambda r: [{**r, "e": "shared_get", "value_of": "V", "value": "2", "lock": None}, r] if r["e"] == "acquire" and r["pid"] == 4 else [r],
            r"^Process-3 \(pid 4\) read the shared value \(2\) outside any hold of a lock$",
        ),
        # a write by no recorded path between two holds (the raw memory, say)
        (
            lambda r: [{**r, "values": {"V": "7"}}] if r["e"] == "acquire" and r["pid"] == 5 else [r],
            r"^the shared value changed from 3 to 7 between Process-3 \(pid 4\)'s hold of the lock and Process-4 \(pid 5\)'s, outside the lock$",
        ),
        # one worker does not increment
        (
            lambda r: (
                [] if r["e"] == "shared_set" and r["pid"] == 6 else [{**r, "values": {"V": "4"}}] if r["e"] == "release" and r["pid"] == 6 else [r]
            ),
            r"^4 increment\(s\) of the shared value under the lock, not 5$",
        ),
        # a write of another value than read + 1
        (
            lambda r: [{**r, "value": "9"}] if r["e"] == "shared_set" and r["pid"] == 2 else [r],
            r"^Process-1 \(pid 2\) wrote 9 to the shared value after reading 0 in the same hold: not an increment under the lock$",
        ),
    ],
    ids=["read-and-write-in-two-holds", "main-increments", "read-before-the-lock", "changed-between-holds", "one-increment-missing", "not-plus-one"],
)
def test_a_counter_history_that_is_not_five_increments_under_the_lock_fails(edit, reason):
    with pytest.raises(ClaimBroken, match=reason):
        holds("shared_counter", *counter_run(edit), COUNTER)


def queue_run(put_by: int, forged_value: bool = False) -> tuple[Records, bytes]:
    rec = Records()
    rec(1, "start", ppid=0, argv=["python", "02_queue.py"])
    rec.child(1, 2, "Process-1")
    rec(2, "put", queue="1.1", kind="Queue", msg="2.1", value="'Hello, world!'", text="Hello, world!")
    if put_by == 1:
        rec(1, "put", queue="1.1", kind="Queue", msg="1.9", value="'Hello, world!'", text="Hello, world!")
    rec(1, "get", queue="1.1", kind="Queue", msg="1.9" if put_by == 1 else "2.1", value="'Hello, world!'", text="Hello, world!")
    rec.write(1, b"Hello, world!\n")
    rec.ended(1, 2)
    return rec, b"Hello, world!\n"


def test_the_message_main_printed_is_the_one_a_child_put():
    """By the message's id, not its value: an equal message main put itself does not count."""
    rec, stdout = queue_run(put_by=2)
    holds("from_queue", rec.evidence(), stdout, True)
    rec, stdout = queue_run(put_by=1)
    with pytest.raises(ClaimBroken, match=r"no child process put it there \(put by: the main process \(pid 1\)\)$"):
        holds("from_queue", rec.evidence(), stdout, True)


def test_the_get_must_come_before_the_write():
    rec, stdout = queue_run(put_by=2)
    get = next(r for r in rec.records if r["e"] == "get")
    rec.records.remove(get)
    rec.records.append(get)  # main printed first, got the message afterwards
    with pytest.raises(ClaimBroken, match=r"^the main process began printing 'Hello, world!\\n' before it got that message from the queue$"):
        holds("from_queue", rec.evidence(), stdout, True)


def test_every_byte_of_the_line_comes_after_the_get_and_is_the_message_newline_and_all():
    rec, stdout = queue_run(put_by=2)
    write = next(r for r in rec.records if r["e"] == "write")
    get = next(r for r in rec.records if r["e"] == "get")
    head = {**write, "data": b"Hello, ", "t": get["t"] - 1}
    tail = {**write, "data": b"world!\n"}
    rec.records = [head if r is write else r for r in rec.records]
    rec.records.insert(rec.records.index(get) + 1, tail)
    rec.records = [r for r in rec.records if not (r["e"] == "write" and r["data"] == b"Hello, world!\n")]
    rec.records.sort(key=lambda r: r["t"])
    with pytest.raises(ClaimBroken, match=r"^the main process began printing 'Hello, world!\\n' before it got that message from the queue$"):
        holds("from_queue", rec.evidence(), stdout, True)
    # A message that carries its own newline, written as it is: the bytes are the message's.
    rec, _ = queue_run(put_by=2)
    for r in rec.records:
        if r["e"] in ("put", "get"):
            r["text"], r["value"] = "Hello, world!\n", "'Hello, world!\\n'"
    holds("from_queue", rec.evidence(), b"Hello, world!\n", True)


def test_a_line_that_does_not_follow_the_altered_message_fails():
    """In an `alter` run main got 'Hello, world!~abc' (altered in transit): printing the original text
    is printing a copy of its own."""
    rec, stdout = queue_run(put_by=2)
    get = next(r for r in rec.records if r["e"] == "get")
    get["text"], get["value"] = "Hello, world!~abc", "'Hello, world!~abc'"
    rec.records.insert(rec.records.index(get), {**get, "e": "altered", "was": "'Hello, world!'", "now": "'Hello, world!~abc'"})
    with pytest.raises(
        ClaimBroken, match=r"^the main process printed 'Hello, world!\\n', not the message it got \('Hello, world!~abc', altered in transit"
    ):
        holds("from_queue", rec.evidence(), stdout, True)


def pool_run(inputs=(1, 2, 3, 4, 5), lost=None, jobs="one") -> tuple[Evidence, bytes]:
    rec = Records()
    rec.child(1, 2, "SpawnPoolWorker-1", pool_worker=True)
    for i, x in enumerate(inputs):
        job = 0 if jobs == "one" else i  # one map, or one apply_async per input
        rec(2, "task", job=job, i=i if jobs == "one" else 0, func="square", module="__main__", calls=[f"({x},)"], chunk=jobs == "one")
        rec(2, "task_done", job=job, i=i if jobs == "one" else 0, result=f"[{x * x}]" if jobs == "one" else str(x * x))
        rec(2, "put", queue="1.2", kind="SimpleQueue", msg=f"2.{i}", value="(...)", text="(...)")
        if x != lost:
            value = {"value": f"[{x * x}]", "items": [str(x * x)]} if jobs == "one" else {"value": str(x * x), "items": None}
            rec(1, "pool_result", job=job, i=i if jobs == "one" else 0, ok=True, msg=f"2.{i}", **value)
    rec.write(1, b"[1, 4, 9, 16, 25]\n")
    return rec.evidence(), b"[1, 4, 9, 16, 25]\n"


SQUARES = {"function": "square", "inputs": [1, 2, 3, 4, 5]}


def test_the_pool_computed_the_programs_inputs_and_main_received_them():
    holds("pool", *pool_run(), SQUARES)
    holds("pool", *pool_run(jobs="apply_async"), SQUARES)  # results from any mix of jobs
    with pytest.raises(ClaimBroken, match=r"^the result of square\(3,\) \(\[9\]\) never reached the main process through the pool$"):
        holds("pool", *pool_run(lost=3), SQUARES)
    with pytest.raises(ClaimBroken, match=r"^no pool worker computed square\(2,\): the workers ran square on .*not on the program's inputs"):
        holds("pool", *pool_run(inputs=(1, 4, 9, 16, 25)), SQUARES)  # the squares were the inputs


PUT = {"queue": "1.1", "kind": "Queue", "value": "'x'", "text": "x"}


def test_records_in_anothers_name_or_without_a_start_are_problems(tmp_path):
    (tmp_path / "10.log").write_text(
        '{"e":"start","pid":10,"t":1,"ppid":1,"argv":[]}\n' + json.dumps({"e": "put", "pid": 11, "t": 2, "msg": "x", **PUT}) + "\n"
    )
    (tmp_path / "12.log").write_text(json.dumps({"e": "put", "pid": 12, "t": 3, "msg": "y", **PUT}) + "\nnot json\n")
    ev = Evidence.load(tmp_path, Facts(main_pid=10))
    assert ev.problems == [
        "10.log holds records of pid 11: a process's records name it",
        "the records of pid 12 do not begin with its start: they were not written by the hook as it ran",
    ]
    assert [r["pid"] for r in ev.records] == [10, 12]


def line(**record) -> bytes:
    return json.dumps({"t": 1, **record}).encode()


def test_a_record_is_its_senders_whole_and_well_formed():
    """Where the kernel names the sender of each record (Linux), a record in another process's name
    is dropped and named; a gap in a process's numbering is a lost record; a record without a field
    of its kind, or with a field of another type, is not the hook's (never a traceback later)."""
    start, kernel = line(e="start", pid=5, n=0, ppid=1, argv=[]), Facts(main_pid=5, attested=True)
    ev = Evidence.from_lines([(5, start), (5, line(e="put", pid=6, n=1, msg="m", **PUT))], kernel)
    assert ev.problems == ["pid 5 sent a record (put) in the name of pid 6: a process's records are its own"]
    assert [r["pid"] for r in ev.records] == [5]
    # Without the kernel's word (macOS, Windows), the sender is the process whose file held it.
    assert Evidence.from_lines([(5, start), (5, line(e="put", pid=6, n=1, msg="m", **PUT))], Facts(main_pid=5)).problems == [
        "5.log holds records of pid 6: a process's records name it"
    ]
    ev = Evidence.from_lines([(5, start), (5, line(e="put", pid=5, n=2, msg="m", **PUT))], kernel)
    assert ev.problems == ["the records of pid 5 are not whole: record 1 is missing or out of place (lost, or not the hook's)"]
    bad = [
        line(e="put", pid=5, n=1, msg="m"),
        line(e="bootstrap", pid=5, n=1, name="P", identity=["1"], how="spawn", ppid=1, target="t"),
        line(e="returncode", pid=5, n=1, child=True, code=0),
    ]
    assert [Evidence.from_lines([(5, start), (5, b)], kernel).problems for b in bad] == [
        ["pid 5 sent a record that is not the hook's (put without queue, kind, value, text)"],
        ["pid 5 sent a record that is not the hook's (bootstrap with identity \"['1']\")"],
        ["pid 5 sent a record that is not the hook's (returncode with child 'True')"],
    ]


def test_the_records_agree_with_the_kernels_account_of_each_process():
    rec = Records()
    rec(1, "start", ppid=0, argv=["python", "02_queue.py"])
    rec.child(1, 2, "Process-1", method="fork", how="fork")
    rec(2, "forked", ppid=1)
    rec.records.insert(2, rec.records.pop())  # its start first
    rec.ended(1, 2)
    kernel = {1: {"parent": 0, "began": "exec", "status": 0}, 2: {"parent": 1, "began": "fork", "status": 0}}
    assert rec.evidence(attested=True, processes=kernel).problems == []
    assert rec.evidence(attested=False, processes={**kernel, 2: {"parent": 7, "began": "exec", "status": 3}}).problems == []  # not observed here
    assert rec.evidence(attested=True, processes={**kernel, 2: {"parent": 7, "began": "fork", "status": 0}}).problems == [
        "pid 2 recorded pid 1 as its parent, but its parent was pid 7"
    ]
    assert rec.evidence(attested=True, processes={**kernel, 2: {"parent": 1, "began": "exec", "status": 0}}).problems == [
        "pid 2 recorded that it began as a fork of its parent, but it began by exec"
    ]
    assert rec.evidence(attested=True, processes={**kernel, 2: {"parent": 1, "began": "fork", "status": 3}}).problems == [
        "Process-1 (pid 2) exited with status 3 (the kernel's account), but Process-1 (pid 2) returned 0"
    ]
    # Its parent exited around its first record: the supervisor adopted it, and either side may say so.
    assert rec.evidence(attested=True, processes={**kernel, 2: {"parent": 99, "began": "fork", "status": 0}}, adopter=99).problems == []
    # A process the kernel saw that no record accounts for.
    unexplained = rec.evidence(attested=True, processes={**kernel, 3: {"parent": 2, "began": "fork", "status": 0}}).unexplained
    assert [(p.pid, p.origin) for p in unexplained] == [(3, "forked by pid 2 outside multiprocessing")]


def test_a_record_file_is_json_lines_and_bytes_come_back():
    assert parse('{"e":"write","pid":1,"t":5,"data":"\\u00e9\\n"}\n{"e":"x"}\n') == [{"e": "write", "pid": 1, "t": 5, "data": b"\xe9\n"}]


def test_an_interpreter_behind_a_launcher_is_the_main_process():
    """On Windows a venv's python.exe is a launcher: the pid the harness started records nothing,
    and the real interpreter, its child, is the example's main process."""
    rec = Records()
    rec(7, "start", ppid=1, argv=["C:\\Python313\\python.exe", "-X", "dev", "02_queue.py"])
    rec.child(7, 8, "Process-1")
    rec(8, "put", queue="7.1", kind="Queue", msg="8.1", value="'Hello, world!'", text="Hello, world!")
    rec(7, "get", queue="7.1", kind="Queue", msg="8.1", value="'Hello, world!'", text="Hello, world!")
    rec.write(7, b"Hello, world!\r\n")
    rec.ended(7, 8)
    ev = Evidence(rec.records, Facts(main_pid=1))
    assert ev.main_pid == 7 and ev.procs[7].role == "main" and not ev.unexplained
    check_started(ev, "spawn", "spawn")
    holds("from_queue", ev, b"Hello, world!\r\n", True)


def test_output_written_after_the_main_process_exited_breaks_the_claims():
    """The supervisor saw how much stdout there was when the main process exited: a byte past it was
    written by a process that outlived main, whatever its records say (a fact, not a record)."""
    from types import SimpleNamespace

    from harness.runner import Outcome, Run

    rec = Records()
    rec.write(1, b"Hello, world!\n")
    rec.write(1, b"late\n")
    stdout = rec.stdout()

    def outcome(at_main_exit: int | None) -> Outcome:
        return Outcome(
            run=Run("02_queue", "spawn", "python"),
            interpreter="CPython 3.12.1",
            default_method="fork",
            returncode=0,
            raw_stdout=stdout,
            stderr="",
            leftovers=[],
            seconds=0.1,
            marker="x",
            evidence=rec.evidence(stdout_at_main_exit=at_main_exit),
            stdout_size=len(stdout),
        )

    general = SimpleNamespace(fails={}, text={}, processes={}, has_claims=False)
    assert verdict(outcome(len(stdout)), general).status == "passed"
    assert verdict(outcome(None), general).status == "passed"  # not observed (no supervisor: Windows)
    late = verdict(outcome(14), general)
    assert (late.claim, late.diagnosis) == ("lifetime", "5 byte(s) written to stdout after the main process exited: 'late\\n'")


@pytest.mark.parametrize(
    ("made_by", "ended_by", "excused"),
    [("pool", "pool", True), ("pool", "exit", True), ("manager", "manager", True), ("manager", "exit", True),
     ("manager", "program", False), ("program", "manager", False), ("program", "pool", False), ("pool", "manager", False)],
)  # fmt: skip
def test_multiprocessing_ending_what_it_started_is_excused_and_nothing_else(made_by, ended_by, excused):
    """A manager's clean-up terminates its server when it does not exit within a second (under load:
    issue 24's false alarm); a Pool terminates its workers. Each is excused only for the processes that
    part of multiprocessing started itself."""
    rec = Records()
    rec.child(1, 2, "SyncManager-1")
    rec.records[-2]["by"] = made_by
    rec(1, "terminate", child=2, kill=False, by=ended_by)
    rec(1, "returncode", child=2, code=-signal.SIGTERM)
    if excused:
        check_child_exits(rec.evidence())
    else:
        with pytest.raises(ClaimBroken, match=rf"^SyncManager-1 \(pid 2\) was killed by signal {signal.SIGTERM:d} \(terminated by "):
            check_child_exits(rec.evidence())


def test_children_counts_the_processes_multiprocessing_started():
    rec = Records()
    rec.child(1, 2, "Process-1")
    rec.child(1, 3, "Process-2")
    holds("children", rec.evidence(), b"", 2)
    with pytest.raises(ClaimBroken, match=r"^2 child process\(es\) ran: Process-1 \(pid 2\), Process-2 \(pid 3\); the claims say 1$"):
        holds("children", rec.evidence(), b"", 1)


def test_a_process_whose_records_overflowed_cannot_be_judged():
    from types import SimpleNamespace

    from harness.runner import Outcome, Run

    rec = Records()
    rec.write(1, b"x\n")
    rec(2, "overflow")
    done = Outcome(Run("x", "fork", "python"), "CPython 3.12.1", "fork", 0, b"x\n", "", [], 0.1, "m", rec.evidence(), stdout_size=2)
    judged = verdict(done, SimpleNamespace(fails={}, text={}, processes={}, has_claims=False))
    assert (judged.claim, judged.diagnosis) == (
        "records",
        "pid 2 did more than its records can hold (the hook's LOG_LIMIT): the run cannot be judged",
    )


def test_the_claims_on_messages_and_locks_do_work_linear_in_the_run(monkeypatch):
    """15,000 lines, each a message main got, each printed under a hold of one lock: the line is
    compared with the messages of its own text only (not with every message before it), and a line's
    holds are found among the holds open then (not among all of its writer's holds)."""
    rec, n = Records(), 15_000
    rec(1, "start", ppid=0, argv=["python", "x.py"])
    rec.child(1, 2, "Process-1")
    for k in range(n):
        rec(2, "put", queue="1.1", kind="Queue", msg=f"2.{k}", value=repr(f"m{k}"), text=f"m{k}")
        rec(1, "get", queue="1.1", kind="Queue", msg=f"2.{k}", value=repr(f"m{k}"), text=f"m{k}")
        rec.write(1, f"m{k}\n".encode())
    compared = []
    monkeypatch.setattr("harness.vocabulary.carries", lambda line, text, whole, real=carries: compared.append(1) or real(line, text, whole))
    holds("from_queue", rec.evidence(), rec.stdout(), True)
    assert len(compared) <= 3 * n
    rec = Records()
    for k in range(n):
        rec(2, "acquire", lock="L", kind="Lock", capacity=1, excluded=True, values={})
        rec.write(2, f"Process-Process-1:1 line {k}\n".encode())
        rec(2, "release", lock="L", kind="Lock", values={})
    rec.records[:0] = [{"e": "started", "pid": 1, "t": 0, "child": 2, "name": "Process-1", "method": "fork", "target": "t", "pool_worker": False}]
    ev = rec.evidence()
    looked = []
    real = Evidence.holds_around
    monkeypatch.setattr(Evidence, "holds_around", lambda self, pid, seq: looked.append(len(real(self, pid, seq))) or real(self, pid, seq))
    holds("under_one_lock", ev, rec.stdout(), {"lines": "Process", "per_hold": 1})
    assert len(looked) == n and sum(looked) == n


# --- issue 24's words, on made-up input --------------------------------------------------------


def lines_claim(stdout: str, spec: list) -> None:
    TEXT_CHECKS["lines"].check(stdout, spec, {"lines": spec})


def test_a_back_reference_within_a_line_matches_and_a_capture_reaches_later_lines():
    lines_claim("Consumer-1: 3 * 3\n", [r"Consumer-1: (?P<n>\d) \* (?P=n)"])
    with pytest.raises(ClaimBroken, match=r"^line 1: expected 'Consumer-1: <n> \* <n>', got 'Consumer-1: 3 \* 4'$"):
        lines_claim("Consumer-1: 3 * 4\n", [r"Consumer-1: (?P<n>\d) \* (?P=n)"])
    # a value captured on one line, outside any block, reaches every later line
    spec = [r"process id: (?P<main>\d+)", "function f", r"parent process: (?P=main)"]
    lines_claim("process id: 42\nfunction f\nparent process: 42\n", spec)
    with pytest.raises(ClaimBroken, match=r"^line 3: expected 'parent process: 42', got 'parent process: 7'$"):
        lines_claim("process id: 42\nfunction f\nparent process: 7\n", spec)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ([r"a (?P=n)"], r"\(\?P=n\) refers to a group of no earlier line, nor of its own"),
        ([r"(?P=n) then", r"(?P<n>\d)"], r"\(\?P=n\) refers to a group of no earlier line"),
        ([{"any_order": [r"(?P<n>\d)", r"(?P=n)"]}], r"\(\?P=n\) refers to a group of no earlier line"),  # lines in any order: no order to refer by
        ([{"any_order": []}], "a block in any order is"),
        ([{"optional": 3}], "a block that may be absent is"),
        ([{"repeat": 1, "lines": ["x"], "any_order": ["y"]}], "a block in any order is"),
    ],
)
def test_a_lines_claim_that_cannot_hold_is_refused(spec, problem):
    assert re.search(problem, TEXT_CHECKS["lines"].invalid(spec, {"lines": spec}) or "")


def test_lines_in_any_order_and_optional_lines():
    spec = [{"any_order": ["a: starting", "b: starting"]}, {"optional": ["maybe", "maybe too"]}, "end"]
    for stdout in ("a: starting\nb: starting\nend\n", "b: starting\na: starting\nmaybe\nmaybe too\nend\n"):
        lines_claim(stdout, spec)
    with pytest.raises(ClaimBroken, match=r"^lines 1-2: expected, in any order, 'a: starting', 'b: starting'; got \['a: starting', 'a: starting'\]$"):
        lines_claim("a: starting\na: starting\nend\n", spec)
    with pytest.raises(ClaimBroken, match=r"^line 3: expected 'end', got 'maybe'$"):  # all of an optional block, or none of it
        lines_claim("a: starting\nb: starting\nmaybe\nend\n", spec)
    # a line two patterns match does not take the one another line needs
    lines_claim("ab\na\n", [{"any_order": ["a.*", "ab"]}])


def test_counts_and_placeholders_follow_the_machine_and_the_start_method():
    names = {"module": "__mp_main__"}
    spec = {"repeat": "cpu_count * 2", "lines": ["module name: {module} of {cpu_count + 1}, {i}, -{20}"]}
    assert resolved(spec, names, 3) == {"repeat": 6, "lines": ["module name: __mp_main__ of 4, {i}, -{20}"]}
    assert resolved({"children": "cpu_count - 1", "count": "cpu_count"}, {}, 3) == {"children": 2, "count": 3}
    assert resolved({"lines": ["cpu_count"]}, {}, 3) == {"lines": ["cpu_count"]}  # a pattern is no count
    lines_claim("a\n" * 6, [resolved({"repeat": "cpu_count * 2", "lines": ["a"]}, {}, 3)])


def test_a_failure_is_claimed_only_where_its_table_says():
    from harness.examples import Failure

    failure = Failure(stderr="DeprecationWarning", python=">=3.12", implementation="cpython")
    assert [failure.applies(name, "linux") for name in ("CPython 3.11.7", "CPython 3.12.1", "CPython 3.14.0t", "PyPy 3.11.13")] == [
        False,
        True,
        True,
        False,
    ]
    posix = Failure(stderr="FileNotFoundError", platforms=("linux", "darwin"))
    assert (posix.applies("CPython 3.12.1", "linux"), posix.applies("CPython 3.12.1", "win32")) == (True, False)
    assert Failure(stderr="x", python=">=3.11,<3.14").applies("CPython 3.14.0", "linux") is False


def run_with_children(*names: str, pool_worker: bool = False, manager: str = "") -> Records:
    """Main (pid 1) and its children (pids 2, 3...); `manager`: the one a manager started (its server)."""
    rec = Records()
    rec(1, "start", ppid=0, argv=["python", "x.py"], cpu_count=2)
    for k, name in enumerate(names, 2):
        rec.child(1, k, name, pool_worker=pool_worker)
        if name == manager:
            rec.records[-2]["by"] = "manager"
    return rec


def test_printed_by_names_the_kind_of_process_of_each_line():
    rec = run_with_children("Process-1", "SyncManager-1", manager="SyncManager-1")
    rec.write(1, b"main says\n")
    rec.write(2, b"child says\n")
    rec.write(3, b"you called Foo.f()\n")
    table = {"you called .*": "manager", "child .*": "child", ".*": "main"}
    holds("printed_by", rec.evidence(), rec.stdout(), table)
    with pytest.raises(ClaimBroken, match=r"^line 2 \('child says'\) printed by Process-1 \(pid 2\), not by a manager's server process$"):
        holds("printed_by", rec.evidence(), rec.stdout(), {"child .*": "manager", ".*": "any"})
    with pytest.raises(ClaimBroken, match=r"^line 1 \('main says'\) matches none of printed_by's patterns$"):
        holds("printed_by", rec.evidence(), rec.stdout(), {"child .*": "child", "you .*": "manager"})
    with pytest.raises(ClaimBroken, match=r"^no line matches 'nobody', printed by a child process the program started as the claims say$"):
        holds("printed_by", rec.evidence(), rec.stdout(), {"nobody": "child", ".*": "any"})
    with pytest.raises(ClaimBroken, match=r"^'main says' printed by the main process \(pid 1\), not by a child process the program started$"):
        holds("printed_by", rec.evidence(), rec.stdout(), "child")


def test_a_line_shows_its_writers_pid_parent_and_name():
    rec = run_with_children("Process-1")
    rec.records[-1]["ppid"] = 1
    rec.write(2, b"Process-1: pid 2, parent 1\n")
    shows = r"(?P<name>[\w-]+): pid (?P<pid>\d+), parent (?P<ppid>\d+)"
    holds("shows_writer", rec.evidence(), rec.stdout(), shows)
    rec.records[-1]["data"] = b"Process-1: pid 2, parent 7\n"
    with pytest.raises(ClaimBroken, match=r"^line 1 shows parent's pid 7, but was printed by Process-1 \(pid 2\), whose parent's pid is 1$"):
        holds("shows_writer", rec.evidence(), rec.stdout(), shows)
    rec.records[-1]["data"] = b"Process-1: pid 2, parent 1\n"
    with pytest.raises(ClaimBroken, match=r"^no line matches 'pid <pid>'$"):
        holds("shows_writer", rec.evidence(), rec.stdout(), [shows, r"pid (?P<pid>\d+)"])


def message_run(*, sender: int = 2, texts=("3 * 3 = 9", "4 * 4 = 16"), printed=("Result: 3 * 3 = 9", "Result: 4 * 4 = 16"), get_after=False):
    rec = run_with_children("Process-1", "Process-2")
    for k, text in enumerate(texts):
        rec(sender, "put", queue="1.1", kind="Queue", msg=f"{sender}.{k}", value=repr(text), text=text)
    for k, (text, line) in enumerate(zip(texts, printed, strict=True)):
        get = {"queue": "1.1", "kind": "Queue", "msg": f"{sender}.{k}", "value": repr(text), "text": text, "whole": True}
        if not get_after:
            rec(1, "get", **get)
        rec.write(1, f"{line}\n".encode())
        if get_after:
            rec(1, "get", **get)
    return rec


CARRIED = {"lines": r"Result: (?P<value>(?P<n>\d+) \* (?P=n) = .+)"}


def test_a_message_inside_a_line():
    holds("from_queue", message_run().evidence(), message_run().stdout(), CARRIED)
    rec = message_run(printed=("Result: 3 * 3 = 9", "Result: 5 * 5 = 25"))
    with pytest.raises(
        ClaimBroken,
        match=r"^line 2: main printed '5 \* 5 = 25', which is no message it got from a multiprocessing queue \(it got '3 \* 3 = 9', '4 \* 4 = 16'\)$",
    ):
        holds("from_queue", rec.evidence(), rec.stdout(), CARRIED)
    rec = message_run(get_after=True)
    with pytest.raises(ClaimBroken, match=r"^line 1: main began printing '3 \* 3 = 9' before it got that message from a multiprocessing queue$"):
        holds("from_queue", rec.evidence(), rec.stdout(), CARRIED)
    rec = message_run(sender=1)
    with pytest.raises(ClaimBroken, match=r"^line 1: '3 \* 3 = 9' came from the main process \(pid 1\), not from a child process$"):
        holds("from_queue", rec.evidence(), rec.stdout(), CARRIED)
    rec = message_run(texts=("3 * 3 = 9", "3 * 3 = 9"), printed=("Result: 3 * 3 = 9", "Result: 3 * 3 = 9"))
    holds("from_queue", rec.evidence(), rec.stdout(), CARRIED)  # got twice, printed twice
    rec.records = [r for r in rec.records if not (r["e"] == "get" and r["msg"] == "2.1")]
    with pytest.raises(ClaimBroken, match=r"^line 2: main printed '3 \* 3 = 9', which is no message it got"):  # got once, printed twice
        holds("from_queue", rec.evidence(), rec.stdout(), CARRIED)
    with pytest.raises(ClaimBroken, match=r"^no line main printed matches 'Answer: <value>'$"):
        holds("from_queue", message_run().evidence(), message_run().stdout(), {"lines": "Answer: (?P<value>.*)"})


def test_a_message_names_its_sender_and_each_senders_come_in_its_order():
    rec = message_run(texts=("Process-1 says 9", "Process-1 says 16"), printed=("\t Process-1 says 9", "\t Process-1 says 16"))
    named = {"lines": r"\t (?P<value>(?P<name>Process-\d) says .+)", "in_order": True}
    holds("from_queue", rec.evidence(), rec.stdout(), named)
    for r in rec.records:  # the messages name the other child
        if r["e"] in ("put", "get"):
            r["text"] = r["text"].replace("Process-1", "Process-2")
    rec.records = [{**r, "data": r["data"].replace(b"Process-1", b"Process-2")} if r["e"] == "write" else r for r in rec.records]
    with pytest.raises(ClaimBroken, match=r"^line 1 shows name Process-2, but the message came from Process-1 \(pid 2\), whose name is Process-1$"):
        holds("from_queue", rec.evidence(), rec.stdout(), named)
    rec = message_run(printed=("Result: 4 * 4 = 16", "Result: 3 * 3 = 9"), texts=("3 * 3 = 9", "4 * 4 = 16"))
    gets = [r for r in rec.records if r["e"] == "get"]
    gets[0]["msg"], gets[1]["msg"] = gets[1]["msg"], gets[0]["msg"]  # main got them in the other order
    gets[0]["text"], gets[1]["text"] = gets[1]["text"], gets[0]["text"]
    with pytest.raises(ClaimBroken, match=r"^line 2: '3 \* 3 = 9' was sent by Process-1 \(pid 2\) before the message main printed before it$"):
        holds("from_queue", rec.evidence(), rec.stdout(), {**CARRIED, "in_order": True})
    holds("from_queue", rec.evidence(), rec.stdout(), CARRIED)


def test_each_message_is_its_senders_pid():
    rec = message_run(texts=("2", "2"), printed=("pid 2", "pid 2"))
    holds("from_queue", rec.evidence(), rec.stdout(), {"lines": r"pid (?P<value>\d+)", "each_is": "pid"})
    rec = message_run(texts=("3", "3"), printed=("pid 3", "pid 3"))
    with pytest.raises(ClaimBroken, match=r"^line 1: the message '3' is not the pid of Process-1 \(pid 2\), which put it there$"):
        holds("from_queue", rec.evidence(), rec.stdout(), {"lines": r"pid (?P<value>\d+)", "each_is": "pid"})


def manager_run(changed_by: int | None = 3) -> Records:
    """A manager's server (pid 2) holds a dict; a child (pid 3) sets an item through its proxy; main reads it and prints it."""
    rec = run_with_children("SyncManager-1", "Process-2", manager="SyncManager-1")
    key = "listener-1|7f00"  # the manager's address and the object's id there
    if changed_by is not None:
        rec(changed_by, "proxy_call", object=key, method="__setitem__", msg=f"{changed_by}.1")
        rec(2, "served", object=key, method="__setitem__", msg=f"{changed_by}.1", reply="2.1", ok=True, value="None", text="None", changed=True)
    rec(1, "proxy_call", object=key, method="__repr__", msg="1.1")
    rec(2, "served", object=key, method="__repr__", msg="1.1", reply="2.2", ok=True, value="\"{1: '1'}\"", text="{1: '1'}", changed=False)
    rec(1, "proxy_result", object=key, method="__repr__", msg="2.2", ok=True, value="\"{1: '1'}\"", text="{1: '1'}", whole=True)
    rec.write(1, b"{1: '1'}\n")
    return rec


def test_a_value_main_got_through_a_proxy_that_a_child_changed():
    changed = {"lines": ".*", "changed_by": "child"}
    holds("from_manager", manager_run().evidence(), manager_run().stdout(), changed)
    for who in (None, 1):  # no one changed it; main changed it itself
        rec = manager_run(changed_by=who)
        holds("from_manager", rec.evidence(), rec.stdout(), True)
        with pytest.raises(ClaimBroken, match=r"is the value of a managed object that no child process changed through a proxy before main got it$"):
            holds("from_manager", rec.evidence(), rec.stdout(), changed)
    rec = manager_run()
    rec.records[1]["by"] = "program"  # the "server" is a child the program started itself
    with pytest.raises(ClaimBroken, match=r"^line 1: \"\{1: '1'\}\" came from SyncManager-1 \(pid 2\), which is not a manager's server process$"):
        holds("from_manager", rec.evidence(), rec.stdout(), True)


def results_run(printed: bytes, results=((0, 0), (1, 1), (2, 4)), *, function="f", worker=2, chunk=False) -> tuple[Evidence, bytes]:
    """Pool results, one apply_async each (or one chunk of map), main printing `printed`."""
    rec = run_with_children("SpawnPoolWorker-1", pool_worker=True)
    jobs = [(0, i, [x], [y]) for i, (x, y) in enumerate(results)] if chunk else [(k, 0, [x], [y]) for k, (x, y) in enumerate(results)]
    for job, i, xs, ys in jobs:
        rec(worker, "task", job=job, i=i, func=function, module="__main__", calls=[repr((x,)) for x in xs], chunk=chunk)
        rec(worker, "task_done", job=job, i=i, result=repr(ys[0]))
        rec(worker, "put", queue="1.2", kind="SimpleQueue", msg=f"{worker}.{job}.{i}", value="(...)", text="(...)")
        rec(1, "pool_result", job=job, i=i, ok=True, msg=f"{worker}.{job}.{i}", value=repr(ys[0]), items=None)
    rec.write(1, printed)
    return rec.evidence(), printed


def test_pool_results_one_per_line_in_any_order_or_counted():
    spec = [{"function": "f", "inputs": [0, 1, 2], "lines": r"(?P<value>\d+)", "any_order": True}]
    holds("pool", *results_run(b"4\n0\n1\n"), spec)
    with pytest.raises(ClaimBroken, match=r"^line 1: main printed '4' for f\(0,\), but the pool delivered 0 \(from SpawnPoolWorker-1 \(pid 2\)\)$"):
        holds("pool", *results_run(b"4\n0\n1\n"), [{**spec[0], "any_order": False}])
    with pytest.raises(ClaimBroken, match=r"^line 3: main printed '9', which is no result of f of the program's inputs that the pool delivered"):
        holds("pool", *results_run(b"4\n0\n9\n"), spec)
    with pytest.raises(ClaimBroken, match=r"^main printed 2 results of f \(lines matching '<value>'\), not 3$"):
        holds("pool", *results_run(b"4\n0\nnone\n"), spec)
    counted = [{"function": "f", "count": 2, "lines": r"r=(?P<value>\d+)"}, {"function": "f", "count": 1, "lines": r"(?P<values>\[.*\])"}]
    holds("pool", *results_run(b"r=4\nr=1\n[0]\n"), counted)
    with pytest.raises(
        ClaimBroken, match=r"^line 3: main printed '4', which is no result of f that the pool delivered to main before it \(or one printed twice\)$"
    ):
        holds("pool", *results_run(b"r=4\nr=1\n[4]\n"), counted)  # the same result printed twice


def test_a_result_that_is_its_workers_pid():
    spec = [{"function": "getpid", "count": 1, "lines": r"(?P<value>\d+)", "each_is": "pid"}]
    holds("pool", *results_run(b"2\n", results=((None, 2),), function="getpid"), spec)
    with pytest.raises(
        ClaimBroken, match=r"^line 1: getpid\(None,\) gave 7, which is not the pid of SpawnPoolWorker-1 \(pid 2\), which computed it$"
    ):
        holds("pool", *results_run(b"7\n", results=((None, 7),), function="getpid"), spec)


def event_run(*, set_by: int = 1, result: bool = True, set_first: bool = True) -> tuple[Evidence, bytes]:
    rec = run_with_children("Process-1")
    if set_first:
        rec(set_by, "event_set", event="1.5")
    rec(2, "event_wait", event="1.5", result=result)
    if not set_first:
        rec(set_by, "event_set", event="1.5")
    rec.write(2, b"go\n")
    return rec.evidence(), b"go\n"


def test_a_line_printed_after_an_event_another_process_set():
    holds("waited_for_event", *event_run(), {"set": "go"})
    holds("waited_for_event", *event_run(result=False, set_first=False), {"timed_out": "go"})
    with pytest.raises(ClaimBroken, match=r"^line 1: Process-1 \(pid 2\)'s wait on the Event returned before any other process set it$"):
        holds("waited_for_event", *event_run(set_by=2), {"set": "go"})  # it set the event itself
    with pytest.raises(ClaimBroken, match=r"returned before any other process set it$"):
        holds("waited_for_event", *event_run(set_first=False), {"set": "go"})  # a clock would say otherwise: the order is the supervisor's
    with pytest.raises(ClaimBroken, match=r"^line 1: Process-1 \(pid 2\)'s wait on the Event before it returned true: it did not time out$"):
        holds("waited_for_event", *event_run(), {"timed_out": "go"})


def joined_run(*, done_by: int = 2, dones: int = 2, got_by: int = 2) -> tuple[Evidence, bytes]:
    rec = run_with_children("Process-1")
    for k in range(2):
        rec(1, "put", queue="1.3", kind="JoinableQueue", msg=f"1.{k}", value=repr(k), text=str(k))
        rec(got_by, "get", queue="1.3", kind="JoinableQueue", msg=f"1.{k}", value=repr(k), text=str(k), whole=True)
    for _ in range(dones):
        rec(done_by, "queue_done", queue="1.3")
    rec(1, "queue_joined", queue="1.3")
    return rec.evidence(), b""


def test_a_joinable_queue_joined_after_each_task_was_done_by_a_child():
    holds("queue_joined", *joined_run(), True)
    with pytest.raises(ClaimBroken, match=r"^main's join on the JoinableQueue returned after 1 task_done\(\) for its 2 messages$"):
        holds("queue_joined", *joined_run(dones=1), True)
    with pytest.raises(
        ClaimBroken,
        match=r"^the message 0 put on the JoinableQueue was got by the main process \(pid 1\) before main's join returned, not by a child$",
    ):
        holds("queue_joined", *joined_run(got_by=1), True)
    with pytest.raises(ClaimBroken, match=r"^the main process never joined a JoinableQueue"):
        holds("queue_joined", Records().evidence(), b"", True)


def timeout_run(*, finished: bool = False, job_func: str = "sleep", pool_worker: bool = True) -> tuple[Evidence, bytes]:
    rec = run_with_children("ForkPoolWorker-1", pool_worker=pool_worker)
    rec(1, "pool_job", job=3, func=job_func)
    rec(2, "task", job=3, i=0, func=job_func, module="time", calls=["(10,)"], chunk=False)
    if finished:
        rec(2, "task_done", job=3, i=0, result="None")
    rec(1, "pool_timeout", job=3, i=0)
    rec.write(1, b"We lacked patience\n")
    return rec.evidence(), b"We lacked patience\n"


def test_a_wait_that_gave_up_on_a_task_still_running():
    holds("pool_timeout", *timeout_run(), {"function": "sleep", "lines": "We lacked patience"})
    holds("pool_timeout", *timeout_run(), True)
    # A worker that finished before main gave up: its result was still on its way to main (the
    # pool's result queue and main's result-handler thread), as under load; the wait's
    # TimeoutError is the pool's own.
    holds("pool_timeout", *timeout_run(finished=True), {"function": "sleep"})
    with pytest.raises(ClaimBroken, match=r"^no wait of main for a result of sleep timed out"):
        holds("pool_timeout", *timeout_run(job_func="f"), {"function": "sleep"})
    with pytest.raises(ClaimBroken, match=r"^sleep ran in .*\(pid 2\), which is not a pool worker process$"):
        holds("pool_timeout", *timeout_run(pool_worker=False), {"function": "sleep"})


def test_children_the_program_terminated_and_children_bounds():
    rec = run_with_children("Process-1", "Process-2")
    rec(1, "terminate", child=2, kill=False, by="program")
    rec(1, "returncode", child=2, code=-signal.SIGTERM)
    rec.ended(1, 3)
    holds("terminated", rec.evidence(), b"", 1)
    check_child_exits(rec.evidence(), terminated=True)
    with pytest.raises(ClaimBroken, match=rf"^Process-1 \(pid 2\) was killed by signal {signal.SIGTERM:d} \(terminated by the program\)$"):
        check_child_exits(rec.evidence())  # not excused where the claims do not say so
    with pytest.raises(
        ClaimBroken, match=r"^1 child process\(es\) ended by the program's own terminate\(\) or kill\(\) \(Process-1 \(pid 2\)\); the claims say 2$"
    ):
        holds("terminated", rec.evidence(), b"", 2)
    holds("children", rec.evidence(), b"", {"at_most": 2})
    with pytest.raises(ClaimBroken, match=r"^2 child process\(es\) ran: Process-1 \(pid 2\), Process-2 \(pid 3\); the claims say at most 1$"):
        holds("children", rec.evidence(), b"", {"at_most": 1})


def test_the_new_words_do_work_linear_in_the_run(monkeypatch):
    """15,000 lines each carrying a message (too long to keep whole: its head), or each a pool's
    result: each line is looked up among the values of its own text (a dictionary), never compared
    with every value; parsed values are read once each."""
    import harness.vocabulary as vocabulary

    compared = []

    class Head(str):
        """A message's head that counts each comparison made with it."""

        __hash__ = str.__hash__

        def __eq__(self, other):
            compared.append(1)
            return str.__eq__(self, other)

        def startswith(self, *args):
            compared.append(1)
            return str.startswith(self, *args)

    rec, n = run_with_children("Process-1"), 15_000
    tail = "x" * 5000  # past what a record keeps of a message's text
    for k in range(n):
        head = Head((f"{k:08d}" + tail)[:4096])
        rec(2, "put", queue="1.1", kind="Queue", msg=f"2.{k}", value="'...'", text=head)
        rec(1, "get", queue="1.1", kind="Queue", msg=f"2.{k}", value="'...'", text=head, whole=False)
        rec.write(1, f"got {k:08d}{tail}\n".encode())
    holds("from_queue", rec.evidence(), rec.stdout(), {"lines": "got (?P<value>.+)"})
    assert len(compared) <= 3 * n
    read = []
    monkeypatch.setattr(vocabulary, "literal", lambda text, real=vocabulary.literal: read.append(1) or real(text))
    ev, stdout = results_run(b"".join(f"{k * k}\n".encode() for k in range(n)), results=[(k, k * k) for k in range(n)])
    holds("pool", ev, stdout, [{"function": "f", "count": n, "lines": r"(?P<value>\d+)"}])
    holds("pool", ev, stdout, [{"function": "f", "inputs": list(range(n)), "lines": r"(?P<value>\d+)", "any_order": True}])
    assert len(read) <= 8 * n
