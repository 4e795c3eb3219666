"""Issue 13: a district's existing app accounts and classes are linked, not duplicated.

The sandbox SIS's raw data is the oracle: which SIS users and classes are in comes from
tests/fixtures/roster_oracle.py; which app record each one must be linked to (or be in
conflict with) is decided here from the values the test registered, independently of the
engine's matching code.
"""

from datetime import UTC

import pytest

from rostersync.aws_clients import dynamodb as dynamodb_client
from rostersync.ids import record_id
from rostersync.store import app_records, matching_conflicts
from rostersync.store.record_links import RecordLinks
from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel
from rostersync.sync.engine import Outcome
from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_sync_engine import sync


def _active_by_sis(items):
    return {i.sis_sourced_id for i in items if i.status == "active" and i.sis_sourced_id}


def assert_oracle(district_id, expected):
    users = list(UserModel.query(district_id))
    assert _active_by_sis(u for u in users if u.role == "teacher") == expected["teachers"]
    assert _active_by_sis(u for u in users if u.role == "student") == expected["students"]
    assert _active_by_sis(ClassModel.query(district_id)) == expected["classes"]
    assert _active_by_sis(EnrollmentModel.query(district_id)) == expected["enrollments"]
    # No SIS record twice among the active ones.
    active_sids = [u.sis_sourced_id for u in users if u.status == "active" and u.sis_sourced_id]
    assert len(active_sids) == len(set(active_sids))


def _users_by_sid(district_id):
    return {u.sis_sourced_id: u for u in UserModel.query(district_id) if u.sis_sourced_id and u.status == "active"}


def _enrollment_user_ids(district_id, sis_user):
    return {
        e.user_id for e in EnrollmentModel.query(district_id) if e.user_sourced_id == sis_user and e.status == "active"
    }


@pytest.fixture
def matched_district(sandbox_sis, connected_district):
    """A district whose app already has accounts: some match one SIS user each, some are ambiguous."""
    raw = sandbox_sis.state()
    expected = expected_roster(raw)
    users = {u["sourcedId"]: u for u in raw["data"]["users"]}
    teachers = sorted(expected["teachers"])
    students = sorted(s for s in expected["students"] if users[s].get("email"))
    district = connected_district(sandbox_sis)
    t_email, t_role, s_ident, s_user, s_two = teachers[0], teachers[1], students[0], students[1], students[2]
    app_users = [
        # the same teacher, email written differently
        {"userId": "app-t-email", "role": "teacher", "email": "  " + users[t_email]["email"].upper() + " "},
        # the same student, by the state identifier (and another email, which does not matter)
        {
            "userId": "app-s-ident",
            "role": "student",
            "identifier": users[s_ident]["identifier"],
            "email": "someone-else@example.org",
        },
        # the same student by username
        {"userId": "app-s-user", "role": "student", "username": users[s_user]["username"].upper()},
        # two app students share one SIS student's email: a conflict
        {"userId": "app-s-two-a", "role": "student", "email": users[s_two]["email"]},
        {"userId": "app-s-two-b", "role": "student", "email": users[s_two]["email"]},
        # a teacher in the SIS, a student in the app: a conflict
        {"userId": "app-t-role", "role": "student", "email": users[t_role]["email"]},
        # nobody in the SIS: stays as it is
        {"userId": "app-lonely", "role": "student", "email": "lonely@example.org", "givenName": "Lonely"},
    ]
    app_records.register_users(district, app_users)
    return {
        "district": district,
        "raw": raw,
        "expected": expected,
        "t_email": t_email,
        "t_role": t_role,
        "s_ident": s_ident,
        "s_user": s_user,
        "s_two": s_two,
    }


