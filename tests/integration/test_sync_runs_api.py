"""The sync routes through the API's Lambda handler (HTTP API 2.0 events with JWT claims), on
the embedded AWS: starting, the one-sync-at-a-time rule, history with cursors, approval."""

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_locks import make_district, result


def call(
    method: str,
    path: str,
    *,
    role: str = "district_admin",
    district: str | None = None,
    query: dict | None = None,
    body=None,
    raw_body: str | None = None,
    claims_extra: dict | None = None,
):
    """The API function invoked as API Gateway would, by a caller with these claims."""
    from rostersync.api.app import handle

    claims = {"sub": "user-1", "custom:role": role, **(claims_extra or {})}
    if district is not None:
        claims["custom:district_id"] = district
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "req",
            "routeKey": "$default",
            "stage": "$default",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if text is not None:
        event["body"] = text
    response = handle(event, None)
    payload = response.get("body")
    return SimpleNamespace(status=response["statusCode"], body=json.loads(payload) if payload else None)


def admin(district_id: str):
    """Calls as that district's own admin."""
    return lambda method, path, **kw: call(method, path, district=district_id, **kw)


@pytest.fixture
def domain(clean_aws):
    from rostersync.store import sync_runs as store
    from rostersync.sync import run_lifecycle

    return SimpleNamespace(aws=clean_aws, store=store, lifecycle=run_lifecycle)


def finish_as(domain, district_id: str, run_id: str, status: str, **outcome):
    run = domain.store.get_run(district_id, run_id)
    assert domain.lifecycle.claim(run, "worker-message")
    assert domain.lifecycle.finish(run, "worker-message", status, result(status, **outcome))


def test_start_a_sync_then_a_second_one_is_refused_with_the_first_run(domain):
    district = make_district().district_id
    as_admin = admin(district)
    started = as_admin("POST", f"/districts/{district}/syncs", body={"mode": "delta"})
    assert started.status == 202, started.body
    run_id = started.body["runId"]
    assert drain(domain) == [{"districtId": district, "runId": run_id, "action": "run"}]

    again = as_admin("POST", f"/districts/{district}/syncs")  # no body at all: a "sync now" button
    assert again.status == 409
    assert again.body["error"]["code"] == "sync_in_progress"
    assert again.body["error"]["runId"] == run_id
    assert drain(domain) == []

    shown = as_admin("GET", f"/districts/{district}/syncs/{run_id}")
    assert shown.status == 200
    assert shown.body["runId"] == run_id
    assert (shown.body["trigger"], shown.body["mode"], shown.body["status"]) == ("manual", "delta", "queued")
    assert shown.body["startedAt"] is None and shown.body["finishedAt"] is None and shown.body["queuedAt"]
    assert set(shown.body["counts"]) == {"schools", "teachers", "students", "classes", "enrollments"}
    assert shown.body["counts"]["students"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "deactivated": 0,
        "skipped": 0,
        "skippedBy": {},
    }
    assert shown.body["errors"] == [] and shown.body["errorTotal"] == 0 and shown.body["notices"] == []


def test_a_finished_run_shows_counts_and_errors_and_frees_the_district(domain):
    district = make_district().district_id
    as_admin = admin(district)
    run_id = as_admin("POST", f"/districts/{district}/syncs").body["runId"]
    errors = [{"type": "students", "sisSourcedId": "stu-9", "code": "missing_field", "message": "givenName is missing"}]
    notices = [
        {
            "code": "no_current_term",
            "severity": "warning",
            "message": "The SIS lists 6 classes; all belong to terms that ended on 10 June 2025. ...",
            "counts": {"listed": 6, "termEnded": 6, "active": 0},
            "type": "classes",
            "sisSourcedId": None,
        }
    ]
    counts = {"students": {"created": 12, "unchanged": 3, "skipped": 5, "skippedBy": {"role": 2, "term_ended": 3}}}
    finish_as(domain, district, run_id, "succeeded", counts=counts, errors=errors, notices=notices)
    shown = as_admin("GET", f"/districts/{district}/syncs/{run_id}").body
    assert shown["status"] == "succeeded" and shown["startedAt"] and shown["finishedAt"]
    assert shown["counts"]["students"]["created"] == 12 and shown["counts"]["students"]["unchanged"] == 3
    assert shown["counts"]["students"]["skippedBy"] == {"role": 2, "term_ended": 3}
    # Notices apart from errors: they do not count in errorTotal.
    assert shown["errors"] == errors and shown["errorTotal"] == 1
    assert shown["notices"] == notices
    overview = as_admin("GET", f"/districts/{district}").body
    assert overview["lastRun"]["notices"] == notices, overview
    assert as_admin("POST", f"/districts/{district}/syncs", body={"mode": "full"}).status == 202


