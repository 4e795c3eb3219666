"""The SDK transport writes what the store's own wire wrote.

tests/integration/data/store_golden.jsonl.gz was captured on main at 40df575, before the wire
(store/dynamodb_wire.py and its encoder) was deleted (tests/integration/data/
capture_store_golden.py): every BatchStore.put, flush and change-stamp hook of a small sandbox
district's full, delta and full syncs, and every item the wire then sent in a BatchWriteItem.
Here the same puts go through today's BatchStore (boto3, codec.to_item) into the embedded AWS:
the items sent, and the items stored, are the same, attribute for attribute, but for the
change stamps (updatedAt, changeSeq: the time of sending), which are checked for their shape.
"""

import copy
import gzip
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

from rostersync.store.batch import BatchStore
from rostersync.store.change_keys import RosterStamper

GOLDEN = Path(__file__).with_name("data") / "store_golden.jsonl.gz"
SENT_AT = "<sent>"


def revive(value):
    if isinstance(value, dict):
        if value.keys() == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        return {k: revive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revive(v) for v in value]
    return value


def normalised(item: dict, id_attribute: str) -> str:
    """The item as canonical JSON, its change stamps checked and replaced by placeholders."""
    item = dict(item)
    sent_at = item.pop("updatedAt")["S"]
    datetime.strptime(sent_at, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert item.pop("changeSeq") == {"S": f"{sent_at}#{item[id_attribute]['S']}"}
    return json.dumps(item | {"updatedAt": SENT_AT, "changeSeq": SENT_AT}, sort_keys=True)


def key_of(table: str, item: dict, id_attribute: str) -> tuple:
    return table, item["districtId"]["S"], item[id_attribute]["S"]


def golden() -> tuple[list, dict, list]:
    """(the captured events, each table's id attribute, the items the wire sent)."""
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as lines:
        events = [json.loads(line) for line in lines]
    id_attribute = next(e[1] for e in events if e[0] == "stamper")
    return events, id_attribute, [(e[1], e[2]) for e in events if e[0] == "sent"]


def replay(store: BatchStore, events: list) -> None:
    """The captured stamper, puts and flushes, through `store`."""
    for event in events:
        if event[0] == "stamper":
            store.before_write = RosterStamper(event[1])
        elif event[0] == "put":
            store.put(event[1], revive(event[2]))
        elif event[0] == "flush":
            store.flush()
    store.flush()


def as_counter(items, id_attribute: dict) -> Counter:
    return Counter((table, normalised(item, id_attribute[table])) for table, item in items)


def assert_stored_as_the_wire_left_it(store: BatchStore, golden_sent: list, id_attribute: dict) -> None:
    """What is stored is the last version sent of each item (the engine flushes between writes of
    one item, so there is one), the same as the wire's."""
    last_golden = {key_of(t, i, id_attribute[t]): (t, i) for t, i in golden_sent}
    stored = []
    for (table, district, item_id), _ in last_golden.items():
        key = {"districtId": {"S": district}, id_attribute[table]: {"S": item_id}}
        stored.append((table, store.client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]))
    assert as_counter(stored, id_attribute) == as_counter(last_golden.values(), id_attribute)


def test_the_boto3_path_sends_and_stores_what_the_wire_did(aws, monkeypatch):
    events, id_attribute, golden_sent = golden()
    assert len(golden_sent) > 400 and {t for t, _ in golden_sent} == set(id_attribute)

    store = BatchStore(max_in_flight=4)
    sent: list[tuple[str, dict]] = []
    send = store.batch_client.batch_write_item

    def recording(RequestItems):
        sent.extend((table, copy.deepcopy(r["PutRequest"]["Item"])) for table, rs in RequestItems.items() for r in rs)
        return send(RequestItems=RequestItems)

    monkeypatch.setattr(store.batch_client, "batch_write_item", recording)  # the client is the process's
    replay(store, events)

    assert len(sent) == len(golden_sent)
    assert as_counter(sent, id_attribute) == as_counter(golden_sent, id_attribute)
    assert_stored_as_the_wire_left_it(store, golden_sent, id_attribute)
    assert store.items_written == len(golden_sent)
    store.close()


def test_writer_processes_store_what_the_wire_did(clean_aws):
    """The same puts through the deployed worker's writer processes (store/write_processes.py),
    started at the first batch: what is stored is the same as the wire's."""
    events, id_attribute, golden_sent = golden()
    store = BatchStore(max_in_flight=4, processes=2, processes_after=0)
    replay(store, events)
    store.close()
    assert len(store.writer_stats) == 2 and store.items_written == len(golden_sent)
    assert_stored_as_the_wire_left_it(store, golden_sent, id_attribute)
