"""The GitHub Actions workflows are valid and hardened, their structure holds, and the README's
badges point at them.

Offline, as everything here: check-jsonschema validates each file against its bundled copy of the
workflow schema, zizmor audits them with `--offline`, and `policy()` holds the rules neither tool
enforces (pins with version comments, commented grants, timeouts, bash, the Python that runs tox
named in one file, ...). The structure: the four badge workflows run on main, ci.yml runs the same
jobs for a pull request, and its `alls-green` job needs every other one. Each check is also run on
a broken copy, to show that it can fail; the broken copies take the pins from the workflows, so a
new release of an action changes the workflows only.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import yaml

from harness.platforms import PLATFORM
from harness.plugin import ROOT
from test_versions_agree import tox_versions

WORKFLOWS = ROOT / ".github" / "workflows"
REUSABLE = WORKFLOWS / "_tests.yml"
# One badge per platform, each a workflow of its own that runs on main: linux, macos and windows
# call _tests.yml, containers calls _containers.yml. ci.yml calls them all for a pull request.
BADGES = {"Linux": "linux.yml", "macOS": "macos.yml", "Windows": "windows.yml", "containers": "containers.yml"}
CALLERS = ("linux.yml", "macos.yml", "windows.yml")
CI = WORKFLOWS / "ci.yml"
ALLS_GREEN = "alls-green"
TOX_INI = ROOT / "tox.ini"
# The Python that runs tox: read by setup-python (python-version-file) and tox (base_python_file).
VERSION_FILE = ".python-version-default"
PIN = re.compile(r"uses: (?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?P<comment>.*)")
SHA_PIN = re.compile(r"[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"\s+# v\d+\.\d+\.\d+$")
GRANT = re.compile(r"^\s+[a-z-]+: (read|write)\b(?P<rest>.*)$")
BADGE = re.compile(
    r"\[!\[(?P<name>[^\]]+)\]\(https://github\.com/(?P<slug>[^/]+/[^/]+)/actions/workflows/"
    r"(?P<file>[^/)]+)/badge\.svg\)\]\((?P<link>[^)]+)\)"
)


def workflow_files(folder: Path = WORKFLOWS) -> list[Path]:
    return sorted(folder.glob("*.yml"))


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def tool(name: str) -> str:
    """A console script of the lint dependency group: in the running environment's scripts folder
    (a tox env's bin/ or Scripts/), else on PATH. Missing is a failure, never a skip."""
    found = shutil.which(name, path=sysconfig.get_path("scripts")) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run `tox -e selftest`, or install the `lint` dependency group", pytrace=False)
    return found


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def zizmor(*paths: Path) -> subprocess.CompletedProcess:
    # The config (.github/zizmor.yml) is found from the inputs' location, as in CI.
    return subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--color", "never", *map(str, paths)], capture_output=True, text=True, timeout=120
    )


