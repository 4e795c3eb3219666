"""`rostersync local events` and `rostersync local outbox`: what the running local stack put on
its event bus, and the messages it sent (or would have sent) to district contacts."""

from __future__ import annotations

import json
import os
import sys

from rostersync_tools.local import event_sink
from rostersync_tools.local.state import read_running_state, state_dir


def _stack_environment() -> dict:
    state = read_running_state(state_dir())
    os.environ.update(state["environment"])
    from rostersync.settings import get_settings

    get_settings.cache_clear()
    return state


def _logs_client():
    import boto3

    env = os.environ
    return boto3.client("logs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env.get("AWS_REGION", "us-east-1"))


def _matches(event: dict, district: str | None, detail_type: str | None) -> bool:
    detail = event.get("detail") or {}
    return (district is None or detail.get("districtId") == district) and (
        detail_type is None or event.get("detail-type", "").lower() == detail_type.lower()
    )


def show_events(
    district: str | None, detail_type: str | None, limit: int, as_json: bool, full: bool, keep_following: bool, out=None
) -> int:
    out = out or sys.stdout
    _stack_environment()
    logs = _logs_client()
    kept = [e for e in event_sink.kept_events(logs) if _matches(e, district, detail_type)]
    seen = {(e.get("id"), e["keptAt"]) for e in event_sink.kept_events(logs)}
    for event in list(reversed(kept))[:limit]:  # newest first
        print(json.dumps(event, sort_keys=True) if as_json else event_sink.format_event(event, full), file=out)
    if not kept and not as_json:
        print("no events yet", file=out)
    out.flush()
    if not keep_following:
        return 0
    try:
        for event in event_sink.follow(logs, seen=seen):  # then each new one as it comes
            if _matches(event, district, detail_type):
                print(
                    json.dumps(event, sort_keys=True) if as_json else event_sink.format_event(event, full),
                    file=out,
                    flush=True,
                )
    except KeyboardInterrupt:
        return 0
    return 0


def show_outbox(district: str | None, limit: int, as_json: bool, out=None) -> int:
    out = out or sys.stdout
    _stack_environment()
    from rostersync.notify.notifications import recent

    messages = recent(district, limit)
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "districtId": m.district_id,
                        "kind": m.kind,
                        "night": m.night,
                        "runId": m.run_id,
                        "to": list(m.recipients),
                        "status": m.status,
                        "detail": m.detail,
                        "subject": m.subject,
                        "body": m.body,
                        "createdAt": m.created_at.isoformat().replace("+00:00", "Z"),
                    }
                    for m in messages
                ],
                indent=2,
            ),
            file=out,
        )
        return 0
    if not messages:
        print("the outbox is empty", file=out)
    for m in messages:
        to = ", ".join(m.recipients) or "(no contacts)"
        print(
            f"{m.created_at:%Y-%m-%dT%H:%M:%SZ}  {m.kind:<21} {m.district_id}  night {m.night}  {m.status}  to {to}",
            file=out,
        )
        print(f"  Subject: {m.subject}", file=out)
        for line in m.body.splitlines():
            print(f"  | {line}", file=out)
        print(file=out)
    return 0
