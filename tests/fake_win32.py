"""A fake of the Win32 calls harness/winjob.py makes, over real processes of this machine, and the
SDK's declarations it checks them against.

The declarations are written here from the Windows SDK's headers (winnt.h, jobapi2.h, tlhelp32.h,
processthreadsapi.h), independently of harness/winjob.py, in fixed-width types as on 64-bit
Windows: DWORD and UINT 32 bits, LARGE_INTEGER 64, SIZE_T and ULONG_PTR 64, natural alignment.

The fake's functions are ctypes function pointers built from winjob.SIGNATURES, so every call goes
through the same argument conversion as a call into kernel32.dll; they read and write the memory
they are handed through the SDK's layouts below, so a structure of winjob.py laid out otherwise
is misread, as Windows would misread it. Behind them:
- a job is the processes assigned to it and every process they create, orphans included (each
  fake-started process carries a mark in its environment, which its descendants inherit); closing
  it with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE set, or terminating it, kills them (SIGKILL);
- CREATE_SUSPENDED starts the command behind a shell that stops itself (SIGSTOP) before it runs
  the command: nothing of the command runs until ResumeThread continues it (SIGCONT);
- a thread snapshot lists a thread of this process, then each fake-started process's main thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time

import psutil

from harness import winjob
from sessions import live

CREATE_SUSPENDED = 0x4
TH32CS_SNAPTHREAD = 0x4
THREAD_SUSPEND_RESUME = 0x2
INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value
RESUME_FAILED = 0xFFFFFFFF  # (DWORD)-1
STOPPED_WITHIN = 30.0  # seconds the shell gets to stop itself: it does in milliseconds
MARK = "FAKE_WIN32_PROCESS"  # in the environment of a fake-started process and its descendants


class SDK_IO_COUNTERS(ctypes.Structure):
    _fields_ = [(f"Counter{i}", ctypes.c_uint64) for i in range(6)]  # ULONGLONG x 6


class SDK_JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),  # LARGE_INTEGER
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", ctypes.c_uint32),  # DWORD
        ("MinimumWorkingSetSize", ctypes.c_uint64),  # SIZE_T
        ("MaximumWorkingSetSize", ctypes.c_uint64),
        ("ActiveProcessLimit", ctypes.c_uint32),
        ("Affinity", ctypes.c_uint64),  # ULONG_PTR
        ("PriorityClass", ctypes.c_uint32),
        ("SchedulingClass", ctypes.c_uint32),
    ]


class SDK_JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", SDK_JOBOBJECT_BASIC_LIMIT_INFORMATION),
        ("IoInfo", SDK_IO_COUNTERS),
        ("ProcessMemoryLimit", ctypes.c_uint64),  # SIZE_T x 4
        ("JobMemoryLimit", ctypes.c_uint64),
        ("PeakProcessMemoryUsed", ctypes.c_uint64),
        ("PeakJobMemoryUsed", ctypes.c_uint64),
    ]


class SDK_JOBOBJECT_BASIC_PROCESS_ID_LIST(ctypes.Structure):
    _fields_ = [
        ("NumberOfAssignedProcesses", ctypes.c_uint32),  # DWORD
        ("NumberOfProcessIdsInList", ctypes.c_uint32),
        ("ProcessIdList", ctypes.c_uint64 * 1),  # ULONG_PTR[1]: the caller's buffer holds more
    ]


class SDK_THREADENTRY32(ctypes.Structure):
    _fields_ = [
        ("dwSize", ctypes.c_uint32),
        ("cntUsage", ctypes.c_uint32),
        ("th32ThreadID", ctypes.c_uint32),
        ("th32OwnerProcessID", ctypes.c_uint32),
        ("tpBasePri", ctypes.c_int32),  # LONG
        ("tpDeltaPri", ctypes.c_int32),
        ("dwFlags", ctypes.c_uint32),
    ]


# Sizes on 64-bit Windows, as the SDK's headers give them (sizeof in a C program there): the
# layouts above must come out at these, and winjob.py's at the layouts above.
SDK_SIZES = {
    SDK_IO_COUNTERS: 48,
    SDK_JOBOBJECT_BASIC_LIMIT_INFORMATION: 64,
    SDK_JOBOBJECT_EXTENDED_LIMIT_INFORMATION: 144,
    SDK_JOBOBJECT_BASIC_PROCESS_ID_LIST: 16,
    SDK_THREADENTRY32: 28,
}

# What each call takes and returns on 64-bit Windows: ("int", bytes, signed) or "pointer" (a HANDLE
# or any pointer: its size is the platform's).
HANDLE, POINTER = "pointer", "pointer"
BOOL, DWORD, UINT, ENUM = ("int", 4, True), ("int", 4, False), ("int", 4, False), ("int", 4, True)
SDK_SIGNATURES = {
    "CreateJobObjectW": (HANDLE, (POINTER, POINTER)),  # (LPSECURITY_ATTRIBUTES, LPCWSTR)
    "SetInformationJobObject": (BOOL, (HANDLE, ENUM, POINTER, DWORD)),
    "QueryInformationJobObject": (BOOL, (HANDLE, ENUM, POINTER, DWORD, POINTER)),  # ..., LPDWORD
    "AssignProcessToJobObject": (BOOL, (HANDLE, HANDLE)),
    "TerminateJobObject": (BOOL, (HANDLE, UINT)),
    "CloseHandle": (BOOL, (HANDLE,)),
    "CreateToolhelp32Snapshot": (HANDLE, (DWORD, DWORD)),
    "Thread32First": (BOOL, (HANDLE, POINTER)),  # LPTHREADENTRY32
    "Thread32Next": (BOOL, (HANDLE, POINTER)),
    "OpenThread": (HANDLE, (DWORD, BOOL, DWORD)),
    "ResumeThread": (DWORD, (HANDLE,)),
}


def kind(ctype) -> str | tuple:
    """How a ctypes type passes a value: "pointer", or ("int", bytes, signed)."""
    if issubclass(ctype, (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p, ctypes._Pointer)):
        return "pointer"
    return ("int", ctypes.sizeof(ctype), ctype(-1).value < 0)


def layout(structure) -> list[tuple[str, int, int]]:
    """(field, offset, size) of each field, then ("sizeof", 0, total)."""
    fields = [(name, getattr(structure, name).offset, getattr(structure, name).size) for name, *_ in structure._fields_]
    return [*fields, ("sizeof", 0, ctypes.sizeof(structure))]


class FakeKernel32:
    """The Win32 calls of winjob.SIGNATURES over real processes; `calls` logs what was asked, in order."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.problems: list[str] = []  # what Windows would have refused
        self.objects: dict[int, tuple] = {}  # handle -> ("job", dict) | ("process", pid) | ("snapshot", dict) | ("thread", pid)
        self.suspended: set[int] = set()  # pids started with CREATE_SUSPENDED and not resumed
        self.started: list[subprocess.Popen] = []  # every process this fake started, for the tests to check
        self.marks: dict[int, str] = {}  # pid -> the mark of each process this fake started
        self._next = 0x100
        for name, (restype, argtypes) in winjob.SIGNATURES.items():
            setattr(self, name, ctypes.CFUNCTYPE(restype, *argtypes)(getattr(self, f"_{name}")))

    def _handle(self, what: tuple) -> int:
        self._next += 4
        self.objects[self._next] = what
        return self._next

    # --- CreateProcess, as subprocess.Popen does it on Windows --------------------------------

    def popen(self, command, *, creationflags=0, **options) -> subprocess.Popen:
        self.calls.append(("CreateProcess", creationflags, list(command), options.get("env")))
        if creationflags & CREATE_SUSPENDED:
            command = ["/bin/sh", "-c", 'kill -STOP $$; exec "$@"', "sh", *command]
        options["env"] = {**(options.get("env") or os.environ), MARK: f"{os.getpid()}-{len(self.started)}"}
        process = subprocess.Popen(command, **options)
        process._handle = self._handle(("process", process.pid))  # as Popen has on Windows
        self.marks[process.pid] = options["env"][MARK]
        if creationflags & CREATE_SUSPENDED:
            self.suspended.add(process.pid)
        self.started.append(process)
        return process

    # --- jobs ----------------------------------------------------------------------------------

    def _CreateJobObjectW(self, attributes, name):
        self.calls.append(("CreateJobObjectW", attributes, name))
        return self._handle(("job", {"assigned": [], "limits": 0}))

    def _job(self, handle) -> dict:
        kind_, job = self.objects[handle]
        assert kind_ == "job", f"handle {handle} is a {kind_}, not a job"
        return job

    def members(self, handle) -> list[int]:
        """The job's live processes: those assigned to it and every process they created."""
        marks = {self.marks[pid] for pid in self._job(handle)["assigned"]}
        return [proc.pid for proc in live(lambda proc: proc.environ().get(MARK) in marks)]

    def _SetInformationJobObject(self, handle, info_class, info, length):
        self.calls.append(("SetInformationJobObject", info_class, length))
        if info_class != winjob.JobObjectExtendedLimitInformation or length != ctypes.sizeof(SDK_JOBOBJECT_EXTENDED_LIMIT_INFORMATION):
            self.problems.append(f"SetInformationJobObject: class {info_class} with {length} bytes")
            return 0
        self._job(handle)["limits"] = SDK_JOBOBJECT_EXTENDED_LIMIT_INFORMATION.from_address(info).BasicLimitInformation.LimitFlags
        return 1

    def _QueryInformationJobObject(self, handle, info_class, info, length, returned):
        self.calls.append(("QueryInformationJobObject", info_class))
        pids = self.members(handle)
        header = ctypes.sizeof(SDK_JOBOBJECT_BASIC_PROCESS_ID_LIST) - 8
        if info_class != winjob.JobObjectBasicProcessIdList or length < header + 8 * len(pids):
            self.problems.append(f"QueryInformationJobObject: class {info_class} with {length} bytes for {len(pids)} processes")
            return 0
        listing = SDK_JOBOBJECT_BASIC_PROCESS_ID_LIST.from_address(info)
        listing.NumberOfAssignedProcesses = listing.NumberOfProcessIdsInList = len(pids)
        (ctypes.c_uint64 * len(pids)).from_address(info + header)[:] = pids
        if returned:
            returned[0] = header + 8 * len(pids)
        return 1

    def _AssignProcessToJobObject(self, job, process):
        kind_, pid = self.objects[process]
        assert kind_ == "process"
        self.calls.append(("AssignProcessToJobObject", pid, "suspended" if pid in self.suspended else "running"))
        self._job(job)["assigned"].append(pid)
        return 1

    def _kill(self, pids) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def _TerminateJobObject(self, handle, code):
        self.calls.append(("TerminateJobObject", code))
        self._kill(self.members(handle))
        return 1

    def _CloseHandle(self, handle):
        kind_, what = self.objects.pop(handle, ("closed", None))
        self.calls.append(("CloseHandle", kind_))
        if kind_ == "closed":
            self.problems.append(f"CloseHandle({handle}): not an open handle")
            return 0
        if kind_ == "job" and what["limits"] & winjob.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE:
            self.objects[handle] = (kind_, what)  # to list its members once more
            self._kill(self.members(handle))
            del self.objects[handle]
        return 1

    # --- threads: the snapshot, and resuming a suspended process's main thread -------------------

    def _CreateToolhelp32Snapshot(self, flags, pid):
        self.calls.append(("CreateToolhelp32Snapshot", flags, pid))
        if flags != TH32CS_SNAPTHREAD:
            self.problems.append(f"CreateToolhelp32Snapshot: flags {flags:#x}")
            return INVALID_HANDLE_VALUE
        # On Linux a process's main thread has the process's id: (thread, owner).
        threads = [(os.getpid(), os.getpid())] + [(p.pid, p.pid) for p in self.started]
        return self._handle(("snapshot", {"threads": threads, "next": 0}))

    def _next_thread(self, snapshot, entry) -> int:
        kind_, listing = self.objects[snapshot]
        assert kind_ == "snapshot"
        record = SDK_THREADENTRY32.from_address(ctypes.cast(entry, ctypes.c_void_p).value)  # declared as a typed pointer
        if record.dwSize != ctypes.sizeof(SDK_THREADENTRY32):
            self.problems.append(f"THREADENTRY32.dwSize is {record.dwSize}, not {ctypes.sizeof(SDK_THREADENTRY32)}")
            return 0
        if listing["next"] >= len(listing["threads"]):
            return 0  # ERROR_NO_MORE_FILES
        record.th32ThreadID, record.th32OwnerProcessID = listing["threads"][listing["next"]]
        listing["next"] += 1
        return 1

    def _Thread32First(self, snapshot, entry):
        self.objects[snapshot][1]["next"] = 0
        return self._next_thread(snapshot, entry)

    def _Thread32Next(self, snapshot, entry):
        return self._next_thread(snapshot, entry)

    def _OpenThread(self, access, _inherit, thread):
        self.calls.append(("OpenThread", access, thread))
        if not access & THREAD_SUSPEND_RESUME:
            self.problems.append(f"OpenThread: access {access:#x} lacks THREAD_SUSPEND_RESUME")
        return self._handle(("thread", thread))

    def _ResumeThread(self, thread):
        kind_, pid = self.objects[thread]
        assert kind_ == "thread"
        self.calls.append(("ResumeThread", pid))
        if pid not in self.suspended:
            return 0  # its suspend count was 0
        deadline = time.monotonic() + STOPPED_WITHIN  # the shell stops itself first: only then can it be continued
        while psutil.Process(pid).status() != psutil.STATUS_STOPPED:
            if time.monotonic() > deadline:
                self.problems.append(f"process {pid} never stopped itself")
                return RESUME_FAILED
            time.sleep(0.001)
        self.suspended.discard(pid)
        os.kill(pid, signal.SIGCONT)
        return 1  # its suspend count was 1
