"""The sync dead-letter queue as on-call sees it: which district, which run, how often it was
tried, since when, and why the run failed (from the runs table).

Listing never deletes: it receives every message with a short visibility timeout (so one
pass sees each message once) and then makes them all visible again at once.
"""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from rostersync.times import iso_z_seconds

PEEK_VISIBILITY_S = 60  # long enough to page through a large queue in one pass
_EMPTY_RECEIVES_TO_STOP = 1  # a long poll (WaitTimeSeconds >= 1) asks every SQS server: empty means empty


@dataclass
class DeadLetter:
    message_id: str
    receipt_handle: str
    district_id: str | None
    run_id: str | None
    action: str | None
    receive_count: int
    first_received_at: str | None  # the message's first delivery to a worker (its first failed attempt)
    sent_at: str | None
    run_status: str | None  # from the runs table; None when the run is unknown
    run_trigger: str | None
    run_failure: str | None
    replayed_by: str | None
    readable: bool  # the body is a sync message

    def public(self) -> dict:
        """camelCase, as the API speaks; without the receipt handle (only this receive's)."""
        data = asdict(self)
        data.pop("receipt_handle")
        return {_camel(name): value for name, value in data.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _millis(value: str | None) -> str | None:
    if not value:
        return None
    try:
        instant = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return None
    return iso_z_seconds(instant)


def receive_all(sqs, queue_url: str, visibility_s: int = PEEK_VISIBILITY_S, limit: int = 10_000) -> list[dict]:
    """Every message now on the queue, each once, left invisible for `visibility_s`."""
    found: dict[str, dict] = {}
    empty = 0
    while len(found) < limit and empty < _EMPTY_RECEIVES_TO_STOP:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=visibility_s,
            AttributeNames=["All"],
        ).get("Messages", [])
        empty = 0 if batch else empty + 1
        for message in batch:
            found.setdefault(message["MessageId"], message)
    return list(found.values())


def make_visible(sqs, queue_url: str, messages: list[dict]) -> None:
    """Hand messages back to the queue now (visibility 0), ten per call."""
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(chunk)
            ],
        )


def describe(message: dict) -> DeadLetter:
    """A dead-lettered message with its run's state from the runs table."""
    from rostersync.store.sync_runs import get_run
    from rostersync.sync.messages import MalformedMessage, parse

    attributes = message.get("Attributes", {})
    try:
        parsed = parse(message.get("Body", ""))
    except MalformedMessage:
        parsed = None
    run = get_run(parsed.district_id, parsed.run_id) if parsed else None
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        district_id=parsed.district_id if parsed else None,
        run_id=parsed.run_id if parsed else None,
        action=parsed.action if parsed else None,
        receive_count=int(attributes.get("ApproximateReceiveCount", 0) or 0),
        first_received_at=_millis(attributes.get("ApproximateFirstReceiveTimestamp")),
        sent_at=_millis(attributes.get("SentTimestamp")),
        run_status=run.status if run else None,
        run_trigger=run.trigger if run else None,
        run_failure=run.failure if run else None,
        replayed_by=run.replayed_by if run else None,
        readable=parsed is not None,
    )


def list_dead_letters(target) -> list[DeadLetter]:
    """Everything in the sync dead-letter queue, oldest first; nothing is deleted."""
    messages = receive_all(target.sqs, target.dlq_url)
    try:
        letters = [describe(message) for message in messages]
    finally:
        make_visible(target.sqs, target.dlq_url, messages)
    return sorted(letters, key=lambda letter: (letter.sent_at or "", letter.message_id))


def format_table(letters: list[DeadLetter]) -> str:
    if not letters:
        return "The sync dead-letter queue is empty."
    header = ("DISTRICT", "RUN", "TRIGGER", "STATUS", "RECEIVES", "FIRST FAILURE", "FAILURE")
    rows = [
        (
            letter.district_id or "(unreadable message)",
            letter.run_id or letter.message_id,
            letter.run_trigger or "-",
            letter.run_status or ("unknown run" if letter.readable else "-"),
            str(letter.receive_count),
            letter.first_received_at or "-",
            (letter.run_failure or "-").replace("\n", " ")[:120],
        )
        for letter in letters
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:  # every cell padded but the last, which stays ragged
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        )
    lines.append(f"{len(letters)} message(s). Replay with: rostersync ops redrive [--district ID]")
    return "\n".join(lines)


def to_json(letters: list[DeadLetter]) -> str:
    return json.dumps([letter.public() for letter in letters], indent=2)
