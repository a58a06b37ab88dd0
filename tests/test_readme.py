"""The generated parts of the README and docs/ (harness/readme.py) are what the data gives now: the
general claims, the claims of the shipped examples, the claims files' vocabulary, and a matrix whose
rows are the shipped examples, every cell of it run."""

from __future__ import annotations

import shutil
import sys

import pytest

import harness
from harness import examples, readme
from harness.plugin import SHIPPED_EXAMPLES

PAGES = readme.pages()
README = PAGES["README.md"]
SHIPPED = examples.discover(SHIPPED_EXAMPLES)


def with_readme(text: str) -> dict[str, str]:
    return {**PAGES, "README.md": text}


def test_the_generated_parts_are_current():
    assert readme.stale(PAGES, SHIPPED) == []


def test_a_claims_file_changed_without_the_readme_is_stale(tmp_path):
    for path in SHIPPED_EXAMPLES.iterdir():
        shutil.copy(path, tmp_path)
    toml = tmp_path / "02_queue.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("children = 1", "children = 2"), encoding="utf-8")
    assert readme.stale(PAGES, examples.discover(tmp_path)) == ["docs/claims.md: the claims part is stale: run python -m harness.readme"]
    toml.write_text(toml.read_text(encoding="utf-8").replace('claim = "prints exactly', 'claim = "prints just'), encoding="utf-8")
    assert "README.md: the matrix's rows are not the shipped examples and their claims" in readme.stale(PAGES, examples.discover(tmp_path))[-1]


def test_a_new_example_makes_the_matrix_stale(tmp_path):
    for path in SHIPPED_EXAMPLES.iterdir():
        shutil.copy(path, tmp_path)
    (tmp_path / "05_more.py").write_text("print('more')\n", encoding="utf-8")
    problems = readme.stale(PAGES, examples.discover(tmp_path))
    assert any("claims part is stale" in p for p in problems) and any("matrix's rows" in p for p in problems)


def test_a_missing_part_is_named():
    cut = {**PAGES, "docs/own-programs.md": PAGES["docs/own-programs.md"].replace("<!-- begin vocabulary:", "<!-- begun vocabulary:")}
    assert "docs/own-programs.md: no vocabulary part (<!-- begin vocabulary: ... -->)" in readme.stale(cut, SHIPPED)


def test_the_check_needs_only_the_standard_library_and_the_matrix_names_what_it_lacks(monkeypatch, capsys):
    """`--check` runs in any Python 3.11+; regenerating the matrix without junitparser is one line."""
    monkeypatch.delitem(sys.modules, "harness.report", raising=False)
    monkeypatch.delattr(harness, "report", raising=False)  # else `from harness import report` finds it
    monkeypatch.setitem(sys.modules, "junitparser", None)  # as if not installed
    assert readme.main(["--check"]) == 0, capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        readme.main(["results"])
    assert str(exited.value) == "readme: error: the matrix needs junitparser: run it where the report runs (tox -e report's Python)"


def test_a_matrix_with_cells_that_did_not_run_is_stale():
    """A README matrix made from partial results (a column's cells "not run") is not the proof it
    claims to be: the check fails until it is regenerated from complete results."""
    begin = README.index("<!-- begin matrix:")
    row = README.index("| ✅ passed", begin)
    partial = README[:row] + "| ❔ not run" + README[row + len("| ✅ passed") :]
    assert "README.md: the matrix has cells that did not run" in " ".join(readme.stale(with_readme(partial), SHIPPED))
    assert readme.stale(PAGES, SHIPPED) == []
