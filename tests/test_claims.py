"""The article's claims, checked for each example under each start method (`test_claims[03_lock-spawn]`)."""

import pytest

from harness.claims import evidence, headline


def test_claims(matrix_run, outcome):
    judged = outcome.verdict
    if judged.status != "passed":
        pytest.fail(f"{headline(outcome)}: {judged.diagnosis}\n{evidence(outcome)}", pytrace=False)
