"""`ops redrive` on AWS: an SQS message move task, followed with list_message_move_tasks to its
end, then each replay the worker makes of a moved message. moto has no move tasks, so SQS is a
botocore Stubber here (every call checked in order); the runs table is the embedded AWS's."""

import json
import time
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import ANY, Stubber

from tests.integration.test_ops import failed_run
from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_locks import make_district
from tests.unit.sync.test_worker import FakeContext, FakeEngine, sqs_event

DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/rostersync-dlq"
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:rostersync-dlq"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:rostersync-sync"


def _message(district_id, run_id, n):
    return {
        "MessageId": f"m-{n}",
        "ReceiptHandle": f"rh-{n}",
        "Attributes": {"ApproximateReceiveCount": "5"},
        "Body": json.dumps({"districtId": district_id, "runId": run_id, "action": "run"}),
    }


def _peek(stub, messages):
    """receive_all: one receive with the messages, one empty; then they are made visible again."""
    if not messages:
        stub.add_response("receive_message", {})
        return
    stub.add_response(
        "receive_message",
        {"Messages": messages},
        {
            "QueueUrl": DLQ_URL,
            "MaxNumberOfMessages": 10,
            "WaitTimeSeconds": 1,
            "VisibilityTimeout": ANY,
            "AttributeNames": ["All"],
        },
    )
    stub.add_response(
        "receive_message",
        {},
        {
            "QueueUrl": DLQ_URL,
            "MaxNumberOfMessages": 10,
            "WaitTimeSeconds": 1,
            "VisibilityTimeout": ANY,
            "AttributeNames": ["All"],
        },
    )
    stub.add_response(
        "change_message_visibility_batch",
        {"Successful": [{"Id": str(i)} for i in range(len(messages))], "Failed": []},
        {"QueueUrl": DLQ_URL, "Entries": ANY},
    )


def _tasks(stub, *tasks):
    stub.add_response("list_message_move_tasks", {"Results": list(tasks)}, {"SourceArn": DLQ_ARN, "MaxResults": 10})


def _task(status, moved, to_move, handle=None, reason=None):
    task = {
        "Status": status,
        "SourceArn": DLQ_ARN,
        "DestinationArn": QUEUE_ARN,
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": to_move,
        "StartedTimestamp": int(time.time() * 1000),
    }
    if handle:
        task["TaskHandle"] = handle
    if reason:
        task["FailureReason"] = reason
    return task


@pytest.fixture
def aws_sqs(stack):
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    target = SimpleNamespace(
        description="stack rostersync-test (us-east-1)",
        sqs=client,
        queue_url="unused",
        queue_arn=QUEUE_ARN,
        dlq_url=DLQ_URL,
        dlq_arn=DLQ_ARN,
        supports_move_tasks=True,
    )
    with stub:
        yield stub, target
    stub.assert_no_pending_responses()