def policy(path: Path) -> list[str]:
    """This repository's rules for a workflow file, as one line per breach."""
    text = path.read_text(encoding="utf-8")
    data = load(path)
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        pin = PIN.search(line)
        if pin and not pin["action"].startswith("./") and not (SHA_PIN.fullmatch(pin["ref"]) and VERSION_COMMENT.match(pin["comment"])):
            problems.append(f"{path.name}:{n}: {pin['action']} is not pinned by full commit SHA with a `# vX.Y.Z` comment")
        grant = GRANT.match(line)
        if grant and "#" not in grant["rest"]:
            problems.append(f"{path.name}:{n}: permission grant without a comment saying why it is needed")
    if data.get("permissions") != {}:
        problems.append(f"{path.name}: top-level `permissions: {{}}` missing (each job grants only what it needs)")
    triggers = data["on"] if isinstance(data["on"], dict) else {}
    if "workflow_call" not in triggers:
        # The pull-request workflow (ci.yml) runs every job for a pull request; the badge
        # workflows run the same jobs on main. A workflow on both would run each job twice.
        if "pull_request" in triggers and set(triggers) != {"pull_request"}:
            problems.append(
                f"{path.name}: runs on pull requests and on {', '.join(sorted(set(triggers) - {'pull_request'}))}: "
                "the pull-request workflow runs on nothing else, the badge workflows never on pull requests"
            )
        if "pull_request" not in triggers and not (
            {"schedule", "workflow_dispatch"} <= set(triggers) and (triggers.get("push") or {}).get("branches") == ["main"]
        ):
            problems.append(f"{path.name}: a badge workflow runs on push to main, a weekly `schedule` and `workflow_dispatch`")
        concurrency = data.get("concurrency") or {}
        if concurrency.get("cancel-in-progress") is not True or "github.ref" not in str(concurrency.get("group")):
            problems.append(f"{path.name}: `concurrency` keyed on PR number or ref, with cancel-in-progress")
    for name, job in data.get("jobs", {}).items():
        if "uses" not in job and "timeout-minutes" not in job:
            problems.append(f"{path.name}: job {name} has no timeout-minutes")
        if "steps" in job and ((job.get("defaults") or {}).get("run") or {}).get("shell") != "bash":
            problems.append(f"{path.name}: job {name}: needs `defaults: run: shell: bash` (one shell on every OS, with pipefail)")
        if "strategy" in job and job["strategy"].get("fail-fast") is not False:
            problems.append(f"{path.name}: job {name}: strategy needs `fail-fast: false`")
        # A matrix row's `python` names an interpreter whose tox env is not its version (pypy3.11
        # for pypy3); a CPython version there would be one more copy of .python-version-default's.
        for row in ((job.get("strategy") or {}).get("matrix") or {}).get("include", []):
            if re.fullmatch(r"3\.\d+t?", str(row.get("python", ""))):
                problems.append(
                    f"{path.name}: job {name}: matrix row {row} writes out a CPython version; the env's name, or {VERSION_FILE}, gives it"
                )
        for step in job.get("steps", []):
            uses, given = str(step.get("uses", "")), step.get("with") or {}
            if uses.startswith("actions/checkout@") and given.get("persist-credentials") is not False:
                problems.append(f"{path.name}: job {name}: checkout without `persist-credentials: false`")
            # A Python version is either the matrix's (the Python under test) or the one in
            # .python-version-default (the Python that runs tox): never written out here.
            if uses.startswith("actions/setup-python@") and (
                "${{" not in str(given.get("python-version", "${{"))
                or ("python-version" not in given and given.get("python-version-file") != VERSION_FILE)
            ):
                problems.append(
                    f"{path.name}: job {name}: setup-python step {step.get('name', '')!r} names its Python neither "
                    f"from the matrix nor with `python-version-file: {VERSION_FILE}`"
                )
            if "${{" in str(step.get("run", "")):
                problems.append(
                    f"{path.name}: job {name}: step {step.get('name', step['run'][:30])!r} has `${{{{ }}}}` "
                    "inside `run:`; pass the value through `env:`"
                )
    return problems


def alls_green_problems(path: Path) -> list[str]:
    """The pull-request workflow's one required check: a job that needs every other job and runs
    whatever they did (`if: always()`), so that it is green only when each of them is."""
    jobs = load(path)["jobs"]
    if ALLS_GREEN not in jobs:
        return [f"{path.name}: no `{ALLS_GREEN}` job"]
    job, problems = jobs[ALLS_GREEN], []
    needs = job.get("needs", [])
    needs = {needs} if isinstance(needs, str) else set(needs)
    if missing := sorted(set(jobs) - {ALLS_GREEN} - needs):
        problems.append(f"{path.name}: `{ALLS_GREEN}` does not need {', '.join(missing)}: it would pass while they fail")
    if str(job.get("if", "")).replace(" ", "") not in ("always()", "${{always()}}"):
        problems.append(f"{path.name}: `{ALLS_GREEN}` needs `if: always()`: a failed job would skip it, and a skipped check passes")
    return problems


def calls(path: Path) -> list[tuple[str, dict]]:
    """The reusable workflows a workflow calls, each with its inputs."""
    return [(job["uses"], job.get("with") or {}) for job in load(path)["jobs"].values() if "uses" in job]


def ci_coverage_problems(ci: Path, badges: list[Path]) -> list[str]:
    """ci.yml runs, for a pull request, every job that a badge shows for main: same call, same inputs."""
    in_ci = calls(ci)
    return [
        f"{ci.name} does not call {uses} with {given} as {badge.name} does: a pull request would skip that job"
        for badge in badges
        for uses, given in calls(badge)
        if (uses, given) not in in_ci
    ]


