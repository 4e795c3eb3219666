"""The roster read routes through the API's Lambda handler on the embedded AWS: shapes,
filters, pages with opaque cursors, and a district never seeing another's data."""

import base64
import json
from datetime import UTC, datetime

import pytest

from rostersync.ids import record_id
from tests.integration.test_sync_runs_api import admin, call
from tests.unit.sync.test_locks import make_district


def seed(district_id: str) -> dict:
    """A small synced district: 2 schools, 5 teachers, 40 students (8 inactive), 12 classes
    (2 inactive, 4 in school B), one class with a roster. Returns the expectations."""
    from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel, index_key

    now = datetime.now(UTC)
    school_a, school_b = f"{district_id}-school-a", f"{district_id}-school-b"
    users = {}
    for role, count, inactive_from in (("teacher", 5, 99), ("student", 40, 32)):
        for n in range(count):
            sourced = f"{role}-{n}"
            user = UserModel(
                district_id,
                record_id(district_id, "user", sourced),
                district_role=index_key(district_id, role),
                role=role,
                sis_sourced_id=sourced,
                status="inactive" if n >= inactive_from else "active",
                content_hash="h",
                updated_at=now,
                given_name=f"Given{n}",
                family_name=f"Family{n:02d}",
                email=f"{sourced}@example.org",
                username=sourced,
                grades=["05"] if role == "student" else [],
                school_ids=[school_b] if n % 4 == 0 else [school_a],
            )
            user.save()
            users[sourced] = user
    classes = {}
    for n in range(12):
        school = school_b if n < 4 else school_a
        sourced = f"class-{n}"
        item = ClassModel(
            district_id,
            record_id(district_id, "class", sourced),
            district_school=index_key(district_id, school),
            school_id=school,
            sis_sourced_id=sourced,
            status="inactive" if n >= 10 else "active",
            content_hash="h",
            updated_at=now,
            title=f"Class {n}",
            class_code=f"C{n}",
            grades=["05"],
            subjects=["Math"],
        )
        item.save()
        classes[sourced] = item
    rostered = classes["class-5"]
    members = [
        ("teacher-1", "teacher", "active"),
        ("student-3", "student", "active"),
        ("student-1", "student", "active"),
        ("student-2", "student", "inactive"),
        ("student-35", "student", "active"),
    ]  # student-35 is inactive
    for sourced, role, status in members:
        enrollment_sourced = f"enr-{sourced}-class-5"
        EnrollmentModel(
            district_id,
            record_id(district_id, "enrollment", enrollment_sourced),
            district_class=index_key(district_id, rostered.class_id),
            district_user=index_key(district_id, users[sourced].user_id),
            class_id=rostered.class_id,
            user_id=users[sourced].user_id,
            class_sourced_id="class-5",
            user_sourced_id=sourced,
            role=role,
            sis_sourced_id=enrollment_sourced,
            status=status,
            content_hash="h",
            updated_at=now,
        ).save()
    return {"users": users, "classes": classes, "school_a": school_a, "school_b": school_b, "rostered": rostered}


@pytest.fixture(scope="module")
def districts(_embedded_aws):
    _embedded_aws.apply_environment()
    first, second = make_district().district_id, make_district().district_id
    return {first: seed(first), second: seed(second)}