def test_start_needs_a_connection_and_a_configuration(domain):
    unconnected = make_district(connected=False).district_id
    unconfigured = make_district(configured=False).district_id
    answer = admin(unconnected)("POST", f"/districts/{unconnected}/syncs")
    assert (answer.status, answer.body["error"]["code"]) == (409, "not_connected")
    answer = admin(unconfigured)("POST", f"/districts/{unconfigured}/syncs")
    assert (answer.status, answer.body["error"]["code"]) == (409, "not_configured")
    assert drain(domain) == []


def test_start_refuses_bad_bodies(domain):
    district = make_district().district_id
    as_admin = admin(district)
    assert as_admin("POST", f"/districts/{district}/syncs", body={"mode": "partial"}).status == 422
    assert as_admin("POST", f"/districts/{district}/syncs", body={"mood": "full"}).status == 422
    assert as_admin("POST", f"/districts/{district}/syncs", raw_body="{nope").status == 400
    assert domain.store.latest_run(district) is None


def test_only_the_districts_admins_reach_its_syncs(domain):
    district, other = make_district().district_id, make_district().district_id
    run_id = admin(district)("POST", f"/districts/{district}/syncs").body["runId"]
    assert call("GET", f"/districts/{district}/syncs", district=other).status == 403
    assert call("GET", f"/districts/{district}/syncs/{run_id}", district=other).status == 403
    assert call("POST", f"/districts/{district}/syncs", role="teacher", district=district).status == 403
    # The other district's admin asking for this run under their own district: not found there.
    assert call("GET", f"/districts/{other}/syncs/{run_id}", district=other).status == 404
    assert call("GET", f"/districts/{district}/syncs", role="platform_admin").status == 200
    assert call("GET", "/districts/dst_unknown/syncs", role="platform_admin").status == 404


def test_history_is_newest_first_in_pages_with_cursors(domain):
    district, other = make_district().district_id, make_district().district_id
    as_admin = admin(district)
    run_ids = []
    for _ in range(5):
        run_id = as_admin("POST", f"/districts/{district}/syncs").body["runId"]
        finish_as(domain, district, run_id, "succeeded")
        run_ids.append(run_id)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = as_admin("GET", f"/districts/{district}/syncs", query=query)
        assert page.status == 200
        seen += [run["runId"] for run in page.body["syncs"]]
        pages += 1
        cursor = page.body["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(run_ids)) and pages == 3

    first = as_admin("GET", f"/districts/{district}/syncs", query={"limit": "2"}).body["nextCursor"]
    # The cursor does not work for another district, tampered, or forged.
    foreign = call("GET", f"/districts/{other}/syncs", district=other, query={"cursor": first})
    assert (foreign.status, foreign.body["error"]["code"]) == (400, "invalid_cursor")
    tampered = first[:-3] + ("AAA" if not first.endswith("AAA") else "BBB")
    assert as_admin("GET", f"/districts/{district}/syncs", query={"cursor": tampered}).status == 400
    decoded = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    decoded["k"]["districtId"] = other
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).decode().rstrip("=")
    assert as_admin("GET", f"/districts/{district}/syncs", query={"cursor": forged}).status == 400
    assert as_admin("GET", f"/districts/{district}/syncs", query={"limit": "0"}).status == 422
    assert as_admin("GET", f"/districts/{district}/syncs", query={"limit": "many"}).status == 422


