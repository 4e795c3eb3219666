"""Replaying failed district syncs from the dead-letter queue.

Two ways, one rule: a replay is always a NEW run with trigger "replay" (the failed run stays
failed and records replayedBy), and only a district's latest run is replayed (a replay syncs
the whole district; an older failure is superseded by any newer run).

- On AWS without --district: an SQS message move task moves every message back to the sync
  queue. First every run with a message in the dead-letter queue is marked dead-lettered
  (and failed, if a worker died on its last attempt and left it running), so the worker turns
  each moved message into that run's replay instead of ignoring a finished run. The task is
  then followed (list_message_move_tasks) to its end.
- With --district, or on the local stack (moto has no move tasks): receive the messages,
  create the replay run here, send its message to the sync queue, and delete the dead-letter
  messages only after that send succeeded.

Before acting, `plan()` says per district what will happen (the dry run shows only that).
After acting, each replay run can be followed until it finishes, and what it did is reported.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from rostersync_tools.ops.dlq import make_visible, receive_all
from rostersync_tools.ops.output import table

if TYPE_CHECKING:
    from rostersync.store.sync_runs import SyncRunModel

GAVE_UP = "The sync worker stopped on its last attempt; the run's message was found in the dead-letter queue."
HOLD_VISIBILITY_S = 300  # the messages stay ours while we replay them
POLL_S = 5.0
FINISHED = ("succeeded", "failed", "needs_review")
TASK_ENDED = ("COMPLETED", "FAILED", "CANCELLED")

Say = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


# ---------------------------------------------------------------- the plan


@dataclass
class DistrictPlan:
    district_id: str
    action: str  # replay | already_replayed | drop | leave
    detail: str
    failed_run_id: str | None
    message_ids: list[str]
    run_ids: list[str]


@dataclass
class Plan:
    target: str
    method: str  # move_task | replay
    districts: list[DistrictPlan]
    unreadable: list[str]  # message ids that are not sync messages
    messages: int

    @property
    def empty(self) -> bool:
        return not self.districts and not self.unreadable

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "method": self.method,
            "messages": self.messages,
            "unreadableMessageIds": self.unreadable,
            "districts": [
                {
                    "districtId": d.district_id,
                    "action": d.action,
                    "detail": d.detail,
                    "failedRunId": d.failed_run_id,
                    "messageIds": d.message_ids,
                    "runIds": d.run_ids,
                }
                for d in self.districts
            ],
        }

    def describe(self) -> str:
        if self.empty:
            return f"Nothing to redrive: the sync dead-letter queue of {self.target} is empty."
        how = (
            "an SQS message move task brings every message back to the sync queue; the worker replays each"
            if self.method == "move_task"
            else "each district's replay run is created and queued from here"
        )
        rows = [(d.district_id, d.action, str(len(d.message_ids)), d.failed_run_id, d.detail) for d in self.districts]
        lines = [
            f"Redrive on {self.target}: {self.messages} message(s), {len(self.districts)} district(s); {how}.",
            table(("DISTRICT", "ACTION", "MESSAGES", "FAILED RUN", "WHAT HAPPENS"), rows),
        ]
        if self.unreadable:
            kept = (
                "moved to the sync queue, where the worker drops them"
                if self.method == "move_task"
                else "left in the queue"
            )
            lines.append(f"{len(self.unreadable)} message(s) are not sync messages: {kept}.")
        return "\n".join(lines)


def plan(target, district_id: str | None = None) -> Plan:
    """What a redrive would do now, changing nothing (the messages are peeked, then visible again)."""
    from rostersync.sync.messages import MalformedMessage, parse

    method = "move_task" if target.supports_move_tasks and district_id is None else "replay"
    messages = receive_all(target.sqs, target.dlq_url)
    try:
        by_district: dict[str, list] = defaultdict(list)
        unreadable = []
        for message in messages:
            try:
                parsed = parse(message.get("Body", ""))
            except MalformedMessage:
                unreadable.append(message["MessageId"])
                continue
            if district_id is None or parsed.district_id == district_id:
                by_district[parsed.district_id].append((message, parsed))
        districts = [_predict(d, items) for d, items in sorted(by_district.items())]
    finally:
        make_visible(target.sqs, target.dlq_url, messages)
    counted = sum(len(d.message_ids) for d in districts) + (len(unreadable) if district_id is None else 0)
    return Plan(target.description, method, districts, unreadable if district_id is None else [], counted)


def _predict(district_id: str, items: list) -> DistrictPlan:
    """What replaying this district's dead letters will do, from the runs table (no change)."""
    from rostersync.store.sync_runs import ACTIVE_STATUSES, FAILED, get_district, get_run, latest_run

    message_ids = [message["MessageId"] for message, _ in items]
    run_ids = sorted({parsed.run_id for _, parsed in items})

    def planned(action, detail, failed=None):
        return DistrictPlan(district_id, action, detail, failed, message_ids, run_ids)

    if get_district(district_id) is None:
        return planned("leave", "no such district in this stack: the messages stay")
    known = [run for run in (get_run(district_id, run_id) for run_id in run_ids) if run is not None]
    newest = max(known, key=lambda run: run.run_id) if known else None
    latest = latest_run(district_id)
    if newest is None:
        if latest is not None and latest.status in ACTIVE_STATUSES:
            return planned(
                "leave",
                f"no run on record for these messages, and a sync is {latest.status} ({latest.run_id}): redrive later",
            )
        return planned("replay", "no run on record for these messages: a new full sync with trigger replay")
    if newest.replayed_by:
        return planned(
            "already_replayed", f"replayed before as {newest.replayed_by}: the dead letters are deleted", newest.run_id
        )
    if latest is not None and latest.run_id != newest.run_id:
        return planned(
            "drop",
            f"a newer run ({latest.run_id}, {latest.status}) exists: the dead letters are deleted",
            newest.run_id,
        )
    if newest.status in ACTIVE_STATUSES:
        return planned(
            "replay",
            f"run {newest.run_id} is still marked {newest.status} (its worker stopped on the "
            f"last attempt): it is marked failed, then replayed as a new run",
            newest.run_id,
        )
    if newest.status == FAILED:
        return planned("replay", f"failed run {newest.run_id} is replayed as a new run (trigger replay)", newest.run_id)
    return planned(
        "drop", f"run {newest.run_id} ended {newest.status} meanwhile: the dead letters are deleted", newest.run_id
    )


