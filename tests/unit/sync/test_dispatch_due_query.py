"""The dispatcher reads only the due districts: a thousand districts on the embedded AWS, one
tick, every DynamoDB read counted; and its messages go out interleaved by SIS host."""

from collections import Counter
from datetime import UTC, datetime

import pytest

from rostersync.settings import dispatch_spread_seconds
from tests.unit.sync.test_dispatch import domain as dispatch_domain
from tests.unit.sync.test_dispatch import drain

domain = dispatch_domain  # the dispatcher on a clean embedded AWS

TICK = "2026-12-02T07:30:00Z"  # 01:30 in Chicago: its night
DUE, NOT_DUE = 60, 940


def districts(count: int, next_sync_at: float, hosts: int = 3) -> list[str]:
    from rostersync.ids import new_id
    from rostersync.store.districts import DistrictModel, SisConnection, SyncConfig, due_shard

    now = datetime.now(UTC)
    made = []
    with DistrictModel.batch_write() as batch:
        for number in range(count):
            district_id = new_id("dst")
            batch.save(
                DistrictModel(
                    district_id,
                    name="District",
                    timezone="America/Chicago",
                    created_at=now,
                    connection=SisConnection(
                        host_url=f"https://sis{number % hosts}.example.org",
                        client_id="client",
                        auth_method="oauth2",
                        secret_name="rostersync/test/district/x",
                        connected_at=now,
                    ),
                    sync_config=SyncConfig(start_date="2026-12-01", enabled=True, updated_at=now),
                    next_sync_at=next_sync_at,
                    due_shard=due_shard(district_id),
                )
            )
            made.append(district_id)
    return made


class ReadCounter:
    """District items the DynamoDB reads returned, by operation (a botocore after-call hook)."""

    def __init__(self):
        self.items: Counter[str] = Counter()
        self.read_ids: set[str] = set()

    def __call__(self, http_response, parsed, model, **kwargs):
        name = model.name
        if name in ("Query", "Scan"):
            self.items[name] += int(parsed.get("Count", 0))
            for item in parsed.get("Items", []):
                if "districtId" in item and "syncConfig" in item:
                    self.read_ids.add(item["districtId"]["S"])
        elif name == "GetItem" and parsed.get("Item") and "districtId" in parsed["Item"]:
            if "timezone" in parsed["Item"]:
                self.items[name] += 1
                self.read_ids.add(parsed["Item"]["districtId"]["S"])
        elif name == "BatchGetItem":
            self.items[name] += sum(len(v) for v in parsed.get("Responses", {}).values())


def test_one_tick_reads_only_the_due_districts_of_a_thousand(domain):
    from rostersync.store.districts import DistrictModel

    due = set(districts(DUE, next_sync_at=0))
    tomorrow = datetime(2026, 12, 3, 7, 0, tzinfo=UTC).timestamp()
    not_due = set(districts(NOT_DUE, next_sync_at=tomorrow))
    assert len(due | not_due) == 1000

    counter = ReadCounter()
    client = DistrictModel._get_connection().connection.client
    client.meta.events.register("after-call.dynamodb", counter)
    try:
        summary = domain.dispatch.dispatch_due_districts(TICK)
    finally:
        client.meta.events.unregister("after-call.dynamodb", counter)

    assert (summary["checked"], summary["enqueued"], summary["failed"]) == (DUE, DUE, 0)
    assert counter.items["Scan"] == 0
    assert counter.items["Query"] == DUE  # the index answered the due districts, no more
    assert counter.read_ids == due  # no read of any of the 940 others
    assert sorted(b["districtId"] for b in drain(domain)) == sorted(due)

    # Looked at, the due ones moved on (a look back for a lost message, then their next night):
    # the next tick reads none of the thousand.
    again = domain.dispatch.dispatch_due_districts("2026-12-02T07:31:00Z")
    assert again["checked"] == 0


def test_a_ticks_messages_alternate_between_hosts(domain):
    from rostersync.sync.messages import RunMessage

    outbox = [("a", RunMessage(f"a{i}", "r")) for i in range(4)] + [("b", RunMessage("b0", "r"))]
    outbox += [("c", RunMessage(f"c{i}", "r")) for i in range(2)]
    ordered = domain.dispatch.interleaved_by_host(outbox)
    assert [m.district_id for m in ordered] == ["a0", "b0", "c0", "a1", "c1", "a2", "a3"]


@pytest.mark.parametrize("night", ["2026-12-02", "2026-12-03"])
def test_jitter_spreads_a_zones_districts_over_the_first_hours_of_its_night(domain, night):
    from datetime import date

    spread = dispatch_spread_seconds()
    moments = [domain.dispatch.jitter_seconds(f"dst_{i}", date.fromisoformat(night)) for i in range(2000)]
    assert all(0 <= m < spread for m in moments)
    per_tick = Counter(m // 1800 for m in moments)  # the 30-minute ticks of the spread
    assert len(per_tick) == spread // 1800 and max(per_tick.values()) < 2000 * 0.35


def test_a_configuration_saved_while_the_dispatcher_looks_is_not_overwritten(domain):
    from rostersync.store.districts import DistrictModel, save_sync_config
    from tests.unit.sync.test_locks import make_district

    district_id = make_district(next_sync_at=1_000).district_id
    read_by_the_dispatcher = DistrictModel.get(district_id)
    admin_view = DistrictModel.get(district_id)
    save_sync_config(admin_view, admin_view.sync_config)  # puts it before the next tick (0)
    domain.dispatch._schedule(read_by_the_dispatcher, 2_000)
    assert DistrictModel.get(district_id).next_sync_at == 0
    domain.dispatch._schedule(DistrictModel.get(district_id), 2_000)  # read fresh: moved on
    assert DistrictModel.get(district_id).next_sync_at == 2_000
