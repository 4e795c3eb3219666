"""Sync queue messages: {"districtId", "runId", "action": "run" | "approve", "stalls"?}.

`stalls` counts the invocations in a row that passed the run on without moving it forward
(too little time for a slice, or an SIS too slow to answer within one); the worker fails
the run when it reaches its bound rather than pass it on forever.

`run` starts a run or resumes it from its checkpoint; `approve` applies the deactivations a
needs_review run held back. Sending the same message twice is harmless (the worker takes a
lease on the run and ignores finished runs), so every send here may be retried freely.
"""

import json
import time
from dataclasses import dataclass

from rostersync import aws_clients
from rostersync.settings import get_settings

# purge: runId is the purge's id (sync/purge.py); sweep: the daily sweep of purged districts
# (sync/purge.py sweep_purged; districtId SWEEP_ALL, runId the UTC day), sent by the dispatcher.
ACTIONS = ("run", "approve", "purge", "sweep")
SWEEP_ALL = "*"
BATCH_SIZE = 10  # SendMessageBatch's limit
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds
_BATCH_ATTEMPTS = 4


@dataclass(frozen=True)
class RunMessage:
    district_id: str
    run_id: str
    action: str = "run"
    stalls: int = 0

    def body(self) -> str:
        body: dict[str, str | int] = {"districtId": self.district_id, "runId": self.run_id, "action": self.action}
        if self.stalls:
            body["stalls"] = self.stalls
        return json.dumps(body)


class MalformedMessage(ValueError):
    pass


def parse(body: str) -> RunMessage:
    """The message in an SQS body; MalformedMessage when it is not one of ours."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as error:
        raise MalformedMessage("body is not JSON") from error
    if not isinstance(data, dict):
        raise MalformedMessage("body is not a JSON object")
    district_id, run_id, action = data.get("districtId"), data.get("runId"), data.get("action", "run")
    if not isinstance(district_id, str) or not district_id or not isinstance(run_id, str) or not run_id:
        raise MalformedMessage("districtId and runId are required strings")
    if action not in ACTIONS:
        raise MalformedMessage(f"unknown action {action!r}")
    stalls = data.get("stalls", 0)
    if not isinstance(stalls, int) or isinstance(stalls, bool) or stalls < 0:
        raise MalformedMessage("stalls must be a whole number")
    return RunMessage(district_id, run_id, action, stalls)


def sqs_client():
    """The SQS client (rostersync.aws_clients; tests put a fake in its place here)."""
    return aws_clients.sqs()


def queue_url() -> str:
    url = get_settings().sync_queue_url
    if not url:
        raise RuntimeError("SYNC_QUEUE_URL is not set")
    return url


def send_run_message(
    district_id: str,
    run_id: str,
    action: str = "run",
    url: str | None = None,
    stalls: int = 0,
    delay_seconds: int = 0,
) -> str:
    """Send one message (visible after `delay_seconds`); returns its MessageId. Raises when SQS
    refuses it."""
    if action not in ACTIONS:
        raise ValueError(action)
    extra = {"DelaySeconds": min(MAX_DELAY_SECONDS, delay_seconds)} if delay_seconds > 0 else {}
    response = sqs_client().send_message(
        QueueUrl=url or queue_url(), MessageBody=RunMessage(district_id, run_id, action, stalls).body(), **extra
    )
    return response["MessageId"]


def send_run_messages(messages: list[RunMessage], url: str | None = None) -> list[RunMessage]:
    """Send in batches of ten, retrying the entries SQS reports as failed (with backoff).
    Returns the messages that still could not be sent (empty when all went out)."""
    client, target = sqs_client(), url or queue_url()
    unsent: list[RunMessage] = []
    for start in range(0, len(messages), BATCH_SIZE):
        pending = {str(i): message for i, message in enumerate(messages[start : start + BATCH_SIZE])}
        for attempt in range(_BATCH_ATTEMPTS):
            if not pending:
                break
            if attempt:
                time.sleep(min(2.0, 0.1 * 2**attempt))
            entries = [{"Id": key, "MessageBody": message.body()} for key, message in pending.items()]
            try:
                response = client.send_message_batch(QueueUrl=target, Entries=entries)
            except Exception:  # noqa: S112  (after the last attempt, what is left is reported as unsent)
                continue
            for success in response.get("Successful", []):
                pending.pop(success["Id"], None)
            # Entries SQS rejected as the sender's fault would fail again: give up on them now.
            for failure in response.get("Failed", []):
                if failure.get("SenderFault"):
                    unsent.append(pending.pop(failure["Id"]))
        unsent.extend(pending.values())
    return unsent