# ---------------------------------------------------------------- the report


@dataclass
class RedriveReport:
    method: str  # move_task | replay
    task_handle: str | None = None
    move_task: dict | None = None  # the task as list_message_move_tasks last showed it
    moved_runs: list[dict] = field(default_factory=list)  # move task: runs prepared for replay
    replayed: list[dict] = field(default_factory=list)  # {districtId, failedRunId, replayRunId, messages, ...}
    superseded: list[dict] = field(default_factory=list)  # deleted: a newer run of the district exists
    left: list[dict] = field(default_factory=list)  # still in the dead-letter queue, and why

    @property
    def ok(self) -> bool:
        task_failed = self.move_task is not None and self.move_task.get("status") in ("FAILED", "CANCELLED")
        replay_failed = any(item.get("replayStatus") == "failed" for item in self.replayed)
        return not self.left and not task_failed and not replay_failed

    def to_json(self) -> dict:
        return asdict(self) | {"ok": self.ok}

    def summary(self) -> str:
        lines = []
        if self.method == "move_task":
            task = self.move_task or {}
            lines.append(
                f"SQS message move task {self.task_handle or '(handle not shown)'}: "
                f"{task.get('status', 'STARTED')}, {task.get('moved', '?')} of {task.get('toMove', '?')} "
                f"message(s) moved"
                + (f"; failure: {task['failureReason']}" if task.get("failureReason") else "")
                + f"; {len(self.moved_runs)} run(s) prepared for replay by the worker."
            )
        if self.replayed:
            rows = [
                (
                    item["districtId"],
                    item.get("failedRunId"),
                    item.get("replayRunId"),
                    item.get("replayStatus", "queued"),
                    item.get("changes"),
                    " ".join((item.get("note") or "-").split()),
                )
                for item in self.replayed
            ]
            lines.append(table(("DISTRICT", "FAILED RUN", "REPLAY RUN", "STATUS", "CHANGES", "NOTE"), rows))
            lines.append("(trigger replay; changes: +created ~updated -deactivated)")
        for item in self.superseded:
            lines.append(f"dropped message of district {item['districtId']} run {item['runId']}: {item['reason']}")
        for item in self.left:
            lines.append(
                f"left in the dead-letter queue: {item.get('districtId') or item['messageId']}: {item['reason']}"
            )
        if not lines:
            lines.append("Nothing to redrive.")
        return "\n".join(lines)


