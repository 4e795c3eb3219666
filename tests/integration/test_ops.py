"""`rostersync ops dlq list` and `rostersync ops redrive` against the embedded AWS, found
through a local stack state file as `--local` finds a running `rostersync local up`."""

import json
import os

from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_locks import make_district
from tests.unit.sync.test_worker import FakeContext, FakeEngine, sqs_event


def ops(stack, capsys, *argv) -> tuple[int, str]:
    from rostersync_tools.ops.cli import main

    code = main([*argv, "--local", "--state-dir", stack.state_dir])
    return code, capsys.readouterr().out


def dead_letter(stack, district_id: str, run_id: str, action: str = "run") -> None:
    """A sync message as SQS leaves it in the dead-letter queue."""
    body = json.dumps({"districtId": district_id, "runId": run_id, "action": action})
    stack.sqs.send_message(QueueUrl=stack.dlq_url, MessageBody=body)


def failed_run(
    stack,
    district_id: str,
    failure: str = "SyncInterrupted: The SIS could not be read completely: unreachable host sis.example.org",
):
    """A run whose worker gave up on its last receive (as the worker records it)."""
    run = stack.lifecycle.start_run(district_id, "nightly", "delta", night="2026-12-02")
    assert stack.lifecycle.claim(run, "m")
    assert stack.lifecycle.fail(run, failure, dead_lettered=True)
    return stack.store.get_run(district_id, run.run_id)


def dlq_size(stack) -> int:
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    return sum(int(v) for v in attributes["Attributes"].values())


