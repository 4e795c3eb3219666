"""Step 4's bounds: a start date at most 2 years ahead, only grades and subjects the SIS offers,
and SIS reads that end in time for API Gateway's 29 s."""

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from rostersync.sync.schedule import local_today
from tests.unit.api.fake_sis import klass
from tests.unit.oneroster.fake_sis import BASE, FakeSIS, make_users


def _as_admin(api, method, district_id, path, **options):
    return api.call(method, f"/districts/{district_id}{path}", role="district_admin", district=district_id, **options)


@pytest.fixture
def district(api, fake_sis):
    fake_sis.classes = [
        klass("c1", grades=["09", "10"], subjects=["Math"]),
        klass("c2", grades=["KG"], subjects=["Art"]),
    ]
    district_id = api.new_district()
    assert api.connect(district_id).status == 200
    return district_id


def _today(district_id="America/Chicago"):
    return local_today("America/Chicago", datetime.now(UTC))


@pytest.mark.parametrize("start", ["9999-12-31", "2999-01-01"])
def test_a_start_date_years_ahead_is_422(api, district, start):
    answer = _as_admin(api, "PUT", district, "/sync-config", body={"startDate": start})
    assert (answer.status, answer.code) == (422, "start_date_too_far")
    assert "2 years" in answer.message


def test_a_start_date_two_years_ahead_is_the_last_accepted(api, district):
    today = _today()
    last = (
        today.replace(year=today.year + 2)
        if not (today.month == 2 and today.day == 29)
        else date(today.year + 2, 2, 28)
    )
    assert _as_admin(api, "PUT", district, "/sync-config", body={"startDate": last.isoformat()}).status == 200
    beyond = _as_admin(api, "PUT", district, "/sync-config", body={"startDate": (last + timedelta(days=1)).isoformat()})
    assert beyond.code == "start_date_too_far"


def test_grades_and_subjects_the_sis_does_not_offer_are_422_naming_them(api, district):
    start = _today().isoformat()
    answer = _as_admin(
        api,
        "PUT",
        district,
        "/sync-config",
        body={"startDate": start, "grades": ["09", "9th", "10"], "subjects": ["Math", "Maths"]},
    )
    assert (answer.status, answer.code) == (422, "unknown_grade")
    assert "'9th'" in answer.message and "'Maths'" in answer.message
    assert "'09'" not in answer.message and "'Math'" not in answer.message
    only_subject = _as_admin(api, "PUT", district, "/sync-config", body={"startDate": start, "subjects": ["math"]})
    assert (only_subject.status, only_subject.code) == (422, "unknown_subject")  # exactly as the SIS writes it


def test_offered_values_and_null_lists_are_accepted(api, district):
    start = _today().isoformat()
    body = {"startDate": start, "grades": ["KG", "10"], "subjects": ["Art"]}
    assert _as_admin(api, "PUT", district, "/sync-config", body=body).status == 200
    assert (
        _as_admin(
            api, "PUT", district, "/sync-config", body={"startDate": start, "grades": None, "subjects": None}
        ).status
        == 200
    )


def test_an_sis_offering_no_grades_accepts_none(api, fake_sis):
    fake_sis.classes = [klass("c1", grades=[], subjects=[])]
    district_id = api.new_district()
    assert api.connect(district_id).status == 200
    answer = _as_admin(
        api, "PUT", district_id, "/sync-config", body={"startDate": _today().isoformat(), "grades": ["05"]}
    )
    assert (answer.status, answer.code) == (422, "unknown_grade")


def test_without_cached_options_the_sis_is_read_once_and_cached(api, district, fake_sis):
    fake_sis.streamed.clear()
    body = {"startDate": _today().isoformat(), "grades": ["09"]}
    assert _as_admin(api, "PUT", district, "/sync-config", body=body).status == 200
    assert "classes" in fake_sis.streamed
    fake_sis.streamed.clear()
    assert _as_admin(api, "PUT", district, "/sync-config", body=body).status == 200
    assert fake_sis.streamed == []  # the cache answered


def test_a_refresh_that_runs_out_of_time_serves_the_cache_marked_stale(api, district, fake_sis, monkeypatch):
    from rostersync.oneroster import OutOfTime

    first = _as_admin(api, "GET", district, "/sync-options")
    assert first.status == 200 and first.body["stale"] is False

    def out_of_time():
        raise OutOfTime("The SIS did not answer in the time this request has.")
        yield  # pragma: no cover

    fake_sis.classes = out_of_time
    again = _as_admin(api, "GET", district, "/sync-options", query={"refresh": "true"})
    assert again.status == 200 and again.body["stale"] is True
    assert again.body["grades"] == first.body["grades"] and again.body["refreshedAt"] == first.body["refreshedAt"]


