"""`rostersync ops host-limit`: a platform admin shows and sets a SIS host's limit of requests in
flight shared by every sync worker; each change is in the audit trail. `rostersync ops
backfill-next-sync`: districts configured before the dispatcher's index reach it."""

import json

from tests.integration.test_ops_cli import ops


def test_a_host_limit_is_shown_set_audited_and_reset(stack, capsys, monkeypatch):
    from rostersync import aws_clients
    from rostersync.store.audit import list_entries

    monkeypatch.setenv("ROSTERSYNC_HOST_MAX_CONCURRENT", "8")
    code, out, _err = ops(stack, capsys, "host-limit", "https://sis.example.org/ims/oneroster/v1p1", "--json")
    assert code == 0
    assert json.loads(out) == {
        "host": "sis.example.org:443",
        "limit": 8,
        "limitIsDefault": True,
        "slotsInUse": 0,
        "pausedFor": 0.0,
    }
    code, out, _err = ops(stack, capsys, "host-limit", "sis.example.org", "--set", "3")
    assert code == 0 and "3" in out and "default" not in out
    code, _out, err = ops(stack, capsys, "host-limit", "sis.example.org", "--set", "0")
    assert code == 2 and "from 1 to" in err
    code, out, _err = ops(stack, capsys, "host-limit", "sis.example.org:443", "--default", "--json")
    assert code == 0 and json.loads(out)["limitIsDefault"] is True

    entries, _cursor = list_entries(aws_clients.dynamodb(), "platform", 10)
    changes = [(e["action"], e["target"], json.loads(e["before"]), json.loads(e["after"])) for e in entries]
    assert sorted(changes, key=str) == [
        ("host_limit.update", "sis.example.org:443", {"maxConcurrent": 3}, {"maxConcurrent": None}),
        ("host_limit.update", "sis.example.org:443", {"maxConcurrent": None}, {"maxConcurrent": 3}),
    ]
    assert all(e["bySub"].startswith("ops:") for e in entries)


def test_districts_configured_before_the_index_are_scheduled_once(stack, capsys):
    from rostersync.store.districts import DistrictModel
    from tests.unit.sync.test_locks import make_district

    old = [make_district(next_sync_at=None, due_shard=None).district_id for _ in range(3)]
    scheduled = make_district(next_sync_at=1_900_000_000).district_id
    make_district(configured=False)
    code, out, _err = ops(stack, capsys, "backfill-next-sync", "--dry-run", "--json")
    assert code == 0 and json.loads(out) == {"dryRun": True, "scheduled": 3}
    assert all(DistrictModel.get(d).next_sync_at is None for d in old)
    code, out, _err = ops(stack, capsys, "backfill-next-sync", "--json")
    assert json.loads(out)["scheduled"] == 3
    assert all(DistrictModel.get(d).next_sync_at == 0 and DistrictModel.get(d).due_shard for d in old)
    assert DistrictModel.get(scheduled).next_sync_at == 1_900_000_000  # left alone
    assert json.loads(ops(stack, capsys, "backfill-next-sync", "--json")[1])["scheduled"] == 0
