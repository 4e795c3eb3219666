"""Fixtures for driving the API through rostersync.api.app.handle on the embedded AWS, with a
fake SIS standing in for the OneRoster client."""

import pytest

from tests.unit.api.fake_sis import FakeSis
from tests.unit.api.handler_client import Api


@pytest.fixture
def fake_sis(monkeypatch, aws) -> FakeSis:
    from rostersync import sis_access
    from rostersync.api import sis_connection

    sis = FakeSis()
    monkeypatch.setattr(sis_connection, "check_connection", sis.check_connection)
    monkeypatch.setattr(sis_access, "OneRosterClient", sis.client)
    return sis


@pytest.fixture
def api(aws) -> Api:
    # Imported after `aws`: the store models take their table names from its environment.
    from rostersync.api.app import handle

    return Api(handle)
