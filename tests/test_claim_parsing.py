"""The claim checks on output text alone: the article's own sample output passes, and output
that two processes wrote at once (split or merged lines) cannot cause a false failure. Then the
claims on evidence, on made-up records for the cases no real run can produce (a clock that says the
workers were never alive at once, a write that never reached stdout, a child silent about itself)."""

import pytest

from harness.claims import (
    ClaimBroken,
    check_child_exits,
    check_lock,
    check_pool,
    check_processes,
    check_queue,
    check_started,
    prove_lock,
    prove_pool,
    prove_processes,
    prove_queue,
)
from harness.evidence import Evidence, Unaccounted

# What the article shows each program printing, copied from the article.
ARTICLE_OUTPUT = {
    "01_processes": "0\na\nb\n1\nc\n2\nd\n3\ne\n4\n5\nf\ng\n6\nh\n7\n8\ni\nj\n9\n",
    "02_queue": "Hello, world!\n",
    "03_lock": (
        "Process-Process-2:1 entered critical section\nProcess-Process-2:1 modified counter: 0 -> 1\n"
        "Process-Process-1:1 entered critical section\nProcess-Process-1:1 modified counter: 1 -> 2\n"
        "Process-Process-5:1 entered critical section\nProcess-Process-5:1 modified counter: 2 -> 3\n"
        "Process-Process-3:1 entered critical section\nProcess-Process-3:1 modified counter: 3 -> 4\n"
        "Process-Process-4:1 entered critical section\nProcess-Process-4:1 modified counter: 4 -> 5\n"
        "\nFinal counter value: 5 (expected value: 5)\n"
    ),
    "04_pool": "[1, 4, 9, 16, 25]\n",
}
CHECKS = {"01_processes": check_processes, "02_queue": check_queue, "03_lock": check_lock, "04_pool": check_pool}


@pytest.mark.parametrize("example", ARTICLE_OUTPUT)
def test_the_articles_sample_output_holds_the_claims(example):
    CHECKS[example](ARTICLE_OUTPUT[example])


@pytest.mark.parametrize(
    "stdout",
    [
        "0\na\nb\n1\nc\n2\nd\n3\ne\n4\n5\nf\ng\n6\nh\n7h\n\n8\ni\nj\n9\n".replace("h\n7h", "7h"),  # merged: 7h
        "0a\n\nb\n1\nc\n2\nd\n3\ne\n4\n5\nf\ng\n6\nh\n7\n8\ni\nj\n9\n",
        "a\n0\n1\nb\n2c\n\n3\nd\ne\n4\n5\nf\ng\n6\nh\n7\n8\ni\nj\n9\n",
    ],
    ids=["7h", "0a", "2c"],
)
def test_lines_merged_by_concurrent_writes_still_hold(stdout):
    check_processes(stdout)


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [
        ("".join(f"{d}\n" for d in "0123456789") + "".join(f"{c}\n" for c in "abcdefghij"), "all digits came before the first of the letters"),
        ("".join(f"{c}\n" for c in "abcdefghij") + "".join(f"{d}\n" for d in "0123456789"), "all letters came before the first of the digits"),
        (ARTICLE_OUTPUT["01_processes"].replace("9", "10"), "never printed: 9"),
        (ARTICLE_OUTPUT["01_processes"] + "k\n", "unexpected output 'k'"),
        ("", "never printed: 0 1 2"),
    ],
    ids=["sequential", "letters-first", "ten", "stranger", "empty"],
)
def test_broken_01_output(stdout, reason):
    with pytest.raises(ClaimBroken, match=reason):
        check_processes(stdout)


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [
        (ARTICLE_OUTPUT["03_lock"].replace("modified counter: 2 -> 3", "modified counter: 1 -> 3"), "line 6: counter went 1 -> 3"),
        (
            ARTICLE_OUTPUT["03_lock"].replace("Process-5:1 modified", "Process-3:1 modified"),
            "line 6: Process-Process-3:1 modified the counter while Process-Process-5:1 held the lock",
        ),
        (ARTICLE_OUTPUT["03_lock"].replace("Process-4:1", "Process-1:1"), "were not Process-1..5 once each"),
        (ARTICLE_OUTPUT["03_lock"].rstrip("\n"), "does not end with a newline"),
        (ARTICLE_OUTPUT["03_lock"] + "\n", "expected a blank line then"),
        ("", "line 1: expected"),
    ],
    ids=["lost-update", "other-process", "same-worker-twice", "no-final-newline", "extra-line", "empty"],
)
def test_broken_03_output(stdout, reason):
    with pytest.raises(ClaimBroken, match=reason):
        check_lock(stdout)


