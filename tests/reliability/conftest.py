"""Reliability suite: fixtures of its own (tests/fixtures/figures_report.py prints its figures)."""

import pytest
from _pytest.nodeid import coerce_node_id

from tests.reliability import figures


@pytest.fixture
def fault_sis(make_sandbox_sis):
    """make_sandbox_sis whose servers' injected faults are counted in the figures."""
    started = []

    def make(**config):
        sis = make_sandbox_sis(**config)
        started.append(sis)
        return sis

    yield make
    for sis in started:
        figures.add("faults_injected", sis.app.faults.fired)


def pytest_collection_modifyitems(items):
    """schemathesis names each operation's test `name[GET /path]`, but its node id keeps only
    `name`: 49 tests under one id, which pytest-xdist runs as one. Each gets an id of its own."""
    for item in items:
        base, _, name = item.nodeid.rpartition("::")
        if name != item.name and item.name.startswith(name + "["):
            item._id = coerce_node_id(f"{base}::{item.name}")  # pytest has no public setter for an id
