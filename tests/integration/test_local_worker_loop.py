"""The local worker loop feeds the sync worker as Lambda's SQS event source mapping does:
batches of the template's size, partial batch failures retried, then dead-lettered by the
queue's RedrivePolicy (moto's, checked here), successes deleted."""

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from rostersync_tools.local.template_resources import load_template, resources_of_type, sqs_event_source
from rostersync_tools.local.worker_loop import WorkerLoop, failed_message_ids

EVENTS = Path(__file__).resolve().parents[2] / "events"
TEMPLATE = load_template()
MAX_RECEIVES = resources_of_type(TEMPLATE, "AWS::SQS::Queue")["SyncQueue"]["RedrivePolicy"]["maxReceiveCount"]
BATCH_SIZE = sqs_event_source(TEMPLATE, "SyncWorkerFunction")["BatchSize"]


class PickyHandler:
    """Fails the messages whose body says so, or raises for the whole batch."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = Counter()
        self.events = []
        self.contexts = []

    def __call__(self, event, context):
        with self.lock:
            self.events.append(event)
            self.contexts.append(context)
            failures = []
            for record in event["Records"]:
                body = json.loads(record["body"])
                self.received[body["name"]] += 1
                if body.get("explode"):
                    raise RuntimeError("the whole batch fails")
                if body.get("fail"):
                    failures.append({"itemIdentifier": record["messageId"]})
            return {"batchItemFailures": failures}


@pytest.fixture
def queue(clean_aws, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_LOCAL_RETRY_DELAY_S", "0")
    return (
        clean_aws.client("sqs"),
        clean_aws.resources.queue_urls["SyncQueue"],
        clean_aws.resources.queue_urls["SyncDeadLetterQueue"],
    )


def send(sqs, url, **body):
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


def dead_letters(sqs, dlq_url) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_failed_item_is_retried_until_the_dead_letter_queue_while_the_others_are_deleted(queue):
    sqs, url, dlq_url = queue
    handler = PickyHandler()
    for name in ("ok-1", "ok-2", "ok-3"):
        send(sqs, url, name=name)
    send(sqs, url, name="poison", fail=True)
    loop = WorkerLoop(sqs, url, handler=handler).start()
    try:
        loop.wait_until_idle(timeout=30)
    finally:
        loop.stop()

    assert handler.received["ok-1"] == handler.received["ok-2"] == handler.received["ok-3"] == 1
    # Lambda retries a reported failure until the queue's maxReceiveCount, then SQS dead-letters it.
    assert handler.received["poison"] == MAX_RECEIVES
    assert dead_letters(sqs, dlq_url) == [{"name": "poison", "fail": True}]
    receive_counts = [
        int(r["attributes"]["ApproximateReceiveCount"])
        for e in handler.events
        for r in e["Records"]
        if json.loads(r["body"])["name"] == "poison"
    ]
    assert receive_counts == list(range(1, MAX_RECEIVES + 1))
    assert all(len(e["Records"]) <= BATCH_SIZE for e in handler.events)


def test_a_handler_that_raises_fails_the_whole_batch(queue):
    sqs, url, dlq_url = queue
    handler = PickyHandler()
    send(sqs, url, name="innocent")
    send(sqs, url, name="bomb", explode=True)
    loop = WorkerLoop(sqs, url, handler=handler)
    # Both arrive in one batch (poll until they do): the raise takes the innocent one down too.
    while loop.poll_once(wait_s=1) < 2:
        pass
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    assert sum(int(v) for v in attributes["Attributes"].values()) == 2, "nothing may be deleted"
    assert dead_letters(sqs, dlq_url) == []


def test_batches_are_at_most_the_templates_batch_size_and_shaped_like_the_sample_event(queue):
    sqs, url, _ = queue
    handler = PickyHandler()
    for i in range(BATCH_SIZE + 2):
        send(sqs, url, name=f"m{i}")
    loop = WorkerLoop(sqs, url, handler=handler).start()
    try:
        loop.wait_until_idle(timeout=30)
    finally:
        loop.stop()
    assert sum(handler.received.values()) == BATCH_SIZE + 2
    assert max(len(e["Records"]) for e in handler.events) <= BATCH_SIZE

    sample = json.loads((EVENTS / "sync_worker_batch.json").read_text())["Records"][0]
    record = handler.events[0]["Records"][0]
    assert set(record) == set(sample)
    assert set(record["attributes"]) == set(sample["attributes"])
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":SyncQueue")
    assert all(isinstance(v, str) for v in record["attributes"].values())


def test_the_context_counts_down_from_the_local_timeout_override(queue, monkeypatch):
    sqs, url, _ = queue
    monkeypatch.setenv("ROSTERSYNC_LOCAL_WORKER_TIMEOUT_S", "3")
    handler = PickyHandler()
    send(sqs, url, name="one")
    loop = WorkerLoop(sqs, url, handler=handler)
    while not loop.poll_once(wait_s=1):
        pass
    context = handler.contexts[0]
    assert 0 < context.get_remaining_time_in_millis() <= 3000
    assert context.function_name.endswith("SyncWorkerFunction")
    assert context.memory_limit_in_mb == TEMPLATE["Resources"]["SyncWorkerFunction"]["Properties"]["MemorySize"]


def test_the_templates_timeout_applies_without_the_override(queue, monkeypatch):
    sqs, url, _ = queue
    monkeypatch.delenv("ROSTERSYNC_LOCAL_WORKER_TIMEOUT_S", raising=False)
    handler = PickyHandler()
    send(sqs, url, name="one")
    loop = WorkerLoop(sqs, url, handler=handler)
    while not loop.poll_once(wait_s=1):
        pass
    timeout_ms = TEMPLATE["Resources"]["SyncWorkerFunction"]["Properties"]["Timeout"] * 1000
    assert timeout_ms - 5000 < handler.contexts[0].get_remaining_time_in_millis() <= timeout_ms


@pytest.mark.parametrize(
    "result, expected",
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),  # Lambda: the whole batch failed
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{}]}, {"a", "b"}),
    ],
)
def test_batch_item_failures_are_read_as_lambda_reads_them(result, expected):
    assert failed_message_ids(result, ["a", "b"]) == expected


def test_a_failed_message_comes_back_after_the_local_retry_delay_not_the_queues_timeout(queue, monkeypatch):
    sqs, url, _ = queue
    monkeypatch.setenv("ROSTERSYNC_LOCAL_RETRY_DELAY_S", "1")
    handler = PickyHandler()
    send(sqs, url, name="flaky", fail=True)
    loop = WorkerLoop(sqs, url, handler=handler)
    while not loop.poll_once(wait_s=1):
        pass
    assert loop.poll_once(wait_s=0) == 0, "hidden during the retry delay"
    assert not loop.idle(), "a message waiting for its retry keeps the loop busy"
    assert loop.poll_once(wait_s=3) == 1, "back after the delay (deployed: after the 5400 s visibility timeout)"
    assert handler.received["flaky"] == 2
