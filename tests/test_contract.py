"""What crosses a process or a file is spelt in one place (harness/inject/mp_contract.py): the records
the hook sends and what the evidence reader and the claims read of them, the supervisor's report and
what the runner reads of it, the JUnit properties the plugin records and the report takes. Each side
is read here as code (its AST), so that a field one side spells and the other does not fails here,
not as a wrong verdict."""

from __future__ import annotations

import ast

import pytest

from harness.inject import mp_contract as contract
from harness.plugin import ROOT
from harness.report import KNOWN

HARNESS = ROOT / "harness"
EVERY_RECORD = {"e", "pid", "t", "n", "tid"}  # the hook's own, on every record
READERS_OWN = {"seq", "at", "order"}  # what the evidence reader adds to each record


def tree(name: str) -> ast.Module:
    return ast.parse((HARNESS / name).read_text(encoding="utf-8"))


def sent(module: ast.Module) -> list[tuple[str, set[str] | None]]:
    """(kind, its fields) of each `record("kind", field=...)` call (None: it passes **fields too); a
    helper that calls `record(event, ...)` with its own first argument (`note("put", ...)`) sends
    that kind with the helper's fields."""
    found: list[tuple[str, set[str] | None]] = []
    helpers: dict[str, set[str]] = {}
    for function in ast.walk(module):
        if isinstance(function, ast.FunctionDef) and function.args.args:
            first = function.args.args[0].arg
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record" and getattr(node.args[0], "id", None) == first:
                    helpers[function.name] = {k.arg for k in node.keywords}
    for node in ast.walk(module):
        name = getattr(node.func, "id", None) if isinstance(node, ast.Call) else None
        if name in ("record", *helpers) and node.args and isinstance(node.args[0], ast.Constant):
            names = {k.arg for k in node.keywords} if name == "record" else helpers[name]
            found.append((node.args[0].value, None if None in names else names))
    return found