def test_approve_only_a_run_waiting_for_review(domain):
    district = make_district().district_id
    as_admin = admin(district)
    run_id = as_admin("POST", f"/districts/{district}/syncs").body["runId"]
    drain(domain)
    queued = as_admin("POST", f"/districts/{district}/syncs/{run_id}/approve")
    assert (queued.status, queued.body["error"]["code"]) == (409, "run_not_in_review")

    finish_as(domain, district, run_id, "needs_review", held={"students": 45})
    shown = as_admin("GET", f"/districts/{district}/syncs/{run_id}").body
    assert shown["status"] == "needs_review" and shown["heldDeactivations"] == {"students": 45}

    approved = as_admin("POST", f"/districts/{district}/syncs/{run_id}/approve")
    assert approved.status == 202 and approved.body == {"runId": run_id}
    assert drain(domain) == [{"districtId": district, "runId": run_id, "action": "approve"}]
    assert as_admin("GET", f"/districts/{district}/syncs/{run_id}").body["status"] == "queued"
    # It holds the district again: no second sync, no second approval.
    busy = as_admin("POST", f"/districts/{district}/syncs")
    assert (busy.status, busy.body["error"]["runId"]) == (409, run_id)
    assert as_admin("POST", f"/districts/{district}/syncs/{run_id}/approve").status == 409

    finish_as(domain, district, run_id, "succeeded")
    done = as_admin("POST", f"/districts/{district}/syncs/{run_id}/approve")
    assert (done.status, done.body["error"]["code"]) == (409, "run_not_in_review")
    assert as_admin("POST", f"/districts/{district}/syncs/run_unknown/approve").status == 404


def test_a_newer_sync_supersedes_the_review(domain):
    district = make_district().district_id
    as_admin = admin(district)
    review_id = as_admin("POST", f"/districts/{district}/syncs").body["runId"]
    finish_as(domain, district, review_id, "needs_review", held={"classes": 30})
    nightly = domain.lifecycle.start_run(district, "nightly", "delta", night="2026-12-02")
    # Its deactivations were computed from an older read of the SIS than the newer sync's.
    for _ in ("while the newer sync is queued", "after it finished"):
        stale = as_admin("POST", f"/districts/{district}/syncs/{review_id}/approve")
        assert (stale.status, stale.body["error"]["code"]) == (409, "run_not_in_review")
        assert "newer sync" in stale.body["error"]["message"]
        if domain.store.get_run(district, nightly.run_id).status == "queued":
            finish_as(domain, district, nightly.run_id, "succeeded")
    assert as_admin("GET", f"/districts/{district}/syncs/{review_id}").body["status"] == "needs_review"


def test_a_sync_that_cannot_be_queued_does_not_hold_the_district(domain, monkeypatch):
    from rostersync.sync import messages

    district = make_district().district_id

    def sqs_down(*_args, **_kwargs):
        raise ConnectionError("SQS unreachable")

    monkeypatch.setattr(messages, "send_run_message", sqs_down)
    answer = admin(district)("POST", f"/districts/{district}/syncs")
    assert (answer.status, answer.body["error"]["code"]) == (503, "unavailable")
    run = domain.store.latest_run(district)
    assert run.status == "failed"
    assert domain.store.get_district(district).active_run_id is None
    assert os.environ["SYNC_QUEUE_URL"]  # the real queue was never used
    assert drain(domain) == []


def test_a_configuration_saved_during_a_run_says_it_applies_from_the_next_run(domain):
    district = make_district().district_id
    as_admin = admin(district)
    start = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    config = {"schools": None, "grades": None, "subjects": None, "startDate": start, "enabled": True}
    saved = as_admin("PUT", f"/districts/{district}/sync-config", body=config)
    assert saved.status == 200 and saved.body["warnings"] == []
    run_id = as_admin("POST", f"/districts/{district}/syncs").body["runId"]
    later = (datetime.now(UTC) + timedelta(days=31)).date().isoformat()
    saved = as_admin("PUT", f"/districts/{district}/sync-config", body={**config, "startDate": later})
    assert saved.status == 200
    assert len(saved.body["warnings"]) == 1 and run_id in saved.body["warnings"][0]
    assert "applies from the next run" in saved.body["warnings"][0]
    finish_as(domain, district, run_id, "needs_review", held={"students": 40})
    saved = as_admin("PUT", f"/districts/{district}/sync-config", body=config)
    assert "held for review" in saved.body["warnings"][0]
