"""What every process of an example run did, recorded from outside the example file.

Imported by sitecustomize.py at start-up in the example's main process, its spawned children, the
fork server and the resource tracker; forked children inherit it. Each process appends one line
per event to HARNESS_EVIDENCE/<pid>.log, a Python literal (`repr` of a dict: no json import, so
start-up stays cheap), which harness/evidence.py reads back. Recorded:

- the process: its start (pid, parent, argv), a fork, its role (fork server, resource tracker);
- from the parent: each multiprocessing child it started (pid, name, start method), terminated,
  and the exit code it saw; from the child: its name, how it came to run (found on its own call
  stack: popen_fork's launch, the fork server, or spawn_main) and the exit code it returned;
- every write to stdout (the bytes of each write(2), with the time before and after it);
- puts and gets on multiprocessing queues, acquires and releases of multiprocessing locks (each
  queue and lock carries an id through pickling, so a child's copy is recognised), the tasks a
  pool's workers ran, and the results the pool handed back to the main process.

multiprocessing's modules are patched as they are imported (an import hook), so a process pays
only for the modules it uses. Nothing here starts a thread, prints, or changes a return value.
"""

import io
import os
import sys
import time

# The platform whose branches to take: the emulated one under HARNESS_EMULATE (harness/platforms.py's
# rule; the examples' processes import nothing of the harness).
_PLATFORM = os.environ.get("HARNESS_EMULATE") or sys.platform
# Windows' time.monotonic() ticks every 15.6 ms before Python 3.13; its perf_counter() is the
# same system-wide clock at full resolution. Both are comparable across processes.
_clock = time.perf_counter_ns if _PLATFORM == "win32" else time.monotonic_ns
_dir = os.environ.get("HARNESS_EVIDENCE", "")
_fd = -1
_ids = iter(range(1, 1 << 62))
_LOCK_KINDS = ("Lock", "RLock")  # not Semaphore/Condition: the claims rest on locks


def record(event, **fields):
    fields["e"] = event
    fields["pid"] = os.getpid()
    fields.setdefault("t", _clock())
    try:
        os.write(_fd, (repr(fields) + "\n").encode("utf-8", "backslashreplace"))
    except OSError:
        pass  # the folder is gone: the run is over, nothing left to prove


def _open():
    global _fd
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    _fd = os.open(os.path.join(_dir, f"{os.getpid()}.log"), flags, 0o600)


def _after_fork_in_child():
    if _fd >= 0:
        os.close(_fd)
    _open()
    record("forked", ppid=os.getppid())


def _new_id():
    return f"{os.getpid()}.{next(_ids)}"


def _short(value, show=repr):
    try:
        text = show(value)
    except Exception as exc:  # a value whose repr fails still went through the queue
        text = f"<{show.__name__} failed: {type(exc).__name__}>"
    return text if len(text) <= 300 else text[:297] + "..."


# --- stdout: every write(2), with the process that made it ------------------------------------


class _RecordedStdout(io.RawIOBase):
    """fd 1, with each write recorded. Wrapped like the original stdout, line-buffered as in a
    terminal: written to a file it would be block-buffered and each child's output would arrive
    in one piece at its exit, hiding how the processes interleaved."""

    def __init__(self, fd):
        super().__init__()
        self._out = fd

    def writable(self):
        return True

    def fileno(self):
        return self._out

    def write(self, data):
        t0 = _clock()
        n = os.write(self._out, data)
        record("write", t0=t0, data=bytes(data[:n]))
        return n


def _record_stdout():
    old = sys.stdout
    if old is None:
        return
    try:
        fd = old.fileno()
    except (OSError, ValueError, AttributeError):
        return
    old.flush()
    raw = _RecordedStdout(fd)
    # The platform's own newline translation, as for the original stdout ("\n" -> "\r\n" on Windows).
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(raw), encoding=old.encoding, errors=old.errors, newline=None if _PLATFORM == "win32" else "\n", line_buffering=True
    )


# --- multiprocessing, patched as each module is imported ---------------------------------------


