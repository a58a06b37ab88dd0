"""What every process of an example run did, recorded from outside the example file.

Imported by sitecustomize.py at start-up in the example's main process, its spawned children, the
fork server and the resource tracker; forked children inherit it. Each process appends one line
per event to HARNESS_EVIDENCE/<pid>.log, a JSON object (written by `_encode` with the C string
quoting of `_json`: importing `json` would cost start-up time in every process; bytes as Latin-1
text), which harness/evidence.py reads back. Recorded:

- the process: its start (pid, parent, argv), a fork, its role (fork server, resource tracker);
- from the parent: each multiprocessing child it started (pid, name, start method, its target,
  whether that target is a Pool's worker), each terminate() or kill() and who called it (the
  program, the Pool ending its workers, or multiprocessing's exit handler), and the exit code it
  saw; from the child: its name, how it came to run (the code of popen_fork, the fork server or
  spawn_main found on its own call stack: the code objects themselves, not file names) and the
  exit code it returned;
- every write to stdout: the bytes, and the file fd 1 was at that moment (device and inode), so
  that only writes that reached the run's stdout count;
- each message put on a multiprocessing queue, with an id that travels inside the message: the
  process that unpickles it learns which put it came from (identity, not equality of values);
- acquires and releases of multiprocessing locks (an id that survives pickling), reads and writes
  of a synchronized shared Value, the tasks a pool's workers ran (function, arguments, results) and
  the results the pool handed back to the main process, each with the message that carried it;
- a start method the program chose itself (set_start_method, get_context), and where.

An operation a claim needs is recorded before it happens where a process could die right after it
(a put, a write, a task): a record of intent cannot be lost to the exit it must explain.
multiprocessing's modules are patched as they are imported (an import hook), so a process pays
only for the modules it uses. Nothing here starts a thread, prints, or changes a return value. A
process stops recording after LOG_LIMIT bytes of records, saying so ("overflow").
"""

import io
import os
import sys
import time
from _thread import get_ident

try:
    from _json import encode_basestring_ascii as _quote
except ImportError:  # an interpreter without CPython's accelerator
    from json.encoder import py_encode_basestring_ascii as _quote

# The platform whose branches to take: the emulated one under HARNESS_EMULATE (harness/platforms.py's
# rule; the examples' processes import nothing of the harness).
_PLATFORM = os.environ.get("HARNESS_EMULATE") or sys.platform
# Windows' time.monotonic() ticks every 15.6 ms before Python 3.13; its perf_counter() is the
# same system-wide clock at full resolution. Both are comparable across processes.
_clock = time.perf_counter_ns if _PLATFORM == "win32" else time.monotonic_ns
_dir = os.environ.get("HARNESS_EVIDENCE", "")
_hello_path = os.environ.get("HARNESS_HELLO", "")  # the supervisor's socket, where it is one (Linux)
_fd = -1
_logged = 0  # bytes of records written by this process
LOG_LIMIT = 8 << 20  # then one "overflow" record and no more: a run cannot fill the disk through us
_ids = iter(range(1, 1 << 62))
_main_thread = get_ident()
_LOCK_KINDS = ("Lock", "RLock")  # not Semaphore/Condition: the claims rest on locks
_received = {}  # thread -> id of the last message that thread unpickled


def record(event, **fields):
    global _fd, _logged
    if _fd < 0:
        return
    fields["e"] = event
    fields["pid"] = os.getpid()
    fields.setdefault("t", _clock())
    thread = get_ident()
    if thread != _main_thread:
        fields["tid"] = thread
    line = (_encode(fields) + "\n").encode("ascii")
    _logged += len(line)
    if _logged > LOG_LIMIT:
        line = (_encode({"e": "overflow", "pid": fields["pid"], "t": fields["t"]}) + "\n").encode("ascii")
    try:
        os.write(_fd, line)
    except OSError:
        pass  # the folder is gone: the run is over, nothing left to prove
    if _logged > LOG_LIMIT:
        os.close(_fd)
        _fd = -1


def _encode(value):
    """JSON, for the few kinds of value a record holds."""
    if value is None or value is True or value is False:
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, (bytes, bytearray)):
        return _quote(value.decode("latin-1"))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(_encode, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_quote(str(k)) + ":" + _encode(v) for k, v in value.items()) + "}"
    return _quote(repr(value))


