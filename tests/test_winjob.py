"""The Windows containment (harness/winjob.py, runner.contained_windows), checked where no Windows is.

Its structures and calls are checked against the SDK's declarations for 64-bit Windows, written in
fixed-width types (tests/fake_win32.py); then it runs real processes of this machine against a fake
of the Win32 calls it makes: a run starts suspended, joins its job and only then runs; its main
process is the base interpreter, told which venv it is, not a venv's launcher; a run past its
timeout is killed and waited for; what outlives the main process is reported and killed.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from fake_win32 import (
    CREATE_SUSPENDED,
    SDK_IO_COUNTERS,
    SDK_JOBOBJECT_BASIC_LIMIT_INFORMATION,
    SDK_JOBOBJECT_BASIC_PROCESS_ID_LIST,
    SDK_JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    SDK_SIGNATURES,
    SDK_SIZES,
    SDK_THREADENTRY32,
    FakeKernel32,
    kind,
    layout,
)
from harness import winjob
from harness.inject import mp_contract as contract
from harness.pythons import interpreter_info
from harness.runner import Run, contained_windows, main_command, reap

STRUCTURES = {
    "IO_COUNTERS": SDK_IO_COUNTERS,
    "JOBOBJECT_BASIC_LIMIT_INFORMATION": SDK_JOBOBJECT_BASIC_LIMIT_INFORMATION,
    "JOBOBJECT_EXTENDED_LIMIT_INFORMATION": SDK_JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    "JOBOBJECT_BASIC_PROCESS_ID_LIST": SDK_JOBOBJECT_BASIC_PROCESS_ID_LIST,
    "THREADENTRY32": SDK_THREADENTRY32,
}


def layout_problems(ours, sdk) -> list[str]:
    """Where a structure of winjob.py is laid out otherwise than the SDK's on 64-bit Windows (by
    offsets and sizes; the names are ours). The process id list is a buffer: its array's length is
    the caller's, its elements' size is not."""
    mine, theirs = layout(ours), layout(sdk)
    if sdk is SDK_JOBOBJECT_BASIC_PROCESS_ID_LIST:
        array = ours.ProcessIdList
        mine = [*mine[:2], ("ProcessIdList", array.offset, ctypes.sizeof(ours._fields_[2][1]._type_))]
        theirs = [*theirs[:2], ("ProcessIdList", sdk.ProcessIdList.offset, 8)]
    shape = lambda fields: [(offset, size) for _, offset, size in fields]  # noqa: E731
    if shape(mine) != shape(theirs):
        return [f"{ours.__name__}: (offset, size) {shape(mine)}, on 64-bit Windows {shape(theirs)}"]
    return []


def signature_problems(signatures: dict) -> list[str]:
    problems = [f"{name}: not declared" for name in SDK_SIGNATURES if name not in signatures]
    for name, (restype, argtypes) in signatures.items():
        declared = (kind(restype), tuple(kind(t) for t in argtypes))
        if declared != SDK_SIGNATURES.get(name):
            problems.append(f"{name}: declared {declared}, the SDK's {SDK_SIGNATURES.get(name)}")
    return problems


@pytest.mark.parametrize("sdk", SDK_SIZES, ids=lambda s: s.__name__)
def test_the_sdk_layouts_have_the_sizes_of_64_bit_windows(sdk):
    assert ctypes.sizeof(sdk) == SDK_SIZES[sdk]


@pytest.mark.parametrize("name", STRUCTURES)
def test_each_structure_is_laid_out_as_on_64_bit_windows(name):
    assert layout_problems(getattr(winjob, name), STRUCTURES[name]) == []


def test_the_layout_check_rejects_a_64_bit_dword():
    class BROKEN(ctypes.Structure):  # LimitFlags declared as a C long: 64 bits on 64-bit Linux and macOS
        _fields_ = [(n, ctypes.c_uint64 if n == "LimitFlags" else t) for n, t in winjob.JOBOBJECT_BASIC_LIMIT_INFORMATION._fields_]

    assert layout_problems(BROKEN, SDK_JOBOBJECT_BASIC_LIMIT_INFORMATION)


def test_each_call_is_declared_as_the_sdk_declares_it():
    assert signature_problems(winjob.SIGNATURES) == []


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("ResumeThread", (ctypes.c_int32, (ctypes.c_void_p,))),  # its failure, (DWORD)-1, would read as -1
        ("OpenThread", (ctypes.c_int32, (ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint32))),  # a HANDLE cut to 32 bits
        ("TerminateJobObject", (ctypes.c_int32, (ctypes.c_void_p, ctypes.c_uint64))),
    ],
    ids=["signed-dword", "handle-as-int", "wide-uint"],
)
def test_the_signature_check_rejects(name, declared):
    assert any(p.startswith(f"{name}: declared") for p in signature_problems({**winjob.SIGNATURES, name: declared}))


def test_the_signature_check_rejects_a_missing_call():
    assert "CloseHandle: not declared" in signature_problems({k: v for k, v in winjob.SIGNATURES.items() if k != "CloseHandle"})


# --- runs against the fake ----------------------------------------------------------------------

# The fake stands real POSIX processes behind the Win32 calls (a stop signal for a suspended
# start); on Windows every run of the matrix goes through the real calls instead.
posix_fake = pytest.mark.skipif(sys.platform == "win32", reason="the fake's processes are POSIX ones (/bin/sh, SIGSTOP)")


@pytest.fixture
def fake(request):
    kernel32 = getattr(request, "param", FakeKernel32)()
    yield kernel32
    for process in kernel32.started:  # whatever a failed test left
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def contain(fake: FakeKernel32, tmp_path: Path, command: list[str], timeout: float = 60.0, env: dict | None = None, **how) -> tuple[dict, str]:
    """contained_windows on the fake: its report, and what the run printed."""
    run = Run("02_queue", "spawn", sys.executable, timeout=timeout, **how)
    out_path = tmp_path / "stdout"
    with open(out_path, "ab") as out, open(tmp_path / "stderr", "ab") as err:
        report = contained_windows(run, command, env, out, err, tmp_path, tmp_path / "report", "token", job=winjob.Job(fake, fake.popen))
    return report, out_path.read_text(encoding="utf-8")


@posix_fake
def test_the_job_kills_its_processes_when_it_is_closed(fake):
    with winjob.Job(fake, fake.popen) as job:
        assert fake.calls[-1] == ("SetInformationJobObject", winjob.JobObjectExtendedLimitInformation, 144)
        assert fake.objects[job.handle][1]["limits"] == winjob.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    assert fake.calls[-1] == ("CloseHandle", "job") and fake.problems == []


@posix_fake
def test_a_run_starts_suspended_joins_the_job_then_runs(fake, tmp_path):
    report, printed = contain(fake, tmp_path, [sys.executable, "-c", "print('ran')"])
    assert fake.problems == []
    assert (report["returncode"], report["leftovers"], printed) == (0, [], "ran\n")
    main = fake.started[0].pid
    steps = [call[:3] if call[0] == "AssignProcessToJobObject" else call[:2] for call in fake.calls]
    created = next(call for call in fake.calls if call[0] == "CreateProcess")
    assert created[1] & CREATE_SUSPENDED, f"created with flags {created[1]:#x}: it runs before it is in the job"
    assert steps.index(("AssignProcessToJobObject", main, "suspended")) < steps.index(("ResumeThread", main)), fake.calls


@posix_fake
@pytest.mark.skipif(not interpreter_info(sys.executable)["name"].startswith("CPython "), reason="only CPython's venv has a launcher to bypass")
def test_the_main_process_is_the_base_interpreter_told_its_venv(fake, tmp_path):
    """A venv's python.exe is a launcher that starts the base interpreter as a process of its own:
    the run starts the base interpreter itself, as multiprocessing's spawn does on Windows."""
    info = interpreter_info(sys.executable)
    script = tmp_path / "which.py"
    script.write_text("import sys; print(sys.executable)\n", encoding="utf-8")
    command, env = main_command(info, script, {}, platform="win32")
    report, printed = contain(fake, tmp_path, command, env=env)
    assert report["returncode"] == 0
    assert fake.calls[0][0] == "CreateJobObjectW" and fake.started[0].args[-4:] == [info["base_executable"], "-X", "dev", str(script)]
    assert printed == f"{info['executable']}\n"  # it runs as the venv's interpreter


