"""Issue 14 end to end on the embedded AWS and the sandbox SIS, through the API handler and the
sync worker: a held run record by record, approval in part, rejection over two nights, preview
then sync, the audit log, and a purge that leaves nothing of the district behind.

End states are checked against tests/fixtures/roster_oracle.py (computed from the SIS's raw data).
"""

import json
import os
from types import SimpleNamespace

import pytest

from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_sync_runs_api import call
from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_worker import FakeContext, sqs_event

DISTRICT = {"schools": 2, "students": 60, "teachers": 6, "classes": 12, "enrollments": 300}
KINDS = ("teachers", "students", "classes", "enrollments")


@pytest.fixture
def domain(clean_aws):
    from rostersync.store import sync_runs as store
    from rostersync.sync import worker

    return SimpleNamespace(aws=clean_aws, store=store, worker=worker)


def work(domain, limit: int = 200) -> int:
    """Feed the worker every queued message (and what it sends on) until the queue is empty."""
    deliveries = 0
    pending = drain(domain)
    while pending:
        assert deliveries < limit, "the queue never emptied"
        answer = domain.worker.handle_batch(sqs_event((f"msg-{deliveries}", pending.pop(0), 1)), FakeContext(900))
        assert answer == {"batchItemFailures": []}
        deliveries += 1
        pending += drain(domain)
    return deliveries


def active(district_id: str) -> dict[str, set[str]]:
    from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel

    users = list(UserModel.query(district_id))
    return {
        "teachers": {u.sis_sourced_id for u in users if u.role == "teacher" and u.status == "active"},
        "students": {u.sis_sourced_id for u in users if u.role == "student" and u.status == "active"},
        "classes": {c.sis_sourced_id for c in ClassModel.query(district_id) if c.status == "active"},
        "enrollments": {e.sis_sourced_id for e in EnrollmentModel.query(district_id) if e.status == "active"},
    }


def schools_of(sis) -> list[str]:
    return sorted(o["sourcedId"] for o in sis.state()["data"]["orgs"] if o.get("type") == "school")


def config_body(schools=None, **extra) -> dict:
    return {"schools": schools, "grades": None, "subjects": None, "startDate": "2026-01-01", "enabled": True, **extra}


class Admin:
    def __init__(self, district_id: str, sub: str = "admin-1"):
        self.district_id = district_id
        self.sub = sub

    def __call__(self, method: str, path: str, **kw):
        from rostersync.api.app import handle  # noqa: F401 - routes registered

        return call(method, f"/districts/{self.district_id}{path}", district=self.district_id, **kw)

    def sync(self, domain, mode: str = "full") -> dict:
        started = self("POST", "/syncs", body={"mode": mode})
        assert started.status == 202, started.body
        work(domain)
        return self("GET", f"/syncs/{started.body['runId']}").body

    def all_held(self, run_id: str, limit: int = 7) -> list[dict]:
        records, cursor = [], None
        while True:
            query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
            page = self("GET", f"/syncs/{run_id}/held", query=query)
            assert page.status == 200, page.body
            records += page.body["records"]
            cursor = page.body["nextCursor"]
            if cursor is None:
                return records


def held_by_type(records: list[dict]) -> dict[str, set[str]]:
    found = {kind: set() for kind in KINDS}
    for record in records:
        if record["type"] in found:
            found[record["type"]].add(record["sisSourcedId"])
    return found


