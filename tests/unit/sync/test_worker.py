"""The sync worker's handling of SQS batches, with a fake engine on the embedded AWS."""

import itertools
import json
from types import SimpleNamespace

import pytest

from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_locks import make_district

_deliveries = itertools.count()


class FakeContext:
    def __init__(self, seconds: float = 900):
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)


def sqs_event(*messages: tuple[str, dict, int]) -> dict:
    """Records as Lambda's SQS event source builds them: (messageId, body, receive count).
    Each delivery gets its own receipt handle, as SQS gives one per receive."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"handle-{message_id}-{receives}-{next(_deliveries)}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": str(receives), "SentTimestamp": "1795000000000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:SyncQueue",
                "awsRegion": "us-east-1",
            }
            for message_id, body, receives in messages
        ]
    }


def body(run, action="run") -> dict:
    return {"districtId": run.district_id, "runId": run.run_id, "action": action}


class FakeEngine:
    """Stands in for rostersync.sync.engine: the real request/result types, scripted outcomes."""

    def __init__(self):
        from rostersync.sync import engine

        self.SyncRequest, self.SyncResult, self.Outcome = engine.SyncRequest, engine.SyncResult, engine.Outcome
        self.calls: list = []
        self.script: dict[str, list] = {}  # district -> outcomes (or exceptions) in order

    def run_sync(self, request, time_left, on_progress=None, tuning=None):
        self.calls.append(SimpleNamespace(request=request, time_left=time_left(), tuning=tuning))
        step = self.script[request.district_id].pop(0)
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(request, time_left, on_progress)
        counts = {"students": {"created": 3}}
        if on_progress is not None:
            on_progress(counts)
        held = {"students": 40} if step == "needs_review" else None
        failure = "The SIS refused the sync: invalid credentials" if step == "failed" else None
        errors = [{"type": "students", "sisSourcedId": "s1", "code": "missing_field", "message": "no name"}]
        progressed = step != "continue_stalled"  # a slice that read no page
        return self.SyncResult(
            outcome=self.Outcome(step.replace("_stalled", "")),
            mode="full",
            counts=counts,
            errors=errors,
            error_total=1,
            failure=failure,
            held_deactivations=held,
            progressed=progressed,
        )


@pytest.fixture
def domain(clean_aws, monkeypatch):
    from rostersync.store import sync_runs as store
    from rostersync.sync import run_lifecycle, worker

    fake = FakeEngine()
    monkeypatch.setattr(worker, "engine", lambda: fake)
    return SimpleNamespace(aws=clean_aws, store=store, lifecycle=run_lifecycle, worker=worker, engine=fake)


def queued_run(domain, trigger="manual", **district):
    made = make_district(**district)
    return domain.lifecycle.start_run(made.district_id, trigger, "full")


def test_the_engine_is_tuned_for_the_functions_memory(domain, monkeypatch):
    """Writer processes follow the invocation's memory (settings.writer_processes_for): two at
    template.yaml's 3,538 MB, none where the context says nothing."""
    monkeypatch.delenv("ROSTERSYNC_WRITER_PROCESSES", raising=False)
    for memory, processes in (("3538", 2), (None, 0)):
        run = queued_run(domain)
        domain.engine.script[run.district_id] = ["succeeded"]
        context = FakeContext()
        if memory:
            context.memory_limit_in_mb = memory  # a string, as Lambda gives it
        assert domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), context) == {"batchItemFailures": []}
        assert domain.engine.calls[-1].tuning.writer_processes == processes


def test_a_run_is_synced_and_finished(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["succeeded"]
    answer = domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext())
    assert answer == {"batchItemFailures": []}
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "succeeded" and stored.invocations == 1
    assert stored.counts["students"]["created"] == 3
    assert [(e.sis_sourced_id, e.code) for e in stored.errors] == [("s1", "missing_field")]
    assert domain.store.get_district(run.district_id).active_run_id is None
    (call,) = domain.engine.calls
    assert (call.request.run_id, call.request.mode, call.request.approve) == (run.run_id, "full", False)


def test_a_failing_district_fails_only_its_own_message(domain):
    good, bad = queued_run(domain), queued_run(domain)
    domain.engine.script[good.district_id] = ["succeeded"]
    domain.engine.script[bad.district_id] = [ConnectionError("the SIS did not answer")]
    answer = domain.worker.handle_batch(sqs_event(("bad", body(bad), 1), ("good", body(good), 1)), FakeContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert domain.store.get_run(good.district_id, good.run_id).status == "succeeded"
    failing = domain.store.get_run(bad.district_id, bad.run_id)
    # Not the last attempt: the run stays running, holding its lock, with its lease free for the retry.
    assert failing.status == "running" and failing.lease_id is None
    assert domain.store.get_district(bad.district_id).active_run_id == bad.run_id


def test_the_retry_of_a_failed_message_picks_the_run_up_again(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = [ConnectionError("timeout"), "succeeded"]
    assert domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext())["batchItemFailures"]
    assert domain.worker.handle_batch(sqs_event(("m1", body(run), 2)), FakeContext()) == {"batchItemFailures": []}
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "succeeded" and stored.invocations == 2


def test_a_failure_to_record_the_outcome_is_retried(domain, monkeypatch):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["succeeded", "succeeded"]
    real_finish = domain.lifecycle.finish

    def store_down(*_args, **_kwargs):
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(domain.lifecycle, "finish", store_down)
    assert domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext())["batchItemFailures"]
    monkeypatch.setattr(domain.lifecycle, "finish", real_finish)
    # SQS delivers it again: the retry is not mistaken for a duplicate of a live delivery.
    assert domain.worker.handle_batch(sqs_event(("m1", body(run), 2)), FakeContext()) == {"batchItemFailures": []}
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "succeeded" and stored.invocations == 2


