"""Who reads rosters: API clients (client-credentials access tokens) read rosters of the districts
they are granted and change nothing; a teacher linked to a synced teacher reads their own
classes (/me/...) and nothing else."""

import base64
import json
from datetime import UTC, datetime

import pytest

from rostersync.ids import record_id
from tests.unit.api.handler_client import make_event


def ask(handle, method, path, claims, scopes=None, query=None, body=None):
    event = make_event(method, path, claims=claims, query=query, body=body)
    if scopes is not None:
        event["requestContext"]["authorizer"]["jwt"]["scopes"] = scopes
    response = handle(event, None)
    text = response.get("body")
    if response.get("isBase64Encoded") and text:
        text = base64.b64decode(text).decode()
    return response["statusCode"], (json.loads(text) if text else None)


def machine(scope: str) -> tuple[dict, list[str]]:
    """Claims and scopes as API Gateway passes a Cognito client-credentials access token."""
    return (
        {
            "sub": "app-client",
            "client_id": "app-client",
            "token_use": "access",
            "scope": scope,
            "iss": "https://cognito-idp.us-east-1.amazonaws.com/pool",
            "exp": "9999999999",
        },
        scope.split(),
    )


def teacher(district_id: str, email: str | None = None, verified: bool = True, sourced_id: str | None = None) -> dict:
    claims = {"sub": "teacher-sub", "custom:role": "teacher", "custom:district_id": district_id, "token_use": "id"}
    if email:
        claims.update({"email": email, "email_verified": "true" if verified else "false"})
    if sourced_id:
        claims["custom:sis_sourced_id"] = sourced_id
    return claims


def seed(district_id: str) -> dict:
    """Two teachers (Ms Ada teaches class-a and class-b), three students, classes a, b and c."""
    from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel, index_key

    now = datetime.now(UTC)
    ids = {}
    people = [
        ("t-ada", "teacher", "Ada.Lovelace@Example.org"),
        ("t-bob", "teacher", "bob@example.org"),
        ("s-1", "student", None),
        ("s-2", "student", None),
        ("s-3", "student", None),
    ]
    for sourced, role, email in people:
        user_id = ids[sourced] = record_id(district_id, "user", sourced)
        user = UserModel(
            district_id,
            user_id,
            district_role=index_key(district_id, role),
            role=role,
            sis_sourced_id=sourced,
            content_hash="h",
            updated_at=now,
            given_name=sourced,
            family_name=sourced,
            email=email,
            status="active",
        )
        if role == "teacher":
            user.district_email = index_key(district_id, email.lower())
        user.save()
    for sourced in ("class-a", "class-b", "class-c"):
        class_id = ids[sourced] = record_id(district_id, "class", sourced)
        ClassModel(
            district_id,
            class_id,
            district_school=index_key(district_id, "sch"),
            school_id="sch",
            sis_sourced_id=sourced,
            content_hash="h",
            updated_at=now,
            title=sourced,
            status="active",
        ).save()
    memberships = [
        ("t-ada", "class-a", "teacher"),
        ("t-ada", "class-b", "teacher"),
        ("t-bob", "class-c", "teacher"),
        ("s-1", "class-a", "student"),
        ("s-2", "class-a", "student"),
        ("s-3", "class-c", "student"),
        ("t-ada", "class-c", "student"),
    ]  # enrolled in class-c, but not as its teacher
    for user, klass, role in memberships:
        sourced = f"{user}-{klass}"
        EnrollmentModel(
            district_id,
            record_id(district_id, "enrollment", sourced),
            district_class=index_key(district_id, ids[klass]),
            district_user=index_key(district_id, ids[user]),
            class_id=ids[klass],
            user_id=ids[user],
            class_sourced_id=klass,
            user_sourced_id=user,
            role=role,
            sis_sourced_id=sourced,
            content_hash="h",
            updated_at=now,
            status="active",
        ).save()
    return ids


@pytest.fixture
def two_districts(api):
    first, second = api.new_district(name="First"), api.new_district(name="Second")
    return {first: seed(first), second: seed(second)}


READS = [
    "/users",
    "/users?role=teacher",
    "/classes",
    "/enrollments",
    "/schools",
    "/classes/{class-a}",
    "/classes/{class-a}/roster",
    "/classes/{class-a}/students",
    "/classes/{class-a}/teachers",
    "/users/{t-ada}",
    "/users/{t-ada}/classes",
    "/enrollments?classId={class-a}",
]


def _path(district_id: str, ids: dict, template: str) -> tuple[str, dict | None]:
    path, _, query = template.partition("?")
    for name, value in ids.items():
        path, query = path.replace("{" + name + "}", value), query.replace("{" + name + "}", value)
    return f"/districts/{district_id}{path}", dict(p.split("=") for p in query.split("&")) if query else None


@pytest.mark.parametrize("scope", ["roster/read", "roster/read:{district}"])
def test_an_api_client_reads_every_roster_route_of_a_district_it_is_granted(api, two_districts, scope):
    from rostersync.api.app import handle

    district, ids = next(iter(two_districts.items()))
    claims, scopes = machine(scope.replace("{district}", district))
    for template in READS:
        path, query = _path(district, ids, template)
        status, body = ask(handle, "GET", path, claims, scopes, query=query)
        assert status == 200, (template, body)
    status, body = ask(handle, "GET", f"/districts/{district}/users/{ids['t-ada']}/classes", claims, scopes)
    assert sorted(c["sisSourcedId"] for c in body["classes"]) == ["class-a", "class-b", "class-c"]
    status, body = ask(
        handle, "GET", f"/districts/{district}/classes", claims, scopes, query={"teacherId": ids["t-ada"]}
    )
    assert sorted(c["sisSourcedId"] for c in body["classes"]) == ["class-a", "class-b"]
    status, body = ask(
        handle, "GET", f"/districts/{district}/classes/{ids['class-a']}/students", claims, scopes, query={"limit": "1"}
    )
    assert status == 200 and len(body["users"]) == 1 and body["nextCursor"]
    rest = ask(
        handle,
        "GET",
        f"/districts/{district}/classes/{ids['class-a']}/students",
        claims,
        scopes,
        query={"limit": "1", "cursor": body["nextCursor"]},
    )[1]
    assert {body["users"][0]["sisSourcedId"], rest["users"][0]["sisSourcedId"]} == {"s-1", "s-2"}


def test_an_api_client_never_reaches_configuration_or_other_districts(api, two_districts):
    from rostersync.api.app import handle

    (district, _ids), (other, _other_ids) = list(two_districts.items())
    claims, scopes = machine(f"roster/read:{district}")
    for method, path, body in [
        ("GET", f"/districts/{district}/sync-config", None),
        ("PUT", f"/districts/{district}/sync-config", {"schools": None}),
        ("GET", f"/districts/{district}/sis/connection", None),
        ("DELETE", f"/districts/{district}/sis/connection", None),
        ("POST", f"/districts/{district}/syncs", {}),
        ("GET", f"/districts/{district}/syncs", None),
        ("POST", f"/districts/{district}/schools", {"name": "x"}),
        ("PUT", f"/districts/{district}/school-matches", {"matches": []}),
        ("GET", f"/districts/{district}/sis/schools", None),
        ("POST", "/districts", {"name": "x", "timezone": "UTC"}),
        ("GET", f"/districts/{other}/users", None),  # not granted
        ("GET", "/me/classes", None),
    ]:
        status, answer = ask(handle, method, path, claims, scopes, body=body)
        assert status == 403, (method, path, answer)
        assert answer["error"]["code"] == "forbidden"
    # An access token without a roster scope (a person's, say) reads nothing.
    claims, scopes = machine("aws.cognito.signin.user.admin")
    assert ask(handle, "GET", f"/districts/{district}/users", claims, scopes)[0] == 403


@pytest.mark.parametrize("link", ["email", "explicit"])
def test_a_linked_teacher_reads_their_own_classes_and_rosters(api, two_districts, link):
    from rostersync.api.app import handle

    district, ids = next(iter(two_districts.items()))
    claims = (
        teacher(district, email="ada.lovelace@example.org")
        if link == "email"
        else teacher(district, sourced_id="t-ada")
    )
    status, body = ask(handle, "GET", "/me/classes", claims)
    assert status == 200, body
    assert sorted(c["sisSourcedId"] for c in body["classes"]) == ["class-a", "class-b"]  # taught, not attended
    status, roster = ask(handle, "GET", f"/me/classes/{ids['class-a']}/roster", claims)
    assert status == 200
    assert [t["sisSourcedId"] for t in roster["teachers"]] == ["t-ada"]
    assert [s["sisSourcedId"] for s in roster["students"]] == ["s-1", "s-2"]
    # A class they attend but do not teach, another teacher's class, another district's class: 404.
    other = next(d for d in two_districts if d != district)
    for class_id in (ids["class-c"], two_districts[other]["class-a"], "no-such-class"):
        assert ask(handle, "GET", f"/me/classes/{class_id}/roster", claims)[0] == 404
    # Nothing under /districts.
    for path in (f"/districts/{district}/users", f"/districts/{district}/classes/{ids['class-a']}/roster"):
        assert ask(handle, "GET", path, claims)[0] == 403


def test_a_teacher_not_linked_is_told_so(api, two_districts):
    from rostersync.api.app import handle

    district = next(iter(two_districts))
    for claims in (
        teacher(district, email="ada.lovelace@example.org", verified=False),  # unverified email
        teacher(district, email="nobody@example.org"),
        teacher(district, sourced_id="s-1"),  # a student
        teacher(district),
    ):
        status, body = ask(handle, "GET", "/me/classes", claims)
        assert (status, body["error"]["code"]) == (403, "not_linked"), claims
    # People other than teachers have no /me.
    admin = {"sub": "a", "custom:role": "district_admin", "custom:district_id": district}
    assert ask(handle, "GET", "/me/classes", admin)[0] == 403


def test_updated_since_at_the_edges_of_time(api, two_districts):
    from rostersync.api.app import handle

    district = next(iter(two_districts))
    admin = {"sub": "a", "custom:role": "district_admin", "custom:district_id": district}
    status, body = ask(
        handle, "GET", f"/districts/{district}/users", admin, query={"updatedSince": "1900-01-01T00:00:00Z"}
    )
    assert status == 200 and body["changesCursor"]  # before 1970: from the beginning
    for edge in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-12-01", "x" * 100):
        status, body = ask(handle, "GET", f"/districts/{district}/users", admin, query={"updatedSince": edge})
        assert (status, body["error"]["code"]) == (422, "invalid_request"), edge
    # In the future: nothing yet, and a cursor that waits there.
    status, body = ask(
        handle, "GET", f"/districts/{district}/enrollments", admin, query={"updatedSince": "2999-01-01T00:00:00Z"}
    )
    assert status == 200 and body["enrollments"] == [] and body["nextCursor"] is None and body["changesCursor"]
    again = ask(handle, "GET", f"/districts/{district}/enrollments", admin, query={"cursor": body["changesCursor"]})
    assert again[0] == 200 and again[1]["changesCursor"] == body["changesCursor"]
