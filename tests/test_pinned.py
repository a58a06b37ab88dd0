"""The shipped examples are the article's programs byte for byte: each claims file pins its
program (`sha256`), and every shipped program has one."""

import hashlib

import pytest

from harness import examples
from harness.plugin import SHIPPED_EXAMPLES

SHIPPED = examples.discover(SHIPPED_EXAMPLES)


def drift(example: examples.Example) -> str | None:
    digest = hashlib.sha256(example.program.read_bytes()).hexdigest()
    if digest != example.sha256:
        return (
            f"examples/{example.program.name} drifted from the article's program (sha256 {digest[:12]}..., pinned "
            f"{example.sha256[:12]}... in {example.claims_file.name}); restore it with `git checkout -- examples/{example.program.name}`"
        )
    return None


def test_every_shipped_program_has_claims_and_a_pin():
    assert SHIPPED and all(e.has_claims and e.sha256 for e in SHIPPED.values()), [e.name for e in SHIPPED.values() if not e.sha256]


@pytest.mark.parametrize("example", SHIPPED.values(), ids=lambda example: example.name)
def test_example_is_the_articles(example):
    problem = drift(example)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.mark.parametrize("edit", [b" ", b"\r\n", b"\n"], ids=["trailing-space", "crlf", "extra-newline"])
def test_a_one_byte_edit_is_drift(tmp_path, edit):
    """A program that is not the one its claims file pins is refused as the claims file is read,
    in any folder (--examples-dir: one line, exit 4), not only here."""
    original = SHIPPED["03_lock"]
    copy = tmp_path / "03_lock.py"
    data = original.program.read_bytes()
    copy.write_bytes(data.replace(b"\n", edit, 1) if edit == b"\r\n" else data + edit)
    (tmp_path / "03_lock.toml").write_bytes(original.claims_file.read_bytes())
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    with pytest.raises(examples.ClaimsFileError) as refused:
        examples.load(copy)
    assert str(refused.value) == (
        f"03_lock.toml: 03_lock.py is not the program its sha256 pins (sha256 {digest[:12]}..., pinned {original.sha256[:12]}...): "
        "restore the program, or pin the new one (python -m harness.examples pin PROGRAM.py)"
    )


def test_one_command_pins_a_program(tmp_path):
    """`python -m harness.examples pin PROGRAM.py` writes the program's SHA-256 into its claims file
    (the line replaced, or added before the first table, or a claims file made): the pin then holds,
    and a one-byte edit of the program is refused."""
    import subprocess
    import sys

    from harness.plugin import ROOT

    fifth = ROOT / "tests" / "fifth_example"
    for name in ("05_pipe.py", "05_pipe.toml"):
        (tmp_path / name).write_bytes((fifth / name).read_bytes())
    (tmp_path / "06_bare.py").write_bytes((fifth / "05_pipe.py").read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "harness.examples", "pin", tmp_path / "05_pipe.py", tmp_path / "06_bare.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    for name in ("05_pipe", "06_bare"):
        pinned = examples.load(tmp_path / f"{name}.py")
        assert pinned.sha256 == hashlib.sha256((tmp_path / f"{name}.py").read_bytes()).hexdigest()
    assert (tmp_path / "05_pipe.toml").read_text(encoding="utf-8").count("sha256 =") == 1
    (tmp_path / "05_pipe.py").write_bytes((tmp_path / "05_pipe.py").read_bytes() + b"\n")
    with pytest.raises(examples.ClaimsFileError, match=r"not the program its sha256 pins .*python -m harness.examples pin PROGRAM.py\)$"):
        examples.load(tmp_path / "05_pipe.py")
    assert examples.main(["pin", str(tmp_path / "missing.py")]) == 2
