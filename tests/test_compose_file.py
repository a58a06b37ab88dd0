"""compose.yaml itself, read as YAML (no Docker needed, so these run in selftest): targets named
SUITE-VERSION after their build arguments, the aggregator waiting for every target, and every
container hardened. tests/test_containers.py runs the file for real."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.plugin import ROOT

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (dependency group lint)")

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
TARGETS = sorted(name for name, s in SERVICES.items() if "build" in s)
AGGREGATOR = "all-targets"


def test_targets_are_named_suite_and_version():
    for name in TARGETS:
        args = SERVICES[name]["build"]["args"]
        assert re.fullmatch(r"[a-z]+-(\d+\.\d+|pypy\d*)", name), f"{name}: not SUITE-VERSION (sid-3.15, sid-pypy3)"
        assert name == f"{args['SUITE']}-{args['PYTHON'].removeprefix('python')}", \
            f"{name}: build args {args} do not match the name SUITE-VERSION"


def test_aggregator_waits_for_every_target():
    waits = SERVICES[AGGREGATOR]["depends_on"]
    assert sorted(waits) == TARGETS, f"{AGGREGATOR} must depend on every target and only on them"
    assert {w["condition"] for w in waits.values()} == {"service_completed_successfully"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_container_is_hardened(service):
    s = SERVICES[service]
    assert s["network_mode"] == "none" and s["pull_policy"] == "never"
    assert s["read_only"] is True and any(t.startswith("/tmp:") for t in s["tmpfs"])
    assert s["cap_drop"] == ["ALL"] and s["init"] is True
    assert int(s["pids_limit"]) >= 256, "pids_limit counts threads: below 256 the launcher's runs fail"
    if service in TARGETS:
        assert str(s["user"]).split(":")[0] not in ("", "0", "root")
        src = next(v for v in s["volumes"] if isinstance(v, dict) and v["target"] == "/src")
        assert src["read_only"] is True and (ROOT / src["source"]).resolve() == ROOT
        assert Path(s["build"]["context"]) == Path("docker"), "the build context is docker/ only: no source in images"