_STARTERS = {("popen_fork.py", "_launch"): "fork", ("forkserver.py", "_serve_one"): "forkserver", ("spawn.py", "spawn_main"): "spawn"}


def _how_started():
    """How this child came to run BaseProcess._bootstrap, read off its own call stack: the nearest
    of popen_fork's launch (fork), the fork server's _serve_one, or spawn_main (spawn)."""
    frame, seen = sys._getframe(2), []
    while frame is not None and len(seen) < 8:
        code = frame.f_code
        how = _STARTERS.get((os.path.basename(code.co_filename), code.co_name))
        if how:
            return how
        seen.append(code.co_name)
        frame = frame.f_back
    return "unknown (" + " <- ".join(seen) + ")"


def _patch_process(m):
    base = m.BaseProcess
    start, bootstrap, terminate, kill = base.start, base._bootstrap, base.terminate, base.kill

    def _start(self):
        start(self)
        popen = self._popen
        _watch_exit(type(popen))
        record("started", child=popen.pid, name=self.name, method=getattr(popen, "method", None), daemon=bool(self.daemon))

    def _bootstrap(self, *args, **kwargs):
        target = getattr(self._target, "__qualname__", None) or type(self).__qualname__
        record("bootstrap", name=self.name, identity=list(self._identity), how=_how_started(), ppid=os.getppid(), target=target)
        code = bootstrap(self, *args, **kwargs)
        record("exit", code=code)
        return code

    def _terminate(self):
        record("terminate", child=self._popen.pid if self._popen else None, name=self.name)
        terminate(self)

    def _kill(self):
        record("terminate", child=self._popen.pid if self._popen else None, name=self.name, kill=True)
        kill(self)

    base.start, base._bootstrap, base.terminate, base.kill = _start, _bootstrap, _terminate, _kill


def _watch_exit(popen_class):
    """Record the exit code the parent sees, once, whichever of poll() and wait() sees it first."""
    if "_evidence_watched" in popen_class.__dict__:
        return
    for name in ("poll", "wait"):
        original = getattr(popen_class, name)

        def watched(self, *args, _original=original, **kwargs):
            code = _original(self, *args, **kwargs)
            if code is not None and not self.__dict__.get("_evidence_reported"):
                self._evidence_reported = True
                record("returncode", child=self.pid, code=code)
            return code

        setattr(popen_class, name, watched)
    popen_class._evidence_watched = True


def _patch_synchronize(m):
    """Locks: an id that survives pickling, and each acquire and release recorded."""
    semlock = m.SemLock
    init, make, enter, leave = semlock.__init__, semlock._make_methods, semlock.__enter__, semlock.__exit__
    getstate, setstate = semlock.__getstate__, semlock.__setstate__

    def _init(self, *args, **kwargs):
        self._evidence_id = _new_id()
        init(self, *args, **kwargs)

    def _getstate(self):
        return getstate(self), self.__dict__.get("_evidence_id")

    def _setstate(self, state):
        state, self._evidence_id = state
        setstate(self, state)

    def _make_methods(self):
        make(self)
        kind, lock = type(self).__name__, self.__dict__.get("_evidence_id")
        if kind not in _LOCK_KINDS:
            return
        acquire, release = self.acquire, self.release  # no reference to self: no cycle

        def _acquire(*args, **kwargs):
            got = acquire(*args, **kwargs)
            if got:
                record("acquire", lock=lock, kind=kind)
            return got

        def _release():
            record("release", lock=lock, kind=kind)
            release()

        self.acquire, self.release = _acquire, _release

    def _enter(self):
        got = enter(self)
        if type(self).__name__ in _LOCK_KINDS:
            record("acquire", lock=self.__dict__.get("_evidence_id"), kind=type(self).__name__)
        return got

    def _exit(self, *args):
        if type(self).__name__ in _LOCK_KINDS:
            record("release", lock=self.__dict__.get("_evidence_id"), kind=type(self).__name__)
        return leave(self, *args)

    semlock.__init__, semlock._make_methods = _init, _make_methods
    semlock.__enter__, semlock.__exit__ = _enter, _exit
    semlock.__getstate__, semlock.__setstate__ = _getstate, _setstate