def pins(paths: list[Path]) -> dict[str, set[str]]:
    """{action: {`SHA # vX.Y.Z`, ...}} over the given workflows."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for pin in PIN.finditer(path.read_text(encoding="utf-8")):
            if not pin["action"].startswith("./"):
                found.setdefault(pin["action"], set()).add(f"{pin['ref']}{pin['comment']}")
    return found


def pin_of(action: str, path: Path = REUSABLE) -> tuple[str, str]:
    """(`action@SHA # vX.Y.Z` as written in PATH, the tag it names: `vX`), for broken copies that follow the pins."""
    pin = next(p for p in PIN.finditer(path.read_text(encoding="utf-8")) if p["action"] == action)
    return pin[0].removeprefix("uses: "), pin["comment"].split("#")[1].strip().split(".")[0]


def tox_python_problems(tox_ini: str, version_file: str) -> list[str]:
    """The Python that runs tox is named once, in .python-version-default, and tox reads that file:
    one version line (setup-python would install every line), a version of tox.ini's pythons,
    `base_python_file` on [testenv], and no base_python that would bypass it."""
    lines = [line.strip() for line in version_file.splitlines() if line.strip() and not line.startswith("#")]
    problems = []
    if len(lines) != 1 or lines[0] not in tox_versions(tox_ini):
        problems.append(f"{VERSION_FILE}: needs one version line, a version of tox.ini's pythons, not {lines}")
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(tox_ini)
    if config.get("testenv", "base_python_file", fallback=None) != VERSION_FILE:
        problems.append(f"tox.ini: [testenv] needs `base_python_file = {VERSION_FILE}`")
    for section in config.sections():
        if {"base_python", "basepython"} & set(config[section]):
            problems.append(f"tox.ini: [{section}] sets base_python, which bypasses {VERSION_FILE}")
    return problems


TOX_REQUIREMENT = re.compile(r"tox>=[\d.]+")


def tox_requirement_problems(tox_ini: str, texts: dict[str, str]) -> list[str]:
    """CI, .ci/run and the README's set-up install the tox that tox.ini requires (an older one
    would first provision the required one into .tox)."""
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(tox_ini)
    required = config["tox"]["requires"].strip()
    return [
        f"{name} installs {found}, tox.ini requires {required}"
        for name, text in texts.items()
        for found in TOX_REQUIREMENT.findall(text)
        if found != required
    ]


def summary_writers(path: Path) -> dict[str, list[dict]]:
    """{job: its steps that write the run's summary page ($GITHUB_STEP_SUMMARY)}, for the jobs that do."""
    jobs = {name: [s for s in job.get("steps", []) if "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))] for name, job in load(path)["jobs"].items()}
    return {name: steps for name, steps in jobs.items() if steps}


def first_summary_line(steps: list[dict]) -> str:
    """The first command of a job that writes its summary page."""
    return next(line.strip() for line in steps[0]["run"].splitlines() if "GITHUB_STEP_SUMMARY" in line)


def summary_date_problems(path: Path) -> list[str]:
    """A job that writes the summary page dates it first (`date -u`): a badge keeps the colour of its
    last run, and GitHub stops the weekly runs of a repository without activity for 60 days, so the
    page must say how old that run is."""
    return [
        f"{path.name}: job {name}: its first write to the summary page does not give the run's date (`date -u`)"
        for name, steps in summary_writers(path).items()
        if "date -u" not in first_summary_line(steps)
    ]


# The tools whose findings must be none: a minor release of ruff adds lint rules and changes the
# formatter's style, one of zizmor adds audits; either would fail `lint` or this test on code
# nobody touched. Each is held to one minor release (`~=X.Y.Z`: patch releases only).
HELD_TOOLS = ("ruff", "zizmor")


def held_tool_problems(pyproject: str) -> list[str]:
    found = dict(re.findall(r'"(ruff|zizmor)\b([^"]*)"', pyproject))
    return [
        f"pyproject.toml: {tool}{found.get(tool, ' is not listed')} is not held to one minor release (`{tool}~=X.Y.Z`)"
        for tool in HELD_TOOLS
        if not re.fullmatch(r"~=\d+\.\d+\.\d+", found.get(tool, ""))
    ]


def badge_problems(readme: str, workflows: Path = WORKFLOWS) -> list[str]:
    """Every badge names an existing workflow and links to its runs; one per platform; all on the
    first screen (before the first section)."""
    first_screen = readme.split("\n## ", 1)[0]
    badges = list(BADGE.finditer(readme))
    # The slug is written in the README only (a fork changes it there); all badges must share it.
    slugs = sorted({b["slug"] for b in badges})
    problems = [] if len(slugs) <= 1 else [f"the badges name different repositories: {', '.join(slugs)}"]
    for badge in badges:
        url = f"https://github.com/{badge['slug']}/actions/workflows/{badge['file']}"
        if not (workflows / badge["file"]).is_file():
            problems.append(f"badge {badge['name']!r} points at {badge['file']}, which is not in .github/workflows/")
        if badge["link"] != url:
            problems.append(f"badge {badge['name']!r} links to {badge['link']}, not to its runs ({url})")
        if badge[0] not in first_screen:
            problems.append(f"badge {badge['name']!r} is not under the title (first screen)")
    found = {b["name"]: b["file"] for b in badges}
    if found != BADGES:
        problems.append(f"badges {found} should be one per platform: {BADGES}")
    return problems


# --- the real files ------------------------------------------------------------------------------


def test_the_workflows_are_the_expected_ones():
    assert [p.name for p in workflow_files()] == sorted(["_tests.yml", "_containers.yml", CI.name, *BADGES.values()])


def test_workflows_match_the_schema():
    result = check_jsonschema(*workflow_files())
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing():
    result = zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_policy(path):
    assert policy(path) == []


@pytest.mark.parametrize("name", CALLERS)
def test_platform_workflows_only_call_the_shared_job(name):
    jobs = load(WORKFLOWS / name)["jobs"]
    assert [job["uses"] for job in jobs.values()] == ["./.github/workflows/_tests.yml"]


def test_each_platform_runs_on_its_own_runner():
    runners = {name: load(WORKFLOWS / name)["jobs"]["tests"]["with"]["runner"] for name in CALLERS}
    assert {name: runner.split("-")[0] for name, runner in runners.items()} == {"linux.yml": "ubuntu", "macos.yml": "macos", "windows.yml": "windows"}


def containers_job_problems(path: Path) -> list[str]:
    """Generic on purpose: compose.yaml, not the workflow, lists the targets, and `docker compose up`
    pulls the official Debian images it names; nothing is bootstrapped here. So: checkout, compose
    up, upload the JUnit files (then the summary table), and no set-up of base images."""
    steps = [step for job in load(path)["jobs"].values() for step in job["steps"]]
    kinds = [step["uses"].split("@")[0] if "uses" in step else step["run"].strip() for step in steps]
    problems = []
    if kinds[:3] != ["actions/checkout", "docker compose up", "actions/upload-artifact"]:
        problems.append(f"{path.name}: starts {kinds[:3]}, not checkout, `docker compose up`, upload")
    commands = [line for kind in kinds for line in kind.splitlines() if not line.lstrip().startswith("#")]
    problems += [
        f"{path.name}: `{line.strip()}`: the base images are pulled, not built here"
        for line in commands
        if re.search(r"bootstrap|sudo|apt-get", line)
    ]
    return problems


def test_the_containers_job_is_compose_up():
    assert [job["uses"] for job in load(WORKFLOWS / "containers.yml")["jobs"].values()] == ["./.github/workflows/_containers.yml"]
    assert containers_job_problems(WORKFLOWS / "_containers.yml") == []


def test_alls_green_needs_every_other_job():
    assert alls_green_problems(CI) == []


def test_ci_runs_every_job_the_badges_show():
    assert ci_coverage_problems(CI, [WORKFLOWS / name for name in BADGES.values()]) == []


def test_each_action_has_one_pin():
    assert {action: refs for action, refs in pins(workflow_files()).items() if len(refs) > 1} == {}


def test_the_python_that_runs_tox_is_named_once():
    assert tox_python_problems(TOX_INI.read_text(encoding="utf-8"), (ROOT / VERSION_FILE).read_text(encoding="utf-8")) == []


def test_everything_installs_the_tox_that_tox_ini_requires():
    texts = {p.name: p.read_text(encoding="utf-8") for p in [*workflow_files(), ROOT / "README.md", ROOT / ".ci" / "run"]}
    assert tox_requirement_problems(TOX_INI.read_text(encoding="utf-8"), texts) == []
    assert sum(len(TOX_REQUIREMENT.findall(text)) for text in texts.values()) >= 5  # the check found the installs


def ci_run_problems(text: str) -> list[str]:
    """.ci/run runs the harness itself, not only the examples, on every local Python CI's jobs give it
    to (`tox -m pythons`: each Python's env runs pytest and the supervisors on that Python) and the
    selftest as CI runs it (`tox -e selftest`, on .python-version-default's Python)."""
    commands = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    wanted = {"tox -m pythons": "the harness on each local Python", "tox -e selftest": "the selftest on CI's Python"}
    return [f".ci/run does not run {what} ({command})" for command, what in wanted.items() if not any(c.split() == command.split() for c in commands)]


def test_ci_run_runs_the_harness_on_every_python_ci_gives_it():
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci_run_problems(text) == []
    assert ci_run_problems(text.replace("\ntox -m pythons\n", "\n")) == [".ci/run does not run the harness on each local Python (tox -m pythons)"]


def test_badges():
    assert badge_problems((ROOT / "README.md").read_text(encoding="utf-8")) == []


def test_the_checking_tools_are_held_to_one_minor_release():
    assert held_tool_problems((ROOT / "pyproject.toml").read_text(encoding="utf-8")) == []


# --- the checks can fail -------------------------------------------------------------------------


def broken_copy(tmp_path: Path, old: str, new: str, source: Path = REUSABLE) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{source.name} no longer contains {old!r}: update this test"
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / source.name
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


# The checkout pin as the workflows write it (`actions/checkout@SHA # vX.Y.Z`) and its major tag.
CHECKOUT, CHECKOUT_MAJOR = pin_of("actions/checkout")
CHECKOUT_SHA_AND_COMMENT = CHECKOUT.removeprefix("actions/checkout")


def test_schema_check_rejects_an_unknown_key(tmp_path):
    copy = broken_copy(tmp_path, "timeout-minutes: 20", "timeout-minute: 20")
    result = check_jsonschema(copy)
    assert result.returncode != 0
    assert "_tests.yml" in result.stdout + result.stderr


BROKEN = {
    # audit zizmor reports: (workflow, text in it, its broken replacement)
    "unpinned-uses": ("_tests.yml", CHECKOUT, f"actions/checkout@{CHECKOUT_MAJOR}"),
    "template-injection": ("_tests.yml", '-e "$TOX_ENV"', "-e ${{ github.event.pull_request.title }}"),
    "artipacked": ("_tests.yml", "        with:\n          persist-credentials: false\n", ""),
    # (In a reusable workflow the caller's grants cap the job's, so it takes a caller to show it.)
    "excessive-permissions": (
        "ci.yml",
        "    permissions:\n      contents: read  # actions/checkout reads the repository; nothing else is needed\n",
        "    permissions: write-all\n",
    ),
}


@pytest.mark.parametrize("audit", BROKEN)
def test_zizmor_rejects(tmp_path, audit):
    name, old, new = BROKEN[audit]
    result = zizmor(broken_copy(tmp_path, old, new, source=WORKFLOWS / name))
    assert result.returncode != 0
    assert f"[{audit}]" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (CHECKOUT_SHA_AND_COMMENT, CHECKOUT_SHA_AND_COMMENT.split(" #")[0], "not pinned"),
        (CHECKOUT_SHA_AND_COMMENT, f"@{CHECKOUT_MAJOR} #{CHECKOUT_SHA_AND_COMMENT.split('#')[1]}", "not pinned"),
        ("contents: read  # actions/checkout", "contents: read  ", "without a comment"),
        ("permissions: {}", "permissions: read-all", "top-level `permissions: {}`"),
        ("timeout-minutes: 20", "", "no timeout-minutes"),
        ("fail-fast: false", "fail-fast: true", "fail-fast: false"),
        ("persist-credentials: false", "persist-credentials: true", "persist-credentials"),
        ('-e "$TOX_ENV"', "-e ${{ matrix.tox-env }}", "inside `run:`"),
        ("shell: bash", "shell: pwsh", "shell: bash"),
        (f"python-version-file: {VERSION_FILE}", 'python-version: "3.13"', "names its Python neither"),
        (f"python-version-file: {VERSION_FILE}", "python-version-file: .python-version", "names its Python neither"),
        ("        include:\n", '        include:\n          - tox-env: selftest\n            python: "3.13"\n', "writes out a CPython version"),
    ],
    ids=[
        "no-version-comment",
        "tag",
        "uncommented-grant",
        "permissions",
        "timeout",
        "fail-fast",
        "credentials",
        "expression-in-run",
        "not-bash",
        "python-written-out",
        "other-version-file",
        "python-in-matrix",
    ],
)
def test_policy_rejects(tmp_path, old, new, problem):
    problems = policy(broken_copy(tmp_path, old, new))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("source", "old", "new", "problem"),
    [
        ("linux.yml", "cancel-in-progress: true", "cancel-in-progress: false", "concurrency"),
        ("linux.yml", "  workflow_dispatch:\n", "", "a badge workflow runs on push to main"),
        ("linux.yml", "branches: [main]", "branches: [main, dev]", "a badge workflow runs on push to main"),
        # A badge workflow that also ran for pull requests would run every job of ci.yml a second time.
        ("linux.yml", "\non:\n", "\non:\n  pull_request:\n", "runs on pull requests and on push, schedule, workflow_dispatch"),
        ("ci.yml", "\non:\n", "\non:\n  push:\n", "runs on pull requests and on push"),
    ],
    ids=["concurrency", "no-dispatch", "not-main", "badge-on-pull-requests", "ci-on-push"],
)
def test_policy_rejects_a_caller(tmp_path, source, old, new, problem):
    problems = policy(broken_copy(tmp_path, old, new, source=WORKFLOWS / source))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("needs: [lint, linux, macos, windows, containers]", "needs: [lint, linux, windows, containers]", "does not need macos"),
        ("needs: [lint, linux, macos, windows, containers]", "needs: linux", "does not need containers, lint, macos, windows"),
        # A new job that alls-green does not wait for.
        ("jobs:\n", "jobs:\n  docs:\n    uses: ./.github/workflows/_tests.yml\n", "does not need docs"),
        ("    if: always()\n", "", "needs `if: always()`"),
        ("    if: always()\n", "    if: success()\n", "needs `if: always()`"),
        ("  alls-green:\n", "  all-green:\n", "no `alls-green` job"),
    ],
    ids=["drops-one", "needs-one", "new-job", "no-always", "success-only", "renamed"],
)
def test_alls_green_check_rejects(tmp_path, old, new, problem):
    problems = alls_green_problems(broken_copy(tmp_path, old, new, source=CI))
    assert any(problem in p for p in problems), problems


