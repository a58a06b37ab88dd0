"""Bad input to the suite gets a one-line error and a non-zero exit, never a traceback; and
--examples-dir checks a folder of variants with the same checks as the shipped examples."""
import subprocess
import sys
from pathlib import Path

import pytest

from harness.plugin import ROOT, SHIPPED_EXAMPLES


def pytest_session(*args, timeout=120):
    """A separate pytest session on the claims matrix, as a user would start it."""
    return subprocess.run([sys.executable, "-m", "pytest", "tests/test_claims.py", "-p", "no:cacheprovider", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(("args", "message"), [
    (["--start-method", "thread"], "argument --start-method: invalid choice: 'thread'"),
    (["--python", "/nonexistent/python3"], "cannot run interpreter /nonexistent/python3"),
    (["--python", sys.executable.replace("python", "no-such-python")], "cannot run interpreter"),
    (["--examples-dir", "/nonexistent"], f"--examples-dir {Path('/nonexistent')}: no such folder"),  # \nonexistent on Windows
    (["--example-timeout", "0"], "--example-timeout must be a positive number"),
], ids=["unknown-start-method", "missing-interpreter", "missing-interpreter-beside", "missing-folder", "zero-timeout"])
def test_bad_option_is_one_clear_line(args, message):
    done = pytest_session(*args)
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert message in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_examples_dir_checks_variants_and_skips_missing_ones(tmp_path):
    (tmp_path / "02_queue.py").write_text((SHIPPED_EXAMPLES / "02_queue.py").read_text().replace("Hello, world!", "Hello, World!"))
    (tmp_path / "04_pool.py").write_text((SHIPPED_EXAMPLES / "04_pool.py").read_text().replace("Pool(5)", "Pool(3)"))
    done = pytest_session("--examples-dir", tmp_path, "--start-method", "spawn", "-rs")
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed, 2 skipped" in done.stdout
    assert "02_queue under spawn on " in done.stdout and "stdout is 'Hello, World!\\n', expected exactly 'Hello, world!\\n'" in done.stdout
    assert f"{tmp_path} has no 01_processes.py" in done.stdout and f"{tmp_path} has no 03_lock.py" in done.stdout


def test_a_folder_without_examples_is_an_error_not_a_pass(tmp_path):
    (tmp_path / "02_queue_v2.py").write_text("print('Hello, world!')\n")
    done = pytest_session("--examples-dir", tmp_path)
    assert done.returncode == 4, done.stdout
    assert f"--examples-dir {tmp_path}: holds none of 01_processes.py, 02_queue.py, 03_lock.py, 04_pool.py" in done.stderr