def redrive(
    target,
    district_id: str | None = None,
    *,
    say: Say = _quiet,
    follow: bool = False,
    timeout_s: float = 900.0,
    poll_s: float = POLL_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RedriveReport:
    follower = _Follower(say, timeout_s, poll_s, sleep, clock)
    if target.supports_move_tasks and district_id is None:
        return _move_task(target, say, follower if follow else None)
    report = _replay_here(target, district_id, say)
    if follow:
        follower.replays(report)
    return report


# ---------------------------------------------------------------- AWS: message move task


def _move_task(target, say: Say, follower) -> RedriveReport:
    from rostersync.store.sync_runs import get_run
    from rostersync.sync.messages import MalformedMessage, parse
    from rostersync.sync.run_lifecycle import mark_dead_lettered

    report = RedriveReport(method="move_task")
    running = _running_task(target)
    if running is not None:
        report.task_handle = running.get("TaskHandle")
        say(f"A message move task is already running on the dead-letter queue ({report.task_handle}); following it.")
    else:
        messages = receive_all(target.sqs, target.dlq_url)
        try:
            for index, message in enumerate(messages, 1):
                try:
                    parsed = parse(message.get("Body", ""))
                except MalformedMessage:
                    continue  # the worker acknowledges and drops it
                run = get_run(parsed.district_id, parsed.run_id)
                if run is not None:
                    run = mark_dead_lettered(run, GAVE_UP)
                    report.moved_runs.append({"districtId": run.district_id, "runId": run.run_id})
                    say(
                        f"[{index}/{len(messages)}] district {run.district_id}: run {run.run_id} marked "
                        f"{run.status}, dead-lettered: the worker will replay it"
                    )
        finally:
            make_visible(target.sqs, target.dlq_url, messages)
        task = target.sqs.start_message_move_task(SourceArn=target.dlq_arn, DestinationArn=target.queue_arn)
        report.task_handle = task.get("TaskHandle")
        say(f"Started SQS message move task {report.task_handle}: dead-letter queue -> sync queue.")
    report.move_task = {"status": "RUNNING"}
    if follower is None:
        return report
    started_ms = int(time.time() * 1000) - 60_000
    report.move_task = follower.move_task(target, report.task_handle, started_ms)
    if report.move_task.get("status") == "COMPLETED":
        follower.moved_runs(report)
    return report


def _running_task(target) -> dict | None:
    tasks = target.sqs.list_message_move_tasks(SourceArn=target.dlq_arn, MaxResults=10).get("Results", [])
    return next((task for task in tasks if task.get("Status") in ("RUNNING", "CANCELLING")), None)


def _task_json(task: dict) -> dict:
    return {
        "status": task.get("Status"),
        "moved": task.get("ApproximateNumberOfMessagesMoved"),
        "toMove": task.get("ApproximateNumberOfMessagesToMove"),
        "failureReason": task.get("FailureReason"),
        "startedTimestamp": task.get("StartedTimestamp"),
    }


class _Follower:
    """Polls until a move task ends and each replay finishes, or until the time is up."""

    def __init__(self, say: Say, timeout_s: float, poll_s: float, sleep, clock):
        self.say, self.poll_s, self.sleep, self.clock = say, poll_s, sleep, clock
        self.until = clock() + timeout_s

    def _time_left(self) -> bool:
        return self.clock() < self.until

    def move_task(self, target, handle: str | None, started_ms: int) -> dict:
        """The task's last state. Only a RUNNING task shows its handle; after it ends, it is the
        newest task of the queue started since we began."""
        last = None
        while True:
            tasks = target.sqs.list_message_move_tasks(SourceArn=target.dlq_arn, MaxResults=10).get("Results", [])
            task = next((t for t in tasks if handle and t.get("TaskHandle") == handle), None)
            if task is None:
                task = next((t for t in tasks if int(t.get("StartedTimestamp") or 0) >= started_ms), None)
            if task is None:
                return {"status": "UNKNOWN", "failureReason": "the move task is not listed on the dead-letter queue"}
            state = _task_json(task)
            shown = (state["status"], state["moved"])
            if shown != last:
                self.say(
                    f"move task: {state['status']}, {state['moved'] or 0} of {state['toMove'] or '?'} message(s) moved"
                    + (f" ({state['failureReason']})" if state["failureReason"] else "")
                )
                last = shown
            if state["status"] in TASK_ENDED or not self._time_left():
                return state
            self.sleep(self.poll_s)

    def moved_runs(self, report: RedriveReport) -> None:
        """After the move: wait for the worker to turn each moved run into its replay, then follow it."""
        from rostersync.store.sync_runs import get_run, latest_run

        newest: dict[str, str] = {}
        for item in report.moved_runs:
            newest[item["districtId"]] = max(newest.get(item["districtId"], ""), item["runId"])
        pending = dict(newest)
        while pending:
            for district_id, run_id in list(pending.items()):
                run = get_run(district_id, run_id)
                if run is not None and run.replayed_by:
                    report.replayed.append(
                        {
                            "districtId": district_id,
                            "failedRunId": run_id,
                            "replayRunId": run.replayed_by,
                            "messages": None,
                        }
                    )
                    self.say(f"district {district_id}: the worker replays run {run_id} as {run.replayed_by}")
                    del pending[district_id]
                elif (
                    run is not None
                    and (latest := latest_run(district_id))
                    and latest.run_id != run_id
                    and not latest.replay_of
                ):
                    report.superseded.append(
                        {"districtId": district_id, "runId": run_id, "reason": f"a newer run ({latest.run_id}) exists"}
                    )
                    del pending[district_id]
            if not pending or not self._time_left():
                break
            self.sleep(self.poll_s)
        for district_id, run_id in pending.items():
            report.replayed.append(
                {
                    "districtId": district_id,
                    "failedRunId": run_id,
                    "replayRunId": None,
                    "replayStatus": "not started",
                    "note": "the worker has not picked the moved message up yet: "
                    f"rostersync ops runs --district {district_id}",
                }
            )
        self.replays(report)

    def replays(self, report: RedriveReport) -> None:
        """Follow each replay run until it finishes; record its status, changes and failure."""
        from rostersync.store.sync_runs import get_run
        from rostersync_tools.ops.run_history import _changes, run_json

        pending = {item["replayRunId"]: item for item in report.replayed if item.get("replayRunId")}
        shown: dict[str, str] = {}
        while pending:
            for run_id, item in list(pending.items()):
                run = get_run(item["districtId"], run_id)
                if run is None:
                    continue
                document = run_json(run)
                item.update(
                    replayStatus=run.status,
                    changes=_changes(document),
                    errorTotal=document["errorTotal"],
                    failure=run.failure,
                    note=run.failure or "",
                )
                if shown.get(run_id) != run.status:
                    self.say(
                        f"district {item['districtId']}: replay {run_id} {run.status}"
                        + (f" ({_changes(document)})" if run.status in FINISHED else "")
                    )
                    shown[run_id] = run.status
                if run.status in FINISHED:
                    if run.status == "needs_review":
                        item["note"] = (
                            "deactivations held back: approve with POST "
                            f"/districts/{item['districtId']}/syncs/{run_id}/approve"
                        )
                    del pending[run_id]
            if not pending or not self._time_left():
                break
            self.sleep(self.poll_s)
        for run_id, item in pending.items():
            item["note"] = (
                f"still {item.get('replayStatus', 'queued')} when following stopped: "
                f"rostersync ops run {run_id} --district {item['districtId']}"
            )


# ---------------------------------------------------------------- fallback: replay here


def _replay_here(target, district_filter: str | None, say: Say) -> RedriveReport:
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
                if district_filter is None:
                    report.left.append({"messageId": message["MessageId"], "reason": "not a sync message"})
                continue
            if district_filter is None or parsed.district_id == district_filter:
                by_district[parsed.district_id].append((message, parsed))
        for index, (district_id, items) in enumerate(sorted(by_district.items()), 1):
            deleted = _replay_district(target, district_id, items, report)
            done.update(deleted)
            say(f"[{index}/{len(by_district)}] district {district_id}: {_outcome(report, district_id)}")
    finally:
        make_visible(target.sqs, target.dlq_url, [m for m in messages if m["MessageId"] not in done])
    return report


def _outcome(report: RedriveReport, district_id: str) -> str:
    for item in report.replayed:
        if item["districtId"] == district_id:
            return (
                f"run {item['failedRunId'] or '(none on record)'} -> new run {item['replayRunId']} "
                f"(trigger replay), {item['messages']} dead letter(s) deleted"
            )
    for item in report.left:
        if item.get("districtId") == district_id:
            return f"left in the dead-letter queue: {item['reason']}"
    reasons = {item["reason"] for item in report.superseded if item["districtId"] == district_id}
    return "dropped: " + "; ".join(sorted(reasons)) if reasons else "nothing done"


def _replay_district(target, district_id: str, items: list, report: RedriveReport) -> set[str]:
    """Replay one district's dead-lettered runs as one new run; the message ids deleted."""
    from rostersync.store.sync_runs import FAILED, get_run, latest_run
    from rostersync.sync import messages as queue
    from rostersync.sync import run_lifecycle

    failed_runs = {}
    for _message, parsed in items:
        run = get_run(district_id, parsed.run_id)
        if run is not None:
            failed_runs[run.run_id] = run_lifecycle.mark_dead_lettered(run, GAVE_UP)
    newest = failed_runs[max(failed_runs)] if failed_runs else None
    message_ids = {message["MessageId"] for message, _ in items}

    replay: SyncRunModel | None
    try:
        if newest is None:  # the runs table knows none of them: replay the district anyway
            replay = run_lifecycle.start_run(district_id, "replay", "full")
        elif newest.replayed_by:  # replayed before (a redrive that stopped before deleting)
            replay = get_run(district_id, newest.replayed_by)
        elif newest.status != FAILED:  # it finished otherwise in the meantime
            replay = None
        else:
            replay = run_lifecycle.start_replay(newest)
    except run_lifecycle.RunInProgress as busy:
        report.left.append(
            {
                "districtId": district_id,
                "messageId": ",".join(sorted(message_ids)),
                "reason": f"a sync of the district is queued or running ({busy.run_id}); redrive later",
            }
        )
        return set()
    except run_lifecycle.DistrictNotFound:
        report.left.append(
            {"districtId": district_id, "messageId": ",".join(sorted(message_ids)), "reason": "no such district"}
        )
        return set()

    if replay is None:
        latest = latest_run(district_id)
        for _message, parsed in items:
            report.superseded.append(
                {
                    "districtId": district_id,
                    "runId": parsed.run_id,
                    "reason": f"a newer run ({latest.run_id if latest else '?'}) exists",
                }
            )
    else:
        if replay.status == "queued" and not replay.invocations:
            try:
                queue.send_run_message(district_id, replay.run_id, "run", url=target.queue_url)
            except (
                Exception
            ) as error:  # the messages stay in the dead-letter queue; the replay must not hold the district
                run_lifecycle.fail(replay, "The replay could not be queued; redrive again.")
                report.left.append(
                    {
                        "districtId": district_id,
                        "messageId": ",".join(sorted(message_ids)),
                        "reason": f"could not send the replay's message ({type(error).__name__})",
                    }
                )
                return set()
        report.replayed.append(
            {
                "districtId": district_id,
                "failedRunId": newest.run_id if newest else None,
                "replayRunId": replay.run_id,
                "messages": len(items),
                "replayStatus": replay.status,
            }
        )
    _delete(target, [message for message, _ in items])
    return message_ids


def _delete(target, messages: list[dict]) -> None:
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        target.sqs.delete_message_batch(
            QueueUrl=target.dlq_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )
