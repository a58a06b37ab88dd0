"""No process of a run outlives the runner, however the runner ends: here it is killed with
SIGKILL (a cancelled CI job, an OOM kill, a closed terminal) in the middle of a run that hangs,
whose worker has also started a grandchild. (A process that hides from the run, started with an
empty environment in a new session, is in tests/test_checks_can_fail.py: `02-escapee-left`.)"""

from __future__ import annotations

import errno
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest

from harness import examples
from harness.cells import md_escape
from harness.launcher import finished, state
from harness.plugin import ROOT, SHIPPED_EXAMPLES, STDERR_HEADING, make_run
from harness.report import STDERR_LABEL
from harness.runner import CONTAINMENT, SETTLE, RunError, members, supervisor_command
from harness.verdict import evidence, verdict
from sessions import Job, early, in_command_line, in_environment, live, matrix_session, wait_for


def command_line(proc: psutil.Process) -> str:
    """'' for a process that is gone or a zombie (the runner's own short-lived children come and go)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    running = []
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                running.append(proc)
        except psutil.NoSuchProcess:
            pass
    return running


def test_killing_the_runner_kills_the_run(tmp_path):
    token = f"hang-{uuid.uuid4().hex}"
    hanging = (
        (SHIPPED_EXAMPLES / "02_queue.py")
        .read_text(encoding="utf-8")
        .replace(
            "    q.put('Hello, world!')\n",
            f"    import subprocess, sys, time\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)  # {token}'])\n"
            "    time.sleep(600)\n",
        )
    )
    (tmp_path / "02_queue.py").write_text(hanging, encoding="utf-8")
    runner = psutil.Popen(
        matrix_session("-q", "--examples-dir", tmp_path, "--start-method", "spawn", "--example-timeout", "600"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run: list[psutil.Process] = []
    try:
        started = wait_for(lambda: any(token in command_line(p) for p in runner.children(recursive=True)), 60)
        assert started, "the hanging run never started its grandchild"
        run = runner.children(recursive=True)  # the supervisor, the example's processes, the grandchild
        runner.kill()  # SIGKILL: nothing of the runner can react
        runner.wait()
        wait_for(lambda: not alive(run), 30)
        survivors = alive(run)
        assert not survivors, f"left running after the runner was killed: {[command_line(p) for p in survivors]}"
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for proc in alive(run):
            proc.kill()


# --- a run that takes its supervisor down --------------------------------------------------------
# Broken copies of 02_queue whose processes kill or stop the supervisor (the main process's parent),
# then hang. Each is a pytest session of its own, as a user runs it; every process of it carries
# PROBE in its environment, so that whatever is left of it once the session has ended is found.

PROBE = "CONTAINMENT_PROBE"
SCRATCH = Path(tempfile.gettempdir()) / f"containment-{uuid.uuid4().hex[:8]}"
# This session's value of PROBE: another session on the machine (a second checkout, the other
# emulation) has sabotaged runs of its own, which are not ours to find or kill.
SABOTAGE_PROBE = SCRATCH.name
HANG = "    import time\n    time.sleep(600)\n"
# What main-kills-it says on stderr first: the end of the run's stderr goes with the cell's error.
SAID = "main: about to kill my supervisor"


def by_signal(how: str, name: str) -> str:
    """How the warden says the supervisor ended, with the platform's number for the signal: SIGSTOP
    is 19 on Linux, 17 on macOS (Windows has neither signal, nor these tests)."""
    number = getattr(signal, name, None)
    return f"was {how} by signal {'?' if number is None else int(number)} ({name})"


SABOTAGE = {
    # (the edits to 02_queue.py, how the supervisor ended: the cell's one line says so)
    "main-kills-it": (
        (
            ("    q.put('Hello, world!')\n", HANG),
            (
                "    p.start()\n",
                "    p.start()\n    import os, signal, sys\n"
                f"    print({SAID!r}, file=sys.stderr, flush=True)\n    os.kill(os.getppid(), signal.SIGKILL)\n",
            ),
        ),
        by_signal("killed", "SIGKILL"),
    ),
    "a-child-kills-it": (
        (
            (
                "def worker(q):\n    q.put('Hello, world!')\n",
                "def worker(q, supervisor):\n    import os, signal\n    os.kill(supervisor, signal.SIGKILL)\n" + HANG,
            ),
            ("args=(q,)", "args=(q, __import__('os').getppid())"),
        ),
        by_signal("killed", "SIGKILL"),
    ),
    "main-stops-it": (
        (
            ("    q.put('Hello, world!')\n", HANG),
            ("    p.start()\n", "    p.start()\n    import os, signal\n    os.kill(os.getppid(), signal.SIGSTOP)\n"),
        ),
        by_signal("stopped", "SIGSTOP"),
    ),
}


SABOTAGED = SCRATCH / "sabotaged"


def write_sabotaged() -> None:
    SABOTAGED.mkdir(parents=True)
    for name, (edits, _) in SABOTAGE.items():
        text = (SHIPPED_EXAMPLES / "02_queue.py").read_text(encoding="utf-8")
        for old, new in edits:
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        (SABOTAGED / f"{name.replace('-', '_')}.py").write_text(text, encoding="utf-8")


# One session for the three (a cell each), as a user runs it. A bound on the whole session: a
# harness that hangs fails the test instead of hanging it.
SABOTAGE_RUN = Job(
    matrix_session("--examples-dir", SABOTAGED, "--start-method", "spawn", "--example-timeout", "20", f"--junitxml={SABOTAGED / 'junit.x.xml'}"),
    timeout=120,
    prepare=write_sabotaged,
    env=((PROBE, SABOTAGE_PROBE), ("COLUMNS", "300")),  # COLUMNS: the summary's lines unabridged
)
early("sabotaged", *([SABOTAGE_RUN] if sys.platform != "win32" else []))


def probed(name: str) -> list[psutil.Process]:
    """The live processes of that session (the session itself included while it runs)."""
    return live(in_environment(PROBE, name))


@pytest.fixture(scope="module")
def sabotaged(pytestconfig):
    try:
        yield finished(pytestconfig, SABOTAGE_RUN)
    finally:
        for proc in probed(SABOTAGE_PROBE):
            proc.kill()
        shutil.rmtree(SCRATCH, ignore_errors=True)


def line_of(name: str) -> str:
    return f"the supervisor of {name.replace('-', '_')}-spawn {SABOTAGE[name][1]}: the run's processes were killed, and it was not judged"


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no supervisor: the runner holds the job object")
@pytest.mark.parametrize("name", list(SABOTAGE))
def test_a_run_that_takes_its_supervisor_down_is_one_line_and_leaves_nothing(sabotaged, name):
    done = sabotaged
    left = [command_line(p) for p in probed(SABOTAGE_PROBE)]
    assert not left, f"left running after the session ended: {left}"
    assert done.returncode == 1, done.stdout + done.stderr
    line = line_of(name)
    assert f"\n{line}\n" in done.stdout and "Traceback" not in done.stdout + done.stderr, done.stdout
    assert f"ERROR tests/test_claims.py::test_claims[{name.replace('-', '_')}-spawn] - Failed: {line}" in done.stdout, done.stdout
    if name == "main-kills-it":  # then the end of the run's stderr, which the run's folder took with it
        assert f"\n{line}\n{STDERR_HEADING}\n{SAID}\n" in done.stdout, done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no supervisor: the runner holds the job object")
def test_a_cell_that_could_not_be_judged_is_an_error_in_every_form_of_the_report(sabotaged):
    """The cells the harness could not judge are in every form of the report, as errors with their
    one line, and the report fails: an error is never a gap."""
    out = {kind: SABOTAGED / f"matrix.{kind}" for kind in ("md", "json", "html")}
    done = subprocess.run(
        [sys.executable, "-m", "harness.report", SABOTAGED, "--markdown", out["md"], "--json", out["json"], "--html", out["html"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (1, ""), done.stdout + done.stderr
    assert (
        done.stdout.startswith("Claims matrix, 1 column(s) from 1 JUnit file(s): 3 error, ")
        and "Some claims do NOT hold." in done.stdout.splitlines()[0]
    )
    names = [name.replace("-", "_") for name in SABOTAGE]
    for name in names:
        assert re.search(rf"^{name} +default +NOT RUN\n +fork +NOT RUN\n +spawn +ERROR \[\d\]$", done.stdout, re.M), done.stdout
    lines = {name.replace("-", "_"): line_of(name) for name in SABOTAGE}
    cells = [c for c in json.loads(out["json"].read_text(encoding="utf-8"))["cells"] if c["status"] == "error"]
    assert sorted((c["example"], c["start_method"], c["diagnosis"]) for c in cells) == sorted((name, "spawn", lines[name]) for name in names)
    markdown, page = out["md"].read_text(encoding="utf-8"), out["html"].read_text(encoding="utf-8")
    for name, line in lines.items():
        assert f"| 💥 error: {md_escape(line)} |" in markdown
        assert f'<td class="error" title="{name} spawn on ' in page and f'error<span class="diagnosis">{html.escape(line)}</span>' in page
    # The end of the run's stderr goes with its error, in every form: a supervisor's traceback would be there.
    said = {c["example"]: c["stderr"] for c in cells}
    assert said["main_kills_it"].startswith(f"{SAID}\n") or said["main_kills_it"] == SAID, said
    assert re.search(rf"^\[\d\] main_kills_it spawn, .*\n    {re.escape(STDERR_LABEL)}:\n    \| {SAID}$", done.stdout, re.M), done.stdout
    assert re.search(rf"^\*\*main\\_kills\\_it spawn, .*\*\*: {re.escape(STDERR_LABEL)}\n\n```\n{SAID}\n", markdown, re.M), markdown
    assert f"<summary>{html.escape(STDERR_LABEL)}</summary><pre>{SAID}" in page


# The warden and the supervisor both stopped (the warden first, so that it cannot act), as the main
# process's first act: only the runner's own bound is left (a 30 s timeout and 1 s grace: 44 s). The
# main process must get there before its timeout ends the run as usual: at nice 0 and with 30 s, a
# loaded machine still lets it (CI's did not, at 5 s and nice 10).
SABOTAGE_FIRST = """    import os, signal
    open(MARKER_FILE, 'w').write(os.environ['HARNESS_RUN_ID'])
    supervisor = os.getppid()
    warden = int(open(f'/proc/{supervisor}/stat').read().rsplit(')', 1)[1].split()[1])
    os.kill(warden, signal.SIGSTOP)
    os.kill(supervisor, signal.SIGSTOP)
