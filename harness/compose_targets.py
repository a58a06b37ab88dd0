"""The one rule for what a target of the Linux container matrix is, read by everything that lists
them: the tests, the container benchmark, docker/bootstrap-images and the containers workflow.

A target is a service of compose.yaml built with the build arguments SUITE (a Debian suite) and
PYTHON (the interpreter's Debian package, which is also its command: python3.15, pypy3), and named
SUITE-VERSION after them (sid-3.15, sid-pypy3). Every target must be waited for by the aggregator
`all-targets`, and every other service must be one of the HELPERS: a service that is neither is a
target this rule does not recognise, and is reported rather than silently left out.

Stdlib only, so that a bare python3 can run it. It reads a compose file as compose itself resolves
it (`docker compose config --format json`) or as PyYAML parses it (anchors and merge keys resolved):

    docker compose config --format json | python3 -m harness.compose_targets              # targets
    docker compose config --format json | python3 -m harness.compose_targets --sep ,      # one line
    docker compose config --format json | python3 -m harness.compose_targets --base-images

A file that breaks the rule is one line per problem on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import NamedTuple

AGGREGATOR = "all-targets"  # waits for every target: `docker compose up` then exits 1 naming a failed one
HELPERS = ("results-dir", AGGREGATOR)
# The official Debian image a suite's targets are built FROM (docker/Dockerfile; a test checks that
# the two agree); docker/bootstrap-images builds the same names where no registry can be reached.
BASE_IMAGE = "debian:{suite}-slim"
RULE = "a target is built with build args SUITE and PYTHON and named SUITE-VERSION after them"


class Target(NamedTuple):
    name: str  # sid-3.15
    suite: str  # sid
    python: str  # python3.15, pypy3: the Debian package and command

    @property
    def version(self) -> str:
        """3.15, pypy3: the part of the name after the suite, as in tox.ini's env_list."""
        return self.python.removeprefix("python")

    @property
    def base_image(self) -> str:
        return BASE_IMAGE.format(suite=self.suite)


class RuleBroken(Exception):
    """The compose file defines a service that the rule cannot classify; one line per problem."""


def _mapping(value, what: str) -> dict:
    """Compose accepts both `{K: V}` and `["K=V"]` (build args) or `[name]` (depends_on)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return dict(str(item).partition("=")[::2] for item in value) if what == "args" else {item: {} for item in value}
    raise RuleBroken(f"{what}: expected a mapping or a list, not {value!r}")


def _classify(config: dict) -> tuple[dict[str, Target], list[str]]:
    services = config.get("services") if isinstance(config, dict) else None
    if not isinstance(services, dict) or not services:
        return {}, ["the compose file defines no services"]
    found, problems = {}, []
    for name, service in services.items():
        build = (service or {}).get("build")
        args = _mapping(build.get("args"), "args") if isinstance(build, dict) else {}
        suite, python = args.get("SUITE"), args.get("PYTHON")
        if name in HELPERS:
            if python:
                problems.append(f"service {name}: a helper, but built with PYTHON={python} like a target")
            continue
        if not (suite and python):
            problems.append(f"service {name}: neither a target ({RULE}) nor a helper ({', '.join(HELPERS)})")
            continue
        target = Target(name, str(suite), str(python))
        if name != f"{target.suite}-{target.version}":
            problems.append(f"service {name}: built with SUITE={suite} PYTHON={python}, so it must be named {target.suite}-{target.version}")
            continue
        found[name] = target
    if AGGREGATOR not in services:
        problems.append(f"no service {AGGREGATOR}: nothing makes `docker compose up` fail when a target fails")
    else:
        waits = _mapping((services[AGGREGATOR] or {}).get("depends_on"), "depends_on")
        for name in sorted(set(found) - set(waits)):
            problems.append(f"service {AGGREGATOR}: does not wait for target {name}")
        for name, wait in sorted(waits.items()):
            if name in found:
                condition = (wait or {}).get("condition")
                if condition != "service_completed_successfully":
                    problems.append(f"service {AGGREGATOR}: waits for {name} until {condition}, not service_completed_successfully")
            elif name in HELPERS or name not in services:  # an unrecognised service is reported above
                problems.append(f"service {AGGREGATOR}: waits for {name}, which is not a target")
    return found, problems


def problems(config: dict) -> list[str]:
    """Every way `config` breaks the rule; [] when each service is a target or a helper."""
    return _classify(config)[1]


def targets(config: dict) -> dict[str, Target]:
    """{name: Target} for every target of `config`, in file order; RuleBroken if any service breaks the rule."""
    found, broken = _classify(config)
    if broken:
        raise RuleBroken("\n".join(broken))
    return found


def base_images(config: dict) -> dict[str, str]:
    """{suite: base image} for every suite the targets use, sorted by suite."""
    return {t.suite: t.base_image for t in sorted(targets(config).values(), key=lambda t: t.suite)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m harness.compose_targets",
        description="List the targets of the container matrix (" + RULE + ").",
        epilog="example: docker compose config --format json | python3 -m harness.compose_targets --sep ,",
    )
    parser.add_argument("file", nargs="?", help="`docker compose config --format json` output (default: standard input)")
    parser.add_argument("--base-images", action="store_true", help="print `SUITE IMAGE` for each suite instead")
    parser.add_argument("--sep", default="\n", help="separator between targets (default: a newline)")
    args = parser.parse_args(argv)
    try:
        if args.file:
            with open(args.file, encoding="utf-8") as file:
                config = json.load(file)
        else:
            config = json.load(sys.stdin)
        if args.base_images:
            print("\n".join(f"{suite} {image}" for suite, image in base_images(config).items()))
        else:
            print(args.sep.join(targets(config)))
    except OSError as exc:
        print(f"compose_targets: {exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"compose_targets: not JSON ({exc}); pipe in `docker compose config --format json`", file=sys.stderr)
        return 2
    except RuleBroken as exc:
        for line in str(exc).splitlines():
            print(f"compose_targets: {line}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