def test_dlq_list_shows_each_failed_sync_and_deletes_nothing(stack, capsys):
    district = make_district().district_id
    run = failed_run(stack, district)
    dead_letter(stack, district, run.run_id)
    stack.sqs.send_message(QueueUrl=stack.dlq_url, MessageBody="garbage")

    code, out = ops(stack, capsys, "dlq", "list")
    assert code == 0
    assert district in out and run.run_id in out and "unreachable host sis.example.org" in out
    assert "failed" in out and "nightly" in out and "(unreadable message)" in out
    assert "2 message(s)" in out

    code, out = ops(stack, capsys, "dlq", "list", "--json")
    letters = json.loads(out)
    (ours,) = [letter for letter in letters if letter["readable"]]
    assert (ours["districtId"], ours["runId"], ours["runStatus"], ours["runTrigger"]) == (
        district,
        run.run_id,
        "failed",
        "nightly",
    )
    assert ours["runFailure"].startswith("SyncInterrupted") and ours["receiveCount"] >= 1
    assert ours["firstReceivedAt"] and ours["sentAt"]
    # Listed twice, still all there and visible to the next reader.
    assert dlq_size(stack) == 2
    visible = stack.sqs.get_queue_attributes(QueueUrl=stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert visible["Attributes"]["ApproximateNumberOfMessages"] == "2"


def test_local_redrive_replays_each_district_as_a_new_run(stack, capsys):
    crashed, gave_up = make_district().district_id, make_district().district_id
    first = failed_run(stack, gave_up)
    dead_letter(stack, gave_up, first.run_id)
    # A worker killed on its last attempt never marked its run: it is still "running".
    running = stack.lifecycle.start_run(crashed, "manual", "full")
    assert stack.lifecycle.claim(running, "m")
    dead_letter(stack, crashed, running.run_id)

    code, out = ops(stack, capsys, "redrive", "--yes", "--no-follow")
    assert code == 0, out
    assert dlq_size(stack) == 0
    sent = {body["districtId"]: body for body in drain(stack)}
    assert set(sent) == {crashed, gave_up}
    for district, old in ((gave_up, first), (crashed, running)):
        old = stack.store.get_run(district, old.run_id)
        assert old.status == "failed" and old.replayed_by
        replay = stack.store.get_run(district, old.replayed_by)
        assert (replay.trigger, replay.status, replay.replay_of) == ("replay", "queued", old.run_id)
        assert sent[district] == {"districtId": district, "runId": replay.run_id, "action": "run"}
        assert stack.store.get_district(district).active_run_id == replay.run_id
        assert f"new run {replay.run_id} (trigger replay)" in out
    assert "dead-letter queue" in stack.store.get_run(crashed, running.run_id).failure


def test_redrive_one_district_leaves_the_others(stack, capsys):
    mine, other = make_district().district_id, make_district().district_id
    for district in (mine, other):
        dead_letter(stack, district, failed_run(stack, district).run_id)
    code, _ = ops(stack, capsys, "redrive", "--yes", "--no-follow", "--district", mine)
    assert code == 0
    assert [body["districtId"] for body in drain(stack)] == [mine]
    code, out = ops(stack, capsys, "dlq", "list", "--json")
    assert [letter["districtId"] for letter in json.loads(out)] == [other]


def test_several_failed_nights_of_one_district_make_one_replay(stack, capsys):
    district = make_district().district_id
    older = failed_run(stack, district)
    newer = stack.lifecycle.start_run(district, "nightly", "delta", night="2026-12-03")
    assert stack.lifecycle.claim(newer, "m2") and stack.lifecycle.fail(
        newer, "SyncInterrupted: 503", dead_lettered=True
    )
    dead_letter(stack, district, older.run_id)
    dead_letter(stack, district, newer.run_id)
    code, _ = ops(stack, capsys, "redrive", "--yes", "--no-follow")
    assert code == 0 and dlq_size(stack) == 0
    (body,) = drain(stack)
    replay = stack.store.get_run(district, body["runId"])
    assert replay.replay_of == newer.run_id
    assert stack.store.get_run(district, older.run_id).replayed_by is None  # superseded, not replayed twice


def test_a_failure_superseded_by_a_newer_run_is_dropped_not_replayed(stack, capsys):
    district = make_district().district_id
    old = failed_run(stack, district)
    dead_letter(stack, district, old.run_id)
    newer = stack.lifecycle.start_run(district, "manual", "full")  # an admin already started a new sync
    code, out = ops(stack, capsys, "redrive", "--yes", "--no-follow")
    assert code == 0 and f"a newer run ({newer.run_id}) exists" in out
    assert dlq_size(stack) == 0 and drain(stack) == []
    assert stack.store.get_run(district, old.run_id).replayed_by is None
    assert stack.store.get_district(district).active_run_id == newer.run_id


def test_a_replay_that_cannot_be_sent_keeps_the_message_and_frees_the_district(stack, capsys, monkeypatch):
    from rostersync.sync import messages

    district = make_district().district_id
    old = failed_run(stack, district)
    dead_letter(stack, district, old.run_id)

    def sqs_refuses(*_args, **_kwargs):
        raise ConnectionError("sync queue unreachable")

    monkeypatch.setattr(messages, "send_run_message", sqs_refuses)
    code, out = ops(stack, capsys, "redrive", "--yes", "--no-follow")
    assert code == 1 and "could not send" in out
    assert dlq_size(stack) == 1
    assert stack.store.get_district(district).active_run_id is None
    assert stack.store.latest_run(district).status == "failed"


def test_no_running_local_stack_is_said_plainly(tmp_path, capsys, clean_aws):
    from rostersync_tools.ops.cli import main

    assert main(["dlq", "list", "--local", "--state-dir", str(tmp_path / "nothing")]) == 1
    assert "no local stack is running" in capsys.readouterr().err


def test_on_aws_a_move_task_is_started_and_the_worker_replays_each_moved_message(stack, monkeypatch):
    """moto has no message move tasks: the test plays SQS's part (moving the messages) and
    checks what the product does around it: runs prepared, then replays with trigger replay."""
    from rostersync.sync import worker
    from rostersync_tools.ops.redrive import redrive
    from rostersync_tools.ops.target import Target

    district = make_district().district_id
    dead = stack.lifecycle.start_run(district, "manual", "full")
    assert stack.lifecycle.claim(dead, "m")  # its worker died on the last attempt: still running
    dead_letter(stack, district, dead.run_id)

    started = []

    class Sqs:
        def __getattr__(self, name):
            return getattr(stack.sqs, name)

        def list_message_move_tasks(self, SourceArn, MaxResults):
            return {"Results": []}

        def start_message_move_task(self, SourceArn, DestinationArn):
            started.append((SourceArn, DestinationArn))
            return {"TaskHandle": "task-1"}

    queue_url = os.environ["SYNC_QUEUE_URL"]

    def arn(url):
        return stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    target = Target("test stack", Sqs(), queue_url, arn(queue_url), stack.dlq_url, arn(stack.dlq_url), True)
    report = redrive(target)
    assert report.method == "move_task" and started == [(arn(stack.dlq_url), arn(queue_url))]
    assert stack.store.get_run(district, dead.run_id).status == "failed"
    assert dlq_size(stack) == 1  # SQS moves them, not us

    # SQS moves the message (twice, as at-least-once delivery may) to the sync queue; the worker handles it.
    fake = FakeEngine()
    monkeypatch.setattr(worker, "engine", lambda: fake)
    moved = {"districtId": district, "runId": dead.run_id, "action": "run"}
    assert worker.handle_batch(sqs_event(("moved-1", moved, 1), ("moved-2", moved, 1)), FakeContext()) == {
        "batchItemFailures": []
    }
    old = stack.store.get_run(district, dead.run_id)
    replay = stack.store.get_run(district, old.replayed_by)
    assert (replay.trigger, replay.replay_of, replay.status) == ("replay", dead.run_id, "queued")
    assert drain(stack) == [{"districtId": district, "runId": replay.run_id, "action": "run"}]
    assert fake.calls == []  # the failed run itself is never run again
