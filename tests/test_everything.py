"""`tox -e all` (harness/everything.py) without a Docker engine: it says, in one line, why the
containers are skipped, and runs the local part. (With an engine, .ci/run and the benchmark run it.)"""

import io
import shutil

import pytest

from harness import everything


def test_no_docker_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert everything.docker_missing() == "no docker command on PATH"


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker command (not an engine)")
def test_no_engine(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert everything.docker_missing() == "no Docker engine reachable (docker info failed)"


class Log(io.StringIO):
    def __init__(self, terminal: bool):
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize("terminal", [False, True])
def test_progress_is_a_line_rewritten_on_a_terminal_and_milestone_lines_in_a_log(terminal):
    """`tox -e all > log` and CI logs get no carriage return: a line at each quarter of a part."""
    log = Log(terminal)
    progress = everything.Progress({"local": 64, "containers": 80}, log)
    for n in range(81):
        progress.show({"local": min(n, 64), "containers": n})
    progress.end()
    text = log.getvalue()
    if terminal:
        assert text.count("\r") == 81 and text.endswith("\n")
    else:
        assert "\r" not in text
        lines = text.splitlines()
        assert lines[0].startswith("cells done: local 0/64, containers 0/80") and lines[-1].startswith("cells done: local 64/64, containers 80/80")
        assert 5 <= len(lines) <= 9
