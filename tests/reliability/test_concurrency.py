"""Concurrency: a manual and a nightly sync of one district at the same moment, a dispatcher
run twice (one after the other, and at once), the same SQS message delivered twice (at once,
after the run finished, twice in one batch): always one run, one result, the right end state.

The real Lambda handlers (functions/*/app.py) with events built from events/*.json, on the
embedded AWS; the SIS is the sandbox.
"""

import copy
import json
import os
import threading
import uuid
from pathlib import Path

from rostersync_tools.local.functions import LambdaContext, load_handler
from tests.fixtures.districts import connect_district
from tests.fixtures.roster_oracle import expected_roster
from tests.reliability import figures
from tests.reliability.helpers import TINY, active, assert_like_oracle, stored
from tests.unit.api.handler_client import claims, make_event

EVENTS = Path(__file__).resolve().parents[2] / "events"


def scheduled_event(instant: str) -> dict:
    event = json.loads((EVENTS / "dispatcher_scheduled.json").read_text())
    event["time"] = instant
    event["id"] = str(uuid.uuid4())
    return event


def sqs_event(*messages: tuple[str, dict, int]) -> dict:
    """An SQS batch event in events/sync_worker_batch.json's shape: (messageId, body, receive count)."""
    template = json.loads((EVENTS / "sync_worker_batch.json").read_text())["Records"][0]
    records = []
    for message_id, body, receive_count in messages:
        record = copy.deepcopy(template)
        record["messageId"] = message_id
        record["receiptHandle"] = f"handle-{uuid.uuid4()}"
        record["body"] = json.dumps(body)
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(record)
    return {"Records": records}


def dispatcher(instant: str) -> dict:
    return load_handler("dispatcher")(scheduled_event(instant), LambdaContext("dispatcher"))


def worker(event: dict) -> dict:
    return load_handler("sync_worker")(event, LambdaContext("sync_worker"))


def start_manual(district_id: str):
    from rostersync.api.app import handle

    response = handle(
        make_event(
            "POST",
            f"/districts/{district_id}/syncs",
            body={"mode": "full"},
            claims=claims("district_admin", district_id),
        ),
        None,
    )
    return response["statusCode"], json.loads(response["body"])


def queued(aws) -> list[dict]:
    """The sync queue's messages (taken off it), as (messageId, body)."""
    sqs, url, found = aws.client("sqs"), os.environ["SYNC_QUEUE_URL"], []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append((message["MessageId"], json.loads(message["Body"])))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def work_off(aws) -> int:
    """Feed every queued message to the worker (continuations too); the messages handled."""
    handled = 0
    while True:
        messages = queued(aws)
        if not messages:
            return handled
        for message_id, body in messages:
            assert worker(sqs_event((message_id, body, 1))) == {"batchItemFailures": []}
            handled += 1


def runs_of(district_id: str):
    from rostersync.store.sync_runs import SyncRunModel

    return list(SyncRunModel.query(district_id, consistent_read=True))


