"""The harness's own tests: their pytest sessions start with the session's runs (tests/sessions.py),
and the tests that wait for no run go first."""

from __future__ import annotations

import pytest

from harness import launcher
from harness.runner import Run
from sessions import EARLY, Job


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # While the runs take their ten seconds, the tests that need none of them go first: those that
    # wait for jobs (done in seconds), then those that wait for nothing. The rest of the time is
    # spent waiting for the runs anyway.
    def waits_for(item: pytest.Item) -> int:
        params = ((getattr(item, "callspec", None) and item.callspec.params) or {}).values()
        if set(item.fixturenames) & set(EARLY) or any(isinstance(p, Job) for p in params):
            return 0
        return 2 if any(isinstance(p, Run) for p in params) else 1

    items.sort(key=waits_for)


def pytest_collection_finish(session: pytest.Session) -> None:
    used = {name for item in session.items for name in item.fixturenames}
    launcher.add(session.config, *(job for name, jobs in EARLY.items() if name in used for job in jobs))