"""
STOPS_BOTH = (SHIPPED_EXAMPLES / "02_queue.py").read_text(encoding="utf-8").replace("def main():\n", "def main():\n" + SABOTAGE_FIRST)
MARKER_FILE = Path(tempfile.gettempdir()) / f"stops-both-{uuid.uuid4().hex[:8]}.marker"  # the run's marker, written by the copy


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.function.__name__ == "test_a_run_that_stops_its_warden_too_ends_at_the_runners_bound":
        source = STOPS_BOTH.replace("MARKER_FILE", repr(str(MARKER_FILE)))
        spec = examples.load(SHIPPED_EXAMPLES / "02_queue.py")
        run = make_run(metafunc.config, spec, "spawn", source=source, timeout=30.0, grace=1.0, nice=0, first=True)
        metafunc.parametrize("run", [run], ids=["stops-both"])


@pytest.mark.skipif(sys.platform != "linux", reason="the copy finds the warden in /proc")
def test_a_run_that_stops_its_warden_too_ends_at_the_runners_bound(pytestconfig, run):
    try:
        # A bound of our own: a runner that waits for ever fails the test instead of hanging it.
        outcome = state(pytestconfig).launched[run].result(timeout=120)
    except RunError as exc:
        failed = str(exc)
    else:
        pytest.fail(f"the run ended as usual: {verdict(outcome, run.spec)}\n{evidence(outcome)}")
    bound = run.timeout + SETTLE + 4 * run.grace + 10  # harness/runner.py's: its timeout, no settling, the grace, 10 s
    assert (
        failed
        == f"the supervisor of 02_queue-spawn did not end within {bound:g} s: it was killed, with the run's processes, and the run was not judged"
    )
    assert MARKER_FILE.is_file(), "the copy's main process did not start within its 30 s timeout"
    marker = MARKER_FILE.read_text(encoding="utf-8")
    MARKER_FILE.unlink()
    assert marker and not members(marker), [command_line(p) for p in members(marker)]


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no supervisor: the runner holds the job object")
def test_a_supervisor_whose_runner_is_gone_at_once_ends_quietly(tmp_path):
    """Its runner gone before the supervisor could set up (here: a runner that is not its parent, seen
    at the warden's first look), the supervisor dies of the warden's SIGTERM: the warden stops the
    run itself, and ends with status 1 and nothing on stderr, not a traceback."""
    command = [sys.executable, "-c", f"import time; time.sleep(600)  # {tmp_path.name}"]
    reading, writing = os.pipe()
    supervisor = supervisor_command(report=writing, timeout=60, grace=1, runner=1, nice=0)
    try:
        for _ in range(5):  # whether its handler is up when the SIGTERM comes is a race: try it a few times
            done = subprocess.run([*supervisor, "--", *command], capture_output=True, text=True, timeout=60, pass_fds=(writing,))
            assert (done.returncode, done.stderr) == (1, "")
    finally:
        os.close(reading)
        os.close(writing)
    assert not live(in_command_line(tmp_path.name))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is TerminateProcess on Windows: no handler runs")
def test_a_stopped_stress_run_leaves_nothing_running(tmp_path):
    """benchmarks/stress.py stopped with SIGTERM (a cancelled job, `kill`) kills its added load and the run under way."""
    token = f"stressed-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, ROOT / "benchmarks" / "stress.py", "--runs", "1", "--load", "1", "--results", tmp_path]
    stress = psutil.Popen([*command, "--", sys.executable, "-c", f"import time; time.sleep(600)  # {token}"], cwd=ROOT, stdout=subprocess.DEVNULL)
    children: list[psutil.Process] = []
    try:
        assert wait_for(lambda: len(stress.children()) == 2, 60), "the stress run never started its load and its command"
        children = stress.children()
        stress.terminate()
        assert stress.wait(30) == 128 + 15
        wait_for(lambda: not alive(children), 10)
        assert not alive(children), f"left running: {[command_line(p) for p in alive(children)]}"
    finally:
        for proc in alive([stress, *children]):
            proc.kill()


# Forks until the kernel refuses, at most 3000 times (each child sleeps a moment, then exits), and
# says how many it got on stderr, then exits 3 if it was refused.
FORK_BOMB = """import os, sys, time
got = 0
try:
    for _ in range(3000):
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        got += 1
except OSError as exc:
    print(f'forks: {got}: {exc.strerror}', file=sys.stderr)
    sys.exit(3)
print(f'forks: {got}', file=sys.stderr)
"""


@pytest.mark.skipif(sys.platform != "linux" or CONTAINMENT != "subreaper", reason="a run's own cgroups: Linux, as root")
def test_a_fork_bomb_exhausts_its_own_run_not_the_machine():
    """Where the supervisor can give a run cgroups of its own (root, cgroup v1: here and in CI), a run
    that forks without end is refused its 1025th process, far below the machine's limit: the runs
    beside it keep theirs. Where it cannot, the run forks on; the README says so."""
    from harness.runner import Run, execute
    from harness.supervisor import RUN_PIDS, Bounds

    if not Bounds.where("probe") or os.geteuid() != 0:
        pytest.skip("no cgroup v1 to bound a run with (not root): the runs share the machine's processes")
    done = execute(Run("fork_bomb", "fork", sys.executable, source=FORK_BOMB, timeout=60))
    got = int(re.search(r"forks: (\d+)", done.stderr)[1])
    assert (done.returncode, done.bounded) == (3, True), done.stderr
    assert got < RUN_PIDS and os.strerror(errno.EAGAIN) in done.stderr, done.stderr
    assert not members(done.marker), "processes of the run survived it"
