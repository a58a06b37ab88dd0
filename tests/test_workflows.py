"""The GitHub Actions workflows are valid and hardened, and the README's badges point at them.

Offline, as everything here: check-jsonschema validates each file against its bundled copy of the
workflow schema, zizmor audits them with `--offline`, and `policy()` holds the rules neither tool
enforces (pins with version comments, commented grants, timeouts, ...). Each check is also run on
a broken copy, to show that it can fail.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from harness.plugin import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
REUSABLE = WORKFLOWS / "_tests.yml"
# One badge per platform, each a workflow of its own; linux, macos and windows call _tests.yml.
BADGES = {"Linux": "linux.yml", "macOS": "macos.yml", "Windows": "windows.yml", "containers": "containers.yml"}
CALLERS = ("linux.yml", "macos.yml", "windows.yml")
PIN = re.compile(r"uses: (?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?P<comment>.*)")
SHA_PIN = re.compile(r"[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"\s+# v\d+\.\d+\.\d+$")
GRANT = re.compile(r"^\s+[a-z-]+: (read|write)\b(?P<rest>.*)$")
BADGE = re.compile(r"\[!\[(?P<name>[^\]]+)\]\(https://github\.com/(?P<slug>[^/]+/[^/]+)/actions/workflows/"
                   r"(?P<file>[^/)]+)/badge\.svg\)\]\((?P<link>[^)]+)\)")


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
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)


def zizmor(*paths: Path) -> subprocess.CompletedProcess:
    # The config (.github/zizmor.yml) is found from the inputs' location, as in CI.
    return subprocess.run([tool("zizmor"), "--offline", "--no-progress", "--color", "never", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


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
        if not {"schedule", "workflow_dispatch"} <= set(triggers):
            problems.append(f"{path.name}: needs a weekly `schedule` and `workflow_dispatch`")
        concurrency = data.get("concurrency") or {}
        if concurrency.get("cancel-in-progress") is not True or "github.ref" not in str(concurrency.get("group")):
            problems.append(f"{path.name}: `concurrency` keyed on PR number or ref, with cancel-in-progress")
    for name, job in data.get("jobs", {}).items():
        if "uses" not in job and "timeout-minutes" not in job:
            problems.append(f"{path.name}: job {name} has no timeout-minutes")
        if "strategy" in job and job["strategy"].get("fail-fast") is not False:
            problems.append(f"{path.name}: job {name}: strategy needs `fail-fast: false`")
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@") and (step.get("with") or {}).get("persist-credentials") is not False:
                problems.append(f"{path.name}: job {name}: checkout without `persist-credentials: false`")
            if "${{" in str(step.get("run", "")):
                problems.append(f"{path.name}: job {name}: step {step.get('name', step['run'][:30])!r} has `${{{{ }}}}` "
                                "inside `run:`; pass the value through `env:`")
    return problems


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
    assert [p.name for p in workflow_files()] == sorted(["_tests.yml", *BADGES.values()])


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
    assert {name: runner.split("-")[0] for name, runner in runners.items()} == {
        "linux.yml": "ubuntu", "macos.yml": "macos", "windows.yml": "windows"}


def test_the_containers_job_is_bootstrap_then_compose_up():
    # Generic on purpose: compose.yaml, not the workflow, lists the targets.
    runs = [step.get("run", "") for job in load(WORKFLOWS / "containers.yml")["jobs"].values() for step in job["steps"]]
    assert any("docker/bootstrap-images" in run for run in runs)
    assert any(run.strip() == "docker compose up" for run in runs)


def test_badges():
    assert badge_problems((ROOT / "README.md").read_text(encoding="utf-8")) == []


# --- the checks can fail -------------------------------------------------------------------------


def broken_copy(tmp_path: Path, old: str, new: str, source: Path = REUSABLE) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{source.name} no longer contains {old!r}: update this test"
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    copy = folder / source.name
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def test_schema_check_rejects_an_unknown_key(tmp_path):
    copy = broken_copy(tmp_path, "timeout-minutes: 20", "timeout-minute: 20")
    result = check_jsonschema(copy)
    assert result.returncode != 0
    assert "_tests.yml" in result.stdout + result.stderr


BROKEN = {
    # audit zizmor reports: (workflow, text in it, its broken replacement)
    "unpinned-uses": ("_tests.yml", "actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd # v6.0.2", "actions/checkout@v6"),
    "template-injection": ("_tests.yml", '-e "$TOX_ENV"', "-e ${{ github.event.pull_request.title }}"),
    "artipacked": ("_tests.yml", "        with:\n          persist-credentials: false\n", ""),
    # (In the reusable workflow the caller's grants cap the job's, so it takes a caller to show it.)
    "excessive-permissions": ("containers.yml", "    permissions:\n      contents: read  # actions/checkout reads the repository; nothing else is needed\n",
                              "    permissions: write-all\n"),
}


@pytest.mark.parametrize("audit", BROKEN)
def test_zizmor_rejects(tmp_path, audit):
    name, old, new = BROKEN[audit]
    result = zizmor(broken_copy(tmp_path, old, new, source=WORKFLOWS / name))
    assert result.returncode != 0
    assert f"[{audit}]" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("@de0fac2e4500dabe0009e67214ff5f5447ce83dd # v6.0.2", "@de0fac2e4500dabe0009e67214ff5f5447ce83dd", "not pinned"),
    ("@de0fac2e4500dabe0009e67214ff5f5447ce83dd # v6.0.2", "@v6 # v6.0.2", "not pinned"),
    ("contents: read  # actions/checkout", "contents: read  ", "without a comment"),
    ("permissions: {}", "permissions: read-all", "top-level `permissions: {}`"),
    ("timeout-minutes: 20", "", "no timeout-minutes"),
    ("fail-fast: false", "fail-fast: true", "fail-fast: false"),
    ("persist-credentials: false", "persist-credentials: true", "persist-credentials"),
    ('-e "$TOX_ENV"', "-e ${{ matrix.tox-env }}", "inside `run:`"),
], ids=["no-version-comment", "tag", "uncommented-grant", "permissions", "timeout", "fail-fast", "credentials", "expression-in-run"])
def test_policy_rejects(tmp_path, old, new, problem):
    problems = policy(broken_copy(tmp_path, old, new))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("cancel-in-progress: true", "cancel-in-progress: false", "concurrency"),
    ("  workflow_dispatch:\n", "", "workflow_dispatch"),
], ids=["concurrency", "no-dispatch"])
def test_policy_rejects_a_caller(tmp_path, old, new, problem):
    problems = policy(broken_copy(tmp_path, old, new, source=WORKFLOWS / "linux.yml"))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("actions/workflows/macos.yml/badge.svg", "actions/workflows/mac.yml/badge.svg", "mac.yml, which is not in"),
    ("actions/workflows/windows.yml)", "actions/workflows/linux.yml)", "not to its runs"),
    ("multiprocessing-in-python/actions/workflows/containers.yml/badge.svg", "fork/actions/workflows/containers.yml/badge.svg",
     "different repositories: article-checks/fork, article-checks/multiprocessing-in-python"),
], ids=["missing-workflow", "wrong-link", "other-slug"])
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