# alls-green runs on ubuntu-latest; Windows has no `python3` command to run its step with.
posix_only = pytest.mark.skipif(PLATFORM == "win32", reason="alls-green's step runs on Linux (bash, python3)")


def run_alls_green(needs: dict[str, str]) -> subprocess.CompletedProcess:
    """alls-green's step as the runner runs it (bash -eo pipefail, python3 on PATH), given the jobs' results."""
    step = load(CI)["jobs"][ALLS_GREEN]["steps"][-1]
    assert set(step["env"]) == {"NEEDS"}, "the step reads the jobs' results from NEEDS only"
    results = json.dumps({job: {"result": result, "outputs": {}} for job, result in needs.items()})
    # python3 from this interpreter's folder first: a tox env's, as the runner's is on its PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={**os.environ, "NEEDS": results, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )


@posix_only
def test_alls_green_passes_when_every_job_succeeded():
    result = run_alls_green({"lint": "success", "linux": "success", "containers": "success"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 of 3 jobs succeeded" in result.stdout


@posix_only
@pytest.mark.parametrize("result", ["failure", "cancelled", "skipped"])
def test_alls_green_fails_when_one_job_did_not_succeed(result):
    run = run_alls_green({"lint": "success", "macos": result, "containers": "success"})
    assert run.returncode == 1
    assert f"::error title=Not all jobs succeeded::macos: {result}" in run.stdout


@posix_only
def test_alls_green_fails_with_no_jobs():
    assert run_alls_green({}).returncode == 1


def test_ci_coverage_check_rejects_a_missing_platform(tmp_path):
    copy = broken_copy(tmp_path, "runner: macos-latest", "runner: macos-15", source=CI)
    problems = ci_coverage_problems(copy, [WORKFLOWS / "macos.yml"])
    assert any("does not call ./.github/workflows/_tests.yml with {'runner': 'macos-latest'" in p for p in problems), problems
    copy = broken_copy(tmp_path, "    uses: ./.github/workflows/_containers.yml\n", "    uses: ./.github/workflows/_tests.yml\n", source=CI)
    assert ci_coverage_problems(copy, [WORKFLOWS / "containers.yml"]), "ci.yml without the containers job passed"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("      - name: docker compose up\n", "      - run: sudo docker/bootstrap-images\n      - name: docker compose up\n", "starts"),
        ("        run: docker compose up\n", "        run: docker compose up sid-3.15\n", "starts"),
        ("          python -m pip install", "          sudo apt-get install -y debootstrap\n          python -m pip install", "`sudo apt-get"),
    ],
    ids=["bootstrap-step", "one-target", "apt-get"],
)
def test_containers_job_check_rejects(tmp_path, old, new, problem):
    problems = containers_job_problems(broken_copy(tmp_path, old, new, source=WORKFLOWS / "_containers.yml"))
    assert any(problem in p for p in problems), problems