@pytest.mark.parametrize(
    ("platform", "name", "executable", "base", "started", "launcher"),
    [
        (
            "win32",
            "CPython 3.12.10",
            r"C:\w\.tox\3.12\Scripts\python.exe",
            r"C:\Python312\python.exe",
            r"C:\Python312\python.exe",
            r"C:\w\.tox\3.12\Scripts\python.exe",
        ),
        ("win32", "CPython 3.12.10", r"C:\Python312\python.exe", r"c:\python312\PYTHON.EXE", r"C:\Python312\python.exe", None),  # no venv
        # A PyPy venv's python.exe is PyPy itself (no launcher), and PyPy ignores __PYVENV_LAUNCHER__.
        ("win32", "PyPy 3.11.13", r"C:\w\.tox\pypy3\Scripts\python.exe", r"C:\pypy\pypy.exe", r"C:\w\.tox\pypy3\Scripts\python.exe", None),
        ("linux", "CPython 3.12.1", "/w/.tox/3.12/bin/python", "/usr/bin/python3.12", "/w/.tox/3.12/bin/python", None),  # a symlink, no launcher
    ],
    ids=["windows-venv", "windows-base", "windows-pypy-venv", "linux-venv"],
)
def test_only_a_windows_cpython_venv_is_bypassed(platform, name, executable, base, started, launcher):
    info = {"name": name, "executable": executable, "base_executable": base}
    command, env = main_command(info, Path("x.py"), {"PATH": "p"}, platform=platform)
    assert command == [started, "-X", "dev", "x.py"]
    assert env == {"PATH": "p", **({"__PYVENV_LAUNCHER__": launcher} if launcher else {})}


