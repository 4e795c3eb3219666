"""The sync engine against the sandbox SIS and the embedded AWS: exact end states.

Every expectation comes from tests/fixtures/roster_oracle.py, computed from the SIS's raw
data; the engine's results are read back from the store.
"""

import itertools
from datetime import UTC

from rostersync.ids import record_id
from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel
from rostersync.store.schools import SchoolModel
from rostersync.sync.engine import Outcome, SyncRequest, run_sync
from tests.fixtures.count_checks import SANDBOX_OF, assert_counts_add_up
from tests.fixtures.roster_oracle import expected_roster

_run_numbers = itertools.count(1)


def sync(district_id, mode="full", time_left=lambda: 1e9, approve=False, run_id=None):
    """Run one sync to its end, continuing as the worker would while the engine asks to."""
    run_id = run_id or f"run_{next(_run_numbers):06d}"
    invocations = 0
    sis = SANDBOX_OF.get(district_id)
    before = sis.state()["data"] if sis is not None and mode in ("full", "preview") and not approve else None
    while True:
        invocations += 1
        result = run_sync(SyncRequest(district_id, run_id, mode=mode, approve=approve), time_left)
        if result.outcome != Outcome.CONTINUE:
            result.invocations = invocations
            result.run_id = run_id
            # Every run's counts add up; a full run's to what the SIS lists (when it did not change meanwhile).
            listed_check = before is not None and result.outcome in (Outcome.SUCCEEDED, Outcome.NEEDS_REVIEW)
            listed_check = listed_check and result.mode in ("full", "preview") and sis.state()["data"] == before
            assert_counts_add_up(result.counts, before if listed_check else None)
            return result


def stored_state(district_id):
    users = list(UserModel.query(district_id))
    classes = list(ClassModel.query(district_id))
    enrollments = list(EnrollmentModel.query(district_id))
    active = lambda items: {i.sis_sourced_id for i in items if i.status == "active"}  # noqa: E731
    return {
        "teachers": active(u for u in users if u.role == "teacher"),
        "students": active(u for u in users if u.role == "student"),
        "classes": active(classes),
        "enrollments": active(enrollments),
        "all_users": {u.sis_sourced_id: u for u in users},
        "all_classes": {c.sis_sourced_id: c for c in classes},
        "all_enrollments": {e.sis_sourced_id: e for e in enrollments},
    }


def assert_matches(district_id, expected):
    state = stored_state(district_id)
    for kind in ("teachers", "students", "classes", "enrollments"):
        assert state[kind] == expected[kind], (
            f"{kind}: missing {sorted(expected[kind] - state[kind])[:5]}, "
            f"extra {sorted(state[kind] - expected[kind])[:5]}"
        )
    return state


def test_first_full_sync_with_filters_gives_exactly_the_expected_records(sandbox_sis, connected_district):
    raw = sandbox_sis.state()
    schools = sorted({o["sourcedId"] for o in raw["data"]["orgs"] if o.get("type") == "school"})[:2]
    grades = sorted({g for c in raw["data"]["classes"] for g in c.get("grades") or []})[:6]
    district = connected_district(sandbox_sis, schools=schools, grades=grades)
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    expected = expected_roster(raw, schools=schools, grades=grades)
    assert expected["classes"] and expected["students"]  # the filter leaves something to check
    state = assert_matches(district, expected)
    counts = result.counts
    assert counts["students"]["created"] == len(expected["students"])
    assert counts["enrollments"]["created"] == len(expected["enrollments"])
    # Every enrollment item points at the user and class ids the contract exposes.
    for sourced_id, (user, klass, role) in expected["rosters"].items():
        item = state["all_enrollments"][sourced_id]
        assert (item.user_id, item.class_id, item.role) == (
            record_id(district, "user", user),
            record_id(district, "class", klass),
            role,
        )
    # Selected SIS schools became app schools; classes point at them.
    schools_by_sis = {s.sis_sourced_id: s.school_id for s in SchoolModel.query(district)}
    assert set(schools_by_sis) == set(schools)
    for klass in state["all_classes"].values():
        assert klass.school_id in schools_by_sis.values()


