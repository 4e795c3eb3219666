"""Issue 13: the app's backend registers the app's own users and classes with a write scope
(roster/write, or roster/write:<districtId>), and nothing else with it; app classes may name
their teacher (an active teacher of the same district), checked with a clear 422."""

import pytest

from tests.unit.api.test_roster_readers import ask, machine


@pytest.fixture
def district(api):
    district_id = api.new_district()
    school_id = api.new_school(district_id, "Lincoln Elementary", "100")
    other = api.new_district(name="Shelbyville USD")
    return district_id, school_id, other


WRITES = [
    ("/app-users", {"userId": "u-1", "role": "teacher", "email": "t@school.org"}),
    ("/app-users/bulk", {"users": [{"userId": "u-2", "role": "student"}]}),
    ("/app-classes", {"classId": "c-1", "title": "Math 7", "schoolId": "{school}"}),
    ("/app-classes/bulk", {"classes": [{"classId": "c-2", "title": "Art", "schoolId": "{school}"}]}),
]


def _body(body, school):
    import json

    return json.loads(json.dumps(body).replace("{school}", school))


@pytest.mark.parametrize("scope", ["roster/write", "roster/write:{district}", "roster/read roster/write"])
def test_a_client_with_the_write_scope_registers_app_records(api, district, scope):
    from rostersync.api.app import handle

    district_id, school_id, _other = district
    claims, scopes = machine(scope.replace("{district}", district_id))
    for path, body in WRITES:
        status, answer = ask(
            handle, "POST", f"/districts/{district_id}{path}", claims, scopes, body=_body(body, school_id)
        )
        assert status == 200, (path, answer)
    listed = api.call("GET", f"/districts/{district_id}/users", role="district_admin", district=district_id)
    assert {u["userId"] for u in listed.body["users"]} == {"u-1", "u-2"}
    classes = api.call("GET", f"/districts/{district_id}/classes", role="district_admin", district=district_id)
    assert {c["classId"] for c in classes.body["classes"]} == {"c-1", "c-2"}


def test_the_write_scope_reaches_nothing_else(api, district):
    from rostersync.api.app import handle

    district_id, school_id, other = district
    claims, scopes = machine("roster/write")
    refused = [
        ("GET", f"/districts/{district_id}/users", None),  # reading needs roster/read
        ("GET", f"/districts/{district_id}/matching/conflicts", None),
        (
            "POST",
            f"/districts/{district_id}/matching/resolutions",
            {"type": "user", "sisSourcedId": "s", "action": "separate"},
        ),
        ("POST", f"/districts/{district_id}/syncs", {}),
        ("GET", f"/districts/{district_id}/sync-config", None),
        ("PUT", f"/districts/{district_id}/school-matches", {"matches": []}),
        ("POST", f"/districts/{district_id}/schools", {"name": "X"}),
        ("GET", f"/districts/{district_id}", None),
        ("POST", "/districts", {"name": "New", "timezone": "America/Chicago"}),
    ]
    for method, path, body in refused:
        status, answer = ask(handle, method, path, claims, scopes, body=body)
        assert status == 403, (method, path, status, answer)
    # A district-scoped writer: its district only.
    one, one_scopes = machine(f"roster/write:{other}")
    status, _ = ask(
        handle,
        "POST",
        f"/districts/{district_id}/app-users",
        one,
        one_scopes,
        body={"userId": "u-9", "role": "student"},
    )
    assert status == 403
    # Reading alone never writes.
    reader, reader_scopes = machine(f"roster/read:{district_id}")
    status, _ = ask(
        handle,
        "POST",
        f"/districts/{district_id}/app-classes",
        reader,
        reader_scopes,
        body={"title": "Math", "schoolId": school_id},
    )
    assert status == 403
    # Admins keep their access.
    admin = api.call(
        "POST",
        f"/districts/{district_id}/app-users",
        role="district_admin",
        district=district_id,
        body={"userId": "u-3", "role": "student"},
    )
    assert admin.status == 200, admin.body


def test_an_app_class_names_an_active_teacher_of_the_district(api, district):
    district_id, school_id, other = district

    def post(path, body, to=district_id):
        return api.call("POST", f"/districts/{to}{path}", role="platform_admin", body=body)

    assert (
        post(
            "/app-users/bulk", {"users": [{"userId": "t-1", "role": "teacher"}, {"userId": "s-1", "role": "student"}]}
        ).status
        == 200
    )
    assert post("/app-users", {"userId": "t-other", "role": "teacher"}, to=other).status == 200
    for teacher, says in (
        ("nobody", "is not a user of this district"),
        ("s-1", "is a student, not a teacher"),
        ("t-other", "is not a user of this district"),
    ):
        answer = post(
            "/app-classes", {"classId": "c-1", "title": "Math 7", "schoolId": school_id, "teacherId": teacher}
        )
        assert (answer.status, answer.code) == (422, "invalid_teacher"), answer.body
        assert says in answer.body["error"]["message"]
    bulk = post(
        "/app-classes/bulk",
        {
            "classes": [
                {"classId": "c-1", "title": "Math 7", "schoolId": school_id, "teacherId": "t-1"},
                {"classId": "c-2", "title": "Art", "schoolId": school_id, "teacherId": "s-1"},
            ]
        },
    )
    assert (bulk.status, bulk.code) == (422, "invalid_teacher")  # all or nothing
    assert api.call("GET", f"/districts/{district_id}/classes/c-1", role="platform_admin").status == 404
    good = post("/app-classes", {"classId": "c-1", "title": "Math 7", "schoolId": school_id, "teacherId": "t-1"})
    assert good.status == 200 and good.body["change"] == "created"
    # The title is a match key only while the class names a teacher.
    from rostersync.aws_clients import dynamodb as dynamodb_client
    from rostersync.store.record_links import RecordLinks

    links = RecordLinks(dynamodb_client(), district_id)
    assert links.get("key#class#title#math 7")["itemIds"] == ["c-1"]
    again = post("/app-classes", {"classId": "c-1", "title": "Math 7", "schoolId": school_id})
    assert again.body["change"] == "updated"
    assert not (links.get("key#class#title#math 7") or {}).get("itemIds")
    # An inactive teacher is refused too.
    from rostersync.store.roster import UserModel

    teacher = UserModel.get(district_id, "t-1")
    teacher.update(actions=[UserModel.status.set("inactive")])
    answer = post("/app-classes", {"classId": "c-3", "title": "Art", "schoolId": school_id, "teacherId": "t-1"})
    assert (answer.status, answer.code) == (422, "invalid_teacher")
    assert "inactive" in answer.body["error"]["message"]
