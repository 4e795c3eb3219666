"""Issue 13: an SIS that changes its sourcedIds (a migration, a vendor change) leaves every app id
as it was. The sandbox's POST /_admin/rekey re-keys a share of the district; the oracle
(tests/fixtures/roster_oracle.py, from the SIS's raw data) says what must be active afterwards,
and the ids the app relies on are compared record by record with those before the change."""

import requests

from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel
from rostersync.sync.engine import Outcome
from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_account_matching import assert_oracle
from tests.integration.test_sync_engine import sync


def _ids(district):
    """sourcedId -> app id of every active user, class and enrollment."""
    return {
        "users": {u.sis_sourced_id: u.user_id for u in UserModel.query(district) if u.status == "active"},
        "classes": {c.sis_sourced_id: c.class_id for c in ClassModel.query(district) if c.status == "active"},
        "enrollments": {
            e.sis_sourced_id: e.enrollment_id for e in EnrollmentModel.query(district) if e.status == "active"
        },
    }


def _rekey(sis, **body):
    answer = requests.post(f"{sis.host_url}/_admin/rekey", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _no_change(result):
    for record_type, kinds in result.counts.items():
        assert kinds["created"] == kinds["updated"] == kinds["deactivated"] == 0, (record_type, kinds)


def test_a_fully_rekeyed_sis_leaves_every_app_id_unchanged(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = _ids(district)
    _rekey(sandbox_sis, share=1.0, prefix="v2-")
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, (result.outcome, result.failure, result.held_deactivations)
    raw = sandbox_sis.state()
    assert_oracle(district, expected_roster(raw))
    after = _ids(district)
    for kind in ("users", "classes", "enrollments"):
        assert {"v2-" + sid: item_id for sid, item_id in before[kind].items()} == after[kind], kind
    for record_type, kinds in result.counts.items():
        assert kinds["created"] == kinds["deactivated"] == 0, (record_type, kinds)
    said = {e["type"]: e["message"] for e in result.notices if e["code"] == "rekeyed"}
    students = len(before["users"]) - len([s for s in before["users"] if s.startswith("tch")])
    assert said["students"].startswith(f"{students:,} students changed their SIS ids")
    assert said["enrollments"].endswith("0 could not be paired.")
    _no_change(sync(district))  # and the night after writes nothing


def test_a_partial_rekey_with_real_departures(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis, guard_max_share=1.0, guard_min_records=100000)
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = _ids(district)
    moved = _rekey(sandbox_sis, role="student", share=0.3)
    # Some students who were not re-keyed really leave (the first in the SIS's order).
    gone = requests.post(
        f"{sandbox_sis.host_url}/_admin/withdraw", json={"role": "student", "share": 0.1}, timeout=10
    ).json()
    assert moved["users"] and gone["removed"]
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    raw = sandbox_sis.state()
    assert_oracle(district, expected_roster(raw))
    after = _ids(district)
    present = {u["sourcedId"] for u in raw["data"]["users"]}
    for sid, user_id in before["users"].items():
        if "rk-" + sid in present:
            assert after["users"].get("rk-" + sid) == user_id  # re-keyed: same app id
        elif sid in present:
            assert after["users"].get(sid, user_id) == user_id  # untouched
        else:
            assert UserModel.get(district, user_id).status == "inactive"  # left: inactive, never re-used
    for sid, enrollment_id in before["enrollments"].items():
        if "rk-" + sid in after["enrollments"]:
            assert after["enrollments"]["rk-" + sid] == enrollment_id
    assert result.counts["students"]["created"] == 0
    rekeyed = next(e["message"] for e in result.notices if e["code"] == "rekeyed" and e["type"] == "students")
    assert rekeyed.startswith(f"{moved['users']:,} students changed their SIS ids")


def test_the_guard_says_when_a_held_run_was_mostly_a_rekey(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis, guard_max_share=0.2, guard_min_records=5)
    assert sync(district).outcome == Outcome.SUCCEEDED
    _rekey(sandbox_sis, role="student", share=0.5)
    requests.post(f"{sandbox_sis.host_url}/_admin/withdraw", json={"role": "student", "share": 0.3}, timeout=10)
    result = sync(district)
    assert result.outcome == Outcome.NEEDS_REVIEW
    said = next(e["message"] for e in result.notices if e["code"] == "rekeyed" and e["type"] == "students")
    assert "students changed their SIS ids" in said
    assert said.endswith(f"{result.held_deactivations['students']:,} could not be paired.")


def test_a_delta_that_meets_a_rekey_continues_as_a_full_sync(sandbox_sis, connected_district):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    before = _ids(district)
    _rekey(sandbox_sis, role="teacher", share=1.0)
    result = sync(district, mode="delta")
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.mode == "full"
    assert_oracle(district, expected_roster(sandbox_sis.state()))
    after = _ids(district)
    teachers = {sid: uid for sid, uid in before["users"].items() if sid.startswith("tch")}
    assert {"rk-" + sid: uid for sid, uid in teachers.items()} == {
        s: u for s, u in after["users"].items() if s.startswith("rk-")
    }


def test_the_api_reports_a_runs_rekeyed_counts(clean_aws, sandbox_sis, connected_district):
    """Through the API and the worker: GET syncs/{runId} has the words, GET .../matching the counts."""
    from types import SimpleNamespace

    from rostersync.store import sync_runs as store
    from rostersync.sync import worker
    from tests.integration.test_review import Admin

    district = connected_district(sandbox_sis)
    domain = SimpleNamespace(aws=clean_aws, store=store, worker=worker)
    admin = Admin(district)
    assert admin.sync(domain)["status"] == "succeeded"
    before = _ids(district)
    _rekey(sandbox_sis, role="teacher", share=1.0)
    run = admin.sync(domain)
    assert run["status"] == "succeeded", run
    teachers = [sid for sid in before["users"] if sid.startswith("tch")]
    assert any(
        e["code"] == "rekeyed" and e["message"].startswith(f"{len(teachers)} teachers changed their SIS ids")
        for e in run["notices"]
    )
    matching = admin("GET", f"/syncs/{run['runId']}/matching").body
    assert matching["counts"]["teachers"]["rekeyed"] == len(teachers)
    assert matching["counts"]["teachers"]["created"] == 0
    assert matching["counts"]["enrollments"]["rekeyed"] > 0