def test_pin_check_rejects_two_pins_of_one_action(tmp_path):
    copy = broken_copy(tmp_path, CHECKOUT_SHA_AND_COMMENT, "@" + "0" * 40 + " #" + CHECKOUT_SHA_AND_COMMENT.split("#")[1], source=CI)
    assert set(pins([REUSABLE, copy])) >= {"actions/checkout"}
    assert len(pins([REUSABLE, copy])["actions/checkout"]) == 2


@pytest.mark.parametrize(
    ("where", "old", "new", "problem"),
    [
        ("file", "\n3.", "\n3.12\n3.", "needs one version line"),
        ("file", "\n3.", "\n2.", "needs one version line"),
        ("tox", f"base_python_file = {VERSION_FILE}", "base_python_file = .python-version", "[testenv] needs `base_python_file"),
        ("tox", "[testenv:report]\n", "[testenv:report]\nbase_python = python3\n", "[testenv:report] sets base_python"),
    ],
    ids=["two-versions", "not-in-env-list", "other-file", "base-python"],
)
def test_tox_python_check_rejects(where, old, new, problem):
    files = {"tox": TOX_INI.read_text(encoding="utf-8"), "file": (ROOT / VERSION_FILE).read_text(encoding="utf-8")}
    assert old in files[where], f"{old!r} is gone: update this test"
    files[where] = files[where].replace(old, new, 1)
    problems = tox_python_problems(files["tox"], files["file"])
    assert any(problem in p for p in problems), problems


