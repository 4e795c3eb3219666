"""`rostersync ops host-limit`: a platform admin shows and sets a SIS host's limit of requests in
flight shared by every sync worker; each change is in the audit trail."""

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
