"""What every process of an example run did, recorded from outside the example file.

Imported by sitecustomize.py at start-up in the example's main process, its spawned children, the
fork server and the resource tracker; forked children inherit it. Each event is one record, a JSON
object (mp_contract.RECORD_FIELDS lists the kinds and their fields) that leaves the process as it
is made: on Linux a datagram to the supervisor's socket (HARNESS_RECORDS), whose sender the kernel
names, so that no process can send a record in another's name and the supervisor holds the only
copy; elsewhere (macOS's tree mode, Windows) a line appended to HARNESS_EVIDENCE/<pid>.log. Every
record carries its number among its process's records (`n`), so that a lost one is a visible gap.
Recorded:

- the process: its start (parent, argv), a fork, its role (fork server, resource tracker);
- from the parent: each child it started (pid, name, start method, target, whether that target
  is a Pool's worker), each terminate() or kill() and who called it (the program, the Pool ending
  its workers, multiprocessing's exit handler, a manager's clean-up), and the exit code it saw;
  from the child: its name, how it came to run (popen_fork's, the fork server's or spawn_main's
  code on its own call stack: the code objects, not names) and the exit code it returned;
- every write to stdout: its size, its head (WRITE_KEPT bytes) and the file fd 1 was then;
- each message put on or got from a multiprocessing queue, with an id that travels inside it
  (identity, not equality of values);
- locks: each acquire of a lock (when called, for the program's own locks, and when it succeeded,
  with whether it then excluded everyone else: the semaphore's own state) and each release, on the
  lock's id that survives pickling, whatever path the program takes to it (the SemLock itself is
  wrapped, not only the methods); at each of them, the value of every shared value this process
  knows, so that a change made between holds, by any path, shows;
- reads and writes of shared values (`Value`, `RawValue`, with or without their lock);
- the tasks a pool's workers ran (function, each call's arguments, recorded before it runs, then
  its result) and the results the main process received;
- a start method the program chose itself, and where.

Interventions (HARNESS_INTERVENE, mp_contract.INTERVENTIONS): `alter` changes each value the program
gets from a queue or a pool, in transit, with a marker made at random in the receiving process
(os.urandom: nothing the program could know in advance); `stretch` lengthens every hold of a lock
the program made; `slow` delays some writes of each child, in turn.

What a claim needs is recorded before it happens where a process could die right after it (a put,
a write, a task). multiprocessing's modules are patched as they are imported (an import hook), so
a process pays only for what it uses. Nothing here starts a thread or prints; nothing changes a
return value but an intervention. After LOG_LIMIT bytes a process sends one "overflow" record and
the hook stops working in it.
"""

import io
import os
import sys
import time
from _thread import allocate_lock, get_ident

import mp_contract as _c

_PLATFORM = os.environ.get(_c.EMULATE) or sys.platform
# Windows' time.monotonic() ticks every 15.6 ms before Python 3.13; its perf_counter() is the
# same system-wide clock at full resolution. Both are comparable across processes.
_clock = time.perf_counter_ns if _PLATFORM == "win32" else time.monotonic_ns
_address = os.environ.get(_c.RECORDS, "")
_folder = os.environ.get(_c.EVIDENCE, "")
_intervene = frozenset(filter(None, os.environ.get(_c.INTERVENE, "").split(",")))
_sock = None  # the connected datagram socket (Linux)
_fd = -1  # else the process's own file
_active = False  # recording (off before install() and after an overflow or a lost channel)
_n = 0  # records sent by this process
_sent = 0  # bytes of them
_lock = allocate_lock()  # one record at a time, numbered in the order sent
_inside = {}  # thread -> its records waiting to be sent, while it sends one
_ids = iter(range(1, 1 << 62))
_main_thread = get_ident()
_received = {}  # thread -> id of the last message that thread unpickled
_shared = {}  # value id -> the shared ctypes object, for the snapshots taken at each hold
_role = ""  # "child" once this process runs a Process (for `slow`)
_identity = 0
_writes = 0
_held_own = 0  # holds of the program's own locks this process is in (a hold inside another is not stretched)
_main_pid = 0  # the run's main process (HARNESS_MAIN_PID, which the first process of the run sets for its descendants)


def _is_main():
    """Whether this process is the run's main process: `alter` changes only what main gets (a child
    may steer by what it gets, a sentinel say: altered, it would never stop)."""
    return os.getpid() == _main_pid


def record(event, /, **fields):
    if not _active:
        return
    fields["e"] = event
    fields["pid"] = os.getpid()
    fields["t"] = _clock()
    thread = get_ident()
    if thread != _main_thread:
        fields["tid"] = thread
    if thread in _inside:  # re-entered: a finalizer the garbage collector ran inside record() itself
        _inside[thread].append(fields)  # sent right after the record being sent (the lock is not reentrant)
        return
    _inside[thread] = [fields]
    try:
        with _lock:
            while _inside[thread]:
                _send(_inside[thread].pop(0))
    finally:
        del _inside[thread]