def test_the_last_receive_marks_the_run_failed(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = [RuntimeError("The SIS could not be read completely: 503 on /users")]
    answer = domain.worker.handle_batch(sqs_event(("m1", body(run), 5)), FakeContext())  # template: maxReceiveCount 5
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}  # still fails: SQS moves it to the DLQ
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "failed"
    assert "503 on /users" in stored.failure and "dead-letter" in stored.failure
    assert stored.dead_lettered_at is not None and stored.finished_at is not None
    assert domain.store.get_district(run.district_id).active_run_id is None


def test_continue_re_sends_the_run_and_the_next_message_resumes_it(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["continue", "continue", "succeeded"]
    message = ("m0", body(run), 1)
    for attempt in range(3):
        assert domain.worker.handle_batch(sqs_event(message), FakeContext()) == {"batchItemFailures": []}
        if attempt < 2:
            stored = domain.store.get_run(run.district_id, run.run_id)
            assert stored.status == "running" and stored.invocations == attempt + 1 and stored.lease_id is None
            (next_body,) = drain(domain)
            assert next_body == body(run)
            message = (f"m{attempt + 1}", next_body, 1)
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "succeeded" and stored.invocations == 3
    assert drain(domain) == []


def test_messages_for_finished_or_unknown_runs_are_ignored(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["succeeded"]
    domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext())
    duplicate = domain.worker.handle_batch(
        sqs_event(
            ("m1-again", body(run), 1),
            ("unknown", {"districtId": run.district_id, "runId": "run_nope"}, 1),
            ("junk", "not json", 1),
        ),
        FakeContext(),
    )
    assert duplicate == {"batchItemFailures": []}
    assert len(domain.engine.calls) == 1
    assert domain.store.get_run(run.district_id, run.run_id).invocations == 1


def test_a_second_delivery_while_the_first_works_is_dropped(domain):
    run = queued_run(domain)
    assert domain.lifecycle.claim(run, "first-delivery")  # another worker is on it right now
    domain.engine.script[run.district_id] = ["succeeded"]
    assert domain.worker.handle_batch(sqs_event(("second", body(run), 1)), FakeContext()) == {"batchItemFailures": []}
    assert domain.engine.calls == []
    assert domain.store.get_run(run.district_id, run.run_id).lease_id == "first-delivery"


def test_two_copies_of_one_message_delivered_at_once_run_once(domain):
    run = queued_run(domain)
    calls = []

    def second_copy_arrives(request, time_left, on_progress):
        # SQS hands a copy of the same message (same MessageId) to another worker meanwhile.
        calls.append(domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext()))
        return domain.engine.SyncResult(outcome=domain.engine.Outcome.SUCCEEDED, mode="full", counts={})

    domain.engine.script[run.district_id] = [second_copy_arrives]
    assert domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext()) == {"batchItemFailures": []}
    assert calls == [{"batchItemFailures": []}]  # the copy was acknowledged without running
    assert len(domain.engine.calls) == 1
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "succeeded" and stored.invocations == 1


def test_needs_review_holds_the_deactivations_and_frees_the_district(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["needs_review"]
    domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext())
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "needs_review" and stored.held_deactivations.as_dict() == {"students": 40}
    assert domain.store.get_district(run.district_id).active_run_id is None


def test_an_approved_run_is_synced_with_approve_whatever_the_message_says(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["needs_review", "succeeded"]
    domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext())
    domain.lifecycle.approve_run(run.district_id, run.run_id)
    # A late duplicate of the original "run" message arrives before the "approve" one.
    domain.worker.handle_batch(sqs_event(("m1-late", body(run, "run"), 1)), FakeContext())
    assert domain.engine.calls[-1].request.approve is True
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "succeeded" and stored.held_deactivations is None
    domain.worker.handle_batch(sqs_event(("m2", body(run, "approve"), 1)), FakeContext())
    assert len(domain.engine.calls) == 2  # the approve message finds the run finished


def test_an_engine_failure_result_fails_the_run_with_its_reason(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["failed"]
    assert domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext()) == {"batchItemFailures": []}
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "failed" and stored.failure == "The SIS refused the sync: invalid credentials"
    assert stored.dead_lettered_at is None  # an ordinary failure: nothing to replay from the DLQ


