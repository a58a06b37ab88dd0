"""Every contract that crosses a process or a file between the harness and a run, in one place.

Read by the start-up hook (mp_evidence.py, sitecustomize.py: in every process of a run, which import
nothing of the harness, so this module is on their PYTHONPATH beside them), by the supervisor
(which starts with `-I -S` and puts this folder on its path) and by the harness (as
`harness.inject.mp_contract`): the environment of a run's processes, the records the hook sends and
the fields each kind must have, the frames and report keys the supervisor sends the runner, the
interventions, and the one JSON writer. tests/test_contract.py fails when one side spells a name
the other does not. Standard library only, and cheap to import: every process of a run imports it.
"""

try:
    from _json import encode_basestring_ascii as _quote
except ImportError:  # an interpreter without CPython's accelerator
    from json.encoder import py_encode_basestring_ascii as _quote

# --- the environment of a run's processes -------------------------------------------------------
RUN_MARKER = "HARNESS_RUN_ID"  # tags every process of one run (what the runner kills when all else failed)
START_METHOD = "HARNESS_START_METHOD"  # the start method asked for, made the interpreter's default
RECORDS = "HARNESS_RECORDS"  # the supervisor's datagram socket, where records go (Linux); '@name': abstract
EVIDENCE = "HARNESS_EVIDENCE"  # else a folder, one file of records per process (macOS's tree mode, Windows)
INTERVENE = "HARNESS_INTERVENE"  # the interventions of this run, comma-separated (INTERVENTIONS)
EMULATE = "HARNESS_EMULATE"  # another platform's branches (harness/platforms.py)
MAIN = "HARNESS_MAIN_PID"  # set by the run's main process for its descendants: which process of the run is main

# --- interventions: what the harness perturbs from outside the program --------------------------
ALTER = "alter"  # what main gets from a queue, a pipe, a pool, an executor or a proxy is altered in transit, with a marker made at random
STRETCH = "stretch"  # every hold of a lock the program made is stretched
SLOW = "slow"  # each child's writes to stdout are slowed, in turn
INTERVENTIONS = (ALTER, STRETCH, SLOW)
STRETCH_SECONDS = 0.1  # added to each hold of a lock the program made (not to a hold inside another)
SLOW_SECONDS = 0.2  # added before a slowed write

# --- records: one JSON object per event, sent by the hook --------------------------------------
# Every record has: e (its kind), pid (the process's own word; the kernel's where it names the
# sender), n (its number among the process's records, from 0: a gap is a lost record), t (the
# process's clock, ns). Each kind has these fields too (more are allowed):
RECORD_FIELDS = {
    "start": ("ppid", "argv"),  # a process began (a fresh interpreter); cpu_count: os.cpu_count() as it saw it
    "forked": ("ppid",),  # a process began as a fork of its parent
    "role": ("role",),  # forkserver, resource_tracker
    "started": ("child", "name", "method", "target", "pool_worker", "by"),  # the parent started a Process; by: program, pool, manager, executor
    "bootstrap": ("name", "identity", "how", "ppid", "target"),  # the child runs its Process
    "exit": ("code",),  # the child's Process returned this exit code
    "returncode": ("child", "code"),  # the parent saw its child exit with this code
    "terminate": ("child", "kill", "by"),  # the parent terminated or killed a child; by: program, pool, exit, manager, executor
    "write": ("data", "size", "dest"),  # about to write `size` bytes to fd 1 (data: at most WRITE_KEPT of them)
    "wrote": ("count",),  # the write before wrote only `count` bytes
    "write_failed": (),
    "put": ("queue", "kind", "msg", "value", "text"),  # a message put on a queue (msg travels inside it)
    "get": (
        "queue",
        "kind",
        "msg",
        "value",
        "text",
        "whole",
    ),  # a message got from a queue (msg: the put it came from; text: str() of it, whole or its head)
    "acquire_begin": ("lock", "kind"),  # a lock's acquire was called
    "acquire": ("lock", "kind", "capacity", "excluded", "values"),  # it succeeded; excluded: no one else could hold it now
    "release": ("lock", "kind", "values"),  # about to release it; values: the shared values now
    "shared": ("value_of", "typecode"),  # a shared value became known to this process
    "shared_get": ("value_of", "value"),
    "shared_set": ("value_of", "value"),
    "task": ("job", "i", "func", "calls", "chunk"),  # a pool's or an executor's worker is about to run a task (via: "executor" for the latter)
    "task_done": ("job", "i"),  # with result or error
    "pool_result": ("job", "i", "ok", "value", "items", "msg"),  # main received a task's result from the pool (or the executor: via)
    "altered": ("msg", "was", "now"),  # an intervention altered a value in transit
    "chose": ("method", "via", "force", "where"),  # the program chose a start method itself
    "send": ("msg", "value", "text"),  # the program sent an object on a Connection (a Pipe's end, a Client): msg travels inside it
    "recv": ("msg", "value", "text", "whole"),  # the program received an object from a Connection (msg: the send it came from, or None)
    "proxy_call": ("object", "method", "msg"),  # a proxy asks its manager's server to call a method of its referent (msg travels inside)
    "served": ("object", "method", "msg", "reply", "ok", "value", "text", "changed"),  # the server called it (msg: the request's), replied
    "proxy_result": ("object", "method", "msg", "ok", "value", "text", "whole"),  # the proxy got the reply (msg: the reply's)
    "event_set": ("event",),  # about to set a multiprocessing Event
    "event_wait": ("event", "result"),  # a wait on an Event returned this
    "queue_done": ("queue",),  # task_done() on a JoinableQueue
    "queue_joined": ("queue",),  # join() on a JoinableQueue returned
    "pool_job": ("job", "func"),  # main gave a pool a job: apply_async, map, imap... of this function
    "pool_timeout": ("job", "i"),  # a wait for a pool's result gave up (multiprocessing.TimeoutError); i: -1 for the whole job
    "overflow": (),  # the process did more than its records can hold: no more records
}
WRITE_KEPT = 16 << 10  # bytes of a write's data kept in its record (a longer write: its head and its size)
LOG_LIMIT = 8 << 20  # bytes of records a process may send; then one "overflow" record and no more
SEND_WAIT = 60.0  # seconds a process waits for room in the supervisor's queue before its records end

