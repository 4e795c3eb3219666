"""What people and programs hear, through the real sync worker handler against moto and the
sandbox SIS: each kind of night produces exactly one event of each kind it should and one
message to the district's contacts (however often the message is delivered), the connection's
health moves and recovers, and every event matches its documented schema."""

import functools
import json
from types import SimpleNamespace

import jsonschema
import pytest

from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_worker import FakeContext, sqs_event

CONTACTS = ["it-office@district.example.org", "Roster.Admin@District.Example.org"]


@pytest.fixture
def domain(clean_aws, monkeypatch):
    return alerts_domain(clean_aws, monkeypatch)


def alerts_domain(clean_aws, monkeypatch):
    from rostersync.notify import notifications
    from rostersync.oneroster import client as oneroster_client
    from rostersync.oneroster.retries import RetryPolicy
    from rostersync.store import sync_runs as store
    from rostersync.store.districts import DistrictModel
    from rostersync.sync import run_lifecycle, worker
    from rostersync_tools.local import event_sink

    # The worker's client waits less between its (real) retries.
    monkeypatch.setattr(
        oneroster_client, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0.01, max_delay=0.05)
    )
    monkeypatch.setenv("SYNC_MAX_RECEIVE_COUNT", "5")
    return SimpleNamespace(
        aws=clean_aws,
        store=store,
        lifecycle=run_lifecycle,
        worker=worker,
        notifications=notifications,
        event_sink=event_sink,
        districts=DistrictModel,
    )


@pytest.fixture
def district(domain, make_sandbox_sis, connected_district):
    return alerts_district(domain, make_sandbox_sis, connected_district)


def alerts_district(domain, make_sandbox_sis, connected_district):
    sis = make_sandbox_sis(students=60, teachers=6, classes=12, enrollments=300, schools=3)
    district_id = connected_district(sis)
    domain.districts(district_id).update(actions=[domain.districts.contacts.set(CONTACTS)])
    return SimpleNamespace(id=district_id, sis=sis)


def kept(domain, district_id: str) -> dict[str, list[dict]]:
    """The events put for the district, by detail type, oldest first; each checked against its schema."""
    from rostersync.notify.schemas import SCHEMAS

    found: dict[str, list[dict]] = {}
    for event in domain.event_sink.kept_events(domain.aws.client("logs")):
        assert event["source"] == "rostersync"
        detail = event["detail"]
        jsonschema.validate(detail, SCHEMAS[event["detail-type"]], format_checker=jsonschema.FormatChecker())
        if detail["districtId"] == district_id:
            found.setdefault(event["detail-type"], []).append(detail)
    return found


def kinds(found: dict) -> dict[str, int]:
    return {k: len(v) for k, v in found.items()}


def outbox(domain, district_id: str) -> list:
    return sorted(domain.notifications.recent(district_id), key=lambda n: n.created_at)


def deliver(domain, message: dict, receives: int = 1, message_id: str = "msg-1") -> dict:
    return domain.worker.handle_batch(sqs_event((message_id, message, receives)), FakeContext(900))


def run_to_end(domain, district_id: str, trigger: str = "manual", mode: str = "full"):
    run = domain.lifecycle.start_run(district_id, trigger, mode)
    pending = [{"districtId": district_id, "runId": run.run_id, "action": "run"}]
    while pending:
        assert deliver(domain, pending.pop()) == {"batchItemFailures": []}
        pending = drain(domain)
    return domain.store.get_run(district_id, run.run_id)


def health(domain, district_id: str):
    return domain.store.get_district(district_id).connection