def walk(as_admin, path: str, query: dict, key: str) -> tuple[list[dict], int]:
    """Every item of a list, following nextCursor; and how many pages it took."""
    items, cursor, pages = [], None, 0
    while True:
        answer = as_admin("GET", path, query={**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200, answer.body
        items += answer.body[key]
        pages += 1
        cursor = answer.body["nextCursor"]
        if cursor is None:
            return items, pages


def test_users_by_role_page_through_every_active_user_once(districts):
    district, data = next(iter(districts.items()))
    students, pages = walk(admin(district), f"/districts/{district}/users", {"role": "student", "limit": "7"}, "users")
    assert pages == 5  # 32 active students, 7 a page
    assert len(students) == len({s["userId"] for s in students}) == 32
    assert {s["sisSourcedId"] for s in students} == {f"student-{n}" for n in range(32)}
    first = next(s for s in students if s["sisSourcedId"] == "student-4")
    assert first.pop("updatedAt").endswith("Z")
    assert first == {
        "userId": data["users"]["student-4"].user_id,
        "sisSourcedId": "student-4",
        "role": "student",
        "givenName": "Given4",
        "familyName": "Family04",
        "email": "student-4@example.org",
        "username": "student-4",
        "grades": ["05"],
        "schoolIds": [data["school_b"]],
        "status": "active",
        "origin": "sis",
        # OneRoster 1.2's preferred names and pronouns: null for a user read over 1.1
        "preferredGivenName": None,
        "preferredFamilyName": None,
        "pronouns": None,
    }


def test_users_without_role_status_and_school_filters(districts):
    district, data = next(iter(districts.items()))
    as_admin = admin(district)
    both, _ = walk(as_admin, f"/districts/{district}/users", {"limit": "50"}, "users")
    assert {u["role"] for u in both} == {"teacher", "student"} and len(both) == 37
    everyone, _ = walk(as_admin, f"/districts/{district}/users", {"status": "all", "limit": "200"}, "users")
    assert len(everyone) == 45
    gone, _ = walk(as_admin, f"/districts/{district}/users", {"status": "inactive", "role": "student"}, "users")
    assert sorted(u["sisSourcedId"] for u in gone) == sorted(f"student-{n}" for n in range(32, 40))
    in_b, _ = walk(
        as_admin,
        f"/districts/{district}/users",
        {"schoolId": data["school_b"], "role": "teacher", "limit": "1"},
        "users",
    )
    assert sorted(u["sisSourcedId"] for u in in_b) == ["teacher-0", "teacher-4"]


def test_classes_page_and_filter_by_school(districts):
    district, data = next(iter(districts.items()))
    as_admin = admin(district)
    classes, pages = walk(as_admin, f"/districts/{district}/classes", {"limit": "3"}, "classes")
    assert pages == 4 and sorted(c["sisSourcedId"] for c in classes) == sorted(f"class-{n}" for n in range(10))
    some = next(c for c in classes if c["sisSourcedId"] == "class-2")
    assert some.pop("updatedAt")
    assert some == {
        "classId": data["classes"]["class-2"].class_id,
        "sisSourcedId": "class-2",
        "title": "Class 2",
        "classCode": "C2",
        "schoolId": data["school_b"],
        "grades": ["05"],
        "subjects": ["Math"],
        "termIds": [],
        "status": "active",
        "origin": "sis",
    }
    in_b, _ = walk(as_admin, f"/districts/{district}/classes", {"schoolId": data["school_b"], "limit": "2"}, "classes")
    assert sorted(c["sisSourcedId"] for c in in_b) == ["class-0", "class-1", "class-2", "class-3"]
    every, _ = walk(as_admin, f"/districts/{district}/classes", {"status": "all"}, "classes")
    assert len(every) == 12


def test_a_class_roster(districts):
    district, data = next(iter(districts.items()))
    as_admin = admin(district)
    class_id = data["rostered"].class_id
    roster = as_admin("GET", f"/districts/{district}/classes/{class_id}/roster")
    assert roster.status == 200
    assert [t["sisSourcedId"] for t in roster.body["teachers"]] == ["teacher-1"]
    # Active enrollments of active users, by name.
    assert [s["sisSourcedId"] for s in roster.body["students"]] == ["student-1", "student-3"]
    assert set(roster.body["students"][0]) == {
        "userId",
        "sisSourcedId",
        "role",
        "givenName",
        "familyName",
        "email",
        "username",
        "grades",
        "schoolIds",
        "status",
        "updatedAt",
        "origin",
        "preferredGivenName",
        "preferredFamilyName",
        "pronouns",
    }
    everyone = as_admin("GET", f"/districts/{district}/classes/{class_id}/roster", query={"status": "all"}).body
    assert [s["sisSourcedId"] for s in everyone["students"]] == ["student-1", "student-2", "student-3", "student-35"]
    assert as_admin("GET", f"/districts/{district}/classes/no-such-class/roster").status == 404


def test_bad_parameters(districts):
    district = next(iter(districts))
    as_admin = admin(district)
    for query in ({"limit": "0"}, {"limit": "201"}, {"limit": "ten"}, {"role": "administrator"}, {"status": "gone"}):
        answer = as_admin("GET", f"/districts/{district}/users", query=query)
        assert (answer.status, answer.body["error"]["code"]) == (422, "invalid_request"), query
    assert as_admin("GET", f"/districts/{district}/classes", query={"status": "deleted"}).status == 422


def test_cursors_are_bound_to_their_district_and_query(districts):
    (first, _first_data), (second, _) = list(districts.items())
    page = admin(first)("GET", f"/districts/{first}/users", query={"role": "student", "limit": "5"}).body
    cursor = page["nextCursor"]
    first_ids = {u["userId"] for u in page["users"]}

    def refused(answer):
        return answer.status == 400 and answer.body["error"]["code"] == "invalid_cursor"

    # Another district's admin replaying it on their own district.
    assert refused(admin(second)("GET", f"/districts/{second}/users", query={"role": "student", "cursor": cursor}))
    # Same district, another query.
    assert refused(admin(first)("GET", f"/districts/{first}/users", query={"role": "teacher", "cursor": cursor}))
    assert refused(admin(first)("GET", f"/districts/{first}/users", query={"cursor": cursor}))
    assert refused(admin(first)("GET", f"/districts/{first}/classes", query={"cursor": cursor}))
    # Tampered bytes, garbage, and a well-formed cursor whose key points into the other district.
    assert refused(admin(first)("GET", f"/districts/{first}/users", query={"role": "student", "cursor": cursor[:-4]}))
    assert refused(admin(first)("GET", f"/districts/{first}/users", query={"role": "student", "cursor": "!!!"}))
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for name, value in (("districtRole", f"{second}#student"), ("districtId", second)):
        forged = json.loads(json.dumps(payload))
        forged["k"][name] = value
        token = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        assert refused(admin(first)("GET", f"/districts/{first}/users", query={"role": "student", "cursor": token}))
    # A forged position inside the caller's own district is only a position: own data, no error.
    forged = json.loads(json.dumps(payload))
    forged["k"]["userId"] = "0"
    token = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    moved = admin(first)("GET", f"/districts/{first}/users", query={"role": "student", "cursor": token, "limit": "200"})
    assert moved.status == 200
    assert {u["sisSourcedId"] for u in moved.body["users"]} == {f"student-{n}" for n in range(32)}
    assert first_ids <= {u["userId"] for u in moved.body["users"]}


def test_a_district_sees_only_its_own_roster(districts):
    (first, _first_data), (second, second_data) = list(districts.items())
    mine, _ = walk(admin(first), f"/districts/{first}/users", {"status": "all", "limit": "200"}, "users")
    theirs = {u.user_id for u in second_data["users"].values()}
    assert mine and not ({u["userId"] for u in mine} & theirs)
    # Another district's path, or another district's class under one's own path.
    assert call("GET", f"/districts/{second}/users", district=first).status == 403
    assert call("GET", f"/districts/{second}/classes", district=first).status == 403
    foreign_class = second_data["rostered"].class_id
    assert admin(first)("GET", f"/districts/{first}/classes/{foreign_class}/roster").status == 404
    assert call("GET", f"/districts/{first}/users", role="teacher", district=first).status == 403


def test_a_sparse_filter_answers_in_bounded_reads_and_still_finds_everything(districts, monkeypatch):
    from rostersync.store import roster_queries

    district = next(iter(districts))
    # Read at most 10 items per request: the 8 inactive students among 40 come over several pages.
    monkeypatch.setattr(roster_queries, "MAX_EVALUATED", 10)
    gone, pages = walk(
        admin(district),
        f"/districts/{district}/users",
        {"status": "inactive", "role": "student", "limit": "50"},
        "users",
    )
    assert pages >= 4
    assert sorted(u["sisSourcedId"] for u in gone) == sorted(f"student-{n}" for n in range(32, 40))
