"""The Linux container matrix (compose.yaml): every target ran every example under every start
method and passed, and faults (a broken example, a missing interpreter, a killed container, a
missing base image, no engine) fail the matrix with a one-line reason and leave nothing behind.

Marked `docker`: `tox -e containers` runs these, `selftest` leaves them out. Without a reachable
Docker engine they are skipped, saying so; with REQUIRE_DOCKER=1 (CI) that is a failure instead.
The images build FROM Debian's official images, pulled when missing; where no registry can be
reached, run docker/bootstrap-images first (as root), as .ci/run does: nothing here needs root.
compose.yaml's own consistency is checked without Docker, in tests/test_compose_file.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import compose_targets, examples
from harness.examples import START_METHODS
from harness.plugin import ROOT, SHIPPED_EXAMPLES
from sessions import unpinned

pytestmark = pytest.mark.docker

COMPOSE_FILE = ROOT / "compose.yaml"
PROJECT = "mp-article"  # compose.yaml's `name`
RESULTS = ROOT / "results" / "containers"


def read_targets() -> tuple[dict[str, compose_targets.Target], str]:
    """compose.yaml's targets as compose reads the file and the one rule (harness/compose_targets.py)
    classifies them, as CI and docker/bootstrap-images do; or no target and why."""
    try:
        done = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--format", "json"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {}, f"docker compose config failed: {exc}"
    if done.returncode != 0:
        return {}, f"docker compose config exited {done.returncode}: {done.stderr.strip()}"
    try:
        return compose_targets.targets(json.loads(done.stdout)), ""
    except compose_targets.RuleBroken as broken:
        return {}, f"compose.yaml breaks the target rule (harness/compose_targets.py): {broken}"


# Read at collection, for the test ids; where compose is missing the fixtures skip (or fail under
# REQUIRE_DOCKER=1) before NO_TARGETS matters.
TARGETS, NO_TARGETS = read_targets()


def docker(*args: str, timeout: float = 600, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["docker", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=None if env is None else {**os.environ, **env}
    )
    if check and done.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}", pytrace=False)
    return done


def compose(*args: str, project: str = PROJECT, files: tuple[Path, ...] = (), **kwargs) -> subprocess.CompletedProcess:
    options = ["-p", project, "-f", str(COMPOSE_FILE)]
    for extra in files:
        options += ["-f", str(extra)]
    return docker("compose", *options, *args, **kwargs)


def unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def compose_cli() -> None:
    if shutil.which("docker") is None:
        unavailable("no docker command on PATH")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        unavailable("docker compose (v2 plugin) is not installed; see .ci/docker-engine")


@pytest.fixture(scope="session")
def engine(compose_cli) -> None:
    done = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["docker info failed"])[-1]
        unavailable(f"no Docker engine reachable: {last}")


@pytest.fixture(scope="session")
def images(engine) -> None:
    """Every image of compose.yaml, built (from base images pulled, or bootstrapped beforehand)."""
    if NO_TARGETS:
        pytest.fail(NO_TARGETS, pytrace=False)
    done = compose("build", "--quiet")
    if done.returncode != 0:
        pytest.fail(
            f"docker compose build exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}\n"
            "(a base image missing and no registry? run docker/bootstrap-images)",
            pytrace=False,
        )


def leftovers(project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    return docker("ps", "-a", "--filter", label, "--format", "container {{.Names}} ({{.Status}})").stdout.split("\n") + docker(
        "network", "ls", "--filter", label, "--format", "network {{.Name}}"
    ).stdout.split("\n")


def assert_nothing_left(project: str) -> None:
    left = [line for line in leftovers(project) if line]
    assert not left, f"left behind by project {project}: {left}"


def junit_cells(path: Path) -> tuple[dict, list[dict]]:
    """The suite's attributes and properties, and each test case's properties and result."""
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    attributes = {**suite.attrib, **{p.get("name"): p.get("value") for p in suite.findall("properties/property")}}
    cells = []
    for case in suite.iter("testcase"):
        cell = {p.get("name"): p.get("value") for p in case.iter("property")}
        cell["name"] = case.get("name")
        cell["result"] = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        cells.append(cell)
    return attributes, cells


# --- no engine ---


def test_no_engine_is_one_line_reason(compose_cli):
    nowhere = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    done = compose("up", env=nowhere, timeout=60)
    assert done.returncode != 0
    assert "Cannot connect to the Docker daemon" in done.stderr, done.stderr
    done = subprocess.run([str(ROOT / "docker" / "bootstrap-images")], cwd=ROOT, capture_output=True, text=True, env={**os.environ, **nowhere})
    assert done.returncode != 0
    assert done.stderr.strip() == "bootstrap-images: no Docker engine reachable (docker info failed); start dockerd first"


def test_unknown_target_or_suite_is_one_line_reason(engine):
    done = compose("up", "sid-3.99", timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip() == "no such service: sid-3.99", done.stderr
    done = subprocess.run([str(ROOT / "docker" / "bootstrap-images"), "no-such-suite"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert re.fullmatch(r"bootstrap-images: compose.yaml's targets use no suite 'no-such-suite' \(they use: .+\)", done.stderr.strip()), done.stderr


# --- the matrix, for real ---


@pytest.fixture(scope="module")
def matrix(images) -> subprocess.CompletedProcess:
    """`docker compose up`, exactly as documented, then `down`."""
    compose("down", "--remove-orphans", "-t", "1")
    for old in RESULTS.glob("junit.*.xml"):
        old.unlink()
    started = time.monotonic()
    done = compose("up")
    done.seconds = time.monotonic() - started
    done.running_after_up = compose("ps", "-q", "--status", "running").stdout.split()
    compose("down", "-t", "1")
    return done


def test_compose_up_passes(matrix):
    assert matrix.returncode == 0, f"docker compose up exited {matrix.returncode}:\n{matrix.stdout[-5000:]}{matrix.stderr[-3000:]}"
    assert not matrix.running_after_up, "containers still running after docker compose up returned"
    assert_nothing_left(PROJECT)


@pytest.mark.parametrize("target", list(TARGETS))
def test_target_ran_every_cell(matrix, target):
    path = RESULTS / f"junit.{target}.xml"
    assert path.is_file(), f"{target} wrote no {path.relative_to(ROOT)}"
    suite, cells = junit_cells(path)
    assert suite.get("name") == target
    # Linux offers every start method, so each cell must have run, none skipped.
    expected = {(e, m) for e in examples.discover(SHIPPED_EXAMPLES) for m in START_METHODS}
    assert {(c.get("example"), c.get("start_method")) for c in cells} == expected
    bad = [f"{c['name']}: {c['result']}" for c in cells if c["result"] != "passed"]
    assert not bad, f"{target}: {bad}"
    version = TARGETS[target].version
    implementation = "PyPy" if version.startswith("pypy") else f"CPython {version}."
    assert {c["interpreter"].startswith(implementation) for c in cells} == {True}, (
        f"{target} ran the examples under {sorted({c['interpreter'] for c in cells})}"
    )
    # The harness itself (pytest and every run's supervisor) on the same interpreter, PyPy's too:
    # as CI's jobs run it, each Python's tox env on that Python.
    assert suite.get("harness", "").startswith(implementation), f"{target} ran the harness under {suite.get('harness')}"


# --- faults: each gives a non-zero exit naming the target, and leaves nothing behind ---


def variants(folder: Path, broken: bool) -> Path:
    """A folder with just 02_queue (fast) and its claims, correct or printing the wrong greeting."""
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)  # read by the containers' non-root user
    text = (SHIPPED_EXAMPLES / "02_queue.py").read_text(encoding="utf-8")
    if broken:
        text = text.replace("'Hello, world!'", "'Hello, wrld!'")
    (folder / "02_queue.py").write_text(text, encoding="utf-8")
    (folder / "02_queue.toml").write_text(unpinned(SHIPPED_EXAMPLES / "02_queue.toml"), encoding="utf-8")  # its claims (the copy may be changed)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def fault_project(tmp_path: Path, special: dict[str, dict]) -> tuple[str, Path]:
    """A compose override: every target checks a correct 02_queue under its default start method,
    except those in `special` (service: extra keys); JUnit goes to tmp_path, not results/."""
    results = tmp_path / "results"
    results.mkdir()
    shared = tmp_path / "variants"  # tmp_path itself is private (0700)
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    for name, broken in (("ok", False), ("broken", True)):
        variants(shared / name, broken)
    # The images `images` built, helpers' too: nothing is rebuilt or left behind under this project.
    override = {
        "services": {
            "results-dir": {"image": f"{PROJECT}-results-dir", "volumes": [f"{results}:/results"]},
            "all-targets": {"image": f"{PROJECT}-all-targets"},
        }
    }
    for target in TARGETS:
        override["services"][target] = {
            "image": f"{PROJECT}-{target}",
            "volumes": [f"{results}:/results", f"{shared}:/variants:ro"],
            "command": ["--examples-dir", "/variants/ok", "--start-method", "default"],
            **special.get(target, {}),
        }
    path = tmp_path / "override.yaml"
    path.write_text(json.dumps(override), encoding="utf-8")  # JSON is YAML
    return f"{PROJECT}-fault-{uuid.uuid4().hex[:8]}", path


@pytest.fixture
def fault(images, tmp_path):
    projects = []

    def run(special: dict[str, dict], during=None) -> subprocess.CompletedProcess:
        project, override = fault_project(tmp_path, special)
        projects.append(project)
        proc = subprocess.Popen(
            ["docker", "compose", "-p", project, "-f", str(COMPOSE_FILE), "-f", str(override), "up"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if during:
            during(project)
        out, err = proc.communicate(timeout=300)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        down = compose("down", "--remove-orphans", "-t", "1", project=project, files=(override,))
        assert down.returncode == 0, down.stderr
        assert_nothing_left(project)
        return done

    yield run
    for project in projects:  # after a failed assertion above, still clean up
        docker("compose", "-p", project, "down", "--remove-orphans", "-t", "1")


def shown(done: subprocess.CompletedProcess) -> str:
    """Compose's account, then the logs of the service that failed (why it did)."""
    service = re.search(r'service "([^"]+)" didn', done.stderr)
    logs = [line for line in done.stdout.splitlines() if service and line.startswith(f"{service.group(1)}-")]
    return done.stderr + "\n".join(logs[-40:])