# --- what the supervisor sends the runner ------------------------------------------------------
# On the pipe the runner gave it: frames `KIND PID SIZE\n` then SIZE bytes; PID is the kernel's
# word for the sender, or -1 where the kernel names none.
# One early frame, GOING, says that every child the main process started so far runs its Process
# (the launcher lets the session's other runs start then); the rest come when the run is over.
FRAME_RECORD, FRAME_STDOUT, FRAME_STDERR, FRAME_REPORT, FRAME_GOING = "R", "O", "E", "F", "G"
FRAMES = (FRAME_RECORD, FRAME_STDOUT, FRAME_STDERR, FRAME_REPORT, FRAME_GOING)
# The report (the last frame, a JSON object): its keys.
REPORT_KEYS = (
    "returncode",  # the main process's exit code; None: killed at its timeout
    "stopped",  # why the run was stopped early: "", "timeout", "output_limit", "records_limit"
    "leftovers",  # "pid N: command" for each process alive once the main process had exited
    "main_pid",
    "seconds",
    "stdout_at_main_exit",  # bytes of stdout the supervisor had read when the main process had exited
    "stdout_size",  # bytes written to stdout in all (however many were kept)
    "stderr_size",
    "stdout_id",  # (device, inode) of the run's stdout: where a write recorded as going to fd 1 went
    "attested",  # True when the kernel named the sender of each record and each chunk of output (Linux)
    "processes",  # the kernel's account of each process of the run, or None where there is none (PROCESS_KEYS)
    "kernel_events",  # where the processes came from: "connector" (every fork, exec, exit), "records" (each process's first record), None
    "first_seen",  # pid -> what /proc said of it when its first record arrived: parent, argv, began (Linux)
    "reaped",  # pid -> exit status of each process the supervisor reaped (the main process, and orphans)
    "lost",  # records the supervisor could not keep: why, or ""
    "adopter",  # the supervisor's pid: an orphan's parent from then on
    "subreaper",
    "bounded",  # the run had processes and memory of its own (cgroups): exhausting them was its own doing
)
PROCESS_KEYS = (
    "parent",  # its parent when the kernel first saw it
    "began",  # "fork" (a copy of its parent) or "exec" (a program of its own), or None
    "argv",  # its command line when the kernel first saw it
    "status",  # its exit status as the kernel reported it (-N: killed by signal N), or None
    "reaped",  # the supervisor reaped it (its parent had left it)
    "after_main",  # it was still alive (a task of it not exiting) when the main process had exited
)


def encode(value):
    """JSON for the few kinds of value a record or a report holds: None, bool, int, float, str,
    bytes (as Latin-1 text), list, tuple, dict; anything else as its repr."""
    if value is None or value is True or value is False:
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else "null"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, (bytes, bytearray)):
        return _quote(bytes(value).decode("latin-1"))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(encode, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_quote(str(k)) + ":" + encode(v) for k, v in value.items()) + "}"
    return _quote(repr(value))
