"""Step 4: GET sync-options (computed by streaming, cached, refreshable), PUT/GET sync-config."""

import datetime as _dt
import tracemalloc
from datetime import date, datetime, timedelta

import pytest

from rostersync.sync.schedule import local_today, next_sync_at
from tests.unit.api.fake_sis import bad_record, course, klass, org

# A start date the API accepts: after today, within the 2 years it allows.
SOON = (_dt.date.today() + _dt.timedelta(days=300)).isoformat()


def _as_admin(api, method, district_id, path, **options):
    return api.call(method, f"/districts/{district_id}{path}", role="district_admin", district=district_id, **options)


@pytest.fixture
def connected(api, fake_sis):
    def make(timezone_name="America/Chicago"):
        district_id = api.new_district(timezone=timezone_name)
        assert api.connect(district_id).status == 200
        return district_id

    return make


def _sis_with_classes(fake_sis):
    fake_sis.orgs = [
        org("org-2", "roosevelt High"),
        org("org-1", "Adams Elementary"),
        org("org-x", "Gone School", status="tobedeleted"),
        org("org-d", "District", type="district"),
    ]
    fake_sis.classes = [
        klass("c1", grades=["09", "10"], subjects=["Math"]),
        klass("c2", grades=["KG"], subjects=[], course_id="course-art"),  # takes its course's subjects
        klass("c3", grades=["PK"], subjects=["Latin"], status="tobedeleted"),  # inactive: ignored
        klass("c4", grades=[], subjects=["science", " "]),
        bad_record("classes"),
    ]
    fake_sis.courses = [
        course("course-art", grades=["01"], subjects=["Art"], status="tobedeleted"),  # lends subjects only
        course("course-music", grades=["Other"], subjects=["Music"]),
        course("course-old", grades=["12"], subjects=["Typing"], status="tobedeleted"),
    ]


def test_sync_options_are_what_the_sis_has_sorted(api, fake_sis, connected):
    district_id = connected()
    _sis_with_classes(fake_sis)
    answer = _as_admin(api, "GET", district_id, "/sync-options")
    assert answer.status == 200
    assert answer.body["schools"] == [
        {"sisSourcedId": "org-1", "name": "Adams Elementary"},
        {"sisSourcedId": "org-2", "name": "roosevelt High"},
    ]
    assert answer.body["grades"] == ["KG", "09", "10", "Other"]  # school order, not alphabetical
    assert answer.body["subjects"] == ["Art", "Math", "Music", "science"]
    assert answer.body["refreshedAt"].endswith("Z")


def test_sync_options_are_served_from_the_cache_until_refresh_is_asked(api, fake_sis, connected):
    district_id = connected()
    _sis_with_classes(fake_sis)
    first = _as_admin(api, "GET", district_id, "/sync-options")
    fake_sis.classes = [klass("c9", grades=["05"], subjects=["Reading"])]
    fake_sis.streamed.clear()
    cached = _as_admin(api, "GET", district_id, "/sync-options")
    assert cached.body == first.body
    assert fake_sis.streamed == []  # not a single SIS read

    refreshed = _as_admin(api, "GET", district_id, "/sync-options", query={"refresh": "true"})
    assert refreshed.body["grades"] == ["05", "Other"]
    assert refreshed.body["subjects"] == ["Music", "Reading"]
    assert _as_admin(api, "GET", district_id, "/sync-options").body == refreshed.body


def test_an_sis_without_classes_gives_empty_lists(api, fake_sis, connected):
    district_id = connected()
    fake_sis.orgs = []
    answer = _as_admin(api, "GET", district_id, "/sync-options")
    assert (answer.body["schools"], answer.body["grades"], answer.body["subjects"]) == ([], [], [])