def _send(fields):
    """One record, numbered in the order sent (the caller holds the lock)."""
    global _n, _sent, _active
    if not _active:
        return
    fields["n"] = _n
    line = _c.encode(fields).encode("ascii")
    _sent += len(line) + 1
    if _sent > _c.LOG_LIMIT:
        line = _c.encode({"e": "overflow", "pid": fields["pid"], "t": fields["t"], "n": _n}).encode("ascii")
        _active = False
    _n += 1
    _emit(line)


def _emit(line):
    global _active
    try:
        if _sock is not None:
            try:
                _sock.send(line)
            except BlockingIOError:
                _send_when_room(line)
        else:
            os.write(_fd, line + b"\n")
    except OSError:
        _active = False  # the supervisor is gone (the run is over), or the channel failed: no silent gap after this


def _send_when_room(line):
    """PyPy's timed send polls once for room, then gives up with EAGAIN when another process filled
    the queue first (CPython polls again): wait for room again, within the same bound."""
    deadline = _clock() + int(_c.SEND_WAIT * 1e9)
    while True:
        try:
            return _sock.send(line)
        except BlockingIOError:
            if _clock() >= deadline:
                raise


def _hello_channel():
    """Open this process's channel: the supervisor's socket, or this process's file."""
    global _sock, _fd, _active
    if _address:
        import _socket

        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        # A busy machine may keep the supervisor from the CPU for seconds: each send waits for room
        # in its queue rather than lose a record. A dead supervisor refuses at once.
        sock.settimeout(_c.SEND_WAIT)
        try:
            sock.connect("\0" + _address[1:] if _address.startswith("@") else _address)
        except OSError:
            sock.close()
            return
        _sock, _active = sock, True
    elif _folder:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        try:
            _fd = os.open(os.path.join(_folder, f"{os.getpid()}.log"), flags, 0o600)
        except OSError:
            return
        _active = True


def _after_fork_in_child():
    global _main_thread, _n, _sent, _lock, _fd, _role, _writes, _active, _marker
    _main_thread = get_ident()
    _lock = allocate_lock()  # another thread may have held it at the fork
    _inside.clear()
    _received.clear()
    _n = _sent = _writes = _marker = 0
    _role = ""
    if _sock is not None:  # the inherited socket: the kernel names this process as the sender
        _active = True
    elif _fd >= 0 or _folder:
        if _fd >= 0:
            os.close(_fd)
            _fd = -1
        _active = False
        _hello_channel()
    record("forked", ppid=os.getppid())


def _new_id():
    return f"{os.getpid()}.{next(_ids)}"


def _short(value, show=repr):
    try:
        text = show(value)
    except Exception as exc:  # a value whose repr fails still went through the queue
        text = f"<{show.__name__} failed: {type(exc).__name__}>"
    return text if len(text) <= 300 else text[:297] + "..."


TEXT_KEPT = 4096  # characters of a message's text kept in its record (what a claim compares printed lines with)


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
        global _writes
        if not _active:
            return os.write(self._out, data)
        data = bytes(data)
        if _c.SLOW in _intervene and _role == "child":
            # In turn: the first child is slowed for its first two writes, the second for its next two, and so on.
            if _writes // 2 == _identity - 1:
                time.sleep(_c.SLOW_SECONDS)
            _writes += 1
        try:
            st = os.fstat(self._out)
            dest = (st.st_dev, st.st_ino)
        except OSError:
            dest = None
        record("write", data=data[: _c.WRITE_KEPT], size=len(data), dest=dest)
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


_STDLIB = os.path.dirname(os.__file__) + os.sep  # where the standard library's modules are
_STDLIB_PACKAGES = (os.path.join(_STDLIB, "multiprocessing") + os.sep, os.path.join(_STDLIB, "concurrent") + os.sep)


def _in_library(frame):
    """Whether a frame runs multiprocessing's or concurrent.futures' own code, or this hook's (not the program's)."""
    return frame is not None and (frame.f_code.co_filename.startswith(_STDLIB_PACKAGES) or frame.f_code.co_filename == __file__)


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


# --- interventions ---------------------------------------------------------------------------