def test_second_night_with_changes_hard_deletes_and_tobedeleted(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    ids_before = {sid: u.user_id for sid, u in stored_state(district)["all_users"].items()}
    changes = sandbox_sis.advance_day()["changes"]
    assert changes
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    raw = sandbox_sis.state()
    state = assert_matches(district, expected_roster(raw))
    present = {u["sourcedId"] for u in raw["data"]["users"]}
    hard_deleted = [sid for sid in ids_before if sid not in present]
    assert hard_deleted, "the sandbox's day 2 hard-deletes some users"
    for sid in hard_deleted:  # never erased: inactive under the same id
        assert state["all_users"][sid].status == "inactive"
        assert state["all_users"][sid].user_id == ids_before[sid]
    assert result.counts["students"]["deactivated"] >= len(
        [s for s in hard_deleted if state["all_users"][s].role == "student"]
    )
    changed_teachers = {u["sourcedId"]: u for u in raw["data"]["users"] if u["role"] == "teacher"}
    for sid, user in state["all_users"].items():
        if sid in changed_teachers and user.status == "active":
            assert user.email == changed_teachers[sid].get("email")
            assert user.family_name == changed_teachers[sid].get("familyName")


def test_a_night_without_changes_writes_no_roster_items(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = {
        k: {sid: i.updated_at for sid, i in v.items()}
        for k, v in stored_state(district).items()
        if k.startswith("all_")
    }
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED
    for record_type, kinds in result.counts.items():
        assert kinds["created"] == kinds["updated"] == kinds["deactivated"] == 0, (record_type, kinds)
    after = {
        k: {sid: i.updated_at for sid, i in v.items()}
        for k, v in stored_state(district).items()
        if k.startswith("all_")
    }
    assert after == before


def test_a_sync_that_would_deactivate_too_much_waits_for_approval(sandbox_sis, connected_district):
    raw = sandbox_sis.state()
    schools = sorted({o["sourcedId"] for o in raw["data"]["orgs"] if o.get("type") == "school"})
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    everything = stored_state(district)
    # Narrow the selection to one school: most users and classes fall out.
    from rostersync.store.districts import DistrictModel

    record = DistrictModel.get(district)
    record.sync_config.schools = schools[:1]
    record.save()
    result = sync(district)
    assert result.outcome == Outcome.NEEDS_REVIEW
    assert result.held_deactivations["students"] > 20
    assert stored_state(district)["students"] == everything["students"]  # nothing deactivated yet
    approved = sync(district, approve=True, run_id=result.run_id)
    assert approved.outcome == Outcome.SUCCEEDED, approved.failure
    state = assert_matches(district, expected_roster(raw, schools=schools[:1]))
    gone = everything["students"] - state["students"]
    assert gone and all(state["all_users"][sid].status == "inactive" for sid in gone)


def test_a_run_continued_across_time_limited_invocations_ends_like_one_run(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    from rostersync.sync import engine

    original = engine.Tuning.from_env
    engine.Tuning.from_env = classmethod(lambda cls: engine.Tuning(page_limit=50, sis_in_flight=2))
    try:
        result = sync(district, time_left=lambda: 0)  # out of time after every page
    finally:
        engine.Tuning.from_env = original
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.invocations > 10
    assert_matches(district, expected_roster(sandbox_sis.state()))


def test_a_failed_read_deactivates_nothing(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = stored_state(district)
    sandbox_sis.advance_day()
    sandbox_sis.set_quirks(revoke_credentials=True)
    result = sync(district)
    assert result.outcome == Outcome.FAILED
    assert "refused" in result.failure
    after = stored_state(district)
    for kind in ("teachers", "students", "classes", "enrollments"):
        assert after[kind] == before[kind]


def present_ids(raw):
    data = raw["data"]
    return {
        "users": {u["sourcedId"] for u in data["users"]},
        "enrollments": {e["sourcedId"] for e in data["enrollments"]},
        "classes": {c["sourcedId"] for c in data["classes"]},
    }


def test_a_delta_night_applies_changes_and_the_next_full_sync_catches_hard_deletes(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    sandbox_sis.advance_day()
    sandbox_sis.reset_stats()
    result = sync(district, mode="delta")
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.mode == "delta"
    raw = sandbox_sis.state()
    expected, state, present = expected_roster(raw), stored_state(district), present_ids(raw)
    for kind, ids in (
        ("teachers", "users"),
        ("students", "users"),
        ("classes", "classes"),
        ("enrollments", "enrollments"),
    ):
        assert expected[kind] <= state[kind], (
            f"{kind} missing after the delta: {sorted(expected[kind] - state[kind])[:5]}"
        )
        # Only hard-deleted records may linger: a delta cannot see them.
        lingering = state[kind] - expected[kind]
        assert lingering <= (state[kind] - present[ids]), (
            f"{kind}: {sorted(lingering - (state[kind] - present[ids]))[:5]}"
        )
    full = sync(district, mode="full")
    assert full.outcome == Outcome.SUCCEEDED
    assert_matches(district, expected)


def test_a_delta_night_without_changes_writes_nothing_and_reads_little(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    sandbox_sis.reset_stats()
    result = sync(district, mode="delta")
    assert result.outcome == Outcome.SUCCEEDED and result.mode == "delta"
    for record_type, kinds in result.counts.items():
        assert kinds["created"] == kinds["updated"] == kinds["deactivated"] == 0, (record_type, kinds)
    by_path = sandbox_sis.stats()["byPath"]
    assert by_path.get("/enrollments", 0) == 1 and by_path.get("/users", 0) == 1  # one empty page each


def test_a_delta_on_a_server_that_ignores_filters_becomes_a_full_sync(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    sandbox_sis.advance_day()
    sandbox_sis.set_quirks(ignore_filters=True)
    result = sync(district, mode="delta")
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.mode == "full"
    assert_matches(district, expected_roster(sandbox_sis.state()))


def test_a_full_sync_refreshes_the_sync_options_cache(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    from rostersync.store.districts import DistrictModel

    options = DistrictModel.get(district).sync_options
    data = sandbox_sis.state()["data"]
    courses = {c["sourcedId"]: c for c in data["courses"]}
    classes = [c for c in data["classes"] if c["status"] == "active"]
    active_courses = [c for c in data["courses"] if c["status"] == "active"]
    grades = {g for c in classes + active_courses for g in c.get("grades") or []}
    subjects = {s for c in active_courses for s in c.get("subjects") or []}
    for c in classes:
        subjects.update(c.get("subjects") or courses.get(c["course"]["sourcedId"], {}).get("subjects") or [])
    assert set(options.grades) == grades and set(options.subjects) == subjects
    assert {s.sis_sourced_id for s in options.schools} == {
        o["sourcedId"] for o in data["orgs"] if o["type"] == "school" and o["status"] == "active"
    }


def test_matching_a_school_after_a_sync_created_it_moves_its_classes_and_retires_the_copy(
    sandbox_sis, connected_district
):
    from datetime import datetime

    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    created = {s.sis_sourced_id: s for s in SchoolModel.query(district)}
    sis_school = sorted(created)[0]
    existing = SchoolModel(
        district_id=district,
        school_id="sch_existing",
        name="Existing",
        origin="app",
        sis_sourced_id=sis_school,
        created_at=datetime.now(UTC),
    )
    existing.save()
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert SchoolModel.get(district, created[sis_school].school_id).status == "inactive"
    classes = stored_state(district)["all_classes"].values()
    raw_school = {c["sourcedId"]: c["school"]["sourcedId"] for c in sandbox_sis.state()["data"]["classes"]}
    moved = [c for c in classes if raw_school[c.sis_sourced_id] == sis_school and c.status == "active"]
    assert moved and all(c.school_id == "sch_existing" for c in moved)
