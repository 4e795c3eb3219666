"""Issue 13: the app registers the users and classes it already has (origin `app`), single and
bulk, and reads them back through the roster routes; only the district's admins may."""

import pytest


@pytest.fixture
def district(api):
    district_id = api.new_district()
    school_id = api.new_school(district_id, "Lincoln Elementary", "100")
    return district_id, school_id


def _admin(api, method, path, district_id, **options):
    return api.call(method, path, role="district_admin", district=district_id, **options)


def test_one_app_user_is_registered_and_read_back_through_the_roster_api(api, district):
    district_id, school_id = district
    answer = _admin(
        api,
        "POST",
        f"/districts/{district_id}/app-users",
        district_id,
        body={
            "role": "teacher",
            "givenName": "Ada",
            "familyName": "Lovelace",
            "email": " Ada@School.org ",
            "username": "alovelace",
            "identifier": "T-1",
            "schoolIds": [school_id],
        },
    )
    assert answer.status == 200, answer.body
    user_id = answer.body["userId"]
    assert answer.body["change"] == "created" and user_id.startswith("usr_")
    listed = _admin(api, "GET", f"/districts/{district_id}/users", district_id, query={"role": "teacher"})
    assert listed.status == 200
    [user] = listed.body["users"]
    assert user["userId"] == user_id and user["origin"] == "app" and user["sisSourcedId"] is None
    assert (user["email"], user["schoolIds"], user["status"]) == ("Ada@School.org", [school_id], "active")
    again = _admin(
        api,
        "POST",
        f"/districts/{district_id}/app-users",
        district_id,
        body={
            "userId": user_id,
            "role": "teacher",
            "givenName": "Ada",
            "familyName": "Lovelace",
            "email": "Ada@School.org",
            "username": "alovelace",
            "identifier": "T-1",
            "schoolIds": [school_id],
        },
    )
    assert again.body == {"userId": user_id, "change": "unchanged"}


def test_bulk_registration_keeps_the_apps_own_ids_and_is_safe_to_send_again(api, district):
    district_id, school_id = district
    users = [
        {
            "userId": f"app-{n}",
            "role": "student",
            "givenName": f"S{n}",
            "familyName": "Pupil",
            "email": f"s{n}@school.org",
            "schoolIds": [school_id],
        }
        for n in range(600)
    ]
    first = _admin(api, "POST", f"/districts/{district_id}/app-users/bulk", district_id, body={"users": users})
    assert first.status == 200, first.body
    assert [u["change"] for u in first.body["users"]] == ["created"] * 600
    users[5]["givenName"] = "Renamed"
    second = _admin(api, "POST", f"/districts/{district_id}/app-users/bulk", district_id, body={"users": users})
    changes = [u["change"] for u in second.body["users"]]
    assert changes.count("unchanged") == 599 and changes[5] == "updated"
    one = _admin(api, "GET", f"/districts/{district_id}/users/app-5", district_id)
    assert one.status == 200 and one.body["givenName"] == "Renamed"


def test_the_match_keys_follow_a_changed_email(api, district, aws):
    district_id, _school = district
    body = {"userId": "u1", "role": "student", "email": "Old@x.org"}
    _admin(api, "POST", f"/districts/{district_id}/app-users", district_id, body=body)
    _admin(api, "POST", f"/districts/{district_id}/app-users", district_id, body={**body, "email": "new@X.org"})
    from rostersync.aws_clients import dynamodb as dynamodb_client
    from rostersync.store.record_links import RecordLinks

    links = RecordLinks(dynamodb_client(), district_id)
    keys = {i["linkKey"]: i.get("itemIds") for page in links.query_prefix("key#user#") for i in page}
    assert keys.get("key#user#email#new@x.org") == ["u1"]
    assert not keys.get("key#user#email#old@x.org")


def test_app_classes_are_registered_and_listed(api, district):
    district_id, school_id = district
    answer = _admin(
        api,
        "POST",
        f"/districts/{district_id}/app-classes/bulk",
        district_id,
        body={
            "classes": [
                {"classId": "c-1", "title": "Algebra 1", "schoolId": school_id, "classCode": "ALG-1"},
                {"title": "Art", "schoolId": school_id},
            ]
        },
    )
    assert answer.status == 200, answer.body
    listed = _admin(api, "GET", f"/districts/{district_id}/classes", district_id)
    titles = {c["title"]: c for c in listed.body["classes"]}
    assert set(titles) == {"Algebra 1", "Art"}
    assert titles["Algebra 1"]["classId"] == "c-1" and titles["Algebra 1"]["origin"] == "app"


