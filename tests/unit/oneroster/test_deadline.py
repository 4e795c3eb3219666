"""A deadline bounds every read: no request starts and no backoff is slept past it (OutOfTime)."""

import time

import pytest

from rostersync.oneroster import ConnectionSettings, OutOfTime, RetryPolicy, UnreachableHost, check_connection

from .fake_sis import BASE, Reply, make_users


def test_auth_auto_detection_ends_at_the_deadline(make_fake):
    """Each token endpoint candidate answers slowly: probing them all would take ~4 x 3 s."""
    fake = make_fake(auth="oauth1", data={"users": make_users(3)})
    for path in ("/token", BASE + "/token", "/oauth/token", "/oauth/access_token"):
        fake.routes[path] = lambda seen: Reply(404, {"error": "nothing here"}, delay=3.0)
    settings = ConnectionSettings(host_url=fake.host_url, client_id=fake.client_id, auth_method="auto")
    started = time.monotonic()
    with pytest.raises(OutOfTime) as stopped:
        check_connection(settings, fake.client_secret, allow_private=True, deadline=started + 2.0)
    took = time.monotonic() - started
    assert took < 6.0, took  # 2 s and the last exchange's close; probing all would take 12 s
    assert isinstance(stopped.value, UnreachableHost)  # to a sync it is as transient as a timeout


def test_a_slow_collection_stops_at_the_deadline(make_fake, make_client):
    fake = make_fake(data={"users": make_users(200)}, page_cap=5)

    def slow_page(seen):
        page = fake._collection(seen, "users")
        page.delay = 0.4
        return page

    fake.routes[BASE + "/users"] = slow_page
    client = make_client(fake, auth_method="oauth1", deadline=time.monotonic() + 1.5, page_limit=5, max_in_flight=1)
    started = time.monotonic()
    with pytest.raises(OutOfTime):
        for _ in client.stream("users"):
            pass
    assert time.monotonic() - started < 6.0  # 40 pages at 0.4 s would be 16 s


def test_no_backoff_is_slept_past_the_deadline(make_fake, make_client, sleeps):
    fake = make_fake(data={"users": make_users(3)})
    fake.routes[BASE + "/users"] = lambda seen: Reply(503, {"error": "busy"}, headers={"Retry-After": "4"})
    policy = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, retry_after_cap=10.0, sleep=sleeps)
    client = make_client(fake, auth_method="oauth1", retry_policy=policy, deadline=time.monotonic() + 2.0)
    with pytest.raises(OutOfTime):
        list(client.stream("users"))
    assert sleeps == []


def test_without_a_deadline_nothing_changes(make_fake, make_client):
    fake = make_fake(data={"users": make_users(7)}, page_cap=3)
    client = make_client(fake, auth_method="oauth1", page_limit=3)
    assert len(list(client.stream("users"))) == 7
