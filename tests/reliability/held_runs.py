"""Held runs through the product's public doors, for the crash soak and the container pool: a
run started as the API starts one, worked by the real SQS handler, decided through the API's
approve and reject routes (everything, a part chosen from GET held, or nothing).

Both sides of a comparison (a reference district and the crashed or pooled one) take the same
decision on the same records, named by type and SIS sourcedId (record ids are per district).
"""

import contextlib
import itertools
import json
import os
import random

import boto3

DECISIONS = ("approved", "approved_in_part", "rejected")
_deliveries = itertools.count(1)


class WorkerContext:
    """The Lambda context the worker reads its time from."""

    def __init__(self, seconds: float = 900):
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)


def sqs_record(district_id: str, run_id: str, action: str) -> dict:
    """One delivery of a run's message, as Lambda's SQS event source builds it (a receipt
    handle of its own: each delivery is a new lease on the run)."""
    delivery = next(_deliveries)
    return {
        "messageId": f"msg-{run_id}-{action}",
        "receiptHandle": f"handle-{run_id}-{os.getpid()}-{delivery}",
        "body": json.dumps({"districtId": district_id, "runId": run_id, "action": action}),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:SyncQueue",
        "awsRegion": "us-east-1",
    }


def deliver(district_id: str, run_id: str, action: str) -> dict:
    """The real worker handler, fed one delivery of the run's message."""
    from rostersync.sync import worker

    return worker.handle_batch({"Records": [sqs_record(district_id, run_id, action)]}, WorkerContext())


def run_status(district_id: str, run_id: str) -> str:
    from rostersync.store import sync_runs as store

    return store.get_run(district_id, run_id).status


def expire_lease(district_id: str, run_id: str) -> None:
    """A killed worker's lease on the run, expired: its message comes back after the visibility
    timeout (90 min), long after the lease (15 min) and its SIS host slots (60 s) ended."""
    from rostersync.store.sync_runs import SyncRunModel

    with contextlib.suppress(SyncRunModel.DoesNotExist):
        SyncRunModel.get(district_id, run_id).update(actions=[SyncRunModel.lease_until.set(0)])
    expire_host_slots()


def expire_host_slots() -> None:
    """Every SIS host slot freed, as 90 minutes would free a killed worker's (store/host_leases.py:
    a slot not renewed ends by itself). Left held, a few kills in a row fill a host's slots, and
    the next delivery is sent back with a host-busy delay the test's drive does not wait for.
    The tests that call it run one invocation at a time, so no live worker holds a slot."""
    from rostersync.settings import get_settings

    dynamodb, table = boto3.client("dynamodb"), get_settings().host_leases_table
    for item in dynamodb.scan(TableName=table, ConsistentRead=True).get("Items", []):
        slots = [name for name in item if name.startswith("slot")]
        if slots:
            dynamodb.update_item(
                TableName=table,
                Key={"host": item["host"]},
                UpdateExpression="REMOVE " + ", ".join(f"#s{i}" for i in range(len(slots))),
                ExpressionAttributeNames={f"#s{i}": name for i, name in enumerate(slots)},
            )


def take_messages(run_id: str) -> list[dict]:
    """Remove the run's messages from the sync queue (the tests deliver them themselves);
    other runs' messages are left as they were."""
    sqs, url, taken = boto3.client("sqs"), os.environ["SYNC_QUEUE_URL"], []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30)
        messages, before = batch.get("Messages", []), len(taken)
        for message in messages:
            body = json.loads(message["Body"])
            if body.get("runId") == run_id:
                taken.append(body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        if len(taken) == before:  # none of this run's among them (or the queue is empty)
            return taken


def start(district_id: str, mode: str) -> str:
    """A manual run, queued as POST /syncs queues one (its message is delivered by the caller)."""
    from rostersync.sync import run_lifecycle

    return run_lifecycle.start_run(district_id, "manual", mode).run_id


def work(district_id: str, run_id: str, action: str = "run", limit: int = 50) -> str:
    """Deliver the run's message to the worker until the run stops moving (finished or held)."""
    from rostersync.store import sync_runs as store

    for _ in range(limit):
        if run_status(district_id, run_id) not in (store.QUEUED, store.RUNNING):
            take_messages(run_id)  # continuations the worker queued on its way
            return run_status(district_id, run_id)
        answer = deliver(district_id, run_id, action)
        assert answer == {"batchItemFailures": []}, answer
    raise AssertionError(f"run {run_id} did not finish in {limit} deliveries")


def api(method: str, district_id: str, path: str, **kwargs):
    from tests.integration.test_sync_runs_api import call

    return call(method, f"/districts/{district_id}{path}", district=district_id, **kwargs)


def held_records(district_id: str, run_id: str) -> dict[tuple[str, str], str]:
    """{(type, sisSourcedId): recordId} of everything the held run holds (GET held, every page)."""
    found, cursor = {}, None
    while True:
        query = {"limit": "200"} | ({"cursor": cursor} if cursor else {})
        page = api("GET", district_id, f"/syncs/{run_id}/held", query=query)
        assert page.status == 200, page.body
        for record in page.body["records"]:
            found[(record["type"], record["sisSourcedId"])] = record["recordId"]
        cursor = page.body["nextCursor"]
        if cursor is None:
            return found


def draw_decision(rng: random.Random, held: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]] | None]:
    """Mostly approved whole, sometimes in part (a random share of the held records), sometimes
    rejected."""
    decision = rng.choices(DECISIONS, weights=(5, 3, 2))[0]
    if decision == "approved_in_part" and len(held) > 1:
        return decision, sorted(rng.sample(sorted(held), rng.randint(1, len(held) - 1)))
    return ("approved", None) if decision == "approved_in_part" else (decision, None)


def decide(district_id: str, run_id: str, decision: str, chosen: list[tuple[str, str]] | None) -> None:
    """The admin's decision through the API. An approval's message stays on the queue: the
    container pool delivers it from there; the crash soak takes it off (take_messages) and
    delivers it itself."""
    if decision == "rejected":
        answer = api("POST", district_id, f"/syncs/{run_id}/reject")
        assert answer.status == 200, answer.body
        assert run_status(district_id, run_id) == "rejected"
        return
    body = None
    if chosen is not None:
        ids = held_records(district_id, run_id)
        body = {"recordIds": [ids[key] for key in chosen]}
    answer = api("POST", district_id, f"/syncs/{run_id}/approve", body=body)
    assert answer.status == 202, answer.body
