"""A Windows job object that kills its processes when it is closed (the Win32 calls through ctypes).

Every process the run's main process creates joins its job (child processes inherit it, whatever
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
BELOW_NORMAL_PRIORITY_CLASS = 0x4000
IDLE_PRIORITY_CLASS = 0x40


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


# name: (return type, argument types), as the SDK declares them (kernel32).
SIGNATURES = {
    "CreateJobObjectW": (HANDLE, (LPVOID, LPCWSTR)),
    "SetInformationJobObject": (BOOL, (HANDLE, JOBOBJECTINFOCLASS, LPVOID, DWORD)),
    "QueryInformationJobObject": (BOOL, (HANDLE, JOBOBJECTINFOCLASS, LPVOID, DWORD, LPDWORD)),
    "AssignProcessToJobObject": (BOOL, (HANDLE, HANDLE)),
    "TerminateJobObject": (BOOL, (HANDLE, UINT)),
    "CloseHandle": (BOOL, (HANDLE,)),
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

    def add(self, popen) -> None:
        # A Python process needs tens of milliseconds to start before it can create a child, and
        # the assignment follows CreateProcess at once: the run's processes are all in the job.
        _check(self._k.AssignProcessToJobObject(self.handle, int(popen._handle)), "AssignProcessToJobObject")

    def pids(self) -> list[int]:
        listing = JOBOBJECT_BASIC_PROCESS_ID_LIST()
        _check(
            self._k.QueryInformationJobObject(self.handle, JobObjectBasicProcessIdList, ctypes.byref(listing), ctypes.sizeof(listing), None),
            "QueryInformationJobObject",
        )
        return [int(listing.ProcessIdList[i]) for i in range(listing.NumberOfProcessIdsInList)]

    def describe(self) -> list[tuple[int, str]]:
        import psutil

        found = []
        for pid in self.pids():
            try:
                found.append((pid, " ".join(" ".join(psutil.Process(pid).cmdline()).split())[:200] or "<exiting>"))
            except psutil.Error:
                pass  # exited between the listing and the look
        return found

    def kill(self) -> None:
        self._k.TerminateJobObject(self.handle, 1)

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc) -> None:
        self._k.CloseHandle(self.handle)  # kills whatever is still in the job
