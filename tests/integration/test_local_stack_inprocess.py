"""LocalStack in the test process: the real API function behind the adapter, the worker loop,
and the dispatcher invoked with EventBridge's scheduled event."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rostersync_tools.local.tick import parse_instant, scheduled_event
from tests.fixtures.stack import api

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_the_stack_serves_the_real_api_function_behind_the_authorizer(local_stack):
    assert api(local_stack).get("/districts/x/schools")[0] == 401

    status, body = api(local_stack, local_stack.token("platform_admin")).post(
        "/districts", {"name": "Lakeview Unified", "timezone": "America/Chicago"}
    )
    assert status == 201, body
    district_id = body["districtId"]

    status, _ = api(local_stack, local_stack.token("teacher", district_id)).post(
        "/districts", {"name": "Not mine", "timezone": "America/Chicago"}
    )
    assert status == 403

    status, body = api(local_stack, local_stack.token("district_admin", district_id)).get(
        f"/districts/{district_id}/schools"
    )
    assert status == 200, body
    assert body == {"schools": []}


def test_the_worker_loop_runs_and_the_stack_goes_idle(local_stack):
    assert local_stack.worker.alive()
    local_stack.wait_until_idle(timeout=10)


def test_tick_invokes_the_real_dispatcher(local_stack):
    result = local_stack.tick("2026-12-02T10:00:00Z")
    assert isinstance(result, dict), result
    local_stack.wait_until_idle(timeout=30)


def test_scheduled_event_is_eventbridges_shape():
    sample = json.loads((EVENTS / "dispatcher_scheduled.json").read_text())
    event = scheduled_event(parse_instant("2026-12-02T11:00:00+01:00"))
    assert set(event) == set(sample)
    assert event["time"] == "2026-12-02T10:00:00Z"
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["detail"] == {}
    assert event["resources"][0].startswith("arn:aws:events:") and ":rule/" in event["resources"][0]


def test_a_time_without_a_zone_is_refused():
    with pytest.raises(ValueError):
        parse_instant("2026-12-02T10:00:00")
    assert parse_instant("2026-12-02T10:00:00Z") == datetime(2026, 12, 2, 10, tzinfo=UTC)
