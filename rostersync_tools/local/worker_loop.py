"""The sync worker fed as Lambda's SQS event source mapping feeds it, in a thread.

Long-polls the sync queue, receives up to the template's BatchSize, builds the same SQS event,
invokes functions/sync_worker/app.py with a Lambda-like context, then (ReportBatchItemFailures)
deletes the messages that succeeded. Failed ones (listed in batchItemFailures, or all of them
when the handler raised or answered with an unusable list) stay on the queue and come back; the
queue's RedrivePolicy moves a message to the dead-letter queue after maxReceiveCount receives,
exactly as deployed (moto implements the redrive; tests/integration/test_local_worker_loop.py
checks that it does).

One thread runs one batch at a time: deployed, up to MaximumConcurrency batches run at once.
"""

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import overload

from rostersync_tools.local.embedded_aws import REGION
from rostersync_tools.local.functions import LambdaContext, load_handler
from rostersync_tools.local.template_resources import load_template, sqs_event_source

log = logging.getLogger(__name__)

RETRY_DELAY_ENV = "ROSTERSYNC_LOCAL_RETRY_DELAY_S"
WORKER_TIMEOUT_ENV = "ROSTERSYNC_LOCAL_WORKER_TIMEOUT_S"
DEFAULT_RETRY_DELAY_S = 2
POLL_WAIT_S = 1  # Lambda long-polls for 20 s; 1 s keeps stop() and idle() prompt
Handler = Callable[[dict, object], object]


@overload
def _float_env(name: str, default: float) -> float: ...
@overload
def _float_env(name: str, default: None) -> float | None: ...
def _float_env(name: str, default: float | None) -> float | None:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def sqs_record(message: dict, queue_arn: str) -> dict:
    """One record of an SQS event, as the event source mapping writes it."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
            ),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def failed_message_ids(result, message_ids: list[str]) -> set[str]:
    """Which messages Lambda would leave on the queue, given the handler's answer.

    No answer or an empty batchItemFailures: all succeeded. An entry with a missing, empty or
    unknown itemIdentifier makes Lambda treat the whole batch as failed.
    """
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    failures = set()
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids)
        failures.add(identifier)
    return failures


class WorkerLoop:
    def __init__(
        self, sqs_client, queue_url: str | None = None, handler: Handler | None = None, template: dict | None = None
    ):
        template = template or load_template()
        self.sqs = sqs_client
        self.queue_url = queue_url or os.environ["SYNC_QUEUE_URL"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.batch_size = int(sqs_event_source(template, "SyncWorkerFunction").get("BatchSize", 10))
        self._template = template
        self._handler = handler
        self._stop = threading.Event()
        self._in_flight = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0  # handled so far (tests and logs)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "WorkerLoop":
        self._thread = threading.Thread(target=self._run, name="local-sync-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ idleness (tests)
    def idle(self) -> bool:
        """No batch in flight and nothing on the queue: visible, in flight or delayed."""
        if self._in_flight.is_set():
            return False
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        return not self._in_flight.is_set() and all(int(attributes.get(n, 0)) == 0 for n in names)

    def wait_until_idle(self, timeout: float = 60) -> None:
        """Idle at two looks 0.1 s apart. moto counts a message whose retry delay is just ending
        as neither visible nor not visible when its counts straddle that instant (each count
        reads the clock), so one look can miss a message about to be received again; two cannot
        both straddle the same instant."""
        deadline = time.monotonic() + timeout
        looks = 0
        while looks < 2:
            looks = looks + 1 if self.idle() else 0
            if looks < 2:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the sync worker was still busy after {timeout} s")
                time.sleep(0.1)

    # ------------------------------------------------------------ the loop
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("worker loop: polling the sync queue failed; retrying")
                self._stop.wait(1)

    def poll_once(self, wait_s: int = POLL_WAIT_S) -> int:
        """Receive one batch and handle it; the number of messages received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        self._in_flight.set()
        try:
            self._handle(messages)
        finally:
            self._in_flight.clear()
        return len(messages)

    def _handle(self, messages: list[dict]) -> None:
        event = {"Records": [sqs_record(m, self.queue_arn) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        context = LambdaContext("sync_worker", timeout_s=_float_env(WORKER_TIMEOUT_ENV, None), template=self._template)
        started = time.monotonic()
        try:
            handler = self._handler or load_handler("sync_worker")
            failed = failed_message_ids(handler(event, context), ids)
        except Exception:
            log.exception("the sync worker function failed; the whole batch will be retried")
            failed = set(ids)
        self.batches += 1
        log.info(
            "sync worker batch: %d messages, %d failed (%d ms)",
            len(ids),
            len(failed),
            (time.monotonic() - started) * 1000,
        )

        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        # The honest local difference: deployed, a failed message reappears when the queue's
        # VisibilityTimeout (5400 s) runs out. Locally it comes back after a short delay, so
        # retries and the move to the dead-letter queue happen while you watch.
        delay = int(_float_env(RETRY_DELAY_ENV, DEFAULT_RETRY_DELAY_S))
        retry = [m for m in messages if m["MessageId"] in failed]
        if retry:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": delay}
                    for i, m in enumerate(retry)
                ],
            )
