"""A Windows job object that kills its processes when it is closed (the Win32 calls through ctypes).

`Job.start` creates the run's main process suspended (CREATE_SUSPENDED), puts it in the job, and
only then resumes its main thread: not one instruction of it runs outside the job, however soon it
starts a child. Every process it creates joins the job too (child processes inherit it, whatever
their environment or console), so `pids()` lists the whole run; the job's handle belongs to the
runner, so when the runner dies, however it dies, Windows closes the handle and kills the run.

Every argument and structure is declared with fixed-width types (a DWORD is 32 bits, whatever the
C compiler's `long`), so that their layouts are those of 64-bit Windows on any 64-bit platform:
tests/test_winjob.py checks them against the SDK's declarations, and runs this module against a
fake of the Win32 calls it makes (`Job(kernel32=..., popen=...)`), on Linux too.
"""

from __future__ import annotations

import ctypes
import subprocess

HANDLE = LPVOID = ctypes.c_void_p
LPCWSTR = ctypes.c_wchar_p
BOOL = LONG = ctypes.c_int32
DWORD = UINT = ctypes.c_uint32
LARGE_INTEGER = ctypes.c_int64
ULONGLONG = ctypes.c_uint64
SIZE_T = ULONG_PTR = ctypes.c_size_t  # pointer-sized: 64 bits on 64-bit Windows
LPDWORD = ctypes.POINTER(DWORD)
JOBOBJECTINFOCLASS = ctypes.c_int32  # a C enum

JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
JobObjectBasicProcessIdList = 3
JobObjectExtendedLimitInformation = 9
# Process creation flags (subprocess has them on Windows only).
CREATE_SUSPENDED = 0x4
BELOW_NORMAL_PRIORITY_CLASS = 0x4000
TH32CS_SNAPTHREAD = 0x4
THREAD_SUSPEND_RESUME = 0x2
INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value
RESUME_FAILED = 0xFFFFFFFF  # ResumeThread's (DWORD)-1
KILLED_WITHIN = 30.0  # seconds to wait for a killed process: it is gone at once; a bound, so that no wait is endless


class IO_COUNTERS(ctypes.Structure):
    _fields_ = [
        (name, ULONGLONG)
        for name in (
            "ReadOperationCount",
            "WriteOperationCount",
            "OtherOperationCount",
            "ReadTransferCount",
            "WriteTransferCount",
            "OtherTransferCount",
        )
    ]


class JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", LARGE_INTEGER),
        ("PerJobUserTimeLimit", LARGE_INTEGER),
        ("LimitFlags", DWORD),
        ("MinimumWorkingSetSize", SIZE_T),
        ("MaximumWorkingSetSize", SIZE_T),
        ("ActiveProcessLimit", DWORD),
        ("Affinity", ULONG_PTR),
        ("PriorityClass", DWORD),
        ("SchedulingClass", DWORD),
    ]


class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
        ("IoInfo", IO_COUNTERS),
        ("ProcessMemoryLimit", SIZE_T),
        ("JobMemoryLimit", SIZE_T),
        ("PeakProcessMemoryUsed", SIZE_T),
        ("PeakJobMemoryUsed", SIZE_T),
    ]


class JOBOBJECT_BASIC_PROCESS_ID_LIST(ctypes.Structure):
    _fields_ = [
        ("NumberOfAssignedProcesses", DWORD),
        ("NumberOfProcessIdsInList", DWORD),
        ("ProcessIdList", ULONG_PTR * 1024),  # a run has a handful
    ]


class THREADENTRY32(ctypes.Structure):
    _fields_ = [
        ("dwSize", DWORD),
        ("cntUsage", DWORD),
        ("th32ThreadID", DWORD),
        ("th32OwnerProcessID", DWORD),
        ("tpBasePri", LONG),
        ("tpDeltaPri", LONG),
        ("dwFlags", DWORD),
    ]


# name: (return type, argument types), as the SDK declares them (kernel32).
SIGNATURES = {
    "CreateJobObjectW": (HANDLE, (LPVOID, LPCWSTR)),
    "SetInformationJobObject": (BOOL, (HANDLE, JOBOBJECTINFOCLASS, LPVOID, DWORD)),
    "QueryInformationJobObject": (BOOL, (HANDLE, JOBOBJECTINFOCLASS, LPVOID, DWORD, LPDWORD)),
    "AssignProcessToJobObject": (BOOL, (HANDLE, HANDLE)),
    "TerminateJobObject": (BOOL, (HANDLE, UINT)),
    "CloseHandle": (BOOL, (HANDLE,)),
    "CreateToolhelp32Snapshot": (HANDLE, (DWORD, DWORD)),
    "Thread32First": (BOOL, (HANDLE, ctypes.POINTER(THREADENTRY32))),
    "Thread32Next": (BOOL, (HANDLE, ctypes.POINTER(THREADENTRY32))),
    "OpenThread": (HANDLE, (DWORD, BOOL, DWORD)),
    "ResumeThread": (DWORD, (HANDLE,)),
}


