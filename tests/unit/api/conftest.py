"""Fixtures for driving the API through rostersync.api.app.handle on the embedded AWS, with a
fake SIS standing in for the OneRoster client."""

import pytest

from tests.unit.api.fake_sis import FakeSis
from tests.unit.api.handler_client import Api


@pytest.fixture
def fake_sis(monkeypatch, aws) -> FakeSis:
    from rostersync.api import connection

    sis = FakeSis()
    monkeypatch.setattr(connection, "test_connection", sis.test_connection)
    monkeypatch.setattr(connection, "OneRosterClient", sis.client)
    return sis


@pytest.fixture
def api(aws) -> Api:
    # Imported after `aws`: the store models take their table names from its environment.
    from rostersync.api.app import handle

    return Api(handle)
