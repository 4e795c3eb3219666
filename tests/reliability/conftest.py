"""Reliability suite: fixtures of its own, and the figures printed at the end of the session."""

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


def pytest_terminal_summary(terminalreporter):
    counted = figures.snapshot()
    if not any(counted.values()):
        return
    figures.write()
    terminalreporter.section("reliability figures")
    for name, value in counted.items():
        terminalreporter.write_line(f"{value:>8}  {figures.NAMES[name]}")
