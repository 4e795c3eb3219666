"""Roster search (issue 26): GET /districts/{id}/users?role=&q= finds a district's teachers or
students by the start of their family name, or exactly by email, username or SIS id, sorted by
family name and paged, through indexes the sync's own item builder keys (never a scan)."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from rostersync.ids import record_id

PEOPLE = [
    # sourcedId, role, given, family, email, username
    ("s-1", "student", "Ana", "Smith", "ana.smith@example.org", "asmith"),
    ("s-2", "student", "Ben", "smithers", "ben@example.org", "bsmithers"),
    ("s-3", "student", "Cy", "Adams", "cy@example.org", "cadams"),
    ("s-4", "student", "Dee", "Smith", "dee@example.org", "dsmith"),
    ("s-5", "student", "Eve", "Zed", "SMITH.FAN@example.org", "evez"),  # found by email, not by name
    ("t-1", "teacher", "Tom", "Smith", "tom@example.org", "tsmith"),
]


def write_users(district_id: str, people=PEOPLE) -> dict[str, str]:
    """Items built as the sync builds them (sync/mapping.user_item) and written as they are."""
    from rostersync import aws_clients
    from rostersync.settings import get_settings
    from rostersync.store.codec import to_item
    from rostersync.sync.mapping import user_item

    now = datetime.now(UTC)
    ids = {}
    for sourced, role, given, family, email, username in people:
        user = SimpleNamespace(
            sourced_id=sourced,
            role=role,
            given_name=given,
            family_name=family,
            email=email,
            username=username,
            identifier=None,
            grades=(),
            status="active",
        )
        item = user_item(district_id, user, ["school-1"], "run-1", now)
        aws_clients.dynamodb().put_item(TableName=get_settings().users_table, Item=to_item(item))
        ids[sourced] = item["userId"]
    return ids


@pytest.fixture
def district(api):
    district_id = api.new_district()
    return district_id, write_users(district_id)


def search(api, district_id, **query):
    answer = api.call(
        "GET", f"/districts/{district_id}/users", role="district_admin", district=district_id, query=query
    )
    return answer


def names(answer) -> list[str]:
    return [f"{u['givenName']} {u['familyName']}" for u in answer.body["users"]]


def test_a_family_name_start_finds_every_match_of_the_role_sorted_by_family_then_given_name(api, district):
    district_id, _ = district
    answer = search(api, district_id, role="student", q="smi")
    assert answer.status == 200, answer.body
    assert names(answer) == ["Ana Smith", "Dee Smith", "Ben smithers"]  # case folded; no teacher
    assert names(search(api, district_id, role="student", q="Smith, D")) == ["Dee Smith"]
    assert names(search(api, district_id, role="teacher", q="SMITH")) == ["Tom Smith"]
    assert search(api, district_id, role="student", q="nobody").body["users"] == []


def test_an_exact_email_username_or_sis_id_leads_the_first_page(api, district):
    district_id, ids = district
    by_email = search(api, district_id, role="student", q="Smith.Fan@Example.org")
    assert names(by_email) == ["Eve Zed"]
    assert names(search(api, district_id, role="student", q="cadams")) == ["Cy Adams"]
    assert [u["userId"] for u in search(api, district_id, role="student", q="s-4").body["users"]] == [ids["s-4"]]
    # Username "asmith" is Ana Smith's; she is listed once, first.
    assert names(search(api, district_id, role="student", q="asmith")) == ["Ana Smith"]


def test_search_pages_with_a_cursor_and_lists_nobody_twice(api, district):
    district_id, _ = district
    seen = []
    first = search(api, district_id, role="student", q="smith", limit="1")
    assert first.status == 200
    seen += names(first)
    cursor = first.body["nextCursor"]
    while cursor:
        page = search(api, district_id, role="student", q="smith", limit="1", cursor=cursor)
        assert page.status == 200, page.body
        seen += names(page)
        cursor = page.body["nextCursor"]
    assert seen == ["Ana Smith", "Dee Smith", "Ben smithers"]
    # A cursor of another search is refused.
    other = search(api, district_id, role="student", q="adams", cursor=first.body["nextCursor"])
    assert other.status == 400 and other.code == "invalid_cursor"


def test_sort_by_name_lists_the_role_by_family_name(api, district):
    district_id, _ = district
    answer = search(api, district_id, role="student", sort="name")
    assert names(answer) == ["Cy Adams", "Ana Smith", "Dee Smith", "Ben smithers", "Eve Zed"]


def test_search_needs_a_role_and_is_not_a_change_read(api, district):
    district_id, _ = district
    assert search(api, district_id, q="smith").status == 422
    assert search(api, district_id, role="student", q="x", updatedSince="2026-01-01T00:00:00Z").status == 422


def test_search_stays_in_its_district(api, district):
    district_id, _ = district
    other = api.new_district(name="Other")
    assert search(api, other, role="student", q="smith").body["users"] == []
    assert search(api, other, role="student", q="s-1").body["users"] == []
    assert record_id(other, "user", "s-1") != record_id(district_id, "user", "s-1")


def test_the_search_never_scans_the_table(api, district, monkeypatch):
    """Every read of a search is a Query (of this district's keys) or a BatchGetItem."""
    from botocore.client import BaseClient

    district_id, _ = district
    calls = []
    original = BaseClient._make_api_call

    def spy(self, operation, params):
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    for q in ("smith", "ben@example.org", "s-3"):
        assert search(api, district_id, role="student", q=q).status == 200
    assert "Scan" not in calls
    assert {"Query"} <= set(calls)


def test_users_written_before_the_indexes_are_found_after_the_backfill_and_only_then(api, district):
    """store/search_backfill.py: a user stored without search keys (as before issue 26) is in no
    search index; the backfill keys it once, as a write would, and a second run finds nothing."""
    from rostersync import aws_clients
    from rostersync.settings import get_settings
    from rostersync.store.search_backfill import backfill

    district_id, ids = district
    client = aws_clients.dynamodb()
    for sourced in ("s-3", "s-5"):  # Cy Adams, Eve Zed: as an older sync wrote them
        client.update_item(
            TableName=get_settings().users_table,
            Key={"districtId": {"S": district_id}, "userId": {"S": ids[sourced]}},
            UpdateExpression="REMOVE nameKey, districtSearchEmail, districtUsername",
        )
    assert names(search(api, district_id, role="student", q="adams")) == []
    assert names(search(api, district_id, role="student", q="evez")) == []
    assert backfill(client, district_id, dry_run=True) == {"keyed": 2}
    assert names(search(api, district_id, role="student", q="adams")) == []  # a dry run changes nothing
    assert backfill(client, district_id) == {"keyed": 2}
    assert names(search(api, district_id, role="student", q="adams")) == ["Cy Adams"]
    assert names(search(api, district_id, role="student", q="EVEZ")) == ["Eve Zed"]
    assert names(search(api, district_id, role="student", sort="name")) == [
        "Cy Adams",
        "Ana Smith",
        "Dee Smith",
        "Ben smithers",
        "Eve Zed",
    ]
    assert backfill(client, district_id) == {"keyed": 0}
