"""compose.yaml itself, read as YAML (no Docker needed, so these run in selftest): every service is
a target or a helper by the one rule (harness/compose_targets.py), the rule rejects broken copies,
the Dockerfile builds from the base image the rule names, and every container is hardened.
tests/test_containers.py runs the file for real."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import compose_targets
from harness.plugin import ROOT

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (dependency group lint)")

COMPOSE_TEXT = (ROOT / "compose.yaml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]


def test_every_service_is_a_target_or_a_helper():
    assert compose_targets.problems(COMPOSE) == []
    assert set(compose_targets.targets(COMPOSE)) | set(compose_targets.HELPERS) == set(SERVICES)


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is gone from compose.yaml: update this test"
    return text.replace(old, new, 1)


NEW_TARGET = "  sid-3.14:\n"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        # A target added without the build arguments the rule knows it by.
        (
            NEW_TARGET,
            "  sid-3.16:\n    <<: *target\n    build: {<<: *build, args: {SUITE: sid}}\n" + NEW_TARGET,
            "service sid-3.16: neither a target",
        ),
        (NEW_TARGET, "  sid-3.16:\n    <<: *target\n    image: mp-article-sid-3.14\n" + NEW_TARGET, "service sid-3.16: neither a target"),
        # Named after other build arguments than its own.
        (
            "args: {SUITE: sid, PYTHON: python3.15}",
            "args: {SUITE: sid, PYTHON: python3.16}",
            "service sid-3.15: built with SUITE=sid PYTHON=python3.16, so it must be named sid-3.16",
        ),
        ("  sid-pypy3:\n", "  sid-pypy:\n", "service sid-pypy: built with SUITE=sid PYTHON=pypy3, so it must be named sid-pypy3"),
        # Not waited for, or not until it succeeded: a failure would not fail `docker compose up`.
        ("      sid-3.15: {condition: service_completed_successfully}\n", "", "does not wait for target sid-3.15"),
        (
            "      sid-3.15: {condition: service_completed_successfully}",
            "      sid-3.15: {condition: service_started}",
            "waits for sid-3.15 until service_started",
        ),
        ("  all-targets:\n", "  every-target:\n", "no service all-targets"),
        # A helper turned into something the rule would count as a target.
        (
            "build: {<<: *build, target: base}",
            "build: {<<: *build, target: base, args: {SUITE: sid, PYTHON: python3.14}}",
            "a helper, but built with PYTHON=python3.14",
        ),
    ],
    ids=[
        "target-without-python-arg",
        "target-from-an-image",
        "name-not-its-args",
        "pypy-misnamed",
        "aggregator-forgets-one",
        "aggregator-does-not-wait-for-success",
        "no-aggregator",
        "helper-like-a-target",
    ],
)
def test_the_rule_rejects_a_broken_copy(old, new, problem):
    problems = compose_targets.problems(yaml.safe_load(edit(COMPOSE_TEXT, old, new)))
    assert any(problem in p for p in problems), problems
    with pytest.raises(compose_targets.RuleBroken, match=re.escape(problem)):
        compose_targets.targets(yaml.safe_load(edit(COMPOSE_TEXT, old, new)))


def test_the_rule_reads_compose_s_own_json_and_list_forms():
    # `docker compose config --format json` spells depends_on out; a file may list args as K=V.
    config = {
        "services": {
            "sid-3.15": {"build": {"context": "/abs/docker", "args": ["SUITE=sid", "PYTHON=python3.15"]}},
            "results-dir": {"build": {"target": "base"}},
            "all-targets": {"depends_on": {"sid-3.15": {"condition": "service_completed_successfully", "required": True}}},
        }
    }
    assert compose_targets.targets(config) == {"sid-3.15": compose_targets.Target("sid-3.15", "sid", "python3.15")}
    assert compose_targets.base_images(config) == {"sid": "debian:sid-slim"}


def test_the_cli_lists_targets_and_fails_in_one_line_per_problem(capsys, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(COMPOSE), encoding="utf-8")
    assert compose_targets.main([str(good), "--sep", ","]) == 0
    assert capsys.readouterr().out.strip() == ",".join(compose_targets.targets(COMPOSE))
    assert compose_targets.main([str(good), "--base-images"]) == 0
    assert "sid debian:sid-slim" in capsys.readouterr().out.splitlines()

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"services": {**SERVICES, "extra": {"image": "x"}}}), encoding="utf-8")
    assert compose_targets.main([str(broken)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("compose_targets: service extra: neither a target"), captured.err
    (tmp_path / "garbage.json").write_text("services:", encoding="utf-8")
    assert compose_targets.main([str(tmp_path / "garbage.json")]) == 2
    assert capsys.readouterr().err.startswith("compose_targets: not JSON")


def test_the_dockerfile_builds_from_the_rule_s_base_images():
    # bootstrap-images builds the images the rule names; the Dockerfile must ask for the same ones,
    # and the helpers' (its default suite) must be one of them.
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    bases = re.findall(r"^FROM (\S+) AS base$", dockerfile, re.M)
    assert bases == [compose_targets.BASE_IMAGE.replace("{suite}", "${SUITE}")], bases
    default_suite = re.search(r"^ARG SUITE=(\S+)$", dockerfile, re.M)[1]
    assert default_suite in compose_targets.base_images(COMPOSE), f"the helpers' suite {default_suite} is no target's"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_container_is_hardened(service):
    s = SERVICES[service]
    assert s["network_mode"] == "none"
    assert s["read_only"] is True
    assert any(t.startswith("/tmp:") for t in s["tmpfs"])
    assert s["cap_drop"] == ["ALL"]
    assert s["init"] is True
    assert s["security_opt"] == ["no-new-privileges:true"]
    assert int(s["pids_limit"]) >= 256, "pids_limit counts threads: below 256 the launcher's runs fail"
    # Built, never pulled by compose: only the build's FROM reaches for Debian's image, so that a
    # missing image offline is one error that names it.
    assert "image" not in s
    assert Path(s["build"]["context"]) == Path("docker"), "the build context is docker/ only: no source in images"
    if service in compose_targets.targets(COMPOSE):
        assert str(s["user"]).split(":")[0] not in ("", "0", "root")
        src = next(v for v in s["volumes"] if isinstance(v, dict) and v["target"] == "/src")
        assert src["read_only"] is True
        assert (ROOT / src["source"]).resolve() == ROOT