def test_a_held_run_lists_every_record_and_an_approval_in_part_keeps_the_rest(
    domain, make_sandbox_sis, connected_district
):
    sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sis)
    admin = Admin(district)
    assert admin.sync(domain)["status"] == "succeeded"
    before = active(district)
    one_school = schools_of(sis)[:1]
    assert admin("PUT", "/sync-config", body=config_body(one_school)).status == 200

    held_run = admin.sync(domain)
    assert held_run["status"] == "needs_review"
    expected = expected_roster(sis.state(), schools=one_school)
    assert active(district) == before  # nothing deactivated yet

    records = admin.all_held(held_run["runId"])
    assert len(records) == len({r["recordId"] for r in records})  # pages neither repeat nor skip
    assert held_by_type(records) == {kind: before[kind] - expected[kind] for kind in KINDS}
    assert sum(held_run["heldDeactivations"].values()) == len(records)
    by_id = {r["recordId"]: r for r in records}
    students = sorted(r["recordId"] for r in records if r["type"] == "students")
    assert all(by_id[s]["reason"] == "no_class_in_selection" and by_id[s]["name"] for s in students)
    assert {r["reason"] for r in records if r["type"] == "classes"} == {"out_of_selection"}
    assert all(r["decision"] == "pending" for r in records)
    typed = admin("GET", f"/syncs/{held_run['runId']}/held", query={"type": "classes", "limit": "200"})
    assert {r["type"] for r in typed.body["records"]} == {"classes"}

    unknown = admin("POST", f"/syncs/{held_run['runId']}/approve", body={"recordIds": ["students:nope"]})
    assert unknown.status == 422 and unknown.body["error"]["code"] == "unknown_record"
    chosen = students[:3]
    approved = admin("POST", f"/syncs/{held_run['runId']}/approve", body={"recordIds": chosen})
    assert approved.status == 202, approved.body
    work(domain)
    done = admin("GET", f"/syncs/{held_run['runId']}").body
    assert done["status"] == "succeeded"
    assert done["review"]["decision"] == "approved_in_part" and done["review"]["by"] == "user-1"
    assert done["counts"]["students"]["deactivated"] == 3
    assert sum(c["deactivated"] for c in done["counts"].values()) == 3
    chosen_sids = {by_id[c]["sisSourcedId"] for c in chosen}
    now = active(district)
    assert now["students"] == before["students"] - chosen_sids  # the rest stay active
    for kind in ("teachers", "classes", "enrollments"):
        assert now[kind] == before[kind]
    decided = {r["recordId"]: r["decision"] for r in admin.all_held(held_run["runId"], limit=200)}
    assert {c for c, d in decided.items() if d == "approved"} == set(chosen)
    assert all(d == "kept" for c, d in decided.items() if c not in chosen)

    # The next night re-evaluates what was kept: a full sync (even when a delta is asked for)
    # holds it again; approving everything reaches the oracle's end state.
    again = admin.sync(domain, mode="delta")
    assert again["status"] == "needs_review" and again["mode"] == "full"
    assert held_by_type(admin.all_held(again["runId"], limit=200)) == {
        kind: now[kind] - expected[kind] for kind in KINDS
    }
    assert admin("POST", f"/syncs/{again['runId']}/approve").status == 202
    work(domain)
    assert admin("GET", f"/syncs/{again['runId']}").body["status"] == "succeeded"
    assert active(district) == {kind: expected[kind] for kind in KINDS}


def test_a_rejected_run_deactivates_nothing_and_later_nights_hold_every_deactivation(
    domain, make_sandbox_sis, connected_district
):
    from rostersync.store.districts import get_district

    sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sis)
    admin = Admin(district)
    assert admin.sync(domain)["status"] == "succeeded"
    before = active(district)
    assert admin("PUT", "/sync-config", body=config_body(schools_of(sis)[:1])).status == 200
    held_run = admin.sync(domain)
    assert held_run["status"] == "needs_review"

    rejected = admin("POST", f"/syncs/{held_run['runId']}/reject")
    assert rejected.status == 200, rejected.body
    assert rejected.body["status"] == "rejected" and rejected.body["review"]["decision"] == "rejected"
    assert active(district) == before
    assert admin("POST", f"/syncs/{held_run['runId']}/approve").status == 409
    assert admin("POST", f"/syncs/{held_run['runId']}/reject").status == 409
    assert all(r["decision"] == "kept" for r in admin.all_held(held_run["runId"], limit=200))
    assert get_district(district).deactivation_hold["runId"] == held_run["runId"]

    # Night two: the admin restores the selection and the SIS changes a little. Creations and
    # updates are applied; the few deactivations (far under the guard) wait for the admin.
    assert admin("PUT", "/sync-config", body=config_body(None)).status == 200
    sis.advance_day()
    raw = sis.state()
    expected = expected_roster(raw)
    night2 = admin.sync(domain, mode="delta")
    assert night2["status"] == "needs_review" and night2["mode"] == "full"
    assert 0 < sum(night2["heldDeactivations"].values()) < 20
    now = active(district)
    for kind in KINDS:
        assert expected[kind] <= now[kind], kind  # every creation applied
        assert now[kind] == expected[kind] | before[kind], kind  # nothing deactivated
    assert sum(night2["counts"][kind]["created"] for kind in KINDS) > 0
    assert held_by_type(admin.all_held(night2["runId"])) == {kind: now[kind] - expected[kind] for kind in KINDS}

    assert admin("POST", f"/syncs/{night2['runId']}/approve").status == 202
    work(domain)
    assert admin("GET", f"/syncs/{night2['runId']}").body["status"] == "succeeded"
    assert active(district) == {kind: expected[kind] for kind in KINDS}
    assert get_district(district).deactivation_hold is None  # the admin acted: the hold ends