def test_unique_matches_link_and_conflicts_are_created_separately_and_reported(matched_district):
    m = matched_district
    district = m["district"]
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert_oracle(district, m["expected"])
    by_sid = _users_by_sid(district)
    for sid, app_id in ((m["t_email"], "app-t-email"), (m["s_ident"], "app-s-ident"), (m["s_user"], "app-s-user")):
        linked = by_sid[sid]
        assert linked.user_id == app_id and linked.origin == "app"  # the app's id kept
        assert _enrollment_user_ids(district, sid) == {app_id}  # the SIS's enrollments point at it
        assert UserModel.count(district, UserModel.user_id == record_id(district, "user", sid)) == 0  # no duplicate
    # The SIS's data now: the linked teacher's fields come from the SIS.
    sis_teacher = next(u for u in m["raw"]["data"]["users"] if u["sourcedId"] == m["t_email"])
    assert by_sid[m["t_email"]].family_name == sis_teacher["familyName"]
    # Conflicts: created under the SIS id, reported on the run in words, open for the admin.
    for sid in (m["s_two"], m["t_role"]):
        assert by_sid[sid].user_id == record_id(district, "user", sid) and by_sid[sid].origin is None
    reported = {e["sisSourcedId"]: e for e in result.notices if e["code"] == "match_conflict"}
    assert set(reported) == {m["s_two"], m["t_role"]}
    assert "app-s-two-a" in reported[m["s_two"]]["message"] and "app-s-two-b" in reported[m["s_two"]]["message"]
    assert "teacher in the SIS but a student in the app" in reported[m["t_role"]]["message"]
    conflicts, _ = matching_conflicts.list_conflicts(district, 50, None)
    assert {(c["sisSourcedId"], c["reason"]) for c in conflicts} == {
        (m["s_two"], "two_candidates"),
        (m["t_role"], "role_mismatch"),
    }
    two = next(c for c in conflicts if c["sisSourcedId"] == m["s_two"])
    assert {c["userId"] for c in two["candidates"]} == {"app-s-two-a", "app-s-two-b"}
    assert two["sisRecord"]["role"] == "student"
    # The app's own records are untouched and not deactivated.
    lonely = UserModel.get(district, "app-lonely")
    assert (lonely.status, lonely.sis_sourced_id, lonely.given_name) == ("active", None, "Lonely")
    for app_id in ("app-s-two-a", "app-s-two-b", "app-t-role"):
        assert UserModel.get(district, app_id).status == "active"
    # Counts: the linked users are updates of existing records, never creations.
    created = result.counts["teachers"]["created"] + result.counts["students"]["created"]
    assert created == len(m["expected"]["teachers"]) + len(m["expected"]["students"]) - 3
    # The next night changes nothing and reports nothing again.
    again = sync(district)
    assert again.outcome == Outcome.SUCCEEDED
    for record_type, kinds in again.counts.items():
        assert kinds["created"] == kinds["updated"] == kinds["deactivated"] == 0, (record_type, kinds)
    assert not [e for e in again.notices if e["code"] == "match_conflict"]


def test_an_admins_resolution_is_honoured_by_the_next_sync(matched_district):
    m = matched_district
    district = m["district"]
    assert sync(district).outcome == Outcome.SUCCEEDED
    separate_copy = record_id(district, "user", m["s_two"])
    with pytest.raises(matching_conflicts.ResolutionRefused) as refused:
        matching_conflicts.resolve(district, "user", m["t_role"], "link", "app-t-role")
    assert refused.value.code == "role_mismatch"
    matching_conflicts.resolve(district, "user", m["s_two"], "link", "app-s-two-b")
    matching_conflicts.resolve(district, "user", m["t_role"], "separate", None)
    assert matching_conflicts.list_conflicts(district, 50, None)[0] == []
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert_oracle(district, m["expected"])
    by_sid = _users_by_sid(district)
    assert by_sid[m["s_two"]].user_id == "app-s-two-b"
    assert _enrollment_user_ids(district, m["s_two"]) == {"app-s-two-b"}
    assert UserModel.get(district, separate_copy).status == "inactive"  # the separate copy went
    assert UserModel.get(district, "app-s-two-a").status == "active"  # the other candidate is untouched
    assert by_sid[m["t_role"]].user_id == record_id(district, "user", m["t_role"])
    assert result.counts["students"]["deactivated"] == 1
    again = sync(district)
    for record_type, kinds in again.counts.items():
        assert kinds["created"] == kinds["updated"] == kinds["deactivated"] == 0, (record_type, kinds)


def test_a_resolved_link_also_holds_in_a_delta_sync(matched_district):
    m = matched_district
    district = m["district"]
    assert sync(district).outcome == Outcome.SUCCEEDED
    delta = sync(district, mode="delta")
    assert delta.outcome == Outcome.SUCCEEDED and delta.mode == "delta"
    assert_oracle(district, m["expected"])
    assert _users_by_sid(district)[m["t_email"]].user_id == "app-t-email"


