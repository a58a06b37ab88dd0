"""The article's claims, checked for each example under each start method (`test_claims[03_lock-spawn]`)."""
import pytest

from harness.claims import evidence, headline, verdict


def test_claims(matrix_run, outcome):
    problem = verdict(outcome)
    if problem:
        pytest.fail(f"{headline(outcome)}: {problem}\n{evidence(outcome)}", pytrace=False)
