"""Shared pytest setup: tests under tests/integration/ are marked ``integration``.

Run the fast unit tests alone with ``pytest -m "not integration"``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION_DIR = Path(__file__).parent / "integration"


def is_integration(item: pytest.Item) -> bool:
    return INTEGRATION_DIR in Path(str(item.fspath)).parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_integration(item):
            item.add_marker(pytest.mark.integration)
    # Fast unit tests first: a broken unit fails the run before the stack boots.
    items.sort(key=is_integration)
