"""Windows' order of starting a spawn child, under emulate-windows (HARNESS_EMULATE=win32: mp_evidence
applies `install` to popen_spawn_posix as it is imported): a child that exists before its parent
has pickled its process object.

On Windows, multiprocessing's popen_spawn_win32 creates the child process first (CreateProcess) and
then pickles the preparation data and the process object into the child's pipe; on Linux,
popen_spawn_posix pickles both first and creates the child only if that worked. So a process object
that cannot be pickled (a lambda as the target) leaves, on Windows only, a child that has started,
reads the preparation data, prepares (imports the main module as __mp_main__), then finds the pipe
closed (EOFError) and exits 1: still starting when the main process dies of its PicklingError.

Here, when popen_spawn_posix fails before it created the child, a child is started as Windows leaves
it: given the preparation data, then the end of its pipe. Where pickling works, the child is created
after it, as on Linux (Windows duplicates handles into a child that exists; Linux passes file
descriptors when it creates the child, so the order cannot be Windows' there).
"""

import os


def install(popen_spawn_posix):
    launch = popen_spawn_posix.Popen._launch

    def _launch_as_on_windows(self, process_obj):
        try:
            return launch(self, process_obj)
        except BaseException:
            if getattr(self, "pid", None) is None:  # it failed before the child existed: on Windows it would
                _child_left_behind(self, process_obj)
            raise

    popen_spawn_posix.Popen._launch = _launch_as_on_windows


def _child_left_behind(popen, process_obj):
    from multiprocessing import context, reduction, resource_tracker, spawn, util

    prep_data = spawn.get_preparation_data(process_obj._name)
    tracker_fd = resource_tracker.getfd()
    child_r, parent_w = os.pipe()
    try:
        command = spawn.get_command_line(tracker_fd=tracker_fd, pipe_handle=child_r)
        util.spawnv_passfds(spawn.get_executable(), command, [tracker_fd, child_r])
        context.set_spawning_popen(popen)  # the preparation data holds the authentication key
        try:
            with open(parent_w, "wb", closefd=False) as to_child:
                reduction.dump(prep_data, to_child)
        finally:
            context.set_spawning_popen(None)
    finally:
        os.close(child_r)
        os.close(parent_w)