def test_an_unknown_school_is_422_and_nothing_is_written(api, district):
    district_id, school_id = district
    answer = _admin(
        api,
        "POST",
        f"/districts/{district_id}/app-users/bulk",
        district_id,
        body={"users": [{"role": "student", "schoolIds": [school_id]}, {"role": "student", "schoolIds": ["sch_nope"]}]},
    )
    assert (answer.status, answer.code) == (422, "unknown_school")
    listed = _admin(api, "GET", f"/districts/{district_id}/users", district_id)
    assert listed.body["users"] == []


def test_a_duplicate_id_in_one_request_is_422(api, district):
    district_id, _ = district
    answer = _admin(
        api,
        "POST",
        f"/districts/{district_id}/app-users/bulk",
        district_id,
        body={"users": [{"userId": "x", "role": "student"}, {"userId": "x", "role": "teacher"}]},
    )
    assert (answer.status, answer.code) == (422, "duplicate_id")


def test_more_than_the_bulk_limit_is_422(api, district):
    district_id, _ = district
    answer = _admin(
        api,
        "POST",
        f"/districts/{district_id}/app-users/bulk",
        district_id,
        body={"users": [{"role": "student"}] * 2001},
    )
    assert (answer.status, answer.code) == (422, "invalid_request")


@pytest.mark.parametrize("role, own", [("district_admin", False), ("teacher", True)])
def test_other_districts_admins_and_teachers_may_not_register(api, district, role, own):
    district_id, _ = district
    answer = api.call(
        "POST",
        f"/districts/{district_id}/app-users",
        role=role,
        district=district_id if own else "dst_other",
        body={"role": "student"},
    )
    assert answer.status == 403


def test_an_api_client_may_not_register(api, district):
    from tests.unit.api.handler_client import make_event

    district_id, _ = district
    event = make_event(
        "POST",
        f"/districts/{district_id}/app-users",
        body={"role": "student"},
        claims={"sub": "client", "token_use": "access", "client_id": "client", "scope": "roster/read"},
    )
    assert api._handle(event, None)["statusCode"] == 403


def test_resolutions_refuse_what_cannot_be_linked(api, district):
    district_id, _school = district
    path = f"/districts/{district_id}/matching/resolutions"
    _admin(
        api,
        "POST",
        f"/districts/{district_id}/app-users/bulk",
        district_id,
        body={"users": [{"userId": "t1", "role": "teacher"}, {"userId": "s1", "role": "student"}]},
    )
    missing = _admin(
        api,
        "POST",
        path,
        district_id,
        body={"type": "user", "sisSourcedId": "sis-1", "action": "link", "appId": "nobody"},
    )
    assert (missing.status, missing.code) == (404, "not_found")
    no_app_id = _admin(api, "POST", path, district_id, body={"type": "user", "sisSourcedId": "sis-1", "action": "link"})
    assert (no_app_id.status, no_app_id.code) == (422, "invalid_request")
    linked = _admin(
        api, "POST", path, district_id, body={"type": "user", "sisSourcedId": "sis-1", "action": "link", "appId": "t1"}
    )
    assert linked.status == 200 and linked.body["itemId"] == "t1"
    again = _admin(
        api, "POST", path, district_id, body={"type": "user", "sisSourcedId": "sis-2", "action": "link", "appId": "t1"}
    )
    assert (again.status, again.code) == (409, "already_linked")  # one app user, one SIS user
    separate = _admin(
        api, "POST", path, district_id, body={"type": "user", "sisSourcedId": "sis-1", "action": "separate"}
    )
    assert (separate.status, separate.code) == (409, "already_linked")
    kept = _admin(api, "POST", path, district_id, body={"type": "user", "sisSourcedId": "sis-3", "action": "separate"})
    assert kept.status == 200
    from rostersync.store.districts import get_district

    stored = get_district(district_id)
    assert stored.has_sis_links and stored.has_app_users and stored.full_sync_due  # the next sync is full
    listed = _admin(api, "GET", f"/districts/{district_id}/matching/conflicts", district_id)
    assert listed.status == 200 and listed.body == {"conflicts": [], "nextCursor": None}
    bad_cursor = _admin(
        api, "GET", f"/districts/{district_id}/matching/conflicts", district_id, query={"cursor": "bm9wZQ"}
    )
    assert (bad_cursor.status, bad_cursor.code) == (400, "invalid_cursor")
    registered = _admin(
        api,
        "POST",
        f"/districts/{district_id}/app-users",
        district_id,
        body={"userId": "t1", "role": "teacher", "email": "x@y.org"},
    )
    assert (registered.status, registered.code) == (409, "linked_to_sis")  # the SIS's from the next sync on
