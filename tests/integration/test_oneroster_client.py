"""The OneRoster client against the sandbox SIS: every collection, both auth methods, the
quirk switches and injected faults, check_connection and deltas."""

import time
from datetime import timedelta

import pytest

from rostersync.oneroster import (
    AcademicSession,
    BadRecord,
    Class,
    ConnectionSettings,
    Course,
    Enrollment,
    OneRosterClient,
    Org,
    RetryPolicy,
    User,
    check_connection,
)
from rostersync.oneroster.errors import BadResponse, InvalidCredentials, InvalidHostUrl, NotOneRoster, ServerError
from rostersync.oneroster.records import parse_datetime

TYPES = {
    "orgs": Org,
    "schools": Org,
    "academicSessions": AcademicSession,
    "terms": AcademicSession,
    "courses": Course,
    "classes": Class,
    "users": User,
    "students": User,
    "teachers": User,
    "enrollments": Enrollment,
}


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def connect(sleeps):
    clients = []

    def make(sis, auth_method="auto", secret=None, host_url=None, **options):
        settings = ConnectionSettings(
            host_url=host_url or sis.prefixed_host_url,
            client_id=sis.config.client_id,
            auth_method=auth_method,
            scope=options.pop("scope", None),
        )
        options.setdefault(
            "retry_policy",
            RetryPolicy(max_retries=4, base_delay=0.001, max_delay=0.01, retry_after_cap=5, sleep=sleeps),
        )
        client = OneRosterClient(settings, secret or sis.config.client_secret, allow_private=True, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def truth(sis, collection):
    return sis.state()["data"][collection]


def sourced_ids(records):
    return [r.sourced_id for r in records]


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("auth_method", ["auto", "oauth1", "oauth2"])
def test_every_collection_reads_completely_and_typed(make_sandbox_sis, connect, auth_method):
    sis = make_sandbox_sis(page_cap=150)
    client = connect(sis, auth_method, max_in_flight=4)
    for collection in ("orgs", "academicSessions", "courses", "classes", "users", "enrollments"):
        stream = client.stream(collection)
        records = list(stream)
        assert sorted(sourced_ids(records)) == sorted(r["sourcedId"] for r in truth(sis, collection)), collection
        assert all(type(r) is TYPES[collection] for r in records), [r for r in records if isinstance(r, BadRecord)][:3]
        assert stream.complete
    assert client.auth_method == ("oauth1" if auth_method == "oauth1" else "oauth2")


def test_the_parsed_records_match_the_sis(make_sandbox_sis, connect):
    sis = make_sandbox_sis()
    client = connect(sis)
    raw_enrollments = {r["sourcedId"]: r for r in truth(sis, "enrollments")}
    for enrollment in client.stream("enrollments"):
        raw = raw_enrollments[enrollment.sourced_id]
        assert enrollment.user_id == raw["user"]["sourcedId"]
        assert enrollment.class_id == raw["class"]["sourcedId"]
        assert enrollment.role == raw["role"]
        assert enrollment.date_last_modified == parse_datetime(raw["dateLastModified"])
    students = list(client.stream("students"))
    assert students and all(u.role == "student" for u in students)
    assert all(isinstance(u.enabled_user, bool) for u in students)


def test_collection_specific_endpoints_and_envelopes(make_sandbox_sis, connect):
    sis = make_sandbox_sis()
    sis.set_quirks(endpoint_envelopes=True)
    client = connect(sis)
    schools = list(client.stream("schools"))
    assert len(schools) == 3 and all(s.type == "school" for s in schools)
    assert list(client.stream("teachers")) and list(client.stream("terms"))
    classes = list(client.stream(f"schools/{schools[0].sourced_id}/classes"))
    assert classes and {c.school_id for c in classes} == {schools[0].sourced_id}


def test_single_records(sandbox_sis, connect):
    client = connect(sandbox_sis)
    some = truth(sandbox_sis, "users")[5]
    user = client.get("users", some["sourcedId"])
    assert isinstance(user, User) and user.sourced_id == some["sourcedId"]
    assert user.family_name == some.get("familyName")
    assert client.get("users", "no-such-user") is None


# --------------------------------------------------------------------------- paging quirks


@pytest.mark.parametrize(
    "quirks",
    [
        {"no_total_count": True, "no_link": True},
        {"no_total_count": True},
        {"no_link": True},
        {},
    ],
)
def test_capped_pages_with_and_without_paging_headers(make_sandbox_sis, connect, quirks):
    sis = make_sandbox_sis(page_cap=70)
    sis.set_quirks(**quirks)
    client = connect(sis, page_limit=1000, max_in_flight=3)
    stream = client.stream("enrollments")
    records = list(stream)
    assert len(records) == len(set(sourced_ids(records))) == len(truth(sis, "enrollments"))
    assert stream.page_size == 70
    assert stream.total == (None if quirks.get("no_total_count") else len(records))


def test_a_server_ignoring_offset_is_a_bad_response(make_sandbox_sis, connect):
    sis = make_sandbox_sis(page_cap=100)
    sis.set_quirks(repeat_pages=True, no_total_count=True)
    client = connect(sis)
    with pytest.raises(BadResponse) as looping:
        list(client.stream("users"))
    assert looping.value.endpoint.endswith("/users")
    assert sis.stats()["byPath"]["/users"] == 2


def test_a_page_of_the_wrong_collection_is_a_bad_response(sandbox_sis, connect):
    sandbox_sis.set_quirks(wrong_collection=True)
    with pytest.raises(BadResponse):
        list(connect(sandbox_sis).stream("users"))


def test_concurrent_fetching_is_ordered_and_faster(make_sandbox_sis, connect):
    sis = make_sandbox_sis(page_cap=50, latency_ms=20)
    expected = [r["sourcedId"] for r in truth(sis, "enrollments")]
    timings = {}
    for in_flight in (1, 4):
        client = connect(sis, max_in_flight=in_flight)
        _ = client.auth_method  # the token request is not what is measured
        start = time.perf_counter()
        assert sourced_ids(client.stream("enrollments")) == expected
        timings[in_flight] = time.perf_counter() - start
    assert timings[4] < timings[1] / 2


# --------------------------------------------------------------------------- auth quirks


def test_sha1_only_server(sandbox_sis, connect):
    sandbox_sis.set_quirks(oauth1_sha1_only=True, only_oauth1=True)
    client = connect(sandbox_sis)
    assert len(list(client.stream("classes"))) == 40
    assert client.auth_method == "oauth1" and client.signature_method == "HMAC-SHA1"
    assert any("HMAC-SHA1" in w for w in client.warnings)


def test_oauth1_signs_filters_and_sorts(sandbox_sis, connect):
    sandbox_sis.set_quirks(only_oauth1=True)
    client = connect(sandbox_sis, "oauth1")
    teachers = list(
        client.stream("users", filter="role='teacher' AND status='active'", sort="familyName", order_by="desc")
    )
    assert teachers and all(t.role == "teacher" for t in teachers)
    names = [t.family_name or "" for t in teachers]
    assert names == sorted(names, reverse=True)


def test_auto_resolves_to_what_the_server_speaks(sandbox_sis, connect):
    sandbox_sis.set_quirks(only_oauth1=True)
    assert connect(sandbox_sis).auth_method == "oauth1"
    sandbox_sis.set_quirks(only_oauth1=False, only_oauth2=True)
    client = connect(sandbox_sis)
    assert len(list(client.stream("orgs"))) >= 3 and client.auth_method == "oauth2"
    with pytest.raises(InvalidCredentials):
        list(connect(sandbox_sis, "oauth1").stream("orgs"))


@pytest.mark.parametrize("quirk", ["reject_scope", "require_scope"])
def test_scope_quirks(sandbox_sis, connect, quirk):
    sandbox_sis.set_quirks(**{quirk: True})
    client = connect(sandbox_sis, "oauth2")
    assert list(client.stream("orgs"))
    assert any("scope" in w for w in client.warnings) is (quirk == "reject_scope")


@pytest.mark.parametrize("auth_method", ["auto", "oauth1", "oauth2"])
def test_wrong_secret_and_revoked_credentials(sandbox_sis, connect, auth_method):
    with pytest.raises(InvalidCredentials):
        list(connect(sandbox_sis, auth_method, secret="not-the-secret").stream("orgs"))
    client = connect(sandbox_sis, auth_method)
    list(client.stream("orgs"))
    sandbox_sis.set_quirks(revoke_credentials=True)
    with pytest.raises(InvalidCredentials):
        list(client.stream("orgs"))


def test_a_secret_with_reserved_characters(make_sandbox_sis, connect):
    sis = make_sandbox_sis(client_secret="p@ss+w/rd=%20&x")
    for method in ("oauth2", "oauth1"):
        client = connect(sis, method)
        stream = client.stream("orgs", filter="name~'a b'")
        list(stream)
        assert stream.complete


def test_tokens_are_replaced_before_expiry_and_after_a_401(make_sandbox_sis, connect):
    sis = make_sandbox_sis(token_ttl_s=1)  # expires_in 1: replaced half way, after 0.5 s
    client = connect(sis, "oauth2")
    list(client.stream("orgs"))
    list(client.stream("orgs"))
    assert sis.stats()["tokenRequests"] == 1
    time.sleep(0.6)
    list(client.stream("orgs"))
    assert sis.stats()["tokenRequests"] == 2
    sis.app.auth.revoke_all_tokens()  # the server forgets its tokens: 401, one refresh
    list(client.stream("orgs"))
    assert sis.stats()["tokenRequests"] == 3


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("kind", ["429", "500", "503", "html", "truncate", "invalid_json", "drop", "imsx_failure"])
def test_transient_faults_are_retried(sandbox_sis, connect, sleeps, kind):
    client = connect(sandbox_sis)
    sandbox_sis.inject(kind, count=2, path="/classes")
    assert len(list(client.stream("classes"))) == 40
    assert len(sleeps) == 2


def test_retry_after_is_honoured(sandbox_sis, connect, sleeps):
    client = connect(sandbox_sis)
    sandbox_sis.inject("429", count=1, path="/users", retry_after=2)
    assert list(client.stream("users"))
    assert sleeps == [2.0]


def test_a_slow_server_times_out_and_is_retried(sandbox_sis, connect):
    client = connect(sandbox_sis, read_timeout=0.3)
    sandbox_sis.inject("slow", count=1, path="/orgs", ms=1000)
    assert len(list(client.stream("orgs"))) >= 3


def test_persistent_failures_become_typed_errors(sandbox_sis, connect):
    client = connect(sandbox_sis)
    sandbox_sis.inject("503", count=10, path="/classes")
    with pytest.raises(ServerError) as failed:
        list(client.stream("classes"))
    assert failed.value.status == 503 and failed.value.endpoint.endswith("/classes")
    sandbox_sis.clear_faults()
    sandbox_sis.inject("html", count=10, path="/users")
    with pytest.raises(ServerError) as failed:
        list(client.stream("users"))
    assert "HTML" in str(failed.value)


# --------------------------------------------------------------------------- filters and deltas


def test_delta_filter_in_the_servers_precision(sandbox_sis, connect):
    client = connect(sandbox_sis)
    everything = list(client.stream("users"))
    cursor = max(u.date_last_modified for u in everything)
    time.sleep(0.01)
    changes = sandbox_sis.advance_day()["changes"]
    changed_ids = {c["sourcedId"] for c in changes}
    stream = client.stream("users", filter=client.changed_since(cursor - timedelta(seconds=1)))
    delta = list(stream)
    assert stream.filter_honoured is True
    assert {u.sourced_id for u in delta} >= {
        i for i in changed_ids if any(u["sourcedId"] == i for u in truth(sandbox_sis, "users"))
    }
    assert len(delta) < len(everything)


def test_an_ignored_filter_is_detected(sandbox_sis, connect):
    client = connect(sandbox_sis)
    sandbox_sis.set_quirks(ignore_filters=True)
    stream = client.stream("users", filter="role='teacher'")
    assert len(list(stream)) == len(truth(sandbox_sis, "users"))
    assert stream.filter_honoured is False


# --------------------------------------------------------------------------- check_connection


def test_connection_with_a_vendor_prefix_and_a_pasted_base_path(make_sandbox_sis):
    sis = make_sandbox_sis(path_prefix="/district42")
    settings = ConnectionSettings(host_url=sis.base_url + "/", client_id=sis.config.client_id)
    report = check_connection(settings, sis.config.client_secret, allow_private=True)
    assert report.host_url == sis.prefixed_host_url
    assert report.warnings == ["The host URL included /ims/oneroster/v1p1; it was removed: give the host only."]
    assert report.auth_method == "oauth2" and len(report.schools) == 3
    assert report.users_seen == 5 and report.classes_seen == 5
    assert report.classes_total == 40


def test_connection_failures(make_sandbox_sis):
    sis = make_sandbox_sis(path_prefix="/district42")
    secret = sis.config.client_secret
    with pytest.raises(InvalidCredentials):
        check_connection(ConnectionSettings(sis.prefixed_host_url, sis.config.client_id), "wrong", allow_private=True)
    with pytest.raises(NotOneRoster):  # the prefix left out
        check_connection(ConnectionSettings(sis.host_url, sis.config.client_id, "oauth1"), secret, allow_private=True)
    with pytest.raises(InvalidHostUrl):  # deployed rules: no http, no loopback
        check_connection(ConnectionSettings(sis.prefixed_host_url, sis.config.client_id), secret)