def test_a_preview_writes_nothing_and_the_sync_after_it_does_exactly_what_it_said(
    domain, make_sandbox_sis, connected_district
):
    from rostersync.store.roster import UserModel

    sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sis)
    admin = Admin(district)
    assert admin.sync(domain)["status"] == "succeeded"
    sis.advance_day()  # creations, updates and hard deletes for the preview to find
    proposal = config_body(schools_of(sis)[:1], deactivationGuard={"maxShare": 1.0, "minRecords": 1000000})
    stamps = {u.user_id: u.updated_at for u in UserModel.query(district)}
    before = active(district)

    started = admin("POST", "/sync-config/preview", body=proposal)
    assert started.status == 202, started.body
    busy = admin("POST", "/syncs")
    assert busy.status == 409 and busy.body["error"]["runId"] == started.body["runId"]  # one run per district
    work(domain)
    run_id = started.body["runId"]
    run = admin("GET", f"/syncs/{run_id}").body
    assert run["status"] == "succeeded" and run["mode"] == "preview"
    assert {u.user_id: u.updated_at for u in UserModel.query(district)} == stamps  # no roster item written
    assert active(district) == before
    preview = admin("GET", f"/syncs/{run_id}/preview").body
    assert preview["proposal"]["schools"] == proposal["schools"]
    expected = expected_roster(sis.state(), schools=proposal["schools"])
    assert preview["counts"]["students"]["deactivated"] == len(before["students"] - expected["students"])
    samples = admin(
        "GET", f"/syncs/{run_id}/preview/records", query={"type": "students", "change": "deactivated", "limit": "10"}
    ).body
    assert len(samples["records"]) == 10 and samples["nextCursor"]
    assert all(r["name"] and r["change"] == "deactivated" for r in samples["records"])
    rest = admin(
        "GET",
        f"/syncs/{run_id}/preview/records",
        query={"type": "students", "change": "deactivated", "limit": "200", "cursor": samples["nextCursor"]},
    )
    listed = {r["sisSourcedId"] for r in samples["records"] + rest.body["records"]}
    assert listed == before["students"] - expected["students"]  # under the sample size: all of them

    assert admin("PUT", "/sync-config", body=proposal).status == 200
    synced = admin.sync(domain)
    assert synced["status"] == "succeeded"
    for kind, counts in preview["counts"].items():
        real = synced["counts"][kind]
        assert (counts["created"], counts["updated"], counts["kept"], counts["deactivated"]) == (
            real["created"],
            real["updated"],
            real["unchanged"],
            real["deactivated"],
        ), kind
    assert active(district) == {kind: expected[kind] for kind in KINDS}


def test_the_audit_records_who_changed_what_newest_first_and_never_a_secret(domain, sandbox_sis):
    from rostersync.store.districts import create_district

    district = create_district("Audited", "America/Chicago").district_id
    admin = Admin(district)
    secret = sandbox_sis.config.client_secret
    connected = admin(
        "PUT",
        "/sis/connection",
        body={"hostUrl": sandbox_sis.host_url, "clientId": sandbox_sis.config.client_id, "clientSecret": secret},
    )
    assert connected.status == 200, connected.body
    assert admin("PUT", "/sync-config", body=config_body(None, startDate="2027-01-01")).status == 200
    assert (
        admin("PUT", "/sync-config", body=config_body(schools_of(sandbox_sis)[:1], startDate="2027-01-01")).status
        == 200
    )
    started = admin("POST", "/syncs")
    assert started.status == 202
    drain(domain)
    assert admin("DELETE", "/sis/connection").status == 204

    pages, cursor = [], None
    while True:
        page = admin("GET", "/audit", query={"limit": "2"} | ({"cursor": cursor} if cursor else {}))
        assert page.status == 200, page.body
        pages.append(page.body["entries"])
        cursor = page.body["nextCursor"]
        if cursor is None:
            break
    entries = [entry for page in pages for entry in page]
    assert [e["action"] for e in entries] == [
        "connection.delete",
        "sync.start",
        "sync_config.update",
        "sync_config.update",
        "connection.update",
    ]
    assert [e["entryId"] for e in entries] == sorted((e["entryId"] for e in entries), reverse=True)
    assert all(e["by"] == {"sub": "user-1", "role": "district_admin"} for e in entries)
    assert entries[-1]["before"] is None and entries[-1]["after"]["clientId"] == sandbox_sis.config.client_id
    assert entries[2]["before"]["schools"] is None and entries[2]["after"]["schools"] == schools_of(sandbox_sis)[:1]
    assert entries[1]["target"] == started.body["runId"]
    assert secret not in json.dumps(entries)
    other = call("GET", f"/districts/{district}/audit", district="dst_someone_else")
    assert other.status == 403