def kinds_read(module: ast.Module) -> set[str]:
    """The kinds a reader asks for: `ev.of("put", ...)`, `r["e"] == "start"`, `kind in ("started", ...)`."""
    found = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "of":
            found |= {a.value for a in node.args if isinstance(a, ast.Constant)}
        elif isinstance(node, ast.Compare) and any(
            (isinstance(side, ast.Name) and side.id == "kind") or (isinstance(side, ast.Subscript) and getattr(side.slice, "value", None) == "e")
            for side in [node.left, *node.comparators]
        ):
            for side in node.comparators:
                values = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                found |= {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return found


def fields_read(module: ast.Module, names=("r", "record", "write", "got", "put", "task", "end", "was", "seen_record")) -> set[str]:
    """The fields a reader takes from a record: `r["ppid"]`, `r.get("by")`."""
    found = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) in names and isinstance(node.slice, ast.Constant):
            found.add(node.slice.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" and getattr(node.func.value, "id", None) in names:
            found |= {a.value for a in node.args[:1] if isinstance(a, ast.Constant)}
    return found


def test_every_record_the_hook_sends_is_a_kind_of_the_contract_with_its_fields():
    hook = sent(tree("inject/mp_evidence.py"))
    assert hook, "no record() call found in the hook"
    unknown = sorted({kind for kind, _ in hook} - set(contract.RECORD_FIELDS))
    assert not unknown, f"the hook sends kinds the contract does not name: {unknown}"
    short = [(kind, sorted(set(contract.RECORD_FIELDS[kind]) - fields)) for kind, fields in hook if fields is not None]
    assert not any(missing for _, missing in short), f"the hook sends records without the contract's fields: {[s for s in short if s[1]]}"
    unsent = sorted(set(contract.RECORD_FIELDS) - {kind for kind, _ in hook} - {"overflow"})  # overflow is written by hand, in record() itself
    assert not unsent, f"the contract names kinds the hook never sends: {unsent}"


def test_the_readers_read_only_kinds_and_fields_of_the_contract():
    known_fields = {field for fields in contract.RECORD_FIELDS.values() for field in fields} | EVERY_RECORD | READERS_OWN
    for name in ("evidence.py", "vocabulary.py", "verdict.py"):
        module = tree(name)
        kinds = kinds_read(module) - {"main", "child", "forkserver", "resource_tracker", ""}  # roles compared beside kinds
        assert kinds <= set(contract.RECORD_FIELDS), f"{name} reads kinds the contract does not name: {sorted(kinds - set(contract.RECORD_FIELDS))}"
        fields = fields_read(module)
        assert fields <= known_fields | {"whole", "result", "error", "daemon", "module", "implementation", "data", "cpu_count"}, (
            f"{name} reads record fields the contract does not name: {sorted(fields - known_fields)}"
        )


def report_keys_sent() -> set[str]:
    """The keys of the supervisor's report: the dict literal it sends (and the warden's)."""
    for node in ast.walk(tree("supervisor.py")):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "report" and isinstance(node.value, ast.Dict):
            return {k.value for k in node.value.keys}
    raise AssertionError("no `report = {...}` in the supervisor")


def test_the_supervisors_report_is_the_contracts_and_the_runner_reads_only_it():
    assert report_keys_sent() == set(contract.REPORT_KEYS)
    read = set()
    for node in ast.walk(tree("runner.py")):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "report" and isinstance(node.slice, ast.Constant):
            read.add(node.slice.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" and getattr(node.func.value, "id", None) == "report":
            read |= {a.value for a in node.args[:1] if isinstance(a, ast.Constant)}
    assert read, "the runner reads nothing of the report?"
    assert read <= set(contract.REPORT_KEYS) | {"supervisor"}, (
        f"the runner reads report keys the contract does not name: {sorted(read - set(contract.REPORT_KEYS))}"
    )


def test_every_property_the_plugin_records_on_a_cell_is_one_the_report_takes():
    recorded = set()
    for node in ast.walk(tree("plugin.py")):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Constant) and isinstance(node.elts[0].value, str):
            recorded.add(node.elts[0].value)
    recorded -= {"status", "diagnosis"} - set(KNOWN)  # (both are the report's too)
    assert {"status", "claim", "diagnosis", "trace", "intervention"} <= recorded
    assert recorded <= set(KNOWN), f"the plugin records properties the report refuses: {sorted(recorded - set(KNOWN))}"


@pytest.mark.parametrize(
    ("module", "source", "check", "problem"),
    [
        ("inject/mp_evidence.py", 'record("put", queue=1, kind=2, msg=3, value=4)\n', "hook", "without the contract's fields"),
        ("inject/mp_evidence.py", 'record("shout", loud=True)\n', "hook", "kinds the contract does not name"),
        ("vocabulary.py", 'x = r["parent_pid"]\n', "readers", "record fields the contract does not name"),
        ("evidence.py", 'x = ev.of("spawned")\n', "readers", "kinds the contract does not name"),
        ("runner.py", 'x = report.get("main")\n', "report", "report keys the contract does not name"),
    ],
)
def test_a_misspelt_contract_is_found(module, source, check, problem, monkeypatch):
    """The checks above fail on a side that spells a record, a field or a report key otherwise
    (shown on made-up source added to the module)."""
    monkeypatch.setattr(
        __name__ + ".tree", lambda name, real=tree: ast.parse(source + (HARNESS / name).read_text(encoding="utf-8")) if name == module else real(name)
    )
    checks = {
        "hook": test_every_record_the_hook_sends_is_a_kind_of_the_contract_with_its_fields,
        "readers": test_the_readers_read_only_kinds_and_fields_of_the_contract,
        "report": test_the_supervisors_report_is_the_contracts_and_the_runner_reads_only_it,
    }
    with pytest.raises(AssertionError, match=problem):
        checks[check]()
