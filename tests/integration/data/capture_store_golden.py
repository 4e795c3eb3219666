"""Capture what the store's batch path sends to DynamoDB for a small sandbox district's syncs:
the golden file tests/integration/test_store_golden.py holds the SDK transport to.

Ran once on main at 40df575 (the store's own wire, store/dynamodb_wire.py, since deleted):

    .venv/bin/python tests/integration/data/capture_store_golden.py

It records, in order, every BatchStore.put (table and plain values), flush and before_write
hook install of a full sync, a day's changes, a delta sync and a second full sync, and every
item the wire sent in a BatchWriteItem (after the change stamps were set), as JSON lines in
store_golden.jsonl. It needs that commit's code (DynamoDbWire) to run.
"""

import gzip
import json
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT)]

from rostersync_tools.local.embedded_aws import EmbeddedAws  # noqa: E402
from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS  # noqa: E402

OUT = Path(__file__).with_name("store_golden.jsonl.gz")
SIS = {"seed": 11, "schools": 2, "students": 120, "teachers": 8, "classes": 24, "enrollments": 500, "school_year": 2026}


def plain(value):
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def main() -> None:
    aws = EmbeddedAws().start()
    aws.apply_environment()
    from rostersync.settings import get_settings

    get_settings.cache_clear()
    from rostersync.store import batch as batch_module
    from rostersync.store import dynamodb_wire
    from rostersync.store.change_keys import RosterStamper

    events: list = []
    checkpoints = get_settings().checkpoints_table
    original_put, original_flush = batch_module.BatchStore.put, batch_module.BatchStore.flush
    original_hook = batch_module.BatchStore.before_write.fset
    original_write = dynamodb_wire.DynamoDbWire.batch_write_item

    def put(self, table, values):
        if table != checkpoints:
            events.append(["put", table, plain(values)])
        return original_put(self, table, values)

    def flush(self):
        events.append(["flush"])
        return original_flush(self)

    def set_hook(self, hook):
        if isinstance(hook, RosterStamper):
            events.append(["stamper", hook.id_attribute_of])
        return original_hook(self, hook)

    def batch_write_item(self, RequestItems):
        sent = json.loads(dynamodb_wire._write_payload(RequestItems))["RequestItems"]
        for table, requests in sent.items():
            if table != checkpoints:
                events.extend(["sent", table, request["PutRequest"]["Item"]] for request in requests)
        return original_write(self, RequestItems)

    batch_module.BatchStore.put = put
    batch_module.BatchStore.flush = flush
    batch_module.BatchStore.before_write = batch_module.BatchStore.before_write.setter(set_hook)
    dynamodb_wire.DynamoDbWire.batch_write_item = batch_write_item

    from rostersync.sync.engine import Outcome, SyncRequest, run_sync
    from tests.fixtures.districts import connect_district

    sis = SandboxSIS(SandboxConfig(**SIS))
    sis.start(port=0)
    try:
        district = connect_district(sis)

        def sync(run_id, mode):
            while True:
                result = run_sync(SyncRequest(district, run_id, mode=mode), lambda: 1e9)
                if result.outcome != Outcome.CONTINUE:
                    assert result.outcome == Outcome.SUCCEEDED, result.failure
                    return

        sync("run_golden_1", "full")
        sis.advance_day()
        sync("run_golden_2", "delta")
        sis.advance_day()
        sync("run_golden_3", "full")
    finally:
        sis.stop()
        aws.stop()
    with gzip.open(OUT, "wt", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, sort_keys=True) + "\n")
    kinds = {k: sum(1 for e in events if e[0] == k) for k in ("put", "flush", "stamper", "sent")}
    print(f"wrote {OUT}: {kinds}")


if __name__ == "__main__":
    main()