def test_tox_requirement_check_rejects_another_version():
    problems = tox_requirement_problems(TOX_INI.read_text(encoding="utf-8"), {"ci.yml": "pip install 'tox>=4.0'"})
    assert any(p.startswith("ci.yml installs tox>=4.0, tox.ini requires tox>=") for p in problems), problems


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("actions/workflows/macos.yml/badge.svg", "actions/workflows/mac.yml/badge.svg", "mac.yml, which is not in"),
        ("actions/workflows/windows.yml)", "actions/workflows/linux.yml)", "not to its runs"),
        (
            "multiprocessing-in-python/actions/workflows/containers.yml/badge.svg",
            "fork/actions/workflows/containers.yml/badge.svg",
            "different repositories: article-checks/fork, article-checks/multiprocessing-in-python",
        ),
    ],
    ids=["missing-workflow", "wrong-link", "other-slug"],
)
def test_badge_check_rejects(old, new, problem):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert old in readme
    problems = badge_problems(readme.replace(old, new, 1))
    assert any(problem in p for p in problems), problems


def test_badge_check_rejects_a_badge_below_the_first_screen():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linux = next(b[0] for b in BADGE.finditer(readme) if b["name"] == "Linux")
    problems = badge_problems(readme.replace(linux, "", 1) + f"\n## Later\n\n{linux}\n")
    assert any("first screen" in p for p in problems), problems


