"""check_connection: what the setup API's PUT sis/connection relies on."""

import pytest

from rostersync.oneroster import ConnectionReport, ConnectionSettings, Org, check_connection
from rostersync.oneroster.errors import InvalidCredentials, InvalidHostUrl, NotOneRoster, UnreachableHost

from .fake_sis import BASE, Reply, make_users

ORGS = [
    {"sourcedId": "d1", "name": "District 42", "type": "district"},
    {
        "sourcedId": "s1",
        "name": "North Elementary",
        "type": "school",
        "identifier": "NE",
        "parent": {"sourcedId": "d1"},
    },
    {"sourcedId": "s2", "name": "South Middle", "type": "school"},
]
CLASSES = [{"sourcedId": f"c{i}", "title": f"Class {i}", "school": {"sourcedId": "s1"}} for i in range(12)]


def settings_for(fake, **overrides):
    values = {"host_url": fake.host_url + BASE + "/", "client_id": fake.client_id, **overrides}
    return ConnectionSettings(**values)


def test_a_working_connection_reports_what_it_found(make_fake):
    fake = make_fake(auth="oauth2", data={"orgs": ORGS, "users": make_users(40), "classes": CLASSES})
    report = check_connection(settings_for(fake), fake.client_secret, allow_private=True)
    assert isinstance(report, ConnectionReport)
    assert report.auth_method == "oauth2" and report.host_url == fake.host_url
    assert report.warnings == ["The host URL included /ims/oneroster/v1p1; it was removed: give the host only."]
    assert [s.name for s in report.schools] == ["North Elementary", "South Middle"]
    assert all(isinstance(s, Org) for s in report.schools) and report.schools[0].parent_id == "d1"
    assert report.users_seen == 5 and report.classes_seen == 5
    assert report.users_total == 40 and report.classes_total == 12
    limits = {s.path.rsplit("/", 1)[-1]: dict(s.query)["limit"] for s in fake.data_requests()}
    assert limits["users"] == "5" and limits["classes"] == "5"


def test_oauth1_and_sha1_are_reported(make_fake):
    fake = make_fake(auth="oauth1", sha1_only=True, data={"orgs": ORGS, "users": [], "classes": []})
    report = check_connection(settings_for(fake), fake.client_secret, allow_private=True)
    assert report.auth_method == "oauth1" and report.signature_method == "HMAC-SHA1"
    assert any("HMAC-SHA1" in w for w in report.warnings)
    assert report.users_seen == 0 and report.classes_seen == 0


def test_schools_endpoint_when_orgs_is_missing(make_fake):
    fake = make_fake(auth="oauth1", data={"schools": ORGS[1:], "users": [], "classes": []})
    report = check_connection(settings_for(fake, auth_method="oauth1"), fake.client_secret, allow_private=True)
    assert [s.sourced_id for s in report.schools] == ["s1", "s2"]


def test_wrong_secret(make_fake):
    fake = make_fake(auth="oauth2", data={"orgs": ORGS})
    with pytest.raises(InvalidCredentials):
        check_connection(settings_for(fake), "wrong", allow_private=True)


def test_a_web_server_that_is_not_oneroster(make_fake):
    fake = make_fake(auth="none", data={})
    with pytest.raises(NotOneRoster):
        check_connection(settings_for(fake, auth_method="oauth1"), "secret", allow_private=True)


def test_a_400_on_orgs_means_not_oneroster(make_fake):
    fake = make_fake(auth="none", data={})
    fake.routes[BASE + "/orgs"] = lambda s: Reply(400, {"error": "unknown parameter limit"})
    with pytest.raises(NotOneRoster):
        check_connection(settings_for(fake, auth_method="oauth1"), "secret", allow_private=True)


def test_deployed_refuses_the_local_server(make_fake):
    fake = make_fake(data={"orgs": ORGS})
    with pytest.raises(InvalidHostUrl):
        check_connection(settings_for(fake), fake.client_secret, allow_private=False)


def test_nothing_listening_is_unreachable_quickly():
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(UnreachableHost):
        check_connection(
            ConnectionSettings(host_url=f"http://127.0.0.1:{port}", client_id="x"), "s", allow_private=True
        )
    assert time.perf_counter() - start < 3
