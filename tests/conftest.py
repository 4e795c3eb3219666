"""Fixtures shared across test levels live in tests/fixtures/ as plugins."""

import pytest

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.sandbox",
    "tests.fixtures.districts",
    "tests.fixtures.stack",
    "tests.fixtures.ops_stack",
    "tests.fixtures.website",
    "tests.fixtures.figures_report",
]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """pytest-xdist runs tests that share a node id as one: refuse to start with any."""
    seen, repeated = set(), set()
    for item in items:
        (repeated if item.nodeid in seen else seen).add(item.nodeid)
    if repeated:
        raise pytest.UsageError(f"tests share node ids (pytest-xdist would run them as one): {sorted(repeated)[:5]}")
