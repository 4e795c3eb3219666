import logging

import pytest

from rostersync.oneroster import ConnectionSettings, OneRosterClient, RetryPolicy

from .fake_sis import FakeSIS


class Sleeps(list):
    """Records retry delays instead of sleeping them."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def retry(sleeps):
    return RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, retry_after_cap=5.0, sleep=sleeps)


@pytest.fixture
def make_fake():
    started = []

    def make(**options):
        fake = FakeSIS(**options)
        fake.host_url = fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def make_client(retry):
    clients = []

    def make(fake, *, auth_method="auto", secret=None, token_url=None, scope=None, **options):
        settings = ConnectionSettings(
            host_url=fake.host_url, client_id=fake.client_id, auth_method=auth_method, token_url=token_url, scope=scope
        )
        options.setdefault("retry_policy", retry)
        options.setdefault("read_timeout", 2)
        client = OneRosterClient(settings, secret or fake.client_secret, allow_private=True, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def oneroster_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog
