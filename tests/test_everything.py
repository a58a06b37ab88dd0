"""`tox -e all` (harness/everything.py) without a Docker engine: it says, in one line, why the
containers are skipped, and runs the local part. (With an engine, .ci/run and the benchmark run it.)"""

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