def test_with_nothing_cached_a_refresh_out_of_time_is_503(api, fake_sis):
    from rostersync.oneroster import OutOfTime

    def out_of_time():
        raise OutOfTime("The SIS did not answer in the time this request has.")
        yield  # pragma: no cover

    district_id = api.new_district()
    assert api.connect(district_id).status == 200
    fake_sis.classes = out_of_time
    answer = _as_admin(api, "GET", district_id, "/sync-options")
    assert (answer.status, answer.code) == (503, "sis_too_slow")
    config = _as_admin(
        api, "PUT", district_id, "/sync-config", body={"startDate": _today().isoformat(), "grades": ["09"]}
    )
    assert (config.status, config.code) == (503, "sis_too_slow")


@pytest.fixture
def slow_sis(monkeypatch):
    """A real OneRoster server on 127.0.0.1 whose class pages each take 0.5 s."""
    monkeypatch.setenv("ROSTERSYNC_ALLOW_PRIVATE_SIS_HOSTS", "true")
    from rostersync.settings import get_settings

    get_settings.cache_clear()
    fake = FakeSIS(
        data={
            "orgs": [
                {
                    "sourcedId": "o1",
                    "status": "active",
                    "name": "School",
                    "type": "school",
                    "dateLastModified": "2026-01-01T00:00:00Z",
                }
            ],
            "users": make_users(3),
            "classes": [],
            "courses": [],
        },
        page_cap=1,
    )
    fake.host_url = fake.start()

    def slow_classes(seen):
        time.sleep(0.5)
        return fake._collection(seen, "classes")

    yield fake, slow_classes
    fake.stop()
    get_settings.cache_clear()


def test_a_refresh_answers_within_the_request_time_with_a_real_slow_sis(api, slow_sis, monkeypatch):
    from rostersync.api import deadline

    fake, slow_classes = slow_sis
    district_id = api.new_district()
    connected = api.connect(
        district_id,
        hostUrl=fake.host_url,
        clientId=fake.client_id,
        clientSecret=fake.client_secret,
        authMethod="oauth1",
    )
    assert connected.status == 200, connected.body
    fake.data["classes"] = [
        {
            "sourcedId": f"c{i}",
            "status": "active",
            "title": f"C{i}",
            "grades": ["05"],
            "subjects": ["Math"],
            "school": {"sourcedId": "o1", "type": "org"},
            "course": {"sourcedId": "k", "type": "course"},
            "classType": "scheduled",
            "dateLastModified": "2026-01-01T00:00:00Z",
        }
        for i in range(40)
    ]
    assert _as_admin(api, "GET", district_id, "/sync-options").status == 200  # cached while fast
    fake.routes[BASE + "/classes"] = slow_classes
    monkeypatch.setattr(deadline, "API_GATEWAY_LIMIT_S", deadline.RESERVE_S + 2.0)  # 2 s for the SIS
    started = time.monotonic()
    answer = _as_admin(api, "GET", district_id, "/sync-options", query={"refresh": "true"})
    took = time.monotonic() - started
    assert answer.status == 200 and answer.body["stale"] is True
    assert took < 8.0, took  # 2 s for the SIS; 40 pages at 0.5 s would be 20 s


def test_auth_auto_detection_answers_within_the_request_time(api, slow_sis, monkeypatch):
    from rostersync.api import deadline, sis_connection
    from rostersync.oneroster import check_connection as real_check_connection
    from tests.unit.oneroster.fake_sis import Reply

    monkeypatch.setattr(sis_connection, "check_connection", real_check_connection)
    fake, _ = slow_sis
    for path in ("/token", BASE + "/token", "/oauth/token", "/oauth/access_token"):
        fake.routes[path] = lambda seen: Reply(404, {"error": "nothing here"}, delay=3.0)
    monkeypatch.setattr(deadline, "API_GATEWAY_LIMIT_S", deadline.RESERVE_S + 2.0)
    district_id = api.new_district()
    started = time.monotonic()
    answer = api.connect(district_id, hostUrl=fake.host_url, clientId=fake.client_id, clientSecret=fake.client_secret)
    took = time.monotonic() - started
    assert (answer.status, answer.code) == (422, "unreachable_host")
    assert "authMethod" in answer.message
    assert took < 7.0, took  # 2 s for the SIS; probing 4 token URLs at 3 s each would be 12 s