@pytest.mark.parametrize(
    ("requirement", "problem"),
    [
        ('"zizmor>=1.30"', "zizmor>=1.30 is not held"),
        ('"zizmor~=1.32"', "zizmor~=1.32 is not held"),  # any 1.x from 1.32 on
        ('"zizmor"', "zizmor is not held"),
        ("", "zizmor is not listed"),
    ],
    ids=["lower-bound", "major-only", "unpinned", "missing"],
)
def test_the_held_tool_check_rejects(requirement, problem):
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pin = re.search(r'"zizmor[^"]*"', pyproject)[0]
    problems = held_tool_problems(pyproject.replace(f"{pin}, ", requirement + (", " if requirement else ""), 1))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("name", ["_tests.yml", "_containers.yml"])
def test_each_summary_page_gives_the_runs_date(name):
    assert summary_writers(WORKFLOWS / name), f"{name} writes no summary page: update this test"
    assert summary_date_problems(WORKFLOWS / name) == []


# What the commands of a summary step stand for here: each writes a table where --markdown says
# (the report: python, $TOX_PYTHON) and prints nothing else (docker compose config, pip).
STAND_IN = """#!/bin/sh
while [ $# -gt 0 ]; do
    if [ "$1" = --markdown ]; then printf '| example | method |\\n|---|---|\\n' >"$2"; fi
    shift
done
"""