def load_kernel32():
    """The real calls, declared as SIGNATURES says (Windows only)."""
    # A private instance: the declarations made here must not change ctypes.windll.kernel32 for others.
    dll = ctypes.WinDLL("kernel32", use_last_error=True)
    for name, (restype, argtypes) in SIGNATURES.items():
        function = getattr(dll, name)
        function.restype, function.argtypes = restype, argtypes
    return dll


def _check(ok, what: str) -> None:
    if not ok:
        # ctypes keeps the error of the last call made through a use_last_error DLL (Windows only).
        error = ctypes.WinError(ctypes.get_last_error()) if hasattr(ctypes, "WinError") else "no Windows error here"
        raise OSError(f"{what} failed: {error}")


class Job:
    def __init__(self, kernel32=None, popen=subprocess.Popen):
        self._k = kernel32 or load_kernel32()
        self.popen = popen  # what starts a process: subprocess.Popen (a fake in tests)
        self.handle = self._k.CreateJobObjectW(None, None)
        _check(self.handle, "CreateJobObjectW")
        limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        _check(
            self._k.SetInformationJobObject(self.handle, JobObjectExtendedLimitInformation, ctypes.byref(limits), ctypes.sizeof(limits)),
            "SetInformationJobObject",
        )

    def start(self, command: list[str], *, creationflags: int = 0, **options) -> subprocess.Popen:
        """Popen(command, **options), in the job before it runs; killed and waited for if it cannot join."""
        process = self.popen(command, creationflags=creationflags | CREATE_SUSPENDED, **options)
        try:
            _check(self._k.AssignProcessToJobObject(self.handle, int(process._handle)), "AssignProcessToJobObject")
            self._resume(process.pid)
        except OSError:
            process.kill()
            process.wait(timeout=KILLED_WITHIN)
            raise
        return process

    def _resume(self, pid: int) -> None:
        """Resume the one thread of a process created suspended (subprocess closes the thread handle
        CreateProcess gave it, so the thread is found by its owner in a snapshot of all threads)."""
        snapshot = self._k.CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0)
        _check(snapshot not in (None, INVALID_HANDLE_VALUE), "CreateToolhelp32Snapshot")
        try:
            entry = THREADENTRY32(dwSize=ctypes.sizeof(THREADENTRY32))
            found = self._k.Thread32First(snapshot, ctypes.byref(entry))
            while found and entry.th32OwnerProcessID != pid:
                found = self._k.Thread32Next(snapshot, ctypes.byref(entry))
        finally:
            self._k.CloseHandle(snapshot)
        _check(found, f"finding the thread of process {pid}")
        thread = self._k.OpenThread(THREAD_SUSPEND_RESUME, False, entry.th32ThreadID)
        _check(thread, "OpenThread")
        try:
            _check(self._k.ResumeThread(thread) != RESUME_FAILED, "ResumeThread")
        finally:
            self._k.CloseHandle(thread)

    def pids(self) -> list[int]:
        listing = JOBOBJECT_BASIC_PROCESS_ID_LIST()
        _check(
            self._k.QueryInformationJobObject(self.handle, JobObjectBasicProcessIdList, ctypes.byref(listing), ctypes.sizeof(listing), None),
            "QueryInformationJobObject",
        )
        return [int(listing.ProcessIdList[i]) for i in range(listing.NumberOfProcessIdsInList)]

    def describe(self) -> dict[int, str]:
        """{pid: command line, on one line} of the job's live processes."""
        import psutil

        found = {}
        for pid in self.pids():
            try:
                found[pid] = " ".join(" ".join(psutil.Process(pid).cmdline()).split()) or "<exiting>"
            except psutil.Error:
                pass  # exited between the listing and the look
        return found

    def kill(self) -> None:
        self._k.TerminateJobObject(self.handle, 1)

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc) -> None:
        self._k.CloseHandle(self.handle)  # kills whatever is still in the job
