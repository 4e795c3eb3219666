"""Academic sessions in a sync (sync/terms.py) and the school-year rollover, against the sandbox
SIS and the embedded AWS: the sessions stored, classes carrying their terms, a quiet night
writing nothing, and a rollover (each way an SIS leaves last year's classes) ending exactly
what the oracle says, without holding the run as an unexplained loss."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rostersync.ids import record_id
from rostersync.store.roster import ClassModel, EnrollmentModel
from rostersync.store.schools import SchoolModel
from rostersync.store.terms import TermModel, terms_at
from rostersync.sync.engine import Outcome
from tests.fixtures.roster_oracle import DISTRICT_ZONE, expected_roster
from tests.integration.test_sync_engine import assert_matches, stored_state, sync


def today() -> date:
    return datetime.now(ZoneInfo(DISTRICT_ZONE)).date()


def stored_terms(district_id: str) -> dict[str, TermModel]:
    return {t.sis_sourced_id: t for t in TermModel.query(district_id)}


def test_sessions_are_stored_with_their_schools_and_classes_carry_their_terms(sandbox_sis, connected_district):
    raw = sandbox_sis.state()["data"]
    district = connected_district(sandbox_sis)
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    terms = stored_terms(district)
    sessions = {s["sourcedId"]: s for s in raw["academicSessions"]}
    assert set(terms) == set(sessions)
    schools = {s.sis_sourced_id: s.school_id for s in SchoolModel.query(district)}
    for sid, term in terms.items():
        session = sessions[sid]
        assert (term.term_id, term.title, term.type, term.start_date, term.end_date, term.status) == (
            record_id(district, "term", sid),
            session["title"],
            session["type"],
            session["startDate"],
            session["endDate"],
            "active",
        )
        parent = (session.get("parent") or {}).get("sourcedId")
        assert term.parent_id == (record_id(district, "term", parent) if parent else None)
        # Every school has classes in both semesters: each session is every school's.
        assert sorted(term.school_ids) == sorted(schools.values()), sid
    classes = {c["sourcedId"]: c for c in raw["classes"]}
    for item in ClassModel.query(district):
        assert item.term_ids == [
            record_id(district, "term", t["sourcedId"]) for t in classes[item.sis_sourced_id]["terms"]
        ]
    enrollments = {e["sourcedId"]: e for e in raw["enrollments"]}
    for item in EnrollmentModel.query(district):
        assert (item.begin_date, item.end_date) == (
            enrollments[item.sis_sourced_id]["beginDate"],
            enrollments[item.sis_sourced_id]["endDate"],
        )
    # A second night with nothing changed writes no session.
    written = {sid: t.updated_at for sid, t in terms.items()}
    assert sync(district).outcome == Outcome.SUCCEEDED
    assert {sid: t.updated_at for sid, t in stored_terms(district).items()} == written


def test_a_session_the_sis_drops_goes_inactive_and_one_tobedeleted_too(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    store = sandbox_sis.app.store
    quarter = next(s for s in store.records("academicSessions") if s["type"] == "gradingPeriod")
    fall = store.get("academicSessions", store.plan.term_ids[0])
    store.delete("academicSessions", quarter["sourcedId"])
    store.put("academicSessions", dict(fall, status="tobedeleted", dateLastModified="2030-01-01T00:00:00.000Z"))
    assert sync(district).outcome == Outcome.SUCCEEDED
    terms = stored_terms(district)
    assert terms[quarter["sourcedId"]].status == "inactive"
    assert terms[fall["sourcedId"]].status == "inactive"
    assert {t.status for sid, t in terms.items() if sid not in (quarter["sourcedId"], fall["sourcedId"])} == {"active"}


@pytest.mark.parametrize("old_classes", ["keep", "tobedeleted", "delete"])
def test_a_school_year_rollover_ends_last_years_classes_and_syncs_the_new_ones(
    sandbox_sis, connected_district, old_classes
):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = stored_state(district)
    rolled = sandbox_sis.rollover(old_classes)
    assert rolled["classesCreated"] == rolled["oldClassesAffected"] > 0
    raw = sandbox_sis.state()
    result = sync(district)
    # Every class leaves, yet the run is not held: their terms are over (the guard's exception).
    assert result.outcome == Outcome.SUCCEEDED, (result.failure, result.held_deactivations)
    expected = expected_roster(raw)
    state = assert_matches(district, expected)
    new_classes = {
        c["sourcedId"] for c in raw["data"]["classes"] if {t["sourcedId"] for t in c["terms"]} <= set(rolled["terms"])
    }
    # The oracle ends every one of last year's classes; each synced one has its successor.
    assert expected["classes"] <= new_classes and len(expected["classes"]) == len(before["classes"])
    for sid in before["classes"]:  # never erased: inactive under the same id
        assert state["all_classes"][sid].status == "inactive"
    for sid in before["enrollments"]:
        assert state["all_enrollments"][sid].status == "inactive"
    assert state["teachers"] == before["teachers"] and state["students"] == before["students"]
    assert result.counts["classes"]["deactivated"] == len(before["classes"])
    assert result.counts["classes"]["created"] == len(expected["classes"])
    # A healthy rollover is news, not an error: its notice apart, errorTotal 0.
    notice = [n for n in result.notices if n["code"] == "school_year_ended"]
    assert notice and "classes" in notice[0]["message"] and notice[0]["counts"]["classes"] == len(before["classes"])
    assert result.error_total == 0 and result.errors == []
    if old_classes == "keep":  # still listed: left out because their terms are over
        assert result.counts["classes"]["skippedBy"]["term_ended"] == len(before["classes"])
    # The new year's terms are the school's current ones.
    terms = stored_terms(district)
    fall = terms[rolled["terms"][0]]
    assert fall.start_date == today().isoformat() and fall.school_ids
    running, upcoming = terms_at(district, today(), fall.school_ids[0], ("term", "semester"))
    assert [t.sis_sourced_id for t in running] == [rolled["terms"][0]]
    assert upcoming.sis_sourced_id == rolled["terms"][1]
    old_year = terms[sorted(s for s in terms if s.startswith("as-"))[0]]
    assert old_year.end_date == (today() - timedelta(days=1)).isoformat()


def test_a_delta_after_a_term_ended_continues_as_a_full_sync(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    sandbox_sis.rollover("keep")  # the old year's terms end yesterday; its classes did not change
    result = sync(district, mode="delta")
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.mode == "full"
    assert_matches(district, expected_roster(sandbox_sis.state()))


def test_a_real_loss_at_rollover_is_still_held_and_says_which_classes_ended(sandbox_sis, connected_district):
    """Classes that end with their terms are expected; half the students vanishing is not."""
    import boto3

    from rostersync.store import run_records

    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = stored_state(district)
    sandbox_sis.rollover("keep")
    sandbox_sis.app.withdraw("student", 0.5)  # an export that lost half the students
    result = sync(district)
    assert result.outcome == Outcome.NEEDS_REVIEW
    assert result.held_deactivations["students"] > 20
    assert result.held_deactivations["classes"] == len(before["classes"])  # last year's, every one
    assert any(n["code"] == "school_year_ended" for n in result.notices)
    records, _ = run_records.list_records(boto3.client("dynamodb"), district, result.run_id, "held#classes#", 1000)
    assert {r["sisSourcedId"] for r in records} == before["classes"]
    assert {r["reason"] for r in records} == {"term_ended"}
    approved = sync(district, approve=True, run_id=result.run_id)
    assert approved.outcome == Outcome.SUCCEEDED, approved.failure
    assert_matches(district, expected_roster(sandbox_sis.state()))