@posix_fake
def test_a_run_past_its_timeout_is_killed_and_waited_for(fake, tmp_path):
    report, _ = contain(fake, tmp_path, [sys.executable, "-c", "import time; time.sleep(600)"], timeout=1.0)
    assert report["returncode"] is None  # timed out
    main = fake.started[0]
    # Killed but never waited for, its Popen would warn "subprocess N is still running" when
    # collected, and filterwarnings = error turns that into the failure of whichever test runs then.
    assert main.returncode is not None, "the killed main process was not waited for"
    assert ("TerminateJobObject", 1) in fake.calls


@posix_fake
def test_what_outlives_the_main_process_is_reported_and_killed(fake, tmp_path):
    token = "left-behind-by-the-main-process"
    child = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)  # {token}'])"
    report, _ = contain(fake, tmp_path, [sys.executable, "-c", child])
    assert report["returncode"] == 0
    assert len(report["leftovers"]) == 1 and token in report["leftovers"][0], report["leftovers"]
    pid = int(report["leftovers"][0].split()[1].rstrip(":"))
    deadline = time.monotonic() + 30
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL is delivered at once; the kernel may take a moment to finish it
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, "the leftover survived its job"


@posix_fake
@pytest.mark.parametrize("nice", [10, 15])
def test_a_lower_priority_is_below_normal_never_idle(fake, tmp_path, nice):
    """Windows' idle class gets no CPU while anything else wants it: on a busy runner the harness's
    copies (nice 15) would wait, their timeouts running."""
    contain(fake, tmp_path, [sys.executable, "-c", "pass"], nice=nice)
    created = next(call for call in fake.calls if call[0] == "CreateProcess")
    assert created[1] & ~CREATE_SUSPENDED == winjob.BELOW_NORMAL_PRIORITY_CLASS, f"created with flags {created[1]:#x}"


