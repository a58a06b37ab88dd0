"""The claims, checked for each example under each start method (`test_claims[03_lock-spawn]`):
every program of --examples-dir, with the claims file beside it, or the general claims alone; where
its claims rest on a mechanism, also in the run's twin, with that mechanism perturbed."""

import pytest

from harness.cells import visible
from harness.verdict import evidence, headline


def test_claims(matrix_run, outcome, twin_outcome, judged):
    if judged.status == "not_available":
        pytest.skip(judged.diagnosis)  # recorded as n/a: the program chose another start method itself
    if judged.status != "passed":
        shown = twin_outcome if judged.intervened else outcome
        # The program's name and what it did, each control character shown (harness/cells.py: visible).
        pytest.fail(visible(f"{headline(shown)}: {judged.diagnosis}\n{evidence(shown)}", lines=True), pytrace=False)