def at_once(*calls):
    """Run the calls in threads released together; their results in order (exceptions re-raised)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def test_manual_and_nightly_syncs_of_one_district_at_the_same_moment(clean_aws, make_sandbox_sis):
    sis = make_sandbox_sis(**TINY)
    district = connect_district(sis)
    for night in (2, 3, 4):
        instant = f"2026-12-0{night}T08:00:00Z"  # 02:00 in Chicago: the district's night
        runs_before = len(runs_of(district))
        if night % 2:  # released together; which thread gets in first varies
            dispatched, manual = at_once(lambda instant=instant: dispatcher(instant), lambda: start_manual(district))
        else:
            manual, dispatched = at_once(lambda: start_manual(district), lambda instant=instant: dispatcher(instant))
        status, body = manual
        figures.add("fault_scenarios")
        # Exactly one of them started a run; the other was told about it or left the night for later.
        assert (status == 202) != (dispatched["enqueued"] == 1), (manual, dispatched)
        if status == 409:
            [nightly] = [r for r in runs_of(district) if r.night == f"2026-12-0{night}"]
            assert body["error"]["code"] == "sync_in_progress" and body["error"]["runId"] == nightly.run_id
        else:
            assert status == 202 and dispatched["skipped"] == 1
        assert len(runs_of(district)) == runs_before + 1
        assert work_off(clean_aws) == 1  # one message, one run
        latest = max(runs_of(district), key=lambda r: r.queued_at)
        assert latest.status == "succeeded" and int(latest.invocations) == 1
        if latest.mode == "full":
            assert_like_oracle(district, sis.state())
        else:  # a nightly delta: exact but for hard deletes, which only a full sync sees
            assert_like_delta(district, sis.state())
        sis.advance_day()


def assert_like_delta(district: str, raw: dict) -> None:
    expected, now = expected_roster(raw), active(stored(district))
    present = {
        kind: {r["sourcedId"] for r in raw["data"][collection]}
        for kind, collection in (
            ("teachers", "users"),
            ("students", "users"),
            ("classes", "classes"),
            ("enrollments", "enrollments"),
        )
    }
    for kind in ("teachers", "students", "classes", "enrollments"):
        assert expected[kind] <= now[kind], (kind, sorted(expected[kind] - now[kind])[:5])
        assert not (now[kind] - expected[kind]) & present[kind], (kind, sorted(now[kind] - expected[kind])[:5])
    figures.add("end_states_checked")


def test_a_dispatcher_run_twice_and_two_at_once_create_one_nightly_run(clean_aws, make_sandbox_sis):
    sis = make_sandbox_sis(**TINY)
    district = connect_district(sis)
    instant = "2026-12-02T08:30:00Z"
    first = dispatcher(instant)
    again = dispatcher(instant)  # EventBridge's retry of the same tick
    both = at_once(lambda: dispatcher(instant), lambda: dispatcher("2026-12-02T09:00:00Z"))
    figures.add("fault_scenarios", 3)
    assert first["enqueued"] == 1
    assert again["enqueued"] == 0 and all(r["enqueued"] == 0 for r in both), (again, both)
    [run] = runs_of(district)
    assert (run.trigger, run.night) == ("nightly", "2026-12-02")
    messages = queued(clean_aws)
    assert [body["runId"] for _, body in messages] == [run.run_id]
    for message_id, body in messages:
        assert worker(sqs_event((message_id, body, 1))) == {"batchItemFailures": []}
    assert work_off(clean_aws) == 0
    run = runs_of(district)[0]
    assert run.status == "succeeded" and int(run.invocations) == 1
    assert dispatcher("2026-12-02T09:30:00Z")["enqueued"] == 0  # later ticks of the same night
    assert_like_oracle(district, sis.state())


def test_the_same_sqs_message_delivered_twice_gives_one_run_and_one_result(clean_aws, make_sandbox_sis):
    from rostersync.store.sync_runs import get_run

    sis = make_sandbox_sis(**TINY)
    district = connect_district(sis)
    status, body = start_manual(district)
    assert status == 202
    run_id = body["runId"]
    [(message_id, message)] = queued(clean_aws)
    # Two deliveries of the one message at the same moment (two concurrent invocations).
    answers = at_once(
        lambda: worker(sqs_event((message_id, message, 1))), lambda: worker(sqs_event((message_id, message, 2)))
    )
    figures.add("fault_scenarios", 3)
    assert answers == [{"batchItemFailures": []}] * 2
    run = get_run(district, run_id)
    assert run.status == "succeeded" and int(run.invocations) == 1, (run.status, run.invocations)
    assert queued(clean_aws) == []  # no continuation, no second run
    counts, finished = run.counts.as_dict(), run.finished_at
    expected = assert_like_oracle(district, sis.state())
    assert counts["students"]["created"] == len(expected["students"])  # written once, counted once

    # Delivered again after the run finished, and twice in one batch: ignored.
    assert worker(sqs_event((message_id, message, 3))) == {"batchItemFailures": []}
    assert worker(sqs_event(("dup-a", message, 1), ("dup-b", message, 1))) == {"batchItemFailures": []}
    run = get_run(district, run_id)
    assert (run.status, int(run.invocations), run.finished_at) == ("succeeded", 1, finished)
    assert run.counts.as_dict() == counts
    assert len(runs_of(district)) == 1 and queued(clean_aws) == []

    # A new run's message delivered twice in one batch: the first delivery runs it, the second is ignored.
    sis.advance_day()
    status, body = start_manual(district)
    [(message_id, message)] = queued(clean_aws)
    assert worker(sqs_event((message_id, message, 1), (message_id + "-again", message, 1))) == {"batchItemFailures": []}
    run = get_run(district, body["runId"])
    assert run.status == "succeeded" and int(run.invocations) == 1
    assert run.counts.as_dict()["students"]["deactivated"] > 0
    assert_like_oracle(district, sis.state())