# A spawn child still starting when the main process dies: on Windows, popen_spawn_win32 creates it
# before pickling the process object, so a target that cannot be pickled leaves one (the tutorial's
# lambda_target; inject/win32_spawn.py does the same under emulate-windows). Here the main process
# starts a child with a spawn child's command line and exits at once. The child is released (a file
# appears) only once the runner has looked at what the main process left: after that, it does what
# the case says and exits, so each case is decided by the rule, not by which process is faster.
CHILD = "import os, sys, time\nwhile not os.path.exists(sys.argv[2]): time.sleep(0.01)\n{then}"
THEN = {
    "ends": "",
    "runs-its-process": "open(os.path.join(sys.argv[1], f'{os.getpid()}.log'), 'a').write('{\"e\":\"bootstrap\"}\\n')\n",
    "never-ends": "time.sleep(600)\n",
}
MAIN = (
    "import json, os, subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2], sys.argv[3], '--multiprocessing-fork'])\n"
    "if sys.argv[4] == 'recorded':  # the record the start-up hook writes once a child is started\n"
    "    record = {'child': child.pid, 'e': 'started', 'pid': os.getpid()}\n"
    "    open(os.path.join(sys.argv[2], f'{os.getpid()}.log'), 'a').write(json.dumps(record, separators=(',', ':')) + '\\n')\n"
)


def release_once_looked_at(fake: FakeKernel32, release: Path, done: threading.Event) -> None:
    """Create `release` once the main process has exited and the runner has listed the job's processes
    twice since: it has seen what was left (contained_windows lists them, then describes them)."""
    while not done.is_set() and not (fake.started and fake.started[0].returncode is not None):
        time.sleep(0.005)
    listed = lambda: sum(call[0] == "QueryInformationJobObject" for call in fake.calls)  # noqa: E731
    then = listed()
    while not done.is_set() and listed() < then + 2:
        time.sleep(0.005)
    release.touch()


@posix_fake
@pytest.mark.parametrize(
    ("case", "recorded", "leftover"),
    [
        ("ends", "unrecorded", None),  # never started running the program: the grace, then gone
        ("ends", "recorded", "while not os.path.exists"),  # started by main: a leftover at once
        ("runs-its-process", "unrecorded", "ran its Process after the main process had exited: "),
        ("never-ends", "unrecorded", "while not os.path.exists"),  # the grace is a bound
    ],
    ids=["still-starting-ends", "started-by-main", "ran-after-main", "still-starting-stays"],
)
def test_a_spawn_child_main_died_starting_gets_the_grace_and_no_more(fake, tmp_path, case, recorded, leftover):
    records, release = tmp_path / "evidence", tmp_path / "release"
    records.mkdir()
    command = [sys.executable, "-c", MAIN, CHILD.format(then=THEN[case]), str(records), str(release), recorded]
    done = threading.Event()
    releaser = threading.Thread(target=release_once_looked_at, args=(fake, release, done))
    releaser.start()
    try:
        report, _ = contain(fake, tmp_path, command, env={**os.environ, contract.EVIDENCE: str(records)}, grace=1.0 if case == "never-ends" else 60.0)
    finally:
        done.set()
        releaser.join()
    assert report["returncode"] == 0
    if leftover is None:
        assert report["leftovers"] == []
    else:
        assert len(report["leftovers"]) == 1 and leftover in report["leftovers"][0], report["leftovers"]


class Refusing(FakeKernel32):
    """A Windows where AssignProcessToJobObject fails (a job that forbids nesting, say)."""

    def _AssignProcessToJobObject(self, _job, _process):
        self.calls.append(("AssignProcessToJobObject", "refused"))
        return 0


@posix_fake
@pytest.mark.parametrize("fake", [Refusing], indirect=True)
def test_a_process_that_cannot_join_the_job_is_killed_and_waited_for(fake, tmp_path):
    with pytest.raises(OSError, match=r"^AssignProcessToJobObject failed"):
        contain(fake, tmp_path, [sys.executable, "-c", "import time; time.sleep(600)"])
    assert [p.returncode is not None for p in fake.started] == [True], "the process that could not join the job was left running"


def test_a_process_told_to_stop_is_killed_if_it_does_not_and_waited_for():
    """runner.reap, behind every wait for a process the runner stopped (UnderWay.stop, a supervisor past its bound)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    reap(process, 0.1)  # it would sleep for ten minutes: killed, then waited for
    assert process.returncode is not None