def failed_line(done: subprocess.CompletedProcess) -> str:
    return next((line for line in done.stderr.splitlines() if "didn't complete successfully" in line), "")


def test_broken_example_fails_the_matrix(fault):
    target = list(TARGETS)[-1]
    done = fault({target: {"command": ["--examples-dir", "/variants/broken", "--start-method", "default"]}})
    assert done.returncode != 0
    assert failed_line(done) == f'service "{target}" didn\'t complete successfully: exit 1', shown(done)
    # The target's own log says which claim broke, as on the host.
    assert re.search(rf"^{re.escape(target)}-1 +\| .*02_queue under default .*Hello, wrld!", done.stdout, re.M), done.stdout[-3000:]


def test_missing_interpreter_is_one_line_reason(fault):
    target = next(iter(TARGETS))
    done = fault({target: {"environment": {"TARGET_PYTHON": "python3.99"}}})
    assert done.returncode != 0
    assert failed_line(done) == f'service "{target}" didn\'t complete successfully: exit 3', shown(done)
    assert f"{target}: interpreter python3.99 is not in this image" in done.stdout + done.stderr, done.stdout


def test_killed_container_fails_the_matrix(fault):
    target = next(iter(TARGETS))

    def kill_when_running(project: str) -> None:
        for _ in range(600):
            running = docker("compose", "-p", project, "ps", "-q", "--status", "running", target).stdout.split()
            if running:
                time.sleep(1)  # mid-run: pytest has started its example runs
                docker("kill", running[0], check=True)
                return
            time.sleep(0.1)
        pytest.fail(f"{target} never started running")

    # The target checks 01_processes (10 s of sleeps), so it is killed mid-run.
    slow = {"command": ["--start-method", "default", "-k", "01_processes"]}
    done = fault({target: slow}, during=kill_when_running)
    assert done.returncode != 0
    assert failed_line(done) == f'service "{target}" didn\'t complete successfully: exit 137', shown(done)