def test_a_good_night_tells_the_app_what_changed_and_nobody_is_emailed(domain, district):
    run = run_to_end(domain, district.id)
    assert run.status == "succeeded"
    found = kept(domain, district.id)
    assert set(found) == {"Sync Succeeded", "Roster Changed"}
    assert len(found["Sync Succeeded"]) == 1 and found["Sync Succeeded"][0]["runId"] == run.run_id
    assert found["Sync Succeeded"][0]["counts"]["students"]["created"] == run.counts["students"]["created"]
    # Roster Changed: every record the run wrote, once, in chunks numbered 1..total, the last one saying so.
    chunks = found["Roster Changed"]
    assert [c["sequence"] for c in chunks] == list(range(1, len(chunks) + 1))
    assert [c["last"] for c in chunks] == [False] * (len(chunks) - 1) + [True] and chunks[-1]["total"] == len(chunks)
    changes = [change for c in chunks for change in c["changes"]]
    assert len({(c["type"], c["id"]) for c in changes}) == len(changes)
    by_type = {t: sum(1 for c in changes if c["type"] == t) for t in ("school", "user", "class", "enrollment")}
    counts = run.counts
    assert by_type["user"] == counts["teachers"]["created"] + counts["students"]["created"]
    assert by_type["class"] == counts["classes"]["created"]
    assert by_type["enrollment"] == counts["enrollments"]["created"]
    assert by_type["school"] == counts["schools"]["created"]
    assert {c["change"] for c in changes} == {"created"}  # a first sync creates everything
    assert outbox(domain, district.id) == []
    connection = health(domain, district.id)
    assert connection.health == "ok" and connection.last_ok_at is not None and connection.last_error is None

    # A night without changes: one Sync Succeeded more, no Roster Changed.
    assert run_to_end(domain, district.id).status == "succeeded"
    assert kinds(kept(domain, district.id)) == {"Sync Succeeded": 2, "Roster Changed": len(chunks)}

    # A day of SIS changes: each record says whether the night created, updated or deactivated it.
    district.sis.advance_day()
    night = run_to_end(domain, district.id)
    changed = [
        change
        for c in kept(domain, district.id)["Roster Changed"]
        if c["runId"] == night.run_id
        for change in c["changes"]
    ]
    for kind, types in (("user", ("teachers", "students")), ("class", ("classes",)), ("enrollment", ("enrollments",))):
        for verb in ("created", "updated", "deactivated"):
            said = sum(1 for c in changed if c["type"] == kind and c["change"] == verb)
            assert said == sum(night.counts[t][verb] for t in types), (kind, verb)
    assert any(c["change"] == "updated" for c in changed)


def test_roster_changed_is_chunked_under_the_entry_size(domain, district, monkeypatch):
    from rostersync.notify import events, roster_changes

    monkeypatch.setattr(roster_changes, "CHUNK_BYTES", 2_000)  # a few dozen changes a chunk
    run = run_to_end(domain, district.id)
    chunks = kept(domain, district.id)["Roster Changed"]
    assert len(chunks) > 5
    assert all(len(json.dumps(c).encode()) < events.MAX_DETAIL_BYTES for c in chunks)
    assert {c["runId"] for c in chunks} == {run.run_id} and chunks[-1]["total"] == len(chunks)
    assert sum(len(c["changes"]) for c in chunks) == sum(
        run.counts[t]["created"] for t in ("schools", "teachers", "students", "classes", "enrollments")
    )


