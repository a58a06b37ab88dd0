"""The README's generated parts, each between two markers: the claims of the shipped examples and
the vocabulary of the claims files (both from data: examples/*.toml, harness/vocabulary.py), and the
matrix (from JUnit files, as `tox -e report` prints it).

    python -m harness.readme [PATH ...]     # rewrite them; the matrix too when results are given
    python -m harness.readme --check        # exit 1, naming each stale part

tests/test_readme.py runs the check: a claims file changed without the README is a failure. The
matrix cannot be run again there; it is stale when its rows (each example and its claim) are not
those of the shipped examples.
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
    rows = ["| table | key | says |", "| --- | --- | --- |"]
    for table, checks in (("[text]", TEXT_CHECKS), ("[processes]", PREDICATES)):
        rows += [f"| `{table}` | `{key}` | {PLACEHOLDER.sub('VALUE', check.says)} |" for key, check in checks.items()]
    return "\n".join(rows)


PLACEHOLDER = re.compile(r"{(value|raw)(\[\w+\])?}")


def matrix(paths: list[Path]) -> str:
    try:
        from harness import report  # junitparser: only when results are given
    except ImportError as exc:
        raise SystemExit(f"readme: error: the matrix needs {exc.name}: run it where the report runs (tox -e report's Python)") from None

    return report.to_markdown(report.build(report.find_files(paths)))


def stale(readme: str, found: dict[str, examples.Example]) -> list[str]:
    """The generated parts that differ from what the data gives now, one line each."""
    problems = []
    for name, fresh in (("claims", claims_table(found)), ("vocabulary", vocabulary())):
        current = find(readme, name)
        if current is None:
            problems.append(f"README.md: no {name} part (<!-- begin {name}: ... -->)")
        elif current[1].strip() != fresh.strip():
            problems.append(f"README.md: the {name} part is stale: run python -m harness.readme")
    table = find(readme, "matrix")
    if table is None:
        problems.append("README.md: no matrix part (<!-- begin matrix: ... -->)")
    else:
        not_run = STATUSES["not_run"]
        if f"{not_run.icon} {not_run.text}" in table[1]:
            problems.append(
                "README.md: the matrix has cells that did not run: regenerate it from complete results (python -m harness.readme RESULTS)"
            )
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
    readme = README.read_text(encoding="utf-8")
    if args.check:
        problems = stale(readme, found)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    fresh = {"claims": claims_table(found), "vocabulary": vocabulary()}
    if args.paths:
        fresh["matrix"] = matrix(args.paths)
    for name, text in fresh.items():
        if find(readme, name) is None:
            print(f"readme: error: README.md has no {name} part (<!-- begin {name}: ... -->)", file=sys.stderr)
            return 2
        readme = readme.replace(find(readme, name)[0], block(name, text))
    README.write_text(readme, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