def test_the_move_task_is_followed_to_its_end_and_each_replay_reported(stack, aws_sqs, monkeypatch):
    from rostersync.sync import worker
    from rostersync_tools.ops.redrive import plan, redrive

    stub, target = aws_sqs
    first, second = make_district().district_id, make_district().district_id
    gave_up = failed_run(stack, first)
    crashed = stack.lifecycle.start_run(second, "manual", "full")
    assert stack.lifecycle.claim(crashed, "m")  # its worker died on its last attempt: still running
    messages = [_message(first, gave_up.run_id, 1), _message(second, crashed.run_id, 2)]

    _peek(stub, messages)  # the plan (dry run and the confirmation show it)
    _tasks(stub)  # no move task running yet
    _peek(stub, messages)  # runs marked dead-lettered before the move
    stub.add_response(
        "start_message_move_task", {"TaskHandle": "handle-1"}, {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN}
    )
    _tasks(stub, _task("RUNNING", 1, 2, handle="handle-1"))
    _tasks(stub, _task("COMPLETED", 2, 2))  # an ended task no longer shows its handle

    planned = plan(target)
    assert planned.method == "move_task"
    assert {d.district_id: d.action for d in planned.districts} == {first: "replay", second: "replay"}

    fake = FakeEngine()
    monkeypatch.setattr(worker, "engine", lambda: fake)
    sleeps = []

    def meanwhile(_seconds):
        """SQS moves the messages and the worker handles them; then the replays run and end."""
        sleeps.append(_seconds)
        if len(sleeps) == 2:  # after the task completed: the worker turns each moved message into a replay
            moved = [(m["MessageId"], json.loads(m["Body"]), 1) for m in messages]
            assert worker.handle_batch(sqs_event(*moved), FakeContext()) == {"batchItemFailures": []}
        if len(sleeps) == 3:
            for body in drain(stack):
                replay = stack.store.get_run(body["districtId"], body["runId"])
                assert stack.lifecycle.claim(replay, "lease")
                result = SimpleNamespace(
                    counts={"teachers": {"created": 4}}, errors=[], error_total=0, mode="full", failure=None
                )
                assert stack.lifecycle.finish(
                    stack.store.get_run(body["districtId"], body["runId"]), "lease", "succeeded", result
                )

    lines = []
    report = redrive(target, say=lines.append, follow=True, poll_s=0.01, sleep=meanwhile)
    assert report.task_handle == "handle-1"
    assert report.move_task["status"] == "COMPLETED" and report.move_task["moved"] == 2
    assert report.ok
    replayed = {item["districtId"]: item for item in report.replayed}
    assert replayed[first]["failedRunId"] == gave_up.run_id and replayed[second]["failedRunId"] == crashed.run_id
    for district, item in replayed.items():
        replay = stack.store.get_run(district, item["replayRunId"])
        assert (replay.trigger, replay.status, item["replayStatus"], item["changes"]) == (
            "replay",
            "succeeded",
            "succeeded",
            "+4 ~0 -0",
        )
    assert stack.store.get_run(second, crashed.run_id).status == "failed"
    assert "move task: RUNNING, 1 of 2 message(s) moved" in lines
    assert "move task: COMPLETED, 2 of 2 message(s) moved" in lines
    assert "COMPLETED, 2 of 2" in report.summary()
    assert fake.calls == []  # the failed runs themselves are never run again


def test_a_failed_move_task_is_reported_and_the_command_fails(stack, aws_sqs, monkeypatch, capsys):
    from rostersync_tools.ops import cli

    stub, target = aws_sqs
    district = make_district().district_id
    run = failed_run(stack, district)
    messages = [_message(district, run.run_id, 1)]
    _peek(stub, messages)
    _tasks(stub)
    _peek(stub, messages)
    stub.add_response("start_message_move_task", {"TaskHandle": "handle-2"})
    _tasks(stub, _task("FAILED", 0, 1, reason="AWS.SimpleQueueService.NonExistentQueue"))
    monkeypatch.setattr(cli, "resolve", lambda args: target)

    code = cli.main(["redrive", "--yes", "--poll", "0.01"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out and "NonExistentQueue" in out


def test_a_move_task_already_running_is_followed_not_started_twice(stack, aws_sqs):
    from rostersync_tools.ops.redrive import redrive

    stub, target = aws_sqs
    _tasks(stub, _task("RUNNING", 3, 9, handle="handle-old"))
    _tasks(stub, _task("COMPLETED", 9, 9))
    lines = []
    report = redrive(target, say=lines.append, follow=True, poll_s=0.01, sleep=lambda s: None)
    assert report.task_handle == "handle-old" and report.move_task["status"] == "COMPLETED"
    assert any("already running" in line for line in lines)


def test_without_follow_the_task_is_started_and_left_to_run(stack, aws_sqs):
    from rostersync_tools.ops.redrive import redrive

    stub, target = aws_sqs
    _tasks(stub)
    _peek(stub, [])
    stub.add_response("start_message_move_task", {"TaskHandle": "handle-3"})
    report = redrive(target, follow=False)
    assert report.task_handle == "handle-3" and report.move_task == {"status": "RUNNING"}
