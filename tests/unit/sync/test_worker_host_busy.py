"""A run whose SIS host had no slot for it (oneroster/hosts.py HostBusy) ends its slice and
comes back later: its message is sent again with a delay, the delivery succeeds (no receive
toward the dead-letter queue) and no stall is counted, however often it happens."""

import os
import time

from tests.unit.sync import test_worker as worker_tests
from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_worker import FakeContext, body, queued_run, sqs_event

domain = worker_tests.domain  # the worker with a scripted engine on the embedded AWS


def busy_slice(retry_in: float | None):
    """An engine slice whose client was refused by its host: it paused and asks to continue."""

    def step(request, time_left, on_progress):
        from rostersync.oneroster.hosts import HostBusy, slots_for_new_client
        from rostersync.sync import engine

        slots = slots_for_new_client()  # the client the engine opens inside the worker's gate
        assert slots is not None, "the worker did not gate the slice's clients"
        slots.refused = HostBusy("busy", retry_at=time.time() + retry_in if retry_in else None)
        return engine.SyncResult(outcome=engine.Outcome.CONTINUE, mode="full", counts={}, progressed=False)

    return step


def delayed(domain) -> int:
    attributes = domain.aws.client("sqs").get_queue_attributes(
        QueueUrl=os.environ["SYNC_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def test_a_busy_host_sends_the_run_back_later_without_a_stall_or_a_failed_delivery(domain, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_HOST_BUSY_DELAY_S", "20")
    monkeypatch.setattr(domain.worker, "host_gate", lambda: object())
    run = queued_run(domain)
    domain.engine.script[run.district_id] = [busy_slice(None) for _ in range(8)]  # more than MAX_STALLS
    for attempt in range(8):
        answer = domain.worker.handle_batch(sqs_event((f"m{attempt}", body(run), 1)), FakeContext())
        assert answer == {"batchItemFailures": []}  # deleted: nothing counts toward the DLQ
        assert drain(domain) == []  # not visible yet: it comes back after its delay
        assert delayed(domain) == attempt + 1
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "running" and stored.lease_id is None and stored.failure is None
    assert domain.store.get_district(run.district_id).active_run_id == run.run_id


def test_the_delay_is_at_least_the_hosts_retry_after(domain, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_HOST_BUSY_DELAY_S", "1")
    monkeypatch.setattr(domain.worker, "host_gate", lambda: object())
    sent = []
    monkeypatch.setattr(
        domain.worker.messages, "send_run_message", lambda *args, **kwargs: sent.append(kwargs["delay_seconds"])
    )
    run = queued_run(domain)
    domain.engine.script[run.district_id] = [busy_slice(300), busy_slice(None), busy_slice(5000)]
    for attempt in range(3):
        domain.worker.handle_batch(sqs_event((f"m{attempt}", body(run), 1)), FakeContext())
    assert 298 <= sent[0] <= 301
    assert 1 <= sent[1] <= 2  # the base delay, jittered up to twice
    assert sent[2] == 900  # SQS's longest delay; the host's pause refuses it again if need be
