"""The change-key backfill (store/change_backfill.py, `rostersync ops backfill-change-keys`):
items written before changeSeq existed get one, once, and a change read then answers them."""

import json
from datetime import UTC, datetime

from rostersync.ids import record_id
from tests.integration.test_ops_cli import ops
from tests.integration.test_sync_runs_api import admin
from tests.unit.sync.test_locks import make_district


def old_items(district_id: str) -> dict:
    """Three classes and a term saved as before changeSeq (no change key), one class with one."""
    from rostersync.store.roster import ClassModel, index_key
    from rostersync.store.terms import TermModel

    then = datetime(2025, 1, 1, tzinfo=UTC)
    ids = {}
    for n in range(4):
        ids[n] = record_id(district_id, "class", f"c{n}")
        item = ClassModel(
            district_id,
            ids[n],
            district_school=index_key(district_id, "s"),
            school_id="s",
            sis_sourced_id=f"c{n}",
            content_hash="h",
            updated_at=then,
            title=f"C{n}",
            status="active",
        )
        if n == 3:
            item.change_seq = f"2025-01-01T00:00:00.000000+0000#{ids[n]}"
        item.save()
    TermModel(
        district_id,
        record_id(district_id, "term", "t"),
        sis_sourced_id="t",
        content_hash="h",
        updated_at=then,
        status="active",
    ).save()
    return ids


def test_the_backfill_stamps_what_has_no_change_key_once(stack, capsys, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    district, other = make_district().district_id, make_district().district_id
    ids = old_items(district)
    old_items(other)
    ask = admin(district)
    changes = ask("GET", f"/districts/{district}/classes", query={"updatedSince": "2000-01-01T00:00:00Z"}).body
    assert [c["classId"] for c in changes["classes"]] == [ids[3]]  # the others are in no change feed yet

    code, out, _ = ops(stack, capsys, "backfill-change-keys", "--district", district, "--dry-run", "--json")
    report = json.loads(out)
    assert code == 0 and report["dryRun"] and report["stamped"]["ClassesTable"] == 3
    assert report["stamped"]["TermsTable"] == 1
    assert (
        len(
            ask("GET", f"/districts/{district}/classes", query={"updatedSince": "2000-01-01T00:00:00Z"}).body["classes"]
        )
        == 1
    )  # a dry run changes nothing

    code, out, _ = ops(stack, capsys, "backfill-change-keys", "--district", district, "--json")
    assert code == 0 and json.loads(out)["stamped"]["ClassesTable"] == 3
    after = ask("GET", f"/districts/{district}/classes", query={"cursor": changes["changesCursor"]}).body
    assert sorted(c["classId"] for c in after["classes"]) == sorted(ids[n] for n in range(3))  # once each, as of now
    assert all(c["updatedAt"] > "2026" for c in after["classes"])
    terms = ask("GET", f"/districts/{district}/terms", query={"updatedSince": "2000-01-01T00:00:00Z"}).body["terms"]
    assert [t["sisSourcedId"] for t in terms] == ["t"]

    code, out, _ = ops(stack, capsys, "backfill-change-keys", "--district", district, "--json")
    assert json.loads(out)["stamped"]["ClassesTable"] == 0  # nothing left
    code, out, _ = ops(stack, capsys, "backfill-change-keys", "--dry-run")  # every district: at least the other's
    assert code == 0 and "would stamp" in out
    row = next(line for line in out.splitlines() if line.startswith("ClassesTable ") and ":" not in line)
    assert int(row.split()[-1]) >= 3
