"""tox.ini's `pythons` label is the one list of Python versions; the other places that name versions must
agree with it: every compose.yaml target runs a version from it, and the CI workflows run every
version in it, each free-threaded build from 3.14 on, and the next Python as a pre-release.

`disagreements()` compares the lists; it is run on the real files, then on copies with one version
removed or added in one place, to show that it fails when they drift.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from harness import compose_targets
from harness.plugin import ROOT
from harness.pythons import labels

TOX_INI = ROOT / "tox.ini"
COMPOSE = ROOT / "compose.yaml"
MATRIX_WORKFLOW = ROOT / ".github" / "workflows" / "_tests.yml"
PYTHON_ENV = re.compile(r"(?P<cpython>3\.(?P<minor>\d+))(?P<t>t?)|pypy3(\.\d+)?")
FREE_THREADED_FROM = 14  # 3.14: the first release where the free-threaded build is supported (PEP 779)


def tox_versions(text: str) -> set[str]:
    """The Python versions of tox.ini's `pythons` label."""
    return {env for env in labels(text).get("pythons", []) if PYTHON_ENV.fullmatch(env)}


def compose_versions(text: str | None) -> dict[str, str] | None:
    """{target: version} for every target of compose.yaml, by the one rule (harness/compose_targets.py),
    or None when there is no compose.yaml. RuleBroken when a service breaks the rule."""
    if text is None:
        return None
    return {name: target.version for name, target in compose_targets.targets(yaml.safe_load(text)).items()}


def workflow_versions(text: str) -> tuple[set[str], set[str]]:
    """The tox envs of the shared job's matrix: (all of them, the pre-release ones)."""
    matrix = yaml.safe_load(text)["jobs"]["tox"]["strategy"]["matrix"]
    envs = {str(env) for env in matrix.get("tox-env", [])}
    include = matrix.get("include", [])
    envs |= {str(row["tox-env"]) for row in include}
    return envs, {str(row["tox-env"]) for row in include if row.get("prerelease")}


def disagreements(tox_ini: str, compose: str | None, workflow: str) -> list[str]:
    tox = tox_versions(tox_ini)
    ran, prerelease = workflow_versions(workflow)
    ran = {env for env in ran if PYTHON_ENV.fullmatch(env)}
    problems = []
    try:
        versions = compose_versions(compose) or {}
    except compose_targets.RuleBroken as broken:
        versions = {}
        problems += [f"compose.yaml: {line}" for line in str(broken).splitlines()]
    for service, version in sorted(versions.items()):
        if version not in tox:
            problems.append(f"compose.yaml: target {service} runs {version}, which tox.ini's pythons lack")
    for env in sorted(tox - ran):
        problems.append(f"tox.ini: {env} is in tox.ini's pythons but not in the workflows' matrix (_tests.yml)")
    minors = sorted(int(m["minor"]) for env in tox if (m := PYTHON_ENV.fullmatch(env)) and m["cpython"])
    for minor in minors:
        if minor >= FREE_THREADED_FROM and f"3.{minor}t" not in ran:
            problems.append(f"_tests.yml: the free-threaded build 3.{minor}t is not in the matrix")
    expected_next = f"3.{minors[-1] + 1}" if minors else None
    if prerelease != {expected_next}:
        problems.append(
            f"_tests.yml: the pre-release entry should be the next Python, {expected_next} "
            f"(one past tox.ini's newest), not {', '.join(sorted(prerelease)) or 'missing'}"
        )
    for env in sorted(ran - tox - prerelease):
        match = PYTHON_ENV.fullmatch(env)
        if not (match and match["t"] and match["cpython"] in tox):
            problems.append(f"_tests.yml: runs {env}, which tox.ini's pythons lack")
    return problems


def read(path: Path) -> str | None:
    # compose.yaml is optional here: without it there is nothing of it to agree.
    return path.read_text(encoding="utf-8") if path.is_file() else None


def test_the_versions_agree():
    assert disagreements(read(TOX_INI), read(COMPOSE), read(MATRIX_WORKFLOW)) == []


def test_labels_are_plain_lists():
    assert labels("[tox]\nlabels =\n    pythons = 3.10, 3.11, pypy3\n    other = a\n") == {"pythons": ["3.10", "3.11", "pypy3"], "other": ["a"]}
    # Generative braces would need tox's own parser to read: the list is written out instead.
    assert not [env for envs in labels(read(TOX_INI)).values() for env in envs if "{" in env]


