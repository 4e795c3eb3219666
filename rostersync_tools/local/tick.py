"""`local tick`: the nightly dispatcher invoked once, as its EventBridge schedule would.

The event is EventBridge's "Scheduled Event" for the template's DispatcherFunction rule at the
given instant. `tick_running_stack` runs it in this process against a stack that `local up`
started elsewhere, using the state file that stack wrote.
"""

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from rostersync_tools.local.embedded_aws import REGION
from rostersync_tools.local.functions import LOCAL_ACCOUNT_ID, LambdaContext, load_handler
from rostersync_tools.local.state import read_running_state

RULE_NAME = "rostersync-local-DispatcherFunctionNightly"


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with a zone (2026-12-02T10:00:00Z); a bare time is refused."""
    value = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; give UTC as 2026-12-02T10:00:00Z")
    return value.astimezone(UTC)


def scheduled_event(instant: datetime) -> dict:
    """EventBridge's event for a scheduled rule firing at `instant` (time in whole seconds, UTC)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT_ID,
        "time": instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{LOCAL_ACCOUNT_ID}:rule/{RULE_NAME}"],
        "detail": {},
    }


def invoke_dispatcher(instant: datetime):
    """Run functions/dispatcher/app.py once (the environment must already point at the stack)."""
    return load_handler("dispatcher")(scheduled_event(instant), LambdaContext("dispatcher"))


def summarise(instant: datetime, result) -> str:
    when = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"tick {when}: dispatcher returned {json.dumps(result, default=str, sort_keys=True)}"


def tick_running_stack(directory: Path, instant: datetime):
    """Point this process at the running stack, then dispatch. NoRunningStack if there is none."""
    state = read_running_state(directory)
    os.environ.update(state["environment"])
    from rostersync.settings import get_settings

    get_settings.cache_clear()
    return invoke_dispatcher(instant)