def _patch_queues(m):
    """Queues: each put and get with the value, on the queue named by its read lock's id."""

    def note(event, queue, obj):
        record(event, queue=getattr(queue._rlock, "_evidence_id", None), kind=type(queue).__name__, value=_short(obj), text=_short(obj, str))

    for cls in (m.Queue, m.JoinableQueue, m.SimpleQueue):
        if "put" in cls.__dict__:  # else inherited, and recorded by the base class

            def put(self, obj, *args, _original=cls.__dict__["put"], **kwargs):
                _original(self, obj, *args, **kwargs)
                note("put", self, obj)

            cls.put = put
        if "get" in cls.__dict__:

            def get(self, *args, _original=cls.__dict__["get"], **kwargs):
                obj = _original(self, *args, **kwargs)
                note("get", self, obj)
                return obj

            cls.get = get


def _patch_pool(m):
    """Pools: the tasks each worker ran (the function, its inputs, its result) and the results the
    main process received, matched by (job, index)."""
    worker, mapstar, starmapstar = m.worker, m.mapstar, m.starmapstar
    reraise = getattr(m, "_helper_reraises_exception", None)

    def recorded(job, i, func):
        def task(*args, **kwargs):
            if func in (mapstar, starmapstar):  # a chunk of map()/starmap(): (function, inputs)
                fn, inputs, chunk = args[0][0], args[0][1], True
            else:
                fn, inputs, chunk = func, args, False
            about = {"job": job, "i": i, "func": getattr(fn, "__qualname__", repr(fn)), "inputs": _short(inputs), "chunk": chunk, "t0": _clock()}
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                record("task", **about, error=_short(exc))
                raise
            record("task", **about, result=_short(result))
            return result

        return task

    class Tasks:
        """The pool's task queue as its worker sees it, each task's function wrapped to record it."""

        def __init__(self, inqueue):
            self._inqueue = inqueue

        def __getattr__(self, name):
            return getattr(self._inqueue, name)

        def get(self):
            task = self._inqueue.get()
            if task is None or task[2] is reraise:
                return task
            job, i, func, args, kwds = task
            return job, i, recorded(job, i, func), args, kwds

    def _worker(inqueue, *args, **kwargs):
        return worker(Tasks(inqueue), *args, **kwargs)

    # Pickled by reference (spawn), the name must lead back to this function in the child too.
    _worker.__module__, _worker.__qualname__, _worker.__name__ = worker.__module__, worker.__qualname__, worker.__name__
    m.worker = _worker

    for cls in (m.ApplyResult, m.MapResult, m.IMapIterator, m.IMapUnorderedIterator):
        if "_set" in cls.__dict__:

            def _set(self, i, obj, _original=cls.__dict__["_set"]):
                ok, value = obj
                record("pool_result", job=self._job, i=i, ok=bool(ok), value=_short(value))
                return _original(self, i, obj)

            cls._set = _set


def _role(role):
    def patch(m):
        main = m.main

        def _main(*args, **kwargs):
            record("role", role=role)
            return main(*args, **kwargs)

        m.main = _main

    return patch


_PATCHES = {
    "multiprocessing.process": _patch_process,
    "multiprocessing.synchronize": _patch_synchronize,
    "multiprocessing.queues": _patch_queues,
    "multiprocessing.pool": _patch_pool,
    "multiprocessing.forkserver": _role("forkserver"),
    "multiprocessing.resource_tracker": _role("resource_tracker"),
}


class _PatchOnImport:
    """A meta path finder that lets the normal finders load the module, then patches it."""

    @staticmethod
    def find_spec(name, path=None, target=None):  # noqa: ARG004 (the finder protocol)
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def install():
    if not _dir:
        return
    _open()
    record("start", ppid=os.getppid(), argv=list(getattr(sys, "orig_argv", sys.argv)), implementation=sys.implementation.name)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    for name, patch in _PATCHES.items():
        if name in sys.modules:  # imported before us (by site, say): patch it now
            patch(sys.modules[name])
    sys.meta_path.insert(0, _PatchOnImport)
    _record_stdout()