def _open():
    global _fd, _logged
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    _fd, _logged = os.open(os.path.join(_dir, f"{os.getpid()}.log"), flags, 0o600), 0


def _hello():
    """Tell the supervisor this process started, on its socket (HARNESS_HELLO): the kernel names
    the sender, so that records in the name of a process that never ran are seen for what they are."""
    if not _hello_path:
        return
    try:
        import _socket

        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        try:
            # The supervisor takes each as it comes (SIGIO), but a busy machine may keep it waiting for
            # the CPU: a hello lost here would read as a process that never ran. A dead supervisor
            # refuses at once; a stopped one is killed by its warden, with the run.
            sock.settimeout(60.0)
            sock.sendto(b"hello", _hello_path)
        finally:
            sock.close()
    except OSError:
        pass  # the supervisor is gone: the run is over


def _after_fork_in_child():
    global _main_thread
    _main_thread = get_ident()
    _received.clear()
    if _fd >= 0:
        os.close(_fd)
    _hello()
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


def _qualified(func):
    return f"{getattr(func, '__module__', None) or '?'}.{getattr(func, '__qualname__', None) or repr(func)}"


# --- stdout: every write(2), with the process that made it and where fd 1 pointed -------------


class _RecordedStdout(io.RawIOBase):
    """fd 1, with each write recorded before it is made. Wrapped like the original stdout,
    line-buffered as in a terminal: written to a file it would be block-buffered and each child's
    output would arrive in one piece at its exit, hiding how the processes interleaved."""

    def __init__(self, fd):
        super().__init__()
        self._out = fd

    def writable(self):
        return True

    def fileno(self):
        return self._out

    def write(self, data):
        data = bytes(data)
        try:
            st = os.fstat(self._out)
            dest = (st.st_dev, st.st_ino)
        except OSError:
            dest = None
        record("write", data=data, dest=dest)
        try:
            n = os.write(self._out, data)
        except BaseException:
            record("write_failed")
            raise
        if n != len(data):
            record("wrote", count=n)  # a short write: only the first n bytes went out
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


# --- where a call came from: multiprocessing's own code, recognised by its code objects --------


def _codes(*functions):
    return {getattr(f, "__func__", f).__code__ for f in functions if f is not None}


def _caller(skip, depth=3):
    """The first frame above this call whose code is not in `skip`."""
    frame = sys._getframe(depth)
    while frame is not None and frame.f_code in skip:
        frame = frame.f_back
    return frame


def _how_started():
    """How this child came to run BaseProcess._bootstrap, read off its own call stack: the nearest
    of popen_fork's _launch (fork), the fork server's _serve_one, or spawn_main (spawn), each
    recognised by its code object, so that a function of the same name elsewhere is not."""
    starters = {}
    for module, owner, name, how in (
        ("multiprocessing.popen_fork", "Popen", "_launch", "fork"),
        ("multiprocessing.forkserver", None, "_serve_one", "forkserver"),
        ("multiprocessing.spawn", None, "spawn_main", "spawn"),
    ):
        found = sys.modules.get(module)
        found = getattr(found, owner, None) if owner else found
        function = getattr(found, name, None)
        if function is not None:
            starters[function.__code__] = how
    frame, seen = sys._getframe(2), []
    while frame is not None and len(seen) < 8:
        how = starters.get(frame.f_code)
        if how:
            return how
        seen.append(frame.f_code.co_name)
        frame = frame.f_back
    return "unknown (" + " <- ".join(seen) + ")"


# --- multiprocessing, patched as each module is imported ---------------------------------------


def _patch_process(m):
    base = m.BaseProcess
    start, bootstrap = base.start, base._bootstrap

    def _start(self):
        target = getattr(self, "_target", None) or type(self).run  # start() deletes _target
        start(self)
        popen = self._popen
        _watch_popen(type(popen))
        pool = sys.modules.get("multiprocessing.pool")
        record(
            "started",
            child=popen.pid,
            name=self.name,
            method=getattr(popen, "method", None),
            daemon=bool(self.daemon),
            target=_qualified(target),
            pool_worker=pool is not None and target is getattr(pool, "worker", None),
        )

    def _bootstrap(self, *args, **kwargs):
        target = getattr(self, "_target", None) or type(self).run
        record("bootstrap", name=self.name, identity=list(self._identity), how=_how_started(), ppid=os.getppid(), target=_qualified(target))
        code = bootstrap(self, *args, **kwargs)
        record("exit", code=code)
        return code

    base.start, base._bootstrap = _start, _bootstrap


