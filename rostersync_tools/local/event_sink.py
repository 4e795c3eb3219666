"""What the local stack keeps of the events the product puts on its bus, and its outbox.

Deployed, the app's own rules on the stack's bus take the events. Locally a catch-all rule on
the same bus (moto's EventBridge) sends every rostersync event to a CloudWatch Logs group in
the embedded AWS, so `rostersync local events` can show what the product put, newest first
(`--follow` keeps watching). The district notifications' outbox is the NotificationsTable
(rostersync.notify.notifications): every message, to whom, and whether it was sent; SES in the
embedded AWS takes the sends from a verified local sender.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

SINK_RULE = "rostersync-local-sink"
SINK_LOG_GROUP = "/rostersync/local/events"
LOCAL_SENDER = "roster-sync@notifications.localhost"


def prepare(session, endpoint_url: str, bus_name: str) -> None:
    """The sink rule and log group on `bus_name`, and the verified notification sender. Idempotent."""
    logs = session.client("logs", endpoint_url=endpoint_url)
    if not logs.describe_log_groups(logGroupNamePrefix=SINK_LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=SINK_LOG_GROUP)
    group_arn = logs.describe_log_groups(logGroupNamePrefix=SINK_LOG_GROUP)["logGroups"][0]["arn"].removesuffix(":*")
    events = session.client("events", endpoint_url=endpoint_url)
    events.put_rule(
        Name=SINK_RULE, EventBusName=bus_name, EventPattern=json.dumps({"source": ["rostersync"]}), State="ENABLED"
    )
    events.put_targets(Rule=SINK_RULE, EventBusName=bus_name, Targets=[{"Id": "local-sink", "Arn": group_arn}])
    session.client("ses", endpoint_url=endpoint_url).verify_email_identity(EmailAddress=LOCAL_SENDER)


def kept_events(logs_client, since_ms: int = 0) -> list[dict]:
    """Every kept event (EventBridge's envelope: id, time, detail-type, detail, ...), oldest first,
    with `keptAt` (ms) from the log."""
    found = []
    for page in logs_client.get_paginator("filter_log_events").paginate(
        logGroupName=SINK_LOG_GROUP, startTime=since_ms
    ):
        for record in page["events"]:
            try:
                event = json.loads(record["message"])
            except ValueError:
                continue
            event["keptAt"] = record["timestamp"]
            found.append(event)
    found.sort(key=lambda e: (e["keptAt"], e.get("id", "")))
    return found


def format_event(event: dict, full: bool = False) -> str:
    detail = event.get("detail") or {}
    if isinstance(detail, str):
        detail = json.loads(detail)
    when = event.get("time", "")
    head = f"{when}  {event.get('detail-type', '?'):<22} {detail.get('districtId', '-')}"
    if full:
        return f"{head}\n{json.dumps(detail, indent=2, sort_keys=True)}"
    summary = {k: v for k, v in detail.items() if k not in ("districtId", "changes", "counts")}
    if "changes" in detail:
        summary["changes"] = len(detail["changes"])
    return f"{head}  {json.dumps(summary, sort_keys=True)}"


def follow(logs_client, poll_s: float = 1.0, seen: set | None = None) -> Iterator[dict]:
    """Events as they are kept, oldest first, until interrupted."""
    seen = set() if seen is None else seen
    while True:
        for event in kept_events(logs_client):
            key = (event.get("id"), event["keptAt"])
            if key not in seen:
                seen.add(key)
                yield event
        time.sleep(poll_s)