@pytest.mark.parametrize(
    ("check", "stdout"),
    [
        (check_queue, "Hello, world!\r\n"),
        (check_queue, " Hello, world!\n"),
        (check_pool, "[1, 4, 9, 16, 25]\n\n"),
        (check_pool, "(1, 4, 9, 16, 25)\n"),
    ],
    ids=["crlf-left", "leading-space", "extra-line", "tuple"],
)
def test_exact_outputs_are_exact(check, stdout):
    with pytest.raises(ClaimBroken, match="expected exactly"):
        check(stdout)


# --- the claims on evidence, on records made up for the cases no real run can produce ----------


class Records:
    """A run's evidence written by hand: each call adds a record at the next tick of a fake clock."""

    def __init__(self):
        self.records, self.clock = [], 0

    def __call__(self, pid: int, event: str, **fields) -> dict:
        self.clock += 1000
        self.records.append({"e": event, "pid": pid, "t": self.clock, **fields})
        return self.records[-1]

    def child(self, parent: int, pid: int, name: str, method: str = "spawn", how: str = "spawn", **bootstrap):
        self(parent, "started", child=pid, name=name, method=method, daemon=False)
        self(pid, "bootstrap", name=name, identity=[int(name.rsplit("-", 1)[1])], how=how, ppid=parent, target="worker", **bootstrap)

    def ended(self, parent: int, pid: int, code: int = 0):
        self(pid, "exit", code=code)
        self(parent, "returncode", child=pid, code=code)

    def write(self, pid: int, data: bytes):
        self(pid, "write", t0=self.clock + 1, data=data)

    def evidence(self) -> Evidence:
        return Evidence(self.records, main_pid=1)


def test_the_workers_must_have_been_alive_at_once():
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
    stdout = b"".join(r["data"] for r in rec.records if r["e"] == "write")
    with pytest.raises(ClaimBroken, match=r"^Process-1 \(pid 2\) had ended before Process-2 \(pid 3\) began"):
        prove_processes(rec.evidence(), stdout)


def test_stdout_must_be_exactly_the_recorded_writes():
    rec = Records()
    rec.write(1, b"Hello, world!\n")
    ev = rec.evidence()
    assert [(s.pid, s.data) for s in ev.segments(b"Hello, world!\n")] == [(1, b"Hello, world!\n")]
    with pytest.raises(Unaccounted, match=r"^stdout from byte 0 \('Hello, World!\\n'\) was written by no process"):
        ev.segments(b"Hello, World!\n")
    with pytest.raises(Unaccounted, match=r"^the recorded writes do not add up to stdout"):
        ev.segments(b"")  # a write that never reached the file: fd 1 pointed elsewhere


def test_interleaved_writes_are_told_apart_by_process_order():
    rec = Records()
    for pid, data in ((2, b"x\n"), (3, b"x\n"), (2, b"y\n"), (3, b"z\n")):
        rec.write(pid, data)
    segments = rec.evidence().segments(b"x\nx\nz\ny\n")  # 3 wrote z before 2 wrote y reached the file
    assert [(s.pid, s.data) for s in segments] == [(2, b"x\n"), (3, b"x\n"), (3, b"z\n"), (2, b"y\n")]


