"""The harness's modules import each other in one direction: no cycle (an import only for type
checking counts too), so that each module can be read, and tested, on top of the ones below it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from harness.plugin import ROOT

HARNESS = ROOT / "harness"


def imports(source: str) -> set[str]:
    """The harness modules a module imports (at any depth, under TYPE_CHECKING too)."""
    found = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            if node.module == "harness":
                found |= {alias.name for alias in node.names}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("harness.")}
    return found


def graph() -> dict[str, set[str]]:
    return {path.stem: imports(path.read_text(encoding="utf-8")) - {path.stem} for path in HARNESS.glob("*.py") if path.stem != "__init__"}


def cycle(modules: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for other in sorted(modules.get(module, ())):
            if state.get(other) == "open":
                return [*path[path.index(other) :], other] if other in path else [module, other]
            if other not in state and (found := visit(other, [*path, other])):
                return found
        state[module] = "done"
        return None

    for module in sorted(modules):
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def test_the_harness_imports_have_no_cycle():
    modules = graph()
    assert {"plugin", "launcher", "runner", "vocabulary", "verdict", "evidence", "examples"} <= set(modules)
    assert cycle(modules) is None, " -> ".join(cycle(modules))


def reached(modules: dict[str, set[str]], start: str) -> set[str]:
    found, todo = set(), [start]
    while todo:
        for other in modules.get(todo.pop(), ()):
            if other not in found:
                found.add(other)
                todo.append(other)
    return found


def test_the_report_reads_results_without_the_runner():
    """The report (and the README's matrix) reads JUnit files and timelines: it imports nothing that
    runs examples (the runner, the supervisor's protocol), nor what needs psutil."""
    assert not {"runner", "launcher", "plugin", "supervisor"} & reached(graph(), "report")
    assert reached({"report": {"pythons"}, "pythons": {"runner"}}, "report") == {"pythons", "runner"}


def test_a_cycle_is_found():
    assert cycle({"runner": {"claims"}, "claims": {"evidence", "runner"}, "evidence": set()}) == ["claims", "runner", "claims"]
    assert imports("from harness.verdict import x\nif TYPE_CHECKING:\n    from harness.runner import Outcome\n") == {"verdict", "runner"}
    assert imports("def f():\n    from harness import report\n") == {"report"}


# What the launcher's threads run (a run, its supervisor and its report): no AST is built there.
# CPython 3.11 keeps the AST builder's recursion depth per interpreter, so ast.literal_eval in two
# threads at once can raise SystemError (python/cpython#106905; seen once in 40 stress runs).
THREADED = ("launcher", "runner", "supervisor", "gate", "timeline")


def builds_asts(source: str) -> bool:
    imported = set()
    for node in ast.walk(ast.parse(source)):  # `import ast`, `from ast import x`
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    return "ast" in imported


def test_the_launchers_threads_build_no_ast():
    assert [name for name in THREADED if builds_asts((HARNESS / f"{name}.py").read_text(encoding="utf-8"))] == []
    assert builds_asts("import ast\n") and builds_asts("def f():\n    from ast import literal_eval\n")
    assert not builds_asts("import json\n")


# One supervisor starts per run, hundreds per session: importing json (and with it re) would cost
# it more CPU than starting its interpreter.
@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no supervisor: the runner holds the job object")
def test_the_supervisor_starts_without_json_and_writes_json():
    from harness.supervisor import to_json

    probe = "import sys; sys.path.insert(0, 'harness'); import supervisor; print(sorted({'json', 're'} & set(sys.modules)))"
    imported = subprocess.run([sys.executable, "-I", "-S", "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"
    awkward = "pid 7: python -c \"print('\\x1b\\u00e9')\"\t\\"  # quotes, control characters, non-ASCII, a backslash
    report = {"returncode": -9, "seconds": 0.25, "leftovers": [awkward], "reaped": {"7": 0}, "attested": None, "subreaper": True}
    assert json.loads(to_json(report)) == report
