"""The shipped examples are the article's programs byte for byte (digests in examples/SHA256SUMS)."""

import hashlib
from pathlib import Path

import pytest

from harness.claims import EXAMPLES
from harness.plugin import SHIPPED_EXAMPLES

PINS = dict(reversed(line.split("  ", 1)) for line in (SHIPPED_EXAMPLES / "SHA256SUMS").read_text().splitlines())


def drift(path: Path) -> str | None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != PINS[path.name]:
        return (
            f"examples/{path.name} drifted from the article's program (sha256 {digest[:12]}..., pinned "
            f"{PINS[path.name][:12]}...); restore it with `git checkout -- examples/{path.name}`"
        )
    return None


def test_pins_cover_exactly_the_examples():
    assert sorted(PINS) == sorted(f"{name}.py" for name in EXAMPLES) == sorted(p.name for p in SHIPPED_EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("name", sorted(PINS))
def test_example_is_the_articles(name):
    problem = drift(SHIPPED_EXAMPLES / name)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.mark.parametrize("edit", [b" ", b"\r\n", b"\n"], ids=["trailing-space", "crlf", "extra-newline"])
def test_a_one_byte_edit_is_drift(tmp_path, edit):
    copy = tmp_path / "03_lock.py"
    copy.write_bytes(
        (SHIPPED_EXAMPLES / "03_lock.py").read_bytes().replace(b"\n", edit, 1)
        if edit == b"\r\n"
        else (SHIPPED_EXAMPLES / "03_lock.py").read_bytes() + edit
    )
    assert "examples/03_lock.py drifted" in drift(copy)
