"""A Windows job object that kills its processes when it is closed (Windows only, ctypes).

Every process the run's main process creates joins its job (child processes inherit it, whatever
their environment or console), so `pids()` lists the whole run; the job's handle belongs to the
runner, so when the runner dies, however it dies, Windows closes the handle and kills the run.
"""

from __future__ import annotations

import ctypes
from ctypes import wintypes

JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
JobObjectBasicProcessIdList = 3
JobObjectExtendedLimitInformation = 9


class IO_COUNTERS(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_ulonglong)
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
        ("PerProcessUserTimeLimit", wintypes.LARGE_INTEGER),
        ("PerJobUserTimeLimit", wintypes.LARGE_INTEGER),
        ("LimitFlags", wintypes.DWORD),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", wintypes.DWORD),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", wintypes.DWORD),
        ("SchedulingClass", wintypes.DWORD),
    ]


class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
        ("IoInfo", IO_COUNTERS),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


class JOBOBJECT_BASIC_PROCESS_ID_LIST(ctypes.Structure):
    _fields_ = [
        ("NumberOfAssignedProcesses", wintypes.DWORD),
        ("NumberOfProcessIdsInList", wintypes.DWORD),
        ("ProcessIdList", ctypes.c_size_t * 1024),  # ULONG_PTR; a run has a handful
    ]


def _kernel32():
    # A private instance: argtypes set here must not change ctypes.windll.kernel32 for others.
    k = ctypes.WinDLL("kernel32", use_last_error=True)
    k.CreateJobObjectW.argtypes, k.CreateJobObjectW.restype = (ctypes.c_void_p, wintypes.LPCWSTR), wintypes.HANDLE
    k.SetInformationJobObject.argtypes = (wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD)
    k.SetInformationJobObject.restype = wintypes.BOOL
    k.QueryInformationJobObject.argtypes = (wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD, ctypes.POINTER(wintypes.DWORD))
    k.QueryInformationJobObject.restype = wintypes.BOOL
    k.AssignProcessToJobObject.argtypes, k.AssignProcessToJobObject.restype = (wintypes.HANDLE, wintypes.HANDLE), wintypes.BOOL
    k.TerminateJobObject.argtypes, k.TerminateJobObject.restype = (wintypes.HANDLE, wintypes.UINT), wintypes.BOOL
    k.CloseHandle.argtypes, k.CloseHandle.restype = (wintypes.HANDLE,), wintypes.BOOL
    return k


def _check(ok, what: str) -> None:
    if not ok:
        raise OSError(f"{what} failed: {ctypes.WinError(ctypes.get_last_error())}")


class Job:
    def __init__(self):
        self._k = _kernel32()
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