def _enders():
    """Code of multiprocessing's own ways to end a child: the Pool ending its workers, and the exit
    handler ending daemonic children; and the Process methods that pass a call on."""
    pool, util, process = (sys.modules.get(f"multiprocessing.{name}") for name in ("pool", "util", "process"))
    own = {}
    if pool is not None:
        own.update(dict.fromkeys(_codes(pool.Pool._terminate_pool), "pool"))
    if util is not None:
        own.update(dict.fromkeys(_codes(util._exit_function), "exit"))
    passing = _codes(process.BaseProcess.terminate, process.BaseProcess.kill) if process else set()
    return own, passing


def _watch_popen(popen_class):
    """Record the exit code the parent sees, once, whichever of poll() and wait() sees it first;
    and each terminate() or kill() with who asked for it."""
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
    for name in ("terminate", "kill"):
        original = getattr(popen_class, name, None)
        if original is None:
            continue

        def ending(self, *args, _original=original, _name=name, **kwargs):
            own, passing = _enders()
            frame = _caller(passing, depth=2)
            record("terminate", child=self.pid, kill=_name == "kill", by=own.get(frame.f_code, "program") if frame else "program")
            return _original(self, *args, **kwargs)

        setattr(popen_class, name, ending)
    popen_class._evidence_watched = True


def _patch_synchronize(m):
    """Locks: an id that survives pickling, and each acquire (once it succeeded) and release
    (before it is made) recorded."""
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


class _Tagged:
    """A message with the id of the put that sent it. It unpickles as the message itself, so every
    receiver (Queue.get, a Pool's result handler reading the pipe directly) gets what was put; the
    id is left with the receiving thread for the record of the get."""

    __slots__ = ("msg", "obj")

    def __init__(self, msg, obj):
        self.msg, self.obj = msg, obj

    def __reduce__(self):
        return _unpickled, (self.msg, self.obj)


def _unpickled(msg, obj):
    _received[get_ident()] = msg
    return obj


def _take_received():
    return _received.pop(get_ident(), None)


def _patch_queues(m):
    """Queues: each put (recorded before it is made, with the id the message carries) and each get
    (with the id of the message it returned), on the queue named by its read lock's id."""

    def note(event, queue, obj, msg):
        record(
            event,
            queue=getattr(queue._rlock, "_evidence_id", None),
            kind=type(queue).__name__,
            msg=msg,
            value=_short(obj),
            text=_short(obj, str),
        )

    for cls in (m.Queue, m.JoinableQueue, m.SimpleQueue):
        if "put" in cls.__dict__:  # else inherited, and recorded by the base class

            def put(self, obj, *args, _original=cls.__dict__["put"], **kwargs):
                if sys.is_finalizing():  # pickling the tag would need an import, which fails now
                    return _original(self, obj, *args, **kwargs)
                msg = _new_id()
                note("put", self, obj, msg)
                return _original(self, _Tagged(msg, obj), *args, **kwargs)

            cls.put = put
        if "get" in cls.__dict__:

            def get(self, *args, _original=cls.__dict__["get"], **kwargs):
                _take_received()
                obj = _original(self, *args, **kwargs)
                note("get", self, obj, _take_received())
                return obj

            cls.get = get


def _patch_sharedctypes(m):
    """A synchronized Value: each read and write of .value, on the value named by its lock's id
    (a write recorded before it is made)."""
    prop = m.Synchronized.value

    def name(self):
        return self._lock.__dict__.get("_evidence_id") if hasattr(self._lock, "__dict__") else None

    def fget(self):
        value = prop.fget(self)
        record("shared_get", value_of=name(self), value=_short(value))
        return value

    def fset(self, value):
        record("shared_set", value_of=name(self), value=_short(value))
        prop.fset(self, value)

    m.Synchronized.value = property(fget, fset, doc=prop.__doc__)