def test_missing_base_image_is_one_line_reason(images, tmp_path):
    # A suite whose image is neither here nor in any registry: offline (no registry at all) or
    # online, compose's last line names the image the build could not get (the README says what
    # to do then: docker/bootstrap-images, which builds the suites compose.yaml uses).
    target = next(iter(TARGETS))
    override = tmp_path / "override.yaml"
    override.write_text(
        json.dumps({"services": {target: {"image": f"{PROJECT}-missing-base", "build": {"args": {"SUITE": "no-such-suite"}}}}}), encoding="utf-8"
    )
    project = f"{PROJECT}-fault-{uuid.uuid4().hex[:8]}"
    done = compose("build", target, project=project, files=(override,), timeout=300)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "debian:no-such-suite-slim" in last or "debian/manifests/no-such-suite-slim" in last, done.stderr[-3000:]
    assert_nothing_left(project)


def test_target_whose_interpreter_debian_lacks_is_one_line_reason(images, tmp_path):
    suite = TARGETS[list(TARGETS)[-1]].suite
    override = tmp_path / "override.yaml"
    override.write_text(
        json.dumps(
            {
                "services": {
                    f"{suite}-3.99": {
                        "extends": {"file": str(COMPOSE_FILE), "service": list(TARGETS)[-1]},
                        "image": f"{PROJECT}-{suite}-3.99",
                        "build": {"args": {"SUITE": suite, "PYTHON": "python3.99"}},
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    project = f"{PROJECT}-fault-{uuid.uuid4().hex[:8]}"
    done = compose("build", f"{suite}-3.99", project=project, files=(override,), timeout=300)
    assert done.returncode != 0
    assert f"{suite}-3.99: Debian {suite} has no package python3.99" in done.stdout + done.stderr, done.stdout[-3000:]
    assert_nothing_left(project)