def test_app_classes_link_by_class_code_in_the_same_school(sandbox_sis, connected_district):
    raw = sandbox_sis.state()
    expected = expected_roster(raw)
    classes = sorted(
        (c for c in raw["data"]["classes"] if c["sourcedId"] in expected["classes"] and c.get("classCode")),
        key=lambda c: c["sourcedId"],
    )
    district = connected_district(sandbox_sis)
    # The SIS schools become schools of origin sis under record_id: an app class names that id.

    def school_of(c):
        return record_id(district, "school", c["school"]["sourcedId"])

    from datetime import datetime

    from rostersync.store.schools import SchoolModel

    for c in classes[:2]:
        SchoolModel(
            district,
            school_of(c),
            name="S",
            origin="app",
            status="active",
            created_at=datetime.now(UTC),
            sis_sourced_id=c["school"]["sourcedId"],
        ).save() if SchoolModel.count(district, SchoolModel.school_id == school_of(c)) == 0 else None
    app_records.register_classes(
        district,
        [
            {
                "classId": "app-class-1",
                "title": "Whatever",
                "schoolId": school_of(classes[0]),
                "classCode": classes[0]["classCode"].lower(),
            },
        ],
    )
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert_oracle(district, expected)
    linked = ClassModel.get(district, "app-class-1")
    assert linked.sis_sourced_id == classes[0]["sourcedId"] and linked.title == classes[0]["title"]
    assert {e.class_id for e in EnrollmentModel.query(district) if e.class_sourced_id == classes[0]["sourcedId"]} == {
        "app-class-1"
    }


def test_a_preview_says_what_matching_would_do_and_writes_nothing(clean_aws, matched_district):
    """Through the API and the worker: POST sync-config/preview, then GET syncs/{runId}/matching."""
    from types import SimpleNamespace

    from rostersync.store import sync_runs as store
    from rostersync.sync import worker
    from tests.integration.test_review import Admin, config_body, work

    m = matched_district
    district = m["district"]
    domain = SimpleNamespace(aws=clean_aws, store=store, worker=worker)
    admin = Admin(district)
    started = admin("POST", "/sync-config/preview", body=config_body())
    assert started.status == 202, started.body
    work(domain)
    run_id = started.body["runId"]
    links = RecordLinks(dynamodb_client(), district)
    assert not any(page for page in links.query_prefix("sis#"))  # no link written
    assert not any(page for page in links.query_prefix("conflict#"))
    assert UserModel.get(district, "app-t-email").sis_sourced_id is None  # nothing linked
    answer = admin("GET", f"/syncs/{run_id}/matching", query={"limit": "2"})
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["mode"] == "preview" and body["status"] == "succeeded"
    assert body["counts"]["teachers"] == {
        "linked": 1,
        "conflicts": 1,
        "rekeyed": 0,
        "created": len(m["expected"]["teachers"]) - 1,
    }
    assert body["counts"]["students"] == {
        "linked": 2,
        "conflicts": 1,
        "rekeyed": 0,
        "created": len(m["expected"]["students"]) - 2,
    }
    records = body["records"]
    while body["nextCursor"]:
        body = admin("GET", f"/syncs/{run_id}/matching", query={"limit": "2", "cursor": body["nextCursor"]}).body
        records += body["records"]
    found = {(r["sisSourcedId"], r["result"]) for r in records}
    assert found == {
        (m["t_email"], "linked"),
        (m["s_ident"], "linked"),
        (m["s_user"], "linked"),
        (m["s_two"], "conflict"),
        (m["t_role"], "conflict"),
    }
    two = next(r for r in records if r["sisSourcedId"] == m["s_two"])
    assert {c["userId"] for c in two["candidates"]} == {"app-s-two-a", "app-s-two-b"}  # both sides
    assert two["sisRecord"]["role"] == "student"
    # The real sync does what the preview said.
    run = admin.sync(domain)
    assert run["status"] == "succeeded"
    assert {e["sisSourcedId"] for e in run["notices"] if e["code"] == "match_conflict"} == {m["s_two"], m["t_role"]}
    real = admin("GET", f"/syncs/{run['runId']}/matching").body
    assert real["counts"]["students"]["linked"] == 2 and real["counts"]["teachers"]["linked"] == 1
    conflicts = admin("GET", "/matching/conflicts").body["conflicts"]
    assert {c["sisSourcedId"] for c in conflicts} == {m["s_two"], m["t_role"]}
    resolved = admin(
        "POST",
        "/matching/resolutions",
        body={"type": "user", "sisSourcedId": m["s_two"], "action": "link", "appId": "app-s-two-a"},
    )
    assert resolved.status == 200, resolved.body
    assert resolved.body["itemId"] == "app-s-two-a"
    assert admin("GET", "/audit").body["entries"][0]["action"] == "matching.resolve"


def test_a_district_without_app_records_or_links_never_reads_them(sandbox_sis, connected_district, monkeypatch):
    """The district item (read anyway) says there is nothing to match or follow: no extra reads."""

    def refuse(*args, **kwargs):
        raise AssertionError("RecordLinksTable read for a district that has nothing there")

    for name in ("get_many", "get", "query_prefix", "any_with_prefix"):
        monkeypatch.setattr(RecordLinks, name, refuse)
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    sandbox_sis.advance_day()
    assert sync(district).outcome == Outcome.SUCCEEDED
    assert sync(district, mode="delta").outcome == Outcome.SUCCEEDED