def summary_page(path: Path, tmp_path: Path) -> str:
    """The summary page of the first job of `path` that writes one, as the runner builds it: each
    step that writes it runs in bash -eo pipefail with a fresh $GITHUB_STEP_SUMMARY (GitHub's rule),
    the page is their files in order; the commands they call are stand-ins (STAND_IN)."""
    steps = next(iter(summary_writers(path).values()))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "docker", "tox_python"):  # tox_python: $TOX_PYTHON, named after its variable below
        (bin_dir / name).write_text(STAND_IN, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "results" / "tox").mkdir(parents=True)
    (tmp_path / "results" / "tox" / "junit.tox_env.xml").touch()  # what the tests step left ($TOX_ENV: tox_env)
    page = ""
    for n, step in enumerate(steps):
        summary = tmp_path / f"summary.{n}.md"
        env = {**os.environ, **{key: key.lower() for key in step.get("env", {})}, "GITHUB_STEP_SUMMARY": str(summary)}
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{step.get('name')}: {done.stderr}"
        page += summary.read_text(encoding="utf-8") if summary.exists() else ""
    return page


def page_problems(page: str, days: set[str]) -> list[str]:
    """A summary page gives the run's date first, then the table."""
    first = page.splitlines()[0] if page else ""
    problems = [] if any(f"{day} " in first for day in days) and "UTC" in first else [f"its first line does not give the run's date: {first!r}"]
    return problems + ([] if "| example | method |" in page else ["it has no table"])


@posix_only
@pytest.mark.parametrize("name", ["_tests.yml", "_containers.yml"])
def test_the_summary_page_is_dated_and_keeps_its_table(tmp_path, name):
    """The page a job writes, built as the runner builds it: the run's date first, then the table."""
    days = {time.strftime("%Y-%m-%d", time.gmtime())}  # the day before and after it ran: midnight may pass between
    page = summary_page(WORKFLOWS / name, tmp_path)
    days.add(time.strftime("%Y-%m-%d", time.gmtime()))
    assert page_problems(page, days) == [], page


@posix_only
def test_the_summary_page_check_finds_a_heading_the_table_overwrote(tmp_path):
    """_containers.yml as it was: the heading written in the step whose --markdown then overwrote its file."""
    text = (WORKFLOWS / "_containers.yml").read_text(encoding="utf-8")
    dating = re.search(r"      - name: Date the summary page\n.*?\n        run: \|\n          (echo [^\n]*)\n\n", text, re.S)
    table = "      - name: Summary table (example x start method x target)\n        if: ${{ !cancelled() }}\n"
    assert dating and f"{table}        run: |\n" in text, "update this test"
    merged = text.replace(dating[0], "").replace(
        f"{table}        run: |\n", f"{table}        env:\n          EVENT: x\n        run: |\n          {dating[1]}\n"
    )
    (tmp_path / "copy").mkdir()
    copy = tmp_path / "copy" / "_containers.yml"
    copy.write_text(merged, encoding="utf-8")
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert "does not give the run's date" in " ".join(page_problems(summary_page(copy, tmp_path), {day}))


def test_the_summary_date_check_rejects_an_undated_page(tmp_path):
    copy = broken_copy(tmp_path, "date -u", "echo", source=REUSABLE)
    assert any("does not give the run's date" in p for p in summary_date_problems(copy))