def test_the_audit_of_a_replaced_secret_shows_its_version_change_and_never_the_secret(domain, sandbox_sis):
    from rostersync.store.districts import create_district

    district = create_district("Rotated", "America/Chicago").district_id
    admin = Admin(district)
    secret = sandbox_sis.config.client_secret
    body = {"hostUrl": sandbox_sis.host_url, "clientId": sandbox_sis.config.client_id, "clientSecret": secret}
    assert admin("PUT", "/sis/connection", body=body).status == 200
    assert admin("PUT", "/sis/connection", body=body).status == 200  # the same host and client: a new secret version
    entries = admin("GET", "/audit", query={"limit": "5"}).body["entries"]
    replaced, first = entries[0], entries[1]
    assert replaced["action"] == first["action"] == "connection.update"
    assert first["before"] is None and first["after"]["secretVersion"]
    assert replaced["before"]["secretVersion"] == first["after"]["secretVersion"]
    assert (
        replaced["after"]["secretVersion"] and replaced["after"]["secretVersion"] != replaced["before"]["secretVersion"]
    )
    assert {k: v for k, v in replaced["before"].items() if k != "secretVersion"} == {
        k: v for k, v in replaced["after"].items() if k != "secretVersion"
    }
    assert secret not in json.dumps(entries)


def test_a_purge_is_asked_for_confirmed_and_leaves_no_item_of_the_district(
    domain, make_sandbox_sis, connected_district, monkeypatch
):
    from rostersync_tools.local.template_resources import load_template, table_definitions

    sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sis)
    neighbour = connected_district(sis)
    admin = Admin(district)
    assert admin.sync(domain)["status"] == "succeeded"
    assert Admin(neighbour).sync(domain)["status"] == "succeeded"
    assert admin("PUT", "/sync-config", body=config_body(schools_of(sis)[:1])).status == 200
    assert admin.sync(domain)["status"] == "needs_review"  # held records and a checkpoint
    assert admin("POST", "/sync-config/preview", body=config_body(None)).status == 202
    work(domain)

    asked = admin("DELETE", "")
    assert asked.status == 202 and asked.body["status"] == "requested"
    assert admin("GET", "/syncs").status == 200  # asking erases nothing

    def platform(method, path="", **kw):
        return call(method, f"/districts/{district}{path}", role="platform_admin", **kw)

    bare = platform("DELETE")
    assert bare.status == 409 and bare.body["error"]["code"] == "confirmation_required"
    wrong = platform("DELETE", query={"confirm": neighbour})
    assert wrong.status == 409
    confirmed = platform("DELETE", query={"confirm": district})
    assert confirmed.status == 202 and confirmed.body["status"] == "queued"
    assert confirmed.body["requestedBy"]["role"] == "district_admin"
    assert admin("POST", "/syncs").status == 409  # no sync starts any more
    from rostersync.sync import purge

    # Every message runs short of time after one batch of deletes: the purge continues in new
    # messages (and a duplicate of one is harmless) until it is done.
    monkeypatch.setattr(purge, "MIN_SECONDS", 1e9)
    deliveries = work(domain, limit=400)
    assert deliveries > 5

    status = admin("GET", "/purge")
    assert status.status == 200 and status.body["status"] == "done", status.body
    assert admin("GET", "/syncs").status == 404
    dynamodb = domain.aws.client("dynamodb")
    left = []
    for table in table_definitions(load_template()):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            left += [(table, item) for item in page["Items"] if district in json.dumps(item)]
    assert [(t, i["action"]["S"]) for t, i in left] == [("AuditTable", "district.purged")]
    assert set(left[0][1]) <= {"districtId", "entryId", "action", "at", "bySub", "byRole", "after"}
    secret = domain.aws.client("secretsmanager").describe_secret(
        SecretId=os.environ["ROSTERSYNC_SECRET_PREFIX"] + district
    )
    assert "DeletedDate" in secret  # scheduled for deletion
    assert active(neighbour)["students"]  # the neighbour keeps everything
    assert Admin(neighbour)("GET", "/syncs").status == 200