def _alter(value, marker):
    """The value with the marker in it, of the same kind: text gets the marker before its line's
    end, numbers are moved by it, containers have each item altered; anything else is kept."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        body = value[:-1] if value.endswith("\n") else value
        return f"{body}~{marker:x}" + value[len(body) :]
    if isinstance(value, bytes):
        return value + f"~{marker:x}".encode()
    if isinstance(value, (int, float)):
        return value + marker
    if type(value) in (list, tuple):
        return type(value)(_alter(item, marker) for item in value)
    if type(value) is dict:
        return {key: _alter(item, marker) for key, item in value.items()}
    return value


_marker = 0  # this process's: one for every value it alters, so that altered values keep their order


def _altered(value, msg):
    """The value an `alter` run hands the program instead of what was sent, recorded."""
    global _marker
    if not _marker:
        _marker = 1_000_000 + int.from_bytes(os.urandom(3), "big")  # made here, now: nothing the program could know in advance
    now = _alter(value, _marker)
    if now is not value and now != value:
        record("altered", msg=msg, was=_short(value), now=_short(now))
    return now


# --- multiprocessing, patched as each module is imported ---------------------------------------


def _patch_process(m):
    base = m.BaseProcess
    start, bootstrap = base.start, base._bootstrap

    def _start(self):
        target = getattr(self, "_target", None) or type(self).run  # start() deletes _target
        start(self)
        popen = self._popen
        _watch_popen(type(popen))
        pool, executor = sys.modules.get("multiprocessing.pool"), sys.modules.get("concurrent.futures.process")
        makers = _makers()
        frame = _caller(_codes(_start), depth=2)
        while frame is not None and frame.f_code not in makers and _in_library(frame):
            frame = frame.f_back
        record(
            "started",
            child=popen.pid,
            name=self.name,
            method=getattr(popen, "method", None),
            daemon=bool(self.daemon),
            target=_qualified(target),
            pool_worker=(pool is not None and target is getattr(pool, "worker", None))
            or (executor is not None and target is getattr(executor, "_process_worker", None)),
            by=makers.get(frame.f_code, "program") if frame is not None else "program",
        )

    def _bootstrap(self, *args, **kwargs):
        global _role, _identity
        target = getattr(self, "_target", None) or type(self).run
        _role, _identity = "child", (list(self._identity) or [0])[0]
        record("bootstrap", name=self.name, identity=list(self._identity), how=_how_started(), ppid=os.getppid(), target=_qualified(target))
        code = bootstrap(self, *args, **kwargs)
        record("exit", code=code)
        return code

    base.start, base._bootstrap = _start, _bootstrap


def _makers():
    """Code of multiprocessing's own ways to start a child: a Pool starting its workers, a manager
    starting its server."""
    pool, managers = sys.modules.get("multiprocessing.pool"), sys.modules.get("multiprocessing.managers")
    found = {}
    if pool is not None:
        found.update(dict.fromkeys(_codes(getattr(pool.Pool, "_repopulate_pool_static", None), pool.Pool._repopulate_pool), "pool"))
    if managers is not None:
        found.update(dict.fromkeys(_codes(managers.BaseManager.start), "manager"))
    executor = getattr(sys.modules.get("concurrent.futures.process"), "ProcessPoolExecutor", None)
    if executor is not None:
        found.update(dict.fromkeys(_codes(getattr(executor, "_spawn_process", None), executor._adjust_process_count), "executor"))
    return found


def _enders():
    """Code of multiprocessing's own ways to end a child: the Pool ending its workers, the exit
    handler ending daemonic children, a manager's clean-up ending its server; and the Process
    methods that pass a call on."""
    pool, util, process, managers = (sys.modules.get(f"multiprocessing.{name}") for name in ("pool", "util", "process", "managers"))
    own = {}
    if pool is not None:
        own.update(dict.fromkeys(_codes(pool.Pool._terminate_pool), "pool"))
    if util is not None:
        own.update(dict.fromkeys(_codes(util._exit_function), "exit"))
    if managers is not None:
        own.update(dict.fromkeys(_codes(managers.BaseManager._finalize_manager), "manager"))
    thread = getattr(sys.modules.get("concurrent.futures.process"), "_ExecutorManagerThread", None)
    if thread is not None:
        own.update(dict.fromkeys(_codes(getattr(thread, "terminate_broken", None)), "executor"))
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


class _RecordedSemLock:
    """A lock's semaphore (`_multiprocessing.SemLock`), recording each acquire and release however
    the program reaches it (the Lock's methods, `with`, or the semaphore itself): what the claims
    on locks rest on. The semaphore's own state says whether a hold excluded everyone else."""

    def __init__(self, real, lock_id, capacity, own):
        self._real, self._id, self._capacity, self._own = real, lock_id, capacity, own
        self._kind = "RLock" if real.kind == 0 else "Lock" if capacity == 1 and real.maxvalue == 1 else "Semaphore"

    def __getattr__(self, name):
        return getattr(self._real, name)

    def acquire(self, *args, **kwargs):
        if self._own:
            record("acquire_begin", lock=self._id, kind=self._kind)
        got = self._real.acquire(*args, **kwargs)
        if got:
            self._acquired()
        return got

    def __enter__(self):
        if self._own:
            record("acquire_begin", lock=self._id, kind=self._kind)
        got = self._real.__enter__()
        self._acquired()
        return got

    def _acquired(self):
        global _held_own
        if not _active:
            return
        is_zero = getattr(self._real, "_is_zero", None)
        excluded = bool(is_zero()) if is_zero is not None else None
        record("acquire", lock=self._id, kind=self._kind, capacity=self._capacity, excluded=excluded, values=_snapshot() if self._own else None)
        if self._own and self._outermost():
            _held_own += 1
            if _held_own == 1 and _c.STRETCH in _intervene:
                time.sleep(_c.STRETCH_SECONDS)

    def _outermost(self):
        count = getattr(self._real, "_count", None)  # this process's (or thread's, for an RLock) holds of it
        return count is None or count() == 1

    def _releasing(self):
        global _held_own
        if self._own and _held_own and self._outermost():
            _held_own -= 1
        record("release", lock=self._id, kind=self._kind, values=_snapshot() if self._own else None)

    def release(self):
        self._releasing()
        return self._real.release()

    def __exit__(self, *args):
        self._releasing()
        return self._real.__exit__(*args)


def _patch_synchronize(m):
    """Locks and semaphores: each SemLock's semaphore wrapped (_RecordedSemLock), with an id, a
    capacity and whether the program made it, all of which survive pickling."""
    semlock = m.SemLock
    init, make, getstate, setstate = semlock.__init__, semlock._make_methods, semlock.__getstate__, semlock.__setstate__
    internal = _codes(semlock.__init__, m.Lock.__init__, m.RLock.__init__, m.Semaphore.__init__, m.BoundedSemaphore.__init__, m.Condition.__init__)

    def _init(self, kind, value, maxvalue, *args, **kwargs):
        caller = _caller(internal | _context_codes(), depth=2)
        name = os.path.basename(caller.f_code.co_filename) if caller else ""
        own = not _in_library(caller) or name == "sharedctypes.py"  # a Value's own lock is the program's too
        self._evidence = (_new_id(), value, own)
        init(self, kind, value, maxvalue, *args, **kwargs)

    def _make_methods(self):
        real = self._semlock
        if not isinstance(real, _RecordedSemLock) and "_evidence" in self.__dict__:
            self._semlock = _RecordedSemLock(real, *self._evidence)
        make(self)

    def _getstate(self):
        return getstate(self), self.__dict__.get("_evidence")

    def _setstate(self, state):
        state, self._evidence = state
        setstate(self, state)

    semlock.__init__, semlock._make_methods = _init, _make_methods
    semlock.__getstate__, semlock.__setstate__ = _getstate, _setstate

    # Events: each set (recorded before it is made: the waits it ends come after it) and what each
    # wait returned, on the id of the Event's flag (a semaphore, whose id survives pickling).
    event_set, event_wait = m.Event.set, m.Event.wait

    def event_id(event):
        return (getattr(event._flag, "_evidence", None) or ("?",))[0]

    def _set(self):
        record("event_set", event=event_id(self))
        return event_set(self)

    def _wait(self, timeout=None):
        result = event_wait(self, timeout)
        record("event_wait", event=event_id(self), result=bool(result))
        return result

    m.Event.set, m.Event.wait = _set, _wait


def _context_codes():
    context = sys.modules.get("multiprocessing.context")
    if context is None:
        return set()
    return {f.__code__ for f in vars(context.BaseContext).values() if callable(f) and hasattr(f, "__code__")}


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
    (with the id of the message it returned), on the queue named by its read lock's id. In an
    `alter` run, what the program gets is altered on the way (not what multiprocessing gets)."""

    def note(event, queue, obj, msg):
        try:
            text = str(obj)
        except Exception as exc:  # a value whose str fails still went through the queue
            text = f"<str failed: {type(exc).__name__}>"
        record(
            event,
            queue=(getattr(queue._rlock, "_evidence", None) or ("?",))[0],
            kind=type(queue).__name__,
            msg=msg,
            value=_short(obj),
            text=text[:TEXT_KEPT],
            whole=len(text) <= TEXT_KEPT,  # else its head only
        )

    for cls in (m.Queue, m.JoinableQueue, m.SimpleQueue):
        if "put" in cls.__dict__:  # else inherited, and recorded by the base class

            def put(self, obj, *args, _original=cls.__dict__["put"], **kwargs):
                if sys.is_finalizing() or not _active:  # pickling the tag would need an import, which fails now
                    return _original(self, obj, *args, **kwargs)
                msg = _new_id()
                note("put", self, obj, msg)
                return _original(self, _Tagged(msg, obj), *args, **kwargs)

            cls.put = put
        if "get" in cls.__dict__:

            def get(self, *args, _original=cls.__dict__["get"], **kwargs):
                _take_received()
                obj = _original(self, *args, **kwargs)
                msg = _take_received()
                if _c.ALTER in _intervene and msg is not None and _is_main() and _program_called(sys._getframe(1)):
                    obj = _altered(obj, msg)
                note("get", self, obj, msg)
                return obj

            cls.get = get

    def queue_id(queue):
        return (getattr(queue._rlock, "_evidence", None) or ("?",))[0]

    task_done, join = m.JoinableQueue.task_done, m.JoinableQueue.join

    def _task_done(self):
        record("queue_done", queue=queue_id(self))  # before: the join it lets return may be recorded at once
        return task_done(self)

    def _join(self):
        result = join(self)
        record("queue_joined", queue=queue_id(self))
        return result

    m.JoinableQueue.task_done, m.JoinableQueue.join = _task_done, _join


def _program_called(frame, module="queues.py"):
    """Whether the program asked for it: the first caller outside `module` (get_nowait calling get,
    say) is the program's, not multiprocessing's nor this hook's."""
    while frame is not None and _in_library(frame) and os.path.basename(frame.f_code.co_filename) == module:
        frame = frame.f_back
    return frame is not None and not _in_library(frame)


def _text_of(obj):
    """str() of a value as a printed line would show it (its head, TEXT_KEPT characters), and
    whether that is all of it. A proxy's own str() would ask its manager: its repr is local."""
    proxy = getattr(sys.modules.get("multiprocessing.managers"), "BaseProxy", None)
    try:
        text = repr(obj) if proxy is not None and isinstance(obj, proxy) else str(obj)
    except Exception as exc:  # a value whose str fails still went through
        text = f"<str failed: {type(exc).__name__}>"
    return text[:TEXT_KEPT], len(text) <= TEXT_KEPT


def _snapshot():
    """The value of every shared value this process knows, now: {id: repr}."""
    found = {}
    for key, obj in list(_shared.items()):
        try:
            found[key] = _short(type(obj).__mro__[1].value.__get__(obj))
        except Exception:  # an array or a structure: no single value
            pass
    return found


def _patch_sharedctypes(m):
    """Shared values: each made (or rebuilt in a child) as a subclass of its ctypes type whose
    `value` records every read and write, on an id that survives pickling (it travels with the
    shared memory's wrapper); `Value` wraps the same object, so every path to `.value` is seen."""
    import ctypes

    rebuild, kinds = m.rebuild_ctype, {}

    def recording(base):
        if base not in kinds:
            descriptor = base.value

            class Shared(base):
                @property
                def value(self):
                    got = descriptor.__get__(self)
                    if _c.ALTER in _intervene and _active and _is_main() and _program_called(sys._getframe(1), "sharedctypes.py"):
                        got = _altered(got, self._wrapper._evidence_id)  # what main reads of shared memory, as it reads it
                    record("shared_get", value_of=self._wrapper._evidence_id, value=_short(got))
                    return got

                @value.setter
                def value(self, new):
                    record("shared_set", value_of=self._wrapper._evidence_id, value=_short(new))
                    descriptor.__set__(self, new)

            Shared.__name__ = Shared.__qualname__ = base.__name__
            kinds[base] = Shared
        return kinds[base]

    def reduce_shared(obj):
        m.assert_spawning(obj)
        return m.rebuild_ctype, (type(obj).__mro__[1], obj._wrapper, None)  # the ctypes type itself: a child makes its own Shared

    def rebuild_ctype(type_, wrapper, length):
        if length is not None or not (isinstance(type_, type) and issubclass(type_, ctypes._SimpleCData)) or type_ in kinds.values():
            return rebuild(type_, wrapper, length)
        if "_evidence_id" not in wrapper.__dict__:  # made here: its id from now on (it travels with the wrapper)
            wrapper._evidence_id = _new_id()
        shared = recording(type_)
        obj = rebuild(shared, wrapper, length)
        m._ForkingPickler.register(shared, reduce_shared)  # after rebuild, which registers its own
        _shared[wrapper._evidence_id] = obj
        record("shared", value_of=wrapper._evidence_id, typecode=getattr(type_, "_type_", "?"))
        return obj

    # Pickled by reference (spawn), the name must lead back to this function in the child too.
    rebuild_ctype.__module__, rebuild_ctype.__qualname__ = m.__name__, "rebuild_ctype"
    m.rebuild_ctype = rebuild_ctype


def _patch_pool(m):
    """Pools: the tasks each worker ran (the function, each call's arguments, recorded before it
    runs, then the results) and the results the main process received, each with the id of the
    message that carried it, matched by (job, index). In an `alter` run the results the program
    gets are altered on the way."""
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
            record(
                "task_done", job=job, i=i, result=_short(result), items=[_short(v) for v in result] if chunk and isinstance(result, list) else None
            )
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
                msg = _take_received()
                if ok and _c.ALTER in _intervene and _active and _is_main():
                    obj = (ok, _altered(value, msg))
                    value = obj[1]
                items = [_short(v) for v in value] if ok and isinstance(value, list) else None  # a chunk's results, one by one
                record("pool_result", job=self._job, i=i, ok=bool(ok), value=_short(value), items=items, msg=msg)
                return _original(self, i, obj)

            cls._set = _set

    # A wait for a result that gave up (multiprocessing.TimeoutError): which job, and which task of it.
    timeout_error, apply_get, imap_next = getattr(m, "TimeoutError", None), m.ApplyResult.get, m.IMapIterator.next

    def _get(self, timeout=None):
        try:
            return apply_get(self, timeout)
        except timeout_error:
            record("pool_timeout", job=self._job, i=-1 if isinstance(self, m.MapResult) else 0)
            raise

    def _next(self, timeout=None):
        try:
            return imap_next(self, timeout)
        except timeout_error:
            record("pool_timeout", job=self._job, i=-1 if isinstance(self, m.IMapUnorderedIterator) else self._index)
            raise

    if timeout_error is not None:
        m.ApplyResult.get, m.IMapIterator.next = _get, _next

    # Each job given to a pool, with its function: what a wait that gave up was waiting for.
    for name in ("apply_async", "_map_async", "imap", "imap_unordered"):
        original = getattr(m.Pool, name, None)
        if original is None:
            continue

        def submit(self, func, *args, _original=original, **kwargs):
            result = _original(self, func, *args, **kwargs)
            job = getattr(result, "_job", None)
            if isinstance(job, int):
                record("pool_job", job=job, func=getattr(func, "__qualname__", None) or repr(func))
            return result

        setattr(m.Pool, name, submit)


def _patch_context(m):
    """A start method the program chooses itself: set_start_method, or get_context(METHOD); not
    when multiprocessing does it (a spawned child taking its parent's method)."""
    own = _codes(m.DefaultContext.get_context, m.DefaultContext.set_start_method, m.BaseContext.get_context, m.BaseContext.set_start_method)

    def chose(method, via, force):
        frame = _caller(own)
        if frame is None or _in_library(frame):
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


def _patch_connection(m):
    """Connections (a Pipe's ends, a Listener's and a Client's): each object the program sends, with
    an id that travels inside it, and each it receives, with the id of the send it came from
    (multiprocessing's own sends and receives are not the program's, and are left alone). In an
    `alter` run what main receives is altered on the way."""
    base = m._ConnectionBase
    send, recv = base.send, base.recv

    def _send(self, obj):
        if sys.is_finalizing() or not _active or not _program_called(sys._getframe(1), "connection.py"):
            return send(self, obj)
        msg = _new_id()
        text, _ = _text_of(obj)
        record("send", msg=msg, value=_short(obj), text=text)
        return send(self, _Tagged(msg, obj))

    def _recv(self):
        if not _active or not _program_called(sys._getframe(1), "connection.py"):
            return recv(self)
        _take_received()
        obj = recv(self)
        msg = _take_received()
        if _c.ALTER in _intervene and msg is not None and _is_main():
            obj = _altered(obj, msg)
        text, whole = _text_of(obj)
        record("recv", msg=msg, value=_short(obj), text=text, whole=whole)
        return obj

    base.send, base.recv = _send, _recv


def _object_key(address, ident):
    """A managed object, as its proxies and its server name it: the manager's address and its id there."""
    return f"{_short(address, str)}|{ident}"


def _state(obj):
    """What a call may change of a managed dict, list, Namespace or Value, cheaply and without
    running any of the program's code (the ids of what it holds); None for anything else."""
    kind = type(obj)
    if kind is dict and len(obj) <= 1000:
        return [(id(k), id(v)) for k, v in obj.items()]
    if kind is list and len(obj) <= 1000:
        return [id(v) for v in obj]
    if kind.__module__ == "multiprocessing.managers" and kind.__name__ in ("Namespace", "Value"):
        return sorted((k, id(v)) for k, v in vars(obj).items())
    return None


def _patch_managers(m):
    """Managers: each call a proxy makes (the method, with an id that travels inside the request),
    the call as the manager's server made it (whether it changed the object, and its reply, with an
    id that travels inside it), and the reply as the proxy got it. In an `alter` run what main gets
    through a proxy is altered on the way."""
    serve_client, callmethod = m.Server.serve_client, m.BaseProxy._callmethod

    class Served:
        """A proxy's connection as the server's thread serving it sees it: each request, then its reply."""

        def __init__(self, server, conn):
            self._server, self._conn, self._call = server, conn, None

        def __getattr__(self, name):
            return getattr(self._conn, name)

        def recv(self):
            _take_received()
            request = self._conn.recv()
            msg = _take_received()
            self._call = None
            if _active and isinstance(request, tuple) and len(request) == 4:
                held = self._server.id_to_obj.get(request[0])
                obj = held[0] if held else None
                self._call = (request[0], request[1], msg, obj, _state(obj))
            return request

        def send(self, reply):
            call, self._call = self._call, None
            if call is None or not _active or not (isinstance(reply, tuple) and len(reply) == 2):
                return self._conn.send(reply)
            ident, method, msg, obj, before = call
            kind, value = reply
            answer = _new_id()
            text, _ = _text_of(value)
            changed = None if before is None else _state(obj) != before
            key = _object_key(self._server.address, ident)
            record("served", object=key, method=str(method), msg=msg, reply=answer, ok=kind in ("#RETURN", "#PROXY"), value=_short(value), text=text,
                   changed=changed)  # fmt: skip
            return self._conn.send((kind, _Tagged(answer, value)) if kind == "#RETURN" else reply)

    def _serve_client(self, conn):
        return serve_client(self, Served(self, conn))

    def _callmethod(self, methodname, args=(), kwds={}):  # noqa: B006 (the signature it replaces)
        if sys.is_finalizing() or not _active:
            return callmethod(self, methodname, args, kwds)
        key, msg = _object_key(self._token.address, self._token.id), _new_id()
        record("proxy_call", object=key, method=str(methodname), msg=msg)
        _take_received()
        try:
            result = callmethod(self, methodname, _Tagged(msg, args), kwds)
        except BaseException as exc:
            text, whole = _text_of(exc)
            record("proxy_result", object=key, method=str(methodname), msg=_take_received(), ok=False, value=_short(exc), text=text, whole=whole)
            raise
        reply = _take_received()
        if _c.ALTER in _intervene and reply is not None and _is_main() and _proxy_program_called(sys._getframe(1)):
            result = _altered(result, reply)
        text, whole = _text_of(result)
        record("proxy_result", object=key, method=str(methodname), msg=reply, ok=True, value=_short(result), text=text, whole=whole)
        return result

    m.Server.serve_client, m.BaseProxy._callmethod = _serve_client, _callmethod


def _proxy_program_called(frame):
    """Whether the program asked a proxy for it: the first caller outside managers.py and the
    methods it makes for each proxy type (MakeProxyType: code compiled from a string)."""
    while frame is not None and (
        frame.f_code.co_filename == "<string>" or (_in_library(frame) and os.path.basename(frame.f_code.co_filename) == "managers.py")
    ):
        frame = frame.f_back
    return frame is not None and not _in_library(frame)


def _patch_executor(m):
    """ProcessPoolExecutor: the calls each worker ran (function, each call's arguments, recorded
    before it runs, then its result), as a Pool's tasks (job: the work item's id), and the results
    main received, each with the id of the message that carried it. In an `alter` run what main
    receives is altered on the way."""
    import functools

    worker, chunked = m._process_worker, m._process_chunk

    def recorded(work_id, fn, args, kwargs):
        if isinstance(fn, functools.partial) and fn.func is chunked and fn.args and args:  # a chunk of map(): (function, items)
            real, calls, chunk = fn.args[0], [tuple(call) for call in args[0]], True
        else:
            real, calls, chunk = fn, [tuple(args) + ((kwargs,) if kwargs else ())], False
        name = getattr(real, "__qualname__", None) or repr(real)
        record("task", job=work_id, i=0, func=name, module=getattr(real, "__module__", None), calls=[_short(c) for c in calls], chunk=chunk,
               via="executor")  # fmt: skip

        def task(*a, **k):
            try:
                result = fn(*a, **k)
            except BaseException as exc:
                record("task_done", job=work_id, i=0, error=_short(exc))
                raise
            record(
                "task_done",
                job=work_id,
                i=0,
                result=_short(result),
                items=[_short(v) for v in result] if chunk and isinstance(result, list) else None,
            )
            return result

        return task

    class Calls:
        """The executor's call queue as its worker sees it, each call wrapped to record it."""

        def __init__(self, queue):
            self._queue = queue

        def __getattr__(self, name):
            return getattr(self._queue, name)

        def get(self, *args, **kwargs):
            item = self._queue.get(*args, **kwargs)
            if not hasattr(item, "work_id"):
                return item  # None: stop
            return type(item)(item.work_id, recorded(item.work_id, item.fn, item.args, item.kwargs), item.args, item.kwargs)

    def _process_worker(call_queue, *args, **kwargs):
        return worker(Calls(call_queue), *args, **kwargs)

    # Pickled by reference (spawn), the name must lead back to this function in the child too.
    _process_worker.__module__, _process_worker.__qualname__, _process_worker.__name__ = worker.__module__, worker.__qualname__, worker.__name__
    m._process_worker = _process_worker

    thread = getattr(m, "_ExecutorManagerThread", None)
    if thread is None or "process_result_item" not in vars(thread):
        return
    process = thread.process_result_item

    def process_result_item(self, result_item, *args, **kwargs):
        msg = _take_received()
        if _active and hasattr(result_item, "work_id"):
            error = getattr(result_item, "exception", None)
            value = getattr(result_item, "result", None)
            if error is None and _c.ALTER in _intervene and _is_main():
                value = result_item.result = _altered(value, msg)
            items = [_short(v) for v in value] if error is None and isinstance(value, list) else None
            shown = _short(value if error is None else error)
            record("pool_result", job=result_item.work_id, i=0, ok=error is None, value=shown, items=items, msg=msg, via="executor")
        return process(self, result_item, *args, **kwargs)

    thread.process_result_item = process_result_item


def _role_of(role):
    def patch(m):
        main = m.main

        def _main(*args, **kwargs):
            record("role", role=role)
            return main(*args, **kwargs)

        m.main = _main

    return patch


def _start_method(m):
    """The start method the run asks for (HARNESS_START_METHOD), as the interpreter's default: the
    program may still choose its own (set_start_method, get_context), as it could on an
    interpreter whose default this is. HARNESS_EMULATE: another platform's start methods, so that
    the suite's platform-dependent branches run on Linux too (tox -e emulate-windows, emulate-macos).
    Applied when multiprocessing is first imported, not before: a program's own module of that
    name, beside it, is what a reader's `python FILE` imports, and so must the run."""
    emulate, method = os.environ.get(_c.EMULATE), os.environ.get(_c.START_METHOD)
    if emulate:
        methods = {"win32": ["spawn"], "darwin": ["spawn", "fork", "forkserver"]}[emulate]
        for name in list(m._concrete_contexts):
            if name not in methods:
                del m._concrete_contexts[name]  # set_start_method('fork') now fails as there
        m._default_context._default_context = m._concrete_contexts["spawn"]
        m.DefaultContext.get_all_start_methods = lambda _self: list(methods)
    if method:
        m._default_context._default_context = m._concrete_contexts[method]
    _patch_context(m)


def _emulated_win32_spawn(m):
    """Under emulate-windows, Windows' order of starting a spawn child (win32_spawn.py)."""
    if os.environ.get(_c.EMULATE) == "win32":
        import win32_spawn

        win32_spawn.install(m)


_PATCHES = {
    "multiprocessing.context": _start_method,
    "multiprocessing.popen_spawn_posix": _emulated_win32_spawn,
    "multiprocessing.process": _patch_process,
    "multiprocessing.synchronize": _patch_synchronize,
    "multiprocessing.queues": _patch_queues,
    "multiprocessing.sharedctypes": _patch_sharedctypes,
    "multiprocessing.pool": _patch_pool,
    "multiprocessing.connection": _patch_connection,
    "multiprocessing.managers": _patch_managers,
    "concurrent.futures.process": _patch_executor,
    "multiprocessing.forkserver": _role_of("forkserver"),
    "multiprocessing.resource_tracker": _role_of("resource_tracker"),
}


class _PatchOnImport:
    """A meta path finder that lets the normal finders load the module, then patches it: only the
    standard library's multiprocessing (a program's own package of that name is left alone)."""

    @staticmethod
    def find_spec(name, path=None, target=None):  # noqa: ARG004 (the finder protocol)
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not (spec.origin or "").startswith(_STDLIB):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def install():
    """Set the start method on multiprocessing's import, and record this process where the run
    asks for records (then True): the start-up hook calls it before any code of the program."""
    global _main_pid
    try:  # the first process of the run is main; its descendants inherit its word
        _main_pid = int(os.environ.setdefault(_c.MAIN, str(os.getpid())))
    except ValueError:
        _main_pid = 0
    sys.meta_path.insert(0, _PatchOnImport)
    for name in _PATCHES:
        if name in sys.modules:  # imported before us (by site, say): patch it now
            _PATCHES[name](sys.modules[name])
    _hello_channel()
    if not _active:
        return False
    record(
        "start",
        ppid=os.getppid(),
        argv=list(getattr(sys, "orig_argv", sys.argv)),
        implementation=sys.implementation.name,
        cpu_count=os.cpu_count(),
    )
    if hasattr(os, "register_at_fork"):
        # The record lock is held across the fork (a thread sending a record then cannot leave it
        # taken in the child); looked up at each fork, as a child has a lock of its own.
        os.register_at_fork(before=lambda: _lock.acquire(), after_in_parent=lambda: _lock.release(), after_in_child=_after_fork_in_child)
    _record_stdout()
    return True