@pytest.mark.parametrize(
    ("code", "terminated", "reason"),
    [
        (1, False, r"^Process-1 \(pid 2\) exited with status 1$"),
        (-9, False, r"^Process-1 \(pid 2\) was killed by signal 9$"),
        (None, False, r"^Process-1 \(pid 2\) has no exit status"),
        (-15, True, None),  # its parent ended it: how a Pool stops its workers
        (-15, False, r"killed by signal 15"),
    ],
    ids=["status-1", "killed", "no-status", "terminated-by-its-pool", "terminated-by-someone-else"],
)
def test_child_exit_status(code, terminated, reason):
    rec = Records()
    rec.child(1, 2, "Process-1")
    if code is not None:
        rec(1, "returncode", child=2, code=code)
    if terminated:
        rec(1, "terminate", child=2, name="Process-1")
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
    ],
    ids=["agree", "both-fork", "child-disagrees", "child-silent"],
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


def lock_run(release_between: bool) -> tuple[Evidence, bytes]:
    rec = Records()
    for n, pid in enumerate(range(2, 7), 1):
        rec.child(1, pid, f"Process-{n}")
        rec(pid, "acquire", lock="L", kind="Lock")
        rec.write(pid, f"Process-Process-{n}:1 entered critical section\n".encode())
        if release_between:
            rec(pid, "release", lock="L", kind="Lock")
            rec(pid, "acquire", lock="L", kind="Lock")
        rec.write(pid, f"Process-Process-{n}:1 modified counter: {n - 1} -> {n}\n".encode())
        rec(pid, "release", lock="L", kind="Lock")
        rec.ended(1, pid)
    rec.write(1, b"\nFinal counter value: 5 (expected value: 5)\n")
    return rec.evidence(), b"".join(r["data"] for r in rec.records if r["e"] == "write")


def test_each_pair_is_printed_within_one_hold_of_the_lock():
    prove_lock(*lock_run(release_between=False))
    with pytest.raises(ClaimBroken, match=r"^line 2: Process-1 \(pid 2\) released the lock between 'entered' and 'modified'$"):
        prove_lock(*lock_run(release_between=True))


def test_the_pool_results_must_reach_the_main_process():
    rec = Records()
    rec.child(1, 2, "SpawnPoolWorker-1")
    for i, x in enumerate([1, 2, 3, 4, 5]):
        rec(2, "task", job=0, i=i, func="square", inputs=f"({x},)", chunk=True, t0=rec.clock, result=f"[{x * x}]")
        if x != 3:
            rec(1, "pool_result", job=0, i=i, ok=True, value=f"[{x * x}]")
    rec.write(1, b"[1, 4, 9, 16, 25]\n")
    with pytest.raises(ClaimBroken, match=r"^the result of square\(3,\) \(\[9\]\) never reached the main process through the pool$"):
        prove_pool(rec.evidence(), b"[1, 4, 9, 16, 25]\n")


def test_an_interpreter_behind_a_launcher_is_the_main_process():
    """On Windows a venv's python.exe is a launcher: the pid the harness started records nothing,
    and the real interpreter, its child, is the example's main process."""
    rec = Records()
    rec(7, "start", ppid=1, argv=["C:\\Python313\\python.exe", "-X", "dev", "02_queue.py"])
    rec.child(7, 8, "Process-1")
    rec(8, "put", queue="7.1", kind="Queue", value="'Hello, world!'", text="Hello, world!")
    rec(7, "get", queue="7.1", kind="Queue", value="'Hello, world!'", text="Hello, world!")
    rec.write(7, b"Hello, world!\r\n")
    rec.ended(7, 8)
    ev = Evidence(rec.records, main_pid=1)
    assert ev.main_pid == 7 and ev.procs[7].role == "main" and not ev.unexplained
    check_started(ev, "spawn", "spawn")
    prove_queue(ev, b"Hello, world!\r\n")