def test_rejected_credentials_fail_the_run_at_once_mark_the_connection_and_tell_the_contacts_once(domain, district):
    assert run_to_end(domain, district.id).status == "succeeded"
    district.sis.set_quirks(revoke_credentials=True)

    tonight = domain.notifications.night_of(domain.store.get_district(district.id))
    run = domain.lifecycle.start_run(district.id, "nightly", "full", night=tonight)
    message = {"districtId": district.id, "runId": run.run_id, "action": "run"}
    # No retry: the message is acknowledged (nothing for SQS to redeliver or dead-letter).
    assert deliver(domain, message) == {"batchItemFailures": []}
    assert drain(domain) == []
    failed = domain.store.get_run(district.id, run.run_id)
    assert failed.status == "failed" and int(failed.invocations) == 1 and failed.dead_lettered_at is None
    connection = health(domain, district.id)
    assert connection.health == "credentials_rejected"
    assert (
        "client id and secret" in connection.last_error
        and district.sis.config.client_secret not in connection.last_error
    )

    # The same message delivered again, and another failing run the same night: no second message.
    assert deliver(domain, message, receives=2, message_id="msg-2") == {"batchItemFailures": []}
    again = domain.lifecycle.start_run(district.id, "manual", "full")
    assert deliver(domain, {"districtId": district.id, "runId": again.run_id, "action": "run"}) == {
        "batchItemFailures": []
    }

    found = kept(domain, district.id)
    assert [e["runId"] for e in found["Sync Failed"]] == [run.run_id, again.run_id]
    assert found["Sync Failed"][0]["deadLettered"] is False
    assert len(found["Connection Unhealthy"]) == 1  # the health changed once
    unhealthy = found["Connection Unhealthy"][0]
    assert (unhealthy["health"], unhealthy["previousHealth"]) == ("credentials_rejected", "ok")
    messages = outbox(domain, district.id)
    assert [(m.kind, m.night, m.status) for m in messages] == [("connection_unhealthy", tonight, "sent")]
    assert list(messages[0].recipients) == CONTACTS
    assert (
        "step 2" in messages[0].body and district.sis.config.client_secret not in messages[0].body + messages[0].subject
    )

    # Working credentials again: the next successful run restores the connection, once.
    district.sis.set_quirks(revoke_credentials=False)
    assert run_to_end(domain, district.id).status == "succeeded"
    found = kept(domain, district.id)
    assert len(found["Connection Restored"]) == 1
    assert found["Connection Restored"][0]["previousHealth"] == "credentials_rejected"
    connection = health(domain, district.id)
    assert (
        connection.health == "ok"
        and connection.last_error is None
        and connection.last_ok_at >= connection.last_checked_at
    )
    assert len(outbox(domain, district.id)) == 1


