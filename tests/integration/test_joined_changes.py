"""Changes since on joined lists (store/joined_changes.py): a class's students and teachers, a
user's classes and a teacher's /me/classes follow the enrollments that make them, resumably."""

import time

from rostersync.ids import record_id
from rostersync.sync.engine import Outcome
from tests.integration.test_sync_engine import stored_state, sync
from tests.integration.test_sync_runs_api import admin, call


def follow(ask, path: str, key: str, cursor: str | None, limit: int = 3) -> tuple[list[dict], str]:
    """Every change available now from `cursor` (or the beginning), in pages; and where to resume."""
    items = []
    while True:
        query = {"limit": str(limit), **({"cursor": cursor} if cursor else {"updatedSince": "2000-01-01T00:00:00Z"})}
        answer = ask("GET", path, query=query)
        assert answer.status == 200, answer.body
        items += answer.body[key]
        cursor = answer.body["changesCursor"]
        if answer.body["nextCursor"] is None:
            return items, cursor


def test_a_class_roster_and_a_users_classes_are_followed_by_their_enrollments(
    sandbox_sis, connected_district, monkeypatch
):
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    raw = sandbox_sis.state()["data"]
    state = stored_state(district)
    enrollment = next(
        e for e in raw["enrollments"] if e["role"] == "student" and e["sourcedId"] in state["enrollments"]
    )
    class_sid, student_sid = enrollment["class"]["sourcedId"], enrollment["user"]["sourcedId"]
    class_id, student_id = record_id(district, "class", class_sid), record_id(district, "user", student_sid)
    ask = admin(district)
    students_path = f"/districts/{district}/classes/{class_id}/students"
    first, cursor = follow(ask, students_path, "users", None)
    members = {
        e["user"]["sourcedId"]
        for e in raw["enrollments"]
        if e["class"]["sourcedId"] == class_sid and e["role"] == "student" and e["sourcedId"] in state["enrollments"]
    }
    assert {u["sisSourcedId"] for u in first} == members
    assert all(u["membership"]["status"] == "active" and u["membership"]["role"] == "student" for u in first)
    classes_path = f"/districts/{district}/users/{student_id}/classes"
    mine, classes_cursor = follow(ask, classes_path, "classes", None)
    assert class_sid in {c["sisSourcedId"] for c in mine}
    # Nothing changed: resuming answers nothing.
    assert follow(ask, students_path, "users", cursor)[0] == []
    # The SIS withdraws the student from that class: one change on each list, the membership inactive.
    time.sleep(0.01)
    store = sandbox_sis.app.store
    store.put(
        "enrollments",
        dict(
            store.get("enrollments", enrollment["sourcedId"]),
            status="tobedeleted",
            dateLastModified="2030-01-01T00:00:00.000Z",
        ),
    )
    assert sync(district).outcome == Outcome.SUCCEEDED
    changed, _ = follow(ask, students_path, "users", cursor)
    assert [(u["sisSourcedId"], u["status"], u["membership"]["status"]) for u in changed] == [
        (student_sid, "active", "inactive")
    ]
    changed, _ = follow(ask, classes_path, "classes", classes_cursor)
    assert [(c["sisSourcedId"], c["membership"]["status"]) for c in changed] == [(class_sid, "inactive")]
    # Plain reads carry no membership, and a change cursor of one list is refused by another.
    plain = ask("GET", students_path).body["users"]
    assert plain and all("membership" not in u for u in plain)
    other = ask("GET", f"/districts/{district}/classes/{class_id}/teachers", query={"cursor": cursor})
    assert other.status == 400 and other.body["error"]["code"] == "invalid_cursor"


def test_a_teacher_follows_their_own_classes(sandbox_sis, connected_district, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    raw = sandbox_sis.state()["data"]
    state = stored_state(district)
    teaching = [e for e in raw["enrollments"] if e["role"] == "teacher" and e["sourcedId"] in state["enrollments"]]
    teacher_sid = teaching[0]["user"]["sourcedId"]
    expected = {e["class"]["sourcedId"] for e in teaching if e["user"]["sourcedId"] == teacher_sid}

    def ask(method, path, **kw):
        return call(
            method,
            path,
            role="teacher",
            district=district,
            claims_extra={"custom:sis_sourced_id": teacher_sid},
            **kw,
        )

    classes, cursor = follow(ask, "/me/classes", "classes", None)
    assert {c["sisSourcedId"] for c in classes} == expected
    assert follow(ask, "/me/classes", "classes", cursor)[0] == []