def _peak_memory_of_options(api, fake_sis, district_id, class_count):
    subjects = ["Math", "Art", "Science"]

    def classes():  # made one at a time, as a paged stream would hand them over
        for n in range(class_count):
            yield klass(f"class-{n}", grades=[f"{n % 12 + 1:02d}"], subjects=[subjects[n % 3]], course_id=f"course-{n}")

    fake_sis.classes = classes
    tracemalloc.start()
    try:
        answer = _as_admin(api, "GET", district_id, "/sync-options", query={"refresh": "true"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.body["grades"] == [f"{n:02d}" for n in range(1, 13)]
    return peak


def test_options_are_computed_without_holding_the_classes(api, fake_sis, connected):
    district_id = connected()
    small = _peak_memory_of_options(api, fake_sis, district_id, 1_000)
    large = _peak_memory_of_options(api, fake_sis, district_id, 100_000)
    # 99,000 more classes held in a list would take well over 20 MB more.
    assert large - small < 2 * 1024 * 1024


def test_refresh_must_be_true_or_false(api, fake_sis, connected):
    district_id = connected()
    answer = _as_admin(api, "GET", district_id, "/sync-options", query={"refresh": "sometimes"})
    assert (answer.status, answer.code) == (422, "invalid_request")
    assert "refresh" in answer.message


def test_sync_options_need_a_connection(api, fake_sis):
    district_id = api.new_district()
    answer = _as_admin(api, "GET", district_id, "/sync-options")
    assert (answer.status, answer.code) == (409, "not_connected")


def test_sync_config_is_saved_and_says_when_the_next_sync_is(api, fake_sis, connected):
    district_id = connected("America/Los_Angeles")
    _sis_with_classes(fake_sis)
    start = (local_today("America/Los_Angeles", datetime.now(_dt.UTC)) + timedelta(days=3)).isoformat()
    body = {"schools": ["org-1"], "grades": ["09", "10", "09"], "subjects": None, "startDate": start, "enabled": True}
    answer = _as_admin(api, "PUT", district_id, "/sync-config", body=body)
    assert answer.status == 200
    expected_next = next_sync_at("America/Los_Angeles", date.fromisoformat(start), datetime.now(_dt.UTC))
    assert answer.body == {
        "schools": ["org-1"],
        "grades": ["09", "10"],
        "subjects": None,
        "startDate": start,
        "enabled": True,
        "fullSyncEveryDays": 7,
        "deactivationGuard": {"maxShare": 0.2, "minRecords": 20},
        "nextSyncAt": expected_next.isoformat().replace("+00:00", "Z"),
        "warnings": [],
    }
    assert _as_admin(api, "GET", district_id, "/sync-config").body == answer.body

    from rostersync.store.districts import get_district

    stored = get_district(district_id).sync_config
    assert (stored.schools, stored.grades, stored.subjects, stored.start_date) == (["org-1"], ["09", "10"], None, start)


def test_everything_null_disabled_and_the_optional_settings(api, fake_sis, connected):
    district_id = connected()
    answer = _as_admin(
        api,
        "PUT",
        district_id,
        "/sync-config",
        body={
            "schools": None,
            "grades": None,
            "subjects": None,
            "startDate": SOON,
            "enabled": False,
            "fullSyncEveryDays": 3,
            "deactivationGuard": {"maxShare": 0.5, "minRecords": 100},
        },
    )
    assert answer.status == 200
    assert (answer.body["schools"], answer.body["grades"], answer.body["subjects"]) == (None, None, None)
    assert answer.body["nextSyncAt"] is None
    assert (answer.body["fullSyncEveryDays"], answer.body["deactivationGuard"]) == (
        3,
        {"maxShare": 0.5, "minRecords": 100},
    )
    # Left out next time: kept.
    again = _as_admin(api, "PUT", district_id, "/sync-config", body={"startDate": SOON, "enabled": True})
    assert (again.body["fullSyncEveryDays"], again.body["deactivationGuard"]) == (
        3,
        {"maxShare": 0.5, "minRecords": 100},
    )
    assert again.body["nextSyncAt"] is not None


def test_the_start_date_rule_follows_the_districts_own_time_zone(api, fake_sis, connected, monkeypatch):
    from rostersync.api import sync_config

    # 05:00 UTC on 1 March: still 28 February in Pago Pago (UTC-11), already 1 March in Kiritimati (UTC+14).
    monkeypatch.setattr(sync_config, "utc_now", lambda: datetime(2026, 3, 1, 5, 0, tzinfo=_dt.UTC))
    behind, ahead = connected("Pacific/Pago_Pago"), connected("Pacific/Kiritimati")
    body = {"startDate": "2026-02-28", "enabled": True}
    assert _as_admin(api, "PUT", behind, "/sync-config", body=body).status == 200
    past = _as_admin(api, "PUT", ahead, "/sync-config", body=body)
    assert (past.status, past.code) == (422, "start_date_in_past")
    assert "2026-03-01" in past.message and "Pacific/Kiritimati" in past.message
    assert _as_admin(api, "PUT", ahead, "/sync-config", body={"startDate": "2026-03-01", "enabled": True}).status == 200


def test_a_saved_start_date_that_has_passed_may_be_saved_again(api, fake_sis, connected, monkeypatch):
    from rostersync.api import sync_config

    district_id = connected()
    fake_sis.classes = [klass("c1", grades=["05"], subjects=["Math"])]
    monkeypatch.setattr(sync_config, "utc_now", lambda: datetime(2026, 3, 1, 18, 0, tzinfo=_dt.UTC))
    assert _as_admin(api, "PUT", district_id, "/sync-config", body={"startDate": "2026-03-01"}).status == 200
    monkeypatch.setattr(sync_config, "utc_now", lambda: datetime(2026, 4, 1, 18, 0, tzinfo=_dt.UTC))
    kept = _as_admin(api, "PUT", district_id, "/sync-config", body={"startDate": "2026-03-01", "grades": ["05"]})
    assert kept.status == 200 and kept.body["grades"] == ["05"]
    moved = _as_admin(api, "PUT", district_id, "/sync-config", body={"startDate": "2026-03-02"})
    assert (moved.status, moved.code) == (422, "start_date_in_past")


@pytest.mark.parametrize(
    "body, code, field",
    [
        ({"startDate": "2099-13-01"}, "invalid_date", "startDate"),
        ({"startDate": "01/02/2099"}, "invalid_date", "startDate"),
        ({"startDate": "2099-1-1"}, "invalid_date", "startDate"),
        ({"startDate": 20990101}, "invalid_request", "startDate"),
        ({}, "invalid_request", "startDate"),
        ({"startDate": SOON, "enabled": "yes"}, "invalid_request", "enabled"),
        ({"startDate": SOON, "grades": []}, "invalid_request", "grades"),
        ({"startDate": SOON, "grades": "09"}, "invalid_request", "grades"),
        ({"startDate": SOON, "subjects": [1]}, "invalid_request", "subjects[0]"),
        (
            {"startDate": SOON, "deactivationGuard": {"maxShare": 2, "minRecords": 1}},
            "invalid_request",
            "deactivationGuard.maxShare",
        ),
        ({"startDate": SOON, "nightly": True}, "invalid_request", "nightly"),
    ],
)
def test_bad_sync_configs_are_422_naming_the_field(api, fake_sis, connected, body, code, field):
    district_id = connected()
    answer = _as_admin(api, "PUT", district_id, "/sync-config", body=body)
    assert (answer.status, answer.code) == (422, code)
    assert field in answer.message


def test_schools_must_be_active_sis_schools(api, fake_sis, connected):
    district_id = connected()
    _sis_with_classes(fake_sis)
    _as_admin(api, "GET", district_id, "/sync-options")  # cache
    for unknown in ("org-x", "org-d", "nope"):
        answer = _as_admin(api, "PUT", district_id, "/sync-config", body={"startDate": SOON, "schools": [unknown]})
        assert (answer.status, answer.code) == (422, "unknown_school")
        assert unknown in answer.message
    # A school the SIS added after the options were cached is found live.
    fake_sis.orgs.append(org("org-new", "New School"))
    answer = _as_admin(api, "PUT", district_id, "/sync-config", body={"startDate": SOON, "schools": ["org-new"]})
    assert answer.status == 200


def test_sync_config_needs_a_connection_and_get_is_404_before_any(api, fake_sis):
    district_id = api.new_district()
    missing = _as_admin(api, "GET", district_id, "/sync-config")
    assert (missing.status, missing.code) == (404, "not_configured")
    answer = _as_admin(api, "PUT", district_id, "/sync-config", body={"startDate": SOON})
    assert (answer.status, answer.code) == (409, "not_connected")


def test_options_cached_by_a_sync_are_served_in_the_pages_order(api, fake_sis, connected):
    from datetime import datetime

    from rostersync.store.districts import SyncOptions, SyncOptionSchool, save_sync_options

    district_id = connected()
    save_sync_options(
        district_id,
        SyncOptions(
            schools=[
                SyncOptionSchool(sis_sourced_id="b", name="Zeta"),
                SyncOptionSchool(sis_sourced_id="a", name="alpha"),
            ],
            grades=["10", "KG", "09", "PK"],
            subjects=["math", "Art"],
            refreshed_at=datetime(2026, 1, 2, tzinfo=_dt.UTC),
        ),
    )
    answer = _as_admin(api, "GET", district_id, "/sync-options")
    assert answer.body == {
        "schools": [{"sisSourcedId": "a", "name": "alpha"}, {"sisSourcedId": "b", "name": "Zeta"}],
        "grades": ["PK", "KG", "09", "10"],
        "subjects": ["Art", "math"],
        "refreshedAt": "2026-01-02T00:00:00Z",
        "stale": False,
        "classTerms": None,  # cached before the counts by term existed, or a SIS without sessions
    }