def test_a_lasting_sis_failure_is_retried_then_told_once_as_a_failed_night(domain, district, capsys):
    assert run_to_end(domain, district.id).status == "succeeded"
    district.sis.inject("500", count=100_000, path="/classes")
    tonight = domain.notifications.night_of(domain.store.get_district(district.id))
    run = domain.lifecycle.start_run(district.id, "nightly", "full", night=tonight)
    message = {"districtId": district.id, "runId": run.run_id, "action": "run"}
    for receive in range(1, 6):  # SQS redelivers until maxReceiveCount (5), then dead-letters
        answer = deliver(domain, message, receives=receive, message_id="msg-1")
        assert answer == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
        if receive == 1:
            assert health(domain, district.id).health == "sis_error"
    failed = domain.store.get_run(district.id, run.run_id)
    assert failed.status == "failed" and failed.dead_lettered_at is not None

    found = kept(domain, district.id)
    assert kinds(found) == {
        "Sync Succeeded": 1,
        "Roster Changed": kinds(found)["Roster Changed"],
        "Connection Unhealthy": 1,
        "Sync Failed": 1,
    }
    assert found["Sync Failed"][0]["deadLettered"] is True and found["Sync Failed"][0]["runId"] == run.run_id
    assert found["Connection Unhealthy"][0]["health"] == "sis_error"
    messages = outbox(domain, district.id)
    assert [(m.kind, m.night, m.run_id) for m in messages] == [("sync_failed", tonight, run.run_id)]
    assert "Nothing was deactivated" in messages[0].body
    # The alarm's metric, as the worker emits it (namespace, name and dimensions: template.yaml's SyncFailuresAlarm).
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    failures = [m for m in emitted if "SyncFailures" in m]
    assert failures and all(
        m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "RosterSync"
        and m["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
        and m["service"] == "rostersync"
        for m in failures
    )

    district.sis.clear_faults()
    assert run_to_end(domain, district.id).status == "succeeded"
    assert len(kept(domain, district.id)["Connection Restored"]) == 1


def test_a_held_run_is_told_once_and_its_approval_announces_only_the_deactivations(domain, district):
    from rostersync.store.districts import DistrictModel
    from rostersync.store.schools import SchoolModel

    first = run_to_end(domain, district.id)
    assert first.status == "succeeded"
    schools = sorted(s.sis_sourced_id for s in SchoolModel.query(district.id))
    DistrictModel(district.id).update(actions=[DistrictModel.sync_config.schools.set(schools[:1])])
    held = run_to_end(domain, district.id, trigger="nightly")
    assert held.status == "needs_review"

    found = kept(domain, district.id)
    assert len(found["Sync Held For Review"]) == 1
    event = found["Sync Held For Review"][0]
    assert event["runId"] == held.run_id and event["heldDeactivations"]
    assert event["approvePath"] == f"/districts/{district.id}/syncs/{held.run_id}/approve"
    messages = outbox(domain, district.id)
    assert [m.kind for m in messages] == ["sync_held"] and held.run_id in messages[0].body
    chunks_before = len(found.get("Roster Changed", []))

    domain.lifecycle.approve_run(district.id, held.run_id)  # what POST .../approve does before it sends:
    pending = [{"districtId": district.id, "runId": held.run_id, "action": "approve"}]
    while pending:
        assert deliver(domain, pending.pop(), message_id="approve") == {"batchItemFailures": []}
        pending = drain(domain)
    approved = domain.store.get_run(district.id, held.run_id)
    assert approved.status == "succeeded"
    found = kept(domain, district.id)
    approval = [c for c in found["Roster Changed"][chunks_before:] if c["changeSet"] == "approval"]
    changes = [c for chunk in approval for c in chunk["changes"]]
    assert changes and all(c["change"] == "deactivated" for c in changes)
    deactivated = sum(
        approved.counts[t]["deactivated"] for t in ("schools", "teachers", "students", "classes", "enrollments")
    )
    assert len(changes) == deactivated
    assert len(found["Sync Held For Review"]) == 1 and len(found["Sync Succeeded"]) == 2
    assert len(outbox(domain, district.id)) == 1


def _wrong_path(domain, district):
    from rostersync.store.districts import DistrictModel

    DistrictModel(district.id).update(
        actions=[DistrictModel.connection.host_url.set(district.sis.host_url + "/no-such-vendor")]
    )


def _lose_the_lock(domain, district):
    from rostersync.store.districts import DistrictModel

    DistrictModel(district.id).update(
        actions=[DistrictModel.active_run_id.remove(), DistrictModel.lock_expires_at.remove()]
    )


@pytest.mark.parametrize(
    "break_it, health_event, message_kind",
    [
        (_wrong_path, "not_oneroster", "connection_unhealthy"),
        (_lose_the_lock, None, "sync_failed"),
    ],
    ids=["not_oneroster", "lost_lock"],
)
def test_each_other_failure_kind_is_one_event_of_each_kind_and_one_message(
    domain, district, break_it, health_event, message_kind
):
    assert run_to_end(domain, district.id).status == "succeeded"
    before = kinds(kept(domain, district.id))
    run = domain.lifecycle.start_run(district.id, "manual", "full")
    break_it(domain, district)
    message = {"districtId": district.id, "runId": run.run_id, "action": "run"}
    assert deliver(domain, message) == {"batchItemFailures": []}
    assert deliver(domain, message, receives=2, message_id="msg-2") == {"batchItemFailures": []}  # a duplicate
    assert domain.store.get_run(district.id, run.run_id).status == "failed"
    found = kept(domain, district.id)
    new = {k: v - before.get(k, 0) for k, v in kinds(found).items() if v - before.get(k, 0)}
    assert new == ({"Sync Failed": 1, "Connection Unhealthy": 1} if health_event else {"Sync Failed": 1})
    if health_event:
        assert found["Connection Unhealthy"][-1]["health"] == health_event
        assert health(domain, district.id).health == health_event
    assert [m.kind for m in outbox(domain, district.id)] == [message_kind]