def test_a_held_delta_lists_its_records_with_why(domain, make_sandbox_sis, connected_district):
    from rostersync.store.districts import DistrictModel

    sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sis)
    admin = Admin(district)
    assert admin.sync(domain)["status"] == "succeeded"
    before = active(district)
    # As after a rejection, but without forcing a full sync: every deactivation of the delta waits.
    DistrictModel(district).update(actions=[DistrictModel.deactivation_hold.set({"runId": "run_x", "by": "u"})])
    sis.advance_day()
    night = admin.sync(domain, mode="delta")
    assert night["mode"] == "delta" and night["status"] == "needs_review", night
    records = admin.all_held(night["runId"])
    expected = expected_roster(sis.state())
    held = held_by_type(records)
    assert any(held.values())
    for kind in KINDS:
        assert held[kind] <= before[kind] - expected[kind], kind  # only what really goes
    reasons = {r["reason"] for r in records}
    assert reasons <= {"out_of_selection", "disabled", "no_class_in_selection", "class_leaving", "user_leaving"}
    assert active(district)["students"] >= before["students"] & expected["students"]


def test_a_purge_fences_off_a_running_sync_and_erases_again_after_its_invocation_ends(
    domain, sandbox_sis, connected_district, monkeypatch
):
    from rostersync import aws_clients
    from rostersync.settings import get_settings
    from rostersync.store.districts import get_district
    from rostersync.sync import purge, run_lifecycle

    district = connected_district(sandbox_sis)
    run = run_lifecycle.start_run(district, "manual", "full")
    assert run_lifecycle.claim(run, "a-worker")  # a worker is on it right now
    claimed = domain.store.get_run(district, run.run_id)
    fence = run_lifecycle.fence(claimed)
    fence()  # its writes are let through while it holds the district
    drain(domain)
    confirmed = call("DELETE", f"/districts/{district}", role="platform_admin", query={"confirm": district})
    assert confirmed.status == 202
    purge_id = confirmed.body["purgeId"]
    with pytest.raises(run_lifecycle.LockLost):
        fence()  # a confirmed purge refuses the run's next write batch
    job = purge.Purge(district, purge_id, time_left=lambda: 900)
    assert job.run() == "waiting"  # a batch past its check may still land until the invocation ends
    assert domain.store.get_run(district, run.run_id) is None  # erased in the first pass already
    assert get_district(district) is not None and purge.tombstone(job.client, district) is None
    assert 0 < job.seconds_to_wait() <= purge.MAX_DELAY_SECONDS
    with pytest.raises(run_lifecycle.LockLost):
        fence()  # and the token has moved
    # A batch that passed its check before the purge lands now, after the first pass.
    late_user = {"districtId": {"S": district}, "userId": {"S": "usr_late_write"}}
    aws_clients.dynamodb().put_item(TableName=get_settings().users_table, Item=late_user)
    assert job.run() == "waiting"  # the invocation may still be writing: not done
    real_clock = run_lifecycle.clock
    monkeypatch.setattr(
        run_lifecycle, "clock", lambda: real_clock() + run_lifecycle.LEASE_SECONDS + 5
    )  # past the stopped run's lease, which outlasts its invocation
    assert job.run() == purge.DONE
    assert "Item" not in aws_clients.dynamodb().get_item(TableName=get_settings().users_table, Key=late_user)
    assert get_district(district) is None and domain.store.get_run(district, run.run_id) is None
    assert purge.Purge(district, purge_id, time_left=lambda: 900).run() == purge.DONE  # a duplicate: harmless
    other = purge.Purge(connected_district(sandbox_sis), "prg_not_confirmed", time_left=lambda: 900)
    assert other.run() == purge.DONE and get_district(other.district_id) is not None  # unconfirmed: ignored


