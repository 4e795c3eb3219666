"""Fixtures shared across test levels live in tests/fixtures/ as plugins."""

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.sandbox",
    "tests.fixtures.districts",
    "tests.fixtures.stack",
    "tests.fixtures.figures_report",
]
