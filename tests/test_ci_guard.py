""".ci/run must not pass by skipping: .ci/required_envs_ran.py fails when an env whose Python
this machine has (per pyenv) wrote no JUnit file, ran no test, skipped or failed one."""
import os
import subprocess
import sys

import pytest

from harness.plugin import ROOT

GUARD = ROOT / ".ci" / "required_envs_ran.py"
SUITE = '<testsuites><testsuite name="pytest" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}"></testsuite></testsuites>'


def guard(tmp_path, junit: dict, envs=("3.10", "3.11", "pypy3")):
    pyenv = tmp_path / "pyenv"
    for version in ("3.10.13", "3.11.7", "2.7.18"):
        (pyenv / "versions" / version).mkdir(parents=True)
    results = tmp_path / "results"
    results.mkdir()
    for env, counts in junit.items():
        (results / f"junit.{env}.xml").write_text(SUITE.format(**counts))
    return subprocess.run([sys.executable, str(GUARD), str(results), *envs], capture_output=True, text=True,
                          env={**os.environ, "PYENV_ROOT": str(pyenv)})


GOOD = {"tests": 16, "failures": 0, "skipped": 0}


def test_every_local_env_ran_and_passed(tmp_path):
    done = guard(tmp_path, {"3.10": GOOD, "3.11": GOOD})
    assert done.returncode == 0, done.stdout
    assert "ran and passed: 3.10, 3.11" in done.stdout  # pypy3 is not on this machine: not required


@pytest.mark.parametrize(("junit", "message"), [
    ({"3.10": GOOD}, "3.11: this machine has Python 3.11 but the env wrote no"),
    ({"3.10": GOOD, "3.11": {"tests": 0, "failures": 0, "skipped": 0}}, "3.11: 0 tests"),
    ({"3.10": GOOD, "3.11": {"tests": 16, "failures": 0, "skipped": 4}}, "3.11: 16 tests, 0 failed or errored, 4 skipped"),
    ({"3.10": {"tests": 16, "failures": 1, "skipped": 0}, "3.11": GOOD}, "3.10: 16 tests, 1 failed"),
], ids=["no-file", "no-tests", "skipped", "failed"])
def test_a_skipped_or_failed_local_env_fails_ci(tmp_path, junit, message):
    done = guard(tmp_path, junit)
    assert done.returncode == 1
    assert message in done.stdout