def test_a_large_hold_is_listed_across_invocations(domain, make_sandbox_sis, connected_district, monkeypatch):
    from rostersync.aws_clients import dynamodb_for_batches as dynamodb_client
    from rostersync.store import run_records
    from rostersync.store.districts import DistrictModel
    from rostersync.sync import review
    from rostersync.sync.engine import Outcome, SyncRequest, run_sync

    sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sis)
    assert run_sync(SyncRequest(district, "run_first"), lambda: 1e9).outcome == Outcome.SUCCEEDED
    before = active(district)
    DistrictModel(district).update(actions=[DistrictModel.sync_config.schools.set(schools_of(sis)[:1])])
    monkeypatch.setattr(review, "HELD_CHUNK", 10)
    invocations = 0
    while True:  # each invocation is out of time after its first chunk (or page): no time is ever left
        invocations += 1
        result = run_sync(SyncRequest(district, "run_held"), lambda: 0)
        if result.outcome != Outcome.CONTINUE:
            break
    assert result.outcome == Outcome.NEEDS_REVIEW
    records, _ = run_records.list_records(dynamodb_client(), district, "run_held", "held#", 10_000)
    assert len(records) == len({r["recordId"] for r in records}) == sum(result.held_deactivations.values())
    expected = expected_roster(sis.state(), schools=schools_of(sis)[:1])
    assert held_by_type(records) == {kind: before[kind] - expected[kind] for kind in KINDS}
    assert invocations > sum(result.held_deactivations.values()) // 10  # it did pause between chunks


def test_items_of_a_purged_district_found_later_are_swept_and_the_tombstone_stays(
    domain, make_sandbox_sis, connected_district
):
    from rostersync import aws_clients
    from rostersync.settings import get_settings
    from rostersync.sync import purge

    sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sis)
    neighbour = connected_district(sis)
    assert Admin(neighbour).sync(domain)["status"] == "succeeded"
    confirmed = call("DELETE", f"/districts/{district}", role="platform_admin", query={"confirm": district})
    assert confirmed.status == 202
    work(domain)
    assert Admin(district)("GET", "/purge").body["status"] == "done"
    dynamodb, st = aws_clients.dynamodb(), get_settings()
    keep = purge.tombstone(dynamodb, district)
    assert keep is not None

    # Found later: a write that slipped, in three tables (and a neighbour's item beside them).
    planted = [
        (st.users_table, {"districtId": {"S": district}, "userId": {"S": "usr_slipped"}}),
        (st.enrollments_table, {"districtId": {"S": district}, "enrollmentId": {"S": "enr_slipped"}}),
        (st.sync_runs_table, {"districtId": {"S": district}, "runId": {"S": "run_slipped"}}),
    ]
    for table, item in planted:
        dynamodb.put_item(TableName=table, Item=item)
    assert purge.sweep_purged() == {district: len(planted)}
    for table, item in planted:
        assert "Item" not in dynamodb.get_item(TableName=table, Key=item, ConsistentRead=True), table
    # The daily sweep: the dispatcher's first tick of a UTC day queues it, the worker runs it.
    for table, item in planted:
        dynamodb.put_item(TableName=table, Item=item)
    from rostersync.sync.dispatch import dispatch_due_districts

    dispatch_due_districts("2026-12-07T00:00:00Z")
    assert work(domain) == 1
    for table, item in planted:
        assert "Item" not in dynamodb.get_item(TableName=table, Key=item, ConsistentRead=True), table
    assert purge.tombstone(dynamodb, district) == keep
    assert purge.sweep_purged() == {}  # nothing left to find
    assert active(neighbour)["students"]  # a live district is never swept
    assert neighbour not in purge.purged_districts()

    # A purge message delivered again after done (SQS at least once) sweeps the same way.
    dynamodb.put_item(TableName=st.users_table, Item=planted[0][1])
    assert purge.Purge(district, confirmed.body["purgeId"], time_left=lambda: 900).run() == purge.DONE
    assert "Item" not in dynamodb.get_item(TableName=st.users_table, Key=planted[0][1], ConsistentRead=True)
    assert purge.tombstone(dynamodb, district) == keep