def _patch_pool(m):
    """Pools: the tasks each worker ran (the function, each call's arguments, recorded before it
    runs, then the results) and the results the main process received, each with the id of the
    message that carried it, matched by (job, index)."""
    worker, mapstar, starmapstar = m.worker, m.mapstar, m.starmapstar
    reraise = getattr(m, "_helper_reraises_exception", None)

    def recorded(job, i, func, args, kwds):
        if func in (mapstar, starmapstar):  # a chunk of map()/starmap(): (function, items)
            fn, items = args[0][0], list(args[0][1])
            calls = [(item,) if func is mapstar else tuple(item) for item in items]
        else:
            fn, calls = func, [tuple(args) + ((kwds,) if kwds else ())]
        name = getattr(fn, "__qualname__", None) or repr(fn)
        chunk = func in (mapstar, starmapstar)
        record("task", job=job, i=i, func=name, module=getattr(fn, "__module__", None), calls=[_short(c) for c in calls], chunk=chunk)

        def task(*a, **k):
            try:
                result = func(*a, **k)
            except BaseException as exc:
                record("task_done", job=job, i=i, error=_short(exc))
                raise
            record("task_done", job=job, i=i, result=_short(result))
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
            return job, i, recorded(job, i, func, args, kwds), args, kwds

    def _worker(inqueue, *args, **kwargs):
        return worker(Tasks(inqueue), *args, **kwargs)

    # Pickled by reference (spawn), the name must lead back to this function in the child too.
    _worker.__module__, _worker.__qualname__, _worker.__name__ = worker.__module__, worker.__qualname__, worker.__name__
    m.worker = _worker

    for cls in (m.ApplyResult, m.MapResult, m.IMapIterator, m.IMapUnorderedIterator):
        if "_set" in cls.__dict__:

            def _set(self, i, obj, _original=cls.__dict__["_set"]):
                ok, value = obj
                items = [_short(v) for v in value] if ok and isinstance(value, list) else None  # a chunk's results, one by one
                record("pool_result", job=self._job, i=i, ok=bool(ok), value=_short(value), items=items, msg=_take_received())
                return _original(self, i, obj)

            cls._set = _set


def _patch_context(m):
    """A start method the program chooses itself: set_start_method, or get_context(METHOD); not
    when multiprocessing does it (a spawned child taking its parent's method)."""
    internal = {os.path.dirname(m.__file__)}
    own = _codes(m.DefaultContext.get_context, m.DefaultContext.set_start_method, m.BaseContext.get_context, m.BaseContext.set_start_method)

    def chose(method, via, force):
        frame = _caller(own)
        if frame is None or os.path.dirname(frame.f_code.co_filename) in internal:
            return
        record("chose", method=method, via=via, force=bool(force), where=f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}")

    base_get, default_get, default_set = m.BaseContext.get_context, m.DefaultContext.get_context, m.DefaultContext.set_start_method

    def base_get_context(self, method=None):
        if method is not None:
            chose(method, "get_context", False)
        return base_get(self, method)

    def default_get_context(self, method=None):
        return default_get(self, method) if method is None else base_get_context(self, method)

    def set_start_method(self, method, force=False):
        result = default_set(self, method, force)
        if method is not None:
            chose(method, "set_start_method", force)
        return result

    own |= _codes(base_get_context, default_get_context, set_start_method)
    m.BaseContext.get_context, m.DefaultContext.get_context, m.DefaultContext.set_start_method = (
        base_get_context,
        default_get_context,
        set_start_method,
    )
    package = sys.modules.get("multiprocessing")
    if package is not None and hasattr(package, "get_context"):  # bound when the package was imported
        package.get_context, package.set_start_method = m._default_context.get_context, m._default_context.set_start_method


def _role(role):
    def patch(m):
        main = m.main

        def _main(*args, **kwargs):
            record("role", role=role)
            return main(*args, **kwargs)

        m.main = _main

    return patch


_PATCHES = {
    "multiprocessing.context": _patch_context,
    "multiprocessing.process": _patch_process,
    "multiprocessing.synchronize": _patch_synchronize,
    "multiprocessing.queues": _patch_queues,
    "multiprocessing.sharedctypes": _patch_sharedctypes,
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
    _hello()
    _open()
    record("start", ppid=os.getppid(), argv=list(getattr(sys, "orig_argv", sys.argv)), implementation=sys.implementation.name)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    for name, patch in _PATCHES.items():
        if name in sys.modules:  # imported before us (by site, say): patch it now
            patch(sys.modules[name])
    sys.meta_path.insert(0, _PatchOnImport)
    _record_stdout()
