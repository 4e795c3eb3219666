"""Replaying failed district syncs from the dead-letter queue.

Two ways, one rule: a replay is always a NEW run with trigger "replay" (the failed run stays
failed and records replayedBy), and only a district's latest run is replayed (a replay syncs
the whole district; an older failure is superseded by any newer run).

- On AWS without --district: an SQS message move task moves every message back to the sync
  queue. First every run with a message in the dead-letter queue is marked dead-lettered
  (and failed, if a worker died on its last attempt and left it running), so the worker turns
  each moved message into that run's replay instead of ignoring a finished run.
- With --district, or on the local stack (moto has no move tasks): receive the messages,
  create the replay run here, send its message to the sync queue, and delete the dead-letter
  messages only after that send succeeded.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from rostersync_tools.ops.dlq import make_visible, receive_all

GAVE_UP = "The sync worker stopped on its last attempt; the run's message was found in the dead-letter queue."
HOLD_VISIBILITY_S = 300  # the messages stay ours while we replay them


@dataclass
class RedriveReport:
    method: str  # move_task | replay
    task_handle: str | None = None
    moved_runs: list[dict] = field(default_factory=list)  # move task: runs prepared for replay
    replayed: list[dict] = field(default_factory=list)  # {districtId, failedRunId, replayRunId, messages}
    superseded: list[dict] = field(default_factory=list)  # deleted: a newer run of the district exists
    left: list[dict] = field(default_factory=list)  # still in the dead-letter queue, and why

    def summary(self) -> str:
        lines = []
        if self.method == "move_task":
            lines.append(f"Started an SQS message move task ({self.task_handle}) from the dead-letter queue "
                         f"to the sync queue; {len(self.moved_runs)} run(s) will be replayed by the worker.")
        for item in self.replayed:
            lines.append(f"replayed district {item['districtId']}: run {item['failedRunId'] or '(unknown)'} -> "
                         f"new run {item['replayRunId']} (trigger replay)")
        for item in self.superseded:
            lines.append(f"dropped message of district {item['districtId']} run {item['runId']}: {item['reason']}")
        for item in self.left:
            lines.append(f"left in the dead-letter queue: {item.get('districtId') or item['messageId']}: {item['reason']}")
        if not lines:
            lines.append("Nothing to redrive.")
        return "\n".join(lines)


def redrive(target, district_id: str | None = None) -> RedriveReport:
    if target.supports_move_tasks and district_id is None:
        return _move_task(target)
    return _replay_here(target, district_id)


# ---------------------------------------------------------------- AWS: message move task


def _move_task(target) -> RedriveReport:
    from rostersync.store.runs import get_run
    from rostersync.sync.messages import MalformedMessage, parse
    from rostersync.sync.runs import mark_dead_lettered

    report = RedriveReport(method="move_task")
    messages = receive_all(target.sqs, target.dlq_url)
    try:
        for message in messages:
            try:
                parsed = parse(message.get("Body", ""))
            except MalformedMessage:
                continue  # the worker acknowledges and drops it
            run = get_run(parsed.district_id, parsed.run_id)
            if run is not None:
                mark_dead_lettered(run, GAVE_UP)
                report.moved_runs.append({"districtId": run.district_id, "runId": run.run_id})
    finally:
        make_visible(target.sqs, target.dlq_url, messages)
    task = target.sqs.start_message_move_task(SourceArn=target.dlq_arn, DestinationArn=target.queue_arn)
    report.task_handle = task.get("TaskHandle")
    return report


# ---------------------------------------------------------------- fallback: replay here


def _replay_here(target, district_filter: str | None) -> RedriveReport:
    from rostersync.sync.messages import MalformedMessage, parse

    report = RedriveReport(method="replay")
    messages = receive_all(target.sqs, target.dlq_url, visibility_s=HOLD_VISIBILITY_S)
    done: set[str] = set()
    try:
        by_district: dict[str, list[tuple[dict, object]]] = defaultdict(list)
        for message in messages:
            try:
                parsed = parse(message.get("Body", ""))
            except MalformedMessage:
                report.left.append({"messageId": message["MessageId"], "reason": "not a sync message"})
                continue
            if district_filter is None or parsed.district_id == district_filter:
                by_district[parsed.district_id].append((message, parsed))
        for district_id, items in by_district.items():
            deleted = _replay_district(target, district_id, items, report)
            done.update(deleted)
    finally:
        make_visible(target.sqs, target.dlq_url, [m for m in messages if m["MessageId"] not in done])
    return report


def _replay_district(target, district_id: str, items: list, report: RedriveReport) -> set[str]:
    """Replay one district's dead-lettered runs as one new run; the message ids deleted."""
    from rostersync.store.runs import FAILED, get_run, latest_run
    from rostersync.sync import messages as queue
    from rostersync.sync import runs

    failed_runs = {}
    for _message, parsed in items:
        run = get_run(district_id, parsed.run_id)
        if run is not None:
            failed_runs[run.run_id] = runs.mark_dead_lettered(run, GAVE_UP)
    newest = failed_runs[max(failed_runs)] if failed_runs else None
    message_ids = {message["MessageId"] for message, _ in items}

    try:
        if newest is None:  # the runs table knows none of them: replay the district anyway
            replay = runs.start_run(district_id, "replay", "full")
        elif newest.replayed_by:  # replayed before (a redrive that stopped before deleting)
            replay = get_run(district_id, newest.replayed_by)
        elif newest.status != FAILED:  # it finished otherwise in the meantime
            replay = None
        else:
            replay = runs.start_replay(newest)
    except runs.RunInProgress as busy:
        report.left.append({"districtId": district_id, "messageId": ",".join(sorted(message_ids)),
                            "reason": f"a sync of the district is queued or running ({busy.run_id}); redrive later"})
        return set()
    except runs.DistrictNotFound:
        report.left.append({"districtId": district_id, "messageId": ",".join(sorted(message_ids)),
                            "reason": "no such district"})
        return set()

    if replay is None:
        latest = latest_run(district_id)
        for _message, parsed in items:
            report.superseded.append({"districtId": district_id, "runId": parsed.run_id,
                                      "reason": f"a newer run ({latest.run_id if latest else '?'}) exists"})
    else:
        if replay.status == "queued" and not replay.invocations:
            try:
                queue.send_run_message(district_id, replay.run_id, "run", url=target.queue_url)
            except Exception as error:  # the messages stay in the dead-letter queue; the replay must not hold the district
                runs.fail(replay, "The replay could not be queued; redrive again.")
                report.left.append({"districtId": district_id, "messageId": ",".join(sorted(message_ids)),
                                    "reason": f"could not send the replay's message ({type(error).__name__})"})
                return set()
        report.replayed.append({"districtId": district_id, "failedRunId": newest.run_id if newest else None,
                                "replayRunId": replay.run_id, "messages": len(items)})
    _delete(target, [message for message, _ in items])
    return message_ids


def _delete(target, messages: list[dict]) -> None:
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        target.sqs.delete_message_batch(
            QueueUrl=target.dlq_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )
