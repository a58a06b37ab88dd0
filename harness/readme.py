"""The generated parts of the README and of docs/, each between two markers: the general claims (from
harness/verdict.py), the claims of the shipped examples and the vocabulary of the claims files (from
data: examples/*.toml, harness/vocabulary.py), and the matrix (from JUnit files, as `tox -e report`
prints it).

    python -m harness.readme [PATH ...]     # rewrite them; the matrix too when results are given
    python -m harness.readme --check        # exit 1, naming each stale part

tests/test_readme.py runs the check: a claims file changed without its page is a failure. The matrix
cannot be run again there; it is stale when its rows (each example and its claim) are not those of
the shipped examples, or when a cell of it did not run.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from harness import examples
from harness.cells import STATUSES, md_escape
from harness.vocabulary import PREDICATES, TEXT_CHECKS, shown

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# Where each generated part is: the page (relative to the repository) and the parts it holds.
PAGES = {
    "README.md": ("matrix",),
    "docs/claims.md": ("general", "claims"),
    "docs/own-programs.md": ("vocabulary",),
}


def block(name: str, text: str) -> str:
    return f"<!-- begin {name}: python -m harness.readme -->\n{text.strip()}\n<!-- end {name} -->"


def find(readme: str, name: str) -> re.Match | None:
    return re.search(rf"<!-- begin {name}: [^\n]*-->\n(.*?)\n<!-- end {name} -->", readme, re.S)


def code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def words(value) -> str:
    """A claims file's value as a reader would write it."""
    if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
        return ", ".join(f"the {name} ({code(chars)})" for name, chars in value.items())
    if isinstance(value, list) and all(isinstance(item, (str, dict)) for item in value) and any(isinstance(item, dict) for item in value):
        parts = []
        for item in value:
            if isinstance(item, str):
                parts.append(code(shown(item)) if item else "an empty line")
            else:
                lines = " then ".join(code(shown(line)) for line in item["lines"])
                each = f", each {item['distinct']} once" if item.get("distinct") else ""
                parts.append(f"{item['repeat']} times {lines}{each}")
        return "; ".join(parts)
    if isinstance(value, str):
        return code(value.replace("\n", "\\n"))
    return code(repr(value)) if not isinstance(value, bool) else ""


def says(check, value) -> str:
    """What one check of a claims file says, in words."""
    if check.words is not None:
        return check.words(value)
    filled = {"value": words(value), "raw": str(value)}
    if isinstance(value, dict):
        filled.update({f"value[{k}]": words(v) for k, v in value.items()})
    text = check.says
    for key, replacement in sorted(filled.items(), key=lambda kv: -len(kv[0])):
        text = text.replace("{" + key + "}", replacement)
    return text


def claims_table(found: dict[str, examples.Example]) -> str:
    rows = ["| example | the text | what the processes did |", "| --- | --- | --- |"]
    for name, example in found.items():
        text = "; ".join(says(TEXT_CHECKS[key], value) for key, value in example.text.items() if key != "interleaved")
        if example.text.get("interleaved"):
            text += ", the groups interleaved"
        did = "; ".join(says(PREDICATES[key], value) for key, value in example.processes.items())
        rows.append(f"| `{name}` | {text or 'the general claims only'} | {did or 'the general claims only'} |")
    return "\n".join(rows)


def vocabulary() -> str:
    rows = ["| table | key | says | its twin run perturbs |", "| --- | --- | --- | --- |"]
    rows += [f"| (top) | `{key}` | {md(says_)} | - |" for key, says_ in examples.KEYS.items()]
    rows += [f"| `[fails.METHOD]` | `{key}` | {md(says_)} | - |" for key, says_ in examples.FAILS.items()]
    for table, checks in (("[text]", TEXT_CHECKS), ("[processes]", PREDICATES)):
        rows += [
            f"| `{table}` | `{key}` | {md(PLACEHOLDER.sub('VALUE', check.says) + (' ' + check.doc if check.doc else ''))} | "
            f"{', '.join(check.interventions) or '-'} |"
            for key, check in checks.items()
        ]
    return "\n".join(rows)


def md(text: str) -> str:
    """A cell of a Markdown table: its pipes escaped."""
    return text.replace("|", "\\|")


def general() -> str:
    """The general claims, in the order the verdict checks them."""
    from harness.verdict import CLAIMS

    return "\n".join(f"{n}. `{name}`: {says}" for n, (name, says) in enumerate(CLAIMS.items(), 1))


PLACEHOLDER = re.compile(r"{(value|raw)(\[\w+\])?}")


def matrix(paths: list[Path]) -> str:
    try:
        from harness import report  # junitparser: only when results are given
    except ImportError as exc:
        raise SystemExit(f"readme: error: the matrix needs {exc.name}: run it where the report runs (tox -e report's Python)") from None

    return report.to_markdown(report.build(report.find_files(paths)))


def pages() -> dict[str, str]:
    """The text of each page that holds a generated part."""
    return {page: (ROOT / page).read_text(encoding="utf-8") for page in PAGES}


def generated(found: dict[str, examples.Example]) -> dict[str, str]:
    return {"general": general(), "claims": claims_table(found), "vocabulary": vocabulary()}


def stale(texts: dict[str, str], found: dict[str, examples.Example]) -> list[str]:
    """The generated parts that differ from what the data gives now, one line each."""
    problems = []
    fresh = generated(found)
    for page, names in PAGES.items():
        text = texts[page]
        for name in names:
            current = find(text, name)
            if current is None:
                problems.append(f"{page}: no {name} part (<!-- begin {name}: ... -->)")
            elif name in fresh and current[1].strip() != fresh[name].strip():
                problems.append(f"{page}: the {name} part is stale: run python -m harness.readme")
    table = find(texts["README.md"], "matrix")
    if table is not None:
        not_run = STATUSES["not_run"]
        if f"{not_run.icon} {not_run.text}" in table[1]:
            problems.append("README.md: the matrix has cells that did not run: regenerate it from whole results (python -m harness.readme RESULTS)")
        rows = re.findall(r"^\| \*\*(.+?)\*\*<br>(.*?) \| default \|", table[1], re.M)
        wanted = [(name, md_escape(example.claim)) for name, example in found.items()]
        if rows != wanted:
            problems.append(
                "README.md: the matrix's rows are not the shipped examples and their claims: run it again (python -m harness.readme RESULTS)"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.readme", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="JUnit files or folders for the matrix (as tox -e report takes them)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each stale part")
    args = parser.parse_args(argv)
    found = examples.discover(ROOT / "examples")
    texts = pages()
    if args.check:
        problems = stale(texts, found)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    fresh = generated(found)
    if args.paths:
        fresh["matrix"] = matrix(args.paths)
    for page, names in PAGES.items():
        text = texts[page]
        for name in names:
            if name not in fresh:
                continue
            if find(text, name) is None:
                print(f"readme: error: {page} has no {name} part (<!-- begin {name}: ... -->)", file=sys.stderr)
                return 2
            text = text.replace(find(text, name)[0], block(name, fresh[name]))
        (ROOT / page).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