def test_time_is_split_fairly_across_the_batch(domain):
    runs = [queued_run(domain) for _ in range(3)]
    for run in runs:
        domain.engine.script[run.district_id] = ["succeeded"]
    context = FakeContext(seconds=315)
    domain.worker.handle_batch(sqs_event(*[(f"m{i}", body(r), 1) for i, r in enumerate(runs)]), context)
    share = (315 - domain.worker.SAFETY_SECONDS) / 3
    assert domain.engine.calls[0].time_left == pytest.approx(share, abs=1)
    # The first message finished at once: what it left over goes to the others.
    assert domain.engine.calls[1].time_left == pytest.approx((315 - domain.worker.SAFETY_SECONDS) / 2, abs=1)
    assert domain.engine.calls[2].time_left == pytest.approx(315 - domain.worker.SAFETY_SECONDS, abs=1)


def test_a_message_with_too_little_time_is_passed_on(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["succeeded"]
    answer = domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext(seconds=20))
    assert answer == {"batchItemFailures": []}
    assert domain.engine.calls == []
    assert domain.store.get_run(run.district_id, run.run_id).status == "queued"
    assert drain(domain) == [{**body(run), "stalls": 1}]  # passed on: no receive spent, one stall counted


def test_a_run_passed_on_without_progress_too_often_fails_saying_why(domain):
    """Issue 18: a function timeout too short for any slice must not pass a run on forever."""
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["succeeded"]
    message, deliveries = body(run), 0
    while message is not None:
        deliveries += 1
        assert deliveries <= domain.lifecycle.MAX_STALLS, "the run was passed on past the bound"
        answer = domain.worker.handle_batch(sqs_event((f"m{deliveries}", message, 1)), FakeContext(seconds=17))
        assert answer == {"batchItemFailures": []}
        sent = drain(domain)
        message = sent[0] if sent else None
    assert deliveries == domain.lifecycle.MAX_STALLS and domain.engine.calls == []
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "failed"
    assert "17 s left" in stored.failure and "needs at least 25 s" in stored.failure
    assert domain.store.get_district(run.district_id).active_run_id is None


def test_slices_without_progress_count_as_stalls_and_progress_resets_them(domain):
    run = queued_run(domain)
    domain.engine.script[run.district_id] = ["continue_stalled", "continue", "succeeded"]
    domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext())
    assert drain(domain) == [{**body(run), "stalls": 1}]
    domain.worker.handle_batch(sqs_event(("m2", {**body(run), "stalls": 1}, 1)), FakeContext())
    assert drain(domain) == [body(run)]  # this slice moved the run forward


def test_a_run_taken_over_while_running_drops_its_result(domain, monkeypatch):
    run = queued_run(domain)

    def taken_over(request, time_left, on_progress):
        # The worker looked dead; a manual sync took the district over meanwhile.
        real_clock = domain.lifecycle.clock
        monkeypatch.setattr(
            domain.lifecycle, "clock", lambda: real_clock() + domain.lifecycle.RUNNING_LOCK_SECONDS + 60
        )
        domain.lifecycle.start_run(request.district_id, "manual", "full")
        monkeypatch.setattr(domain.lifecycle, "clock", real_clock)
        monkeypatch.setattr(domain.worker, "HEARTBEAT_EVERY_SECONDS", 0)
        on_progress({})  # the heartbeat notices and stops the engine
        raise AssertionError("not reached")

    domain.engine.script[run.district_id] = [taken_over]
    assert domain.worker.handle_batch(sqs_event(("m1", body(run), 1)), FakeContext()) == {"batchItemFailures": []}
    stored = domain.store.get_run(run.district_id, run.run_id)
    assert stored.status == "failed" and stored.failure == domain.lifecycle.WORKER_STOPPED


def test_a_redriven_message_of_a_dead_lettered_run_becomes_one_replay(domain):
    run = queued_run(domain, trigger="manual")
    domain.engine.script[run.district_id] = [RuntimeError("SIS unreachable")]
    domain.worker.handle_batch(sqs_event(("m1", body(run), 5)), FakeContext())
    assert domain.store.get_run(run.district_id, run.run_id).status == "failed"
    # SQS's message move task brings the same message back (twice, say) to the sync queue.
    for message_id in ("moved-1", "moved-2"):
        answer = domain.worker.handle_batch(sqs_event((message_id, body(run), 1)), FakeContext())
        assert answer == {"batchItemFailures": []}
    old = domain.store.get_run(run.district_id, run.run_id)
    assert old.status == "failed" and old.replayed_by
    replay = domain.store.get_run(run.district_id, old.replayed_by)
    assert (replay.trigger, replay.status, replay.replay_of) == ("replay", "queued", run.run_id)
    assert drain(domain) == [body(replay)]
    page, _ = domain.store.list_runs(run.district_id, 10)
    assert len(page) == 2