def test_the_lists_are_read():
    # Guards the parsers: an empty list would agree with anything.
    assert {"3.10", "3.15", "pypy3"} <= tox_versions(read(TOX_INI))
    ran, prerelease = workflow_versions(read(MATRIX_WORKFLOW))
    assert {"3.10", "3.14t", "pypy3"} <= ran and len(prerelease) == 1
    if COMPOSE.is_file():
        assert compose_versions(read(COMPOSE)), "compose.yaml has services but none was recognised as a target"


SAMPLE_COMPOSE = """
services:
  bookworm-3.11: {build: {context: docker, args: {SUITE: bookworm, PYTHON: python3.11}}}
  sid-pypy3: {build: {context: docker, args: {SUITE: sid, PYTHON: pypy3}}}
  all-targets:
    build: {context: docker, target: base}
    depends_on:
      bookworm-3.11: {condition: service_completed_successfully}
      sid-pypy3: {condition: service_completed_successfully}
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is gone: update this test"
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("where", "old", "new", "problem"),
    [
        ("tox", "3.10, 3.11, ", "3.10, ", "target bookworm-3.11 runs 3.11, which tox.ini's pythons lack"),
        ("tox", "3.10, ", "", "_tests.yml: runs 3.10, which tox.ini's pythons lack"),
        ("tox", "3.10, ", "3.9, 3.10, ", "3.9 is in tox.ini's pythons but not in the workflows' matrix"),
        ("tox", "3.15, ", "3.15, 3.16, ", "the pre-release entry should be the next Python, 3.17"),
        ("tox", "3.15, ", "3.15, 3.16, ", "the free-threaded build 3.16t is not in the matrix"),
        ("workflow", '"3.13", ', "", "3.13 is in tox.ini's pythons but not in the workflows' matrix"),
        ("workflow", '["3.10", ', "[", "3.10 is in tox.ini's pythons but not in the workflows' matrix"),
        ("workflow", '"3.15t", ', "", "the free-threaded build 3.15t is not in the matrix"),
        ("workflow", "prerelease: true", "prerelease: false", "not missing"),
    ],
    ids=[
        "tox-drops-3.11",
        "tox-drops-3.10",
        "tox-adds-3.9",
        "next-moves",
        "free-threaded-3.16t",
        "workflow-drops-3.13",
        "workflow-drops-3.10",
        "workflow-drops-3.15t",
        "no-prerelease",
    ],
)
def test_drift_is_caught(where, old, new, problem):
    files = {"tox": read(TOX_INI), "compose": SAMPLE_COMPOSE, "workflow": read(MATRIX_WORKFLOW)}
    assert disagreements(files["tox"], files["compose"], files["workflow"]) == []
    files[where] = edit(files[where], old, new)
    problems = disagreements(files["tox"], files["compose"], files["workflow"])
    assert any(problem in p for p in problems), problems


def compose_problems(compose: str) -> list[str]:
    tox_ini, workflow = read(TOX_INI), read(MATRIX_WORKFLOW)
    assert disagreements(tox_ini, SAMPLE_COMPOSE, workflow) == []
    return disagreements(tox_ini, compose, workflow)


def test_compose_target_for_a_python_tox_lacks_is_caught():
    # The target and its line in all-targets, renamed together: the file keeps the rule.
    compose = SAMPLE_COMPOSE.replace("sid-pypy3", "sid-3.9").replace("PYTHON: pypy3", "PYTHON: python3.9")
    problems = compose_problems(compose)
    assert "compose.yaml: target sid-3.9 runs 3.9, which tox.ini's pythons lack" in problems, problems


def test_compose_file_that_breaks_the_target_rule_is_caught():
    # harness/compose_targets.py's problems are reported here too, rather than a target skipped.
    problems = compose_problems(edit(SAMPLE_COMPOSE, "sid-pypy3: {build", "sid-3.9: {build"))
    assert any(p.startswith("compose.yaml: service sid-3.9: built with SUITE=sid PYTHON=pypy3") for p in problems), problems


def test_no_compose_file_is_no_disagreement():
    assert disagreements(read(TOX_INI), None, read(MATRIX_WORKFLOW)) == []
