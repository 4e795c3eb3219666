"""Reliability suite: fixtures of its own (tests/fixtures/figures_report.py prints its figures)."""

import pytest

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

