"""Issue 26, the routes the console's screens needed: the app's registered records counted by origin,
a held run's records and the audit log filtered on the API (across pages, 422 invalid_request for a
filter that cannot be one), and the notifications screen with its test message (rate-limited, audited)."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from rostersync.store.filtered_pages import query_page


def _admin(api, method, path, district_id, **options):
    return api.call(method, path, role="district_admin", district=district_id, **options)


def _every_page(api, path, district_id, query):
    """Every item of a filtered list, following nextCursor; and how many pages it took."""
    items, cursor, pages = [], None, 0
    while True:
        answer = _admin(api, "GET", path, district_id, query={**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200, answer.body
        pages += 1
        items += answer.body.get("entries", answer.body.get("records", []))
        cursor = answer.body["nextCursor"]
        if not cursor:
            return items, pages


# ---------------------------------------------------------------- app records


def test_app_record_counts_say_how_many_the_app_registered_and_how_many_are_linked(api):
    district_id = api.new_district()
    school_id = api.new_school(district_id, "Lincoln Elementary", "100")
    users = [{"userId": f"app-t{n}", "role": "teacher", "email": f"t{n}@school.org"} for n in range(3)]
    users += [{"userId": "app-s1", "role": "student", "username": "s1"}]
    assert (
        _admin(api, "POST", f"/districts/{district_id}/app-users/bulk", district_id, body={"users": users}).status
        == 200
    )
    klass = {"classId": "app-c1", "title": "Art", "schoolId": school_id}
    assert _admin(api, "POST", f"/districts/{district_id}/app-classes", district_id, body=klass).status == 200

    from rostersync import aws_clients
    from rostersync.settings import get_settings

    # One app teacher a sync has linked, and one record the sync made itself.
    table = get_settings().users_table
    aws_clients.dynamodb().update_item(
        TableName=table,
        Key={"districtId": {"S": district_id}, "userId": {"S": "app-t0"}},
        UpdateExpression="SET sisSourcedId = :s",
        ExpressionAttributeValues={":s": {"S": "sis-t0"}},
    )
    aws_clients.dynamodb().put_item(
        TableName=table,
        Item={
            "districtId": {"S": district_id},
            "userId": {"S": "usr_sis"},
            "role": {"S": "student"},
            "origin": {"S": "sis"},
            "status": {"S": "inactive"},
        },
    )

    answer = _admin(api, "GET", f"/districts/{district_id}/app-records", district_id)
    assert answer.status == 200, answer.body
    assert answer.body["teachers"] == {"registered": 3, "linked": 1, "unlinked": 2, "inactive": 0, "fromSis": 0}
    assert answer.body["students"] == {"registered": 1, "linked": 0, "unlinked": 1, "inactive": 0, "fromSis": 1}
    assert answer.body["classes"] == {"registered": 1, "linked": 0, "unlinked": 1, "inactive": 0, "fromSis": 0}
    assert api.call("GET", f"/districts/{district_id}/app-records", role="teacher", district=district_id).status == 403


# ---------------------------------------------------------------- audit filters


def test_the_audit_log_filters_by_action_family_and_person_across_pages(api):
    from rostersync import audit

    district_id = api.new_district()
    ada, bob = SimpleNamespace(sub="ada", role="district_admin"), SimpleNamespace(sub="bob", role="platform_admin")
    for n in range(12):  # interleaved: the filtered entries are spread over the unfiltered pages
        audit.record(district_id, ada if n % 3 else bob, "sync.start" if n % 2 else "sync.approve", target=f"r{n}")
        audit.record(district_id, ada, "district.update", after={"n": n})
    path = f"/districts/{district_id}/audit"

    approvals, pages = _every_page(api, path, district_id, {"action": "sync.approve", "limit": "2"})
    assert [e["target"] for e in approvals] == [f"r{n}" for n in (10, 8, 6, 4, 2, 0)]  # newest first
    assert pages >= 3  # paged on the API, not cut at the first page
    family, _ = _every_page(api, path, district_id, {"action": "sync", "limit": "50"})
    assert {e["action"] for e in family} == {"sync.start", "sync.approve"} and len(family) == 12
    bobs, _ = _every_page(api, path, district_id, {"by": "bob", "limit": "3"})
    assert [e["target"] for e in bobs] == ["r9", "r6", "r3", "r0"] and {e["by"]["sub"] for e in bobs} == {"bob"}
    both, _ = _every_page(api, path, district_id, {"by": "bob", "action": "sync.start"})
    assert [e["target"] for e in both] == ["r9", "r3"]
    nobody, _ = _every_page(api, path, district_id, {"by": "carol"})
    assert nobody == []


@pytest.mark.parametrize(
    "query", [{"action": "Sync.Start"}, {"action": "sync.start.now"}, {"action": "x" * 65}, {"by": "a\nb"}]
)
def test_an_audit_filter_that_cannot_be_one_is_a_clear_400(api, query):
    district_id = api.new_district()
    answer = _admin(api, "GET", f"/districts/{district_id}/audit", district_id, query=query)
    assert answer.status == 422 and answer.code == "invalid_request", answer.body
    assert next(iter(query)) in answer.message


# ---------------------------------------------------------------- held records by reason


def _held_run(district_id: str, reasons: list[str]) -> str:
    from rostersync import aws_clients
    from rostersync.store import run_records
    from rostersync.store.codec import to_item
    from rostersync.store.sync_runs import SyncRunModel

    run_id = "run_held"
    SyncRunModel(
        district_id,
        run_id,
        trigger="manual",
        mode="full",
        status="needs_review",
        queued_at=datetime.now(UTC),
        held_deactivations={"students": len(reasons)},
    ).save()
    client = aws_clients.dynamodb()
    for n, reason in enumerate(reasons):
        item = run_records.held_item(
            district_id, run_id, "students", f"usr_{n:03}", {"name": f"S{n}", "reason": reason}
        )
        client.put_item(TableName=run_records.table(), Item=to_item(item))
    return run_id


def test_held_records_filter_by_reason_across_pages(api):
    district_id = api.new_district()
    reasons = ["gone_from_sis" if n % 4 == 0 else "out_of_selection" for n in range(20)]
    run_id = _held_run(district_id, reasons)
    path = f"/districts/{district_id}/syncs/{run_id}/held"
    gone, pages = _every_page(api, path, district_id, {"reason": "gone_from_sis", "limit": "2"})
    assert [r["name"] for r in gone] == [f"S{n}" for n in range(0, 20, 4)]
    assert pages >= 3 and {r["reason"] for r in gone} == {"gone_from_sis"}
    typed, _ = _every_page(api, path, district_id, {"reason": "out_of_selection", "type": "students", "limit": "200"})
    assert len(typed) == 15
    none, _ = _every_page(api, path, district_id, {"reason": "term_ended"})
    assert none == []
    bad = _admin(api, "GET", path, district_id, query={"reason": "because"})
    assert bad.status == 422 and bad.code == "invalid_request" and "gone_from_sis" in bad.message


# ---------------------------------------------------------------- filtered pages


class _Pages:
    """A stub DynamoDB client: `pages` of matched items, each call answering one with a next key."""

    def __init__(self, pages: list[list[int]]):
        self.pages, self.calls = pages, 0

    def query(self, **request):
        page = self.pages[self.calls]
        self.calls += 1
        answer = {"Items": [{"k": {"N": str(n)}} for n in page]}
        if self.calls < len(self.pages):
            answer["LastEvaluatedKey"] = {"k": {"N": str(1000 + self.calls)}}
        return answer


def test_a_filtered_page_stops_at_its_read_budget_with_a_cursor_to_go_on():
    from rostersync.store import filtered_pages

    client = _Pages([[]] * (filtered_pages.FILTERED_CALLS + 3))
    found, after = query_page(client, {"FilterExpression": "x = :x"}, 10, ("k",))
    assert found == [] and after == {"k": 1000 + filtered_pages.FILTERED_CALLS}
    assert client.calls == filtered_pages.FILTERED_CALLS
    # Matches beyond the page: cut at `limit`, the cursor after the last one kept.
    client = _Pages([[1, 2], [3, 4, 5], [6]])
    assert query_page(client, {"FilterExpression": "x = :x"}, 4, ("k",)) == ([{"k": n} for n in (1, 2, 3, 4)], {"k": 4})
    # Exactly the rest: no cursor to an empty page.
    assert query_page(_Pages([[1, 2], [3]]), {"FilterExpression": "x"}, 3, ("k",)) == (
        [{"k": 1}, {"k": 2}, {"k": 3}],
        None,
    )


# ---------------------------------------------------------------- notifications


def test_the_notifications_screen_lists_contacts_events_and_a_rate_limited_audited_test(api):
    district_id = api.new_district()
    path = f"/districts/{district_id}/notifications"
    answer = _admin(api, "GET", path, district_id)
    assert answer.status == 200, answer.body
    assert answer.body["contacts"] == [] and answer.body["recent"] == []
    assert [e["kind"] for e in answer.body["events"]] == ["sync_failed", "sync_held", "connection_unhealthy"]

    nobody = _admin(api, "POST", f"{path}/test", district_id)
    assert nobody.status == 200, nobody.body
    assert nobody.body["message"]["status"] == "no_contacts" and nobody.body["message"]["kind"] == "test"
    again = _admin(api, "POST", f"{path}/test", district_id)
    assert again.status == 429 and again.code == "test_too_soon"
    assert 0 < again.body["error"]["retryAfterSeconds"] <= 600

    # Ten minutes on, with contacts: sent through SES, in the outbox, and in the audit log.
    from rostersync.notify import notifications

    item = notifications.NotificationModel.get(district_id, notifications.TEST)
    item.update(actions=[notifications.NotificationModel.created_at.set(datetime(2020, 1, 1, tzinfo=UTC))])
    patched = _admin(api, "PATCH", f"/districts/{district_id}", district_id, body={"contacts": ["it@district.org"]})
    assert patched.status == 200, patched.body
    sent = _admin(api, "POST", f"{path}/test", district_id)
    assert sent.status == 200, sent.body
    message = sent.body["message"]
    assert (message["status"], message["recipients"]) == ("sent", ["it@district.org"]) and message["detail"]
    assert "test message" in message["subject"]
    listed = _admin(api, "GET", path, district_id).body
    assert listed["contacts"] == ["it@district.org"] and listed["recent"][0]["status"] == "sent"
    entries = _admin(api, "GET", f"/districts/{district_id}/audit", district_id, query={"action": "notifications.test"})
    assert [e["after"]["status"] for e in entries.body["entries"]] == ["sent", "no_contacts"]
    assert api.call("POST", f"{path}/test", role="teacher", district=district_id).status == 403


def test_a_test_message_the_mail_service_refuses_says_so_without_its_words(api, monkeypatch):
    from rostersync import aws_clients

    class Refusing:
        def send_email(self, **_):
            raise RuntimeError("SES says: secret-ish detail that stays out of the answer")

    monkeypatch.setattr(aws_clients, "ses", lambda: Refusing())
    district_id = api.new_district()
    path = f"/districts/{district_id}"
    assert _admin(api, "PATCH", path, district_id, body={"contacts": ["it@district.org"]}).status == 200
    answer = _admin(api, "POST", f"{path}/notifications/test", district_id)
    assert answer.status == 200, answer.body
    message = answer.body["message"]
    assert message["status"] == "failed" and "RuntimeError" in message["detail"]
    assert "secret-ish" not in str(answer.body)
    # A refused test still counts: the button pressed again within ten minutes is 429.
    assert _admin(api, "POST", f"{path}/notifications/test", district_id).status == 429
