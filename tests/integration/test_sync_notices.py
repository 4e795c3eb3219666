"""Nothing a sync leaves out is silent (issue 25), against the sandbox SIS and the embedded AWS:
a district whose SIS's school year has ended, synced for the first time and again after the
year ends; the counts by reason add up; notices apart from errors."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rostersync.store import run_records
from rostersync.sync.engine import Outcome
from rostersync.sync.notices import date_in_words
from tests.fixtures.count_checks import run_listed, sis_listed
from tests.fixtures.roster_oracle import DISTRICT_ZONE
from tests.integration.test_sync_engine import stored_state, sync


def yesterday() -> str:
    return (datetime.now(ZoneInfo(DISTRICT_ZONE)).date() - timedelta(days=1)).isoformat()


def classes_over(data: dict) -> int:
    """Active classes of active schools whose every term is over (the oracle's rule)."""
    today = datetime.now(ZoneInfo(DISTRICT_ZONE)).date().isoformat()
    ends = {s["sourcedId"]: s.get("endDate") for s in data["academicSessions"]}
    schools = {o["sourcedId"] for o in data["orgs"] if o.get("type") == "school" and o.get("status") == "active"}
    return sum(
        1
        for c in data["classes"]
        if c.get("status") == "active"
        and c["school"]["sourcedId"] in schools
        and c.get("terms")
        and all(ends.get(t["sourcedId"]) and ends[t["sourcedId"]] < today for t in c["terms"])
    )


def test_a_first_sync_after_the_year_ended_says_why_it_brought_nothing(sandbox_sis, connected_district):
    ended = sandbox_sis.end_year()
    assert ended["endedOn"] == yesterday()
    data = sandbox_sis.state()["data"]
    district = connected_district(sandbox_sis)
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    counts = result.counts
    # Nothing came in, and every record the SIS lists is counted as left out, with its reason.
    for record_type in ("teachers", "students", "classes", "enrollments"):
        assert counts[record_type]["created"] == 0, record_type
    assert run_listed(counts) == sis_listed(data)
    assert counts["classes"]["skippedBy"]["term_ended"] == classes_over(data) > 0
    assert counts["enrollments"]["skippedBy"]["term_ended"] > 0
    assert counts["students"]["skippedBy"]["term_ended"] > 0
    assert counts["teachers"]["skippedBy"]["term_ended"] > 0
    # Notices are not errors: the run has none, and says prominently why it is empty.
    assert result.error_total == 0 and result.errors == []
    warning = [n for n in result.notices if n["severity"] == "warning"]
    assert [n["code"] for n in warning] == ["no_current_term"]
    listed_classes = len(data["classes"])
    over = classes_over(data)
    which = "all belong" if over == listed_classes else f"{over} belong"
    message = warning[0]["message"]
    assert message.startswith(f"The SIS lists {listed_classes} classes; {which} to terms that ended")
    assert date_in_words(ended["endedOn"]) in message
    assert message.endswith("Nothing will sync until the SIS's new school year is set up.")
    assert warning[0]["counts"] == {"listed": listed_classes, "termEnded": over, "active": 0}
    assert stored_state(district)["classes"] == set()


def test_a_later_sync_after_the_year_ends_ends_the_classes_without_an_error(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    first = sync(district)
    assert first.outcome == Outcome.SUCCEEDED and first.notices == []  # a school year under way: nothing to say
    active_before = stored_state(district)
    sandbox_sis.end_year()
    result = sync(district)
    # Every class leaves, yet the run is not held (their terms are over) nor counted as failing.
    assert result.outcome == Outcome.SUCCEEDED, (result.failure, result.held_deactivations)
    assert result.error_total == 0 and result.errors == []
    codes = {n["code"]: n for n in result.notices}
    assert set(codes) == {"school_year_ended", "no_current_term"}
    assert codes["school_year_ended"]["counts"]["classes"] == len(active_before["classes"])
    assert codes["no_current_term"]["severity"] == "warning"
    assert result.counts["classes"]["deactivated"] == len(active_before["classes"])
    assert result.counts["classes"]["skippedBy"]["term_ended"] == len(active_before["classes"])
    assert stored_state(district)["classes"] == set()


def test_a_delta_counts_what_it_read(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = {c: {r["sourcedId"]: r for r in rs} for c, rs in sandbox_sis.state()["data"].items()}
    sandbox_sis.advance_day()  # a school day's changes: new, changed and dropped records
    data = sandbox_sis.state()["data"]
    result = sync(district, mode="delta")
    assert result.outcome == Outcome.SUCCEEDED and result.mode == "delta", result.failure

    def changed(collection: str) -> int:
        return sum(1 for r in data[collection] if before[collection].get(r["sourcedId"]) != r)

    counts = result.counts
    listed = run_listed(counts)
    # Schools are read whole in a delta; classes and enrollments as changed since the last sync.
    assert listed["schools"] == sis_listed(data)["schools"]
    assert listed["classes"] == changed("classes")
    assert listed["enrollments"] == changed("enrollments")
    assert listed["users"] >= changed("users")  # and the users its enrollments name, fetched one by one


def test_a_preview_counts_add_up_too(sandbox_sis, connected_district):
    from rostersync.aws_clients import dynamodb

    sandbox_sis.end_year()
    data = sandbox_sis.state()["data"]
    district = connected_district(sandbox_sis)
    run_id = "run_preview_000001"
    run_records.put_proposal(dynamodb(), district, run_id, {"schools": None, "grades": None, "subjects": None})
    result = sync(district, mode="preview", run_id=run_id)
    assert result.outcome == Outcome.SUCCEEDED and result.mode == "preview", result.failure
    assert run_listed(result.counts) == sis_listed(data)
    assert result.counts["classes"]["skippedBy"]["term_ended"] == classes_over(data)
    assert [n["code"] for n in result.notices] == ["no_current_term"]
