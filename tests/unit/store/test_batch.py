"""Batched writes and reads: 25 items a request, unprocessed items and keys sent again with the
one backoff (store/batch.py), on every path that batches: the sync's puts and reads, checkpoint
parts (write_now, delete_now), a purge's deletes (store/erase.py), the API's model reads.

moto never returns unprocessed items, so these use a stub DynamoDB client that does.
"""

import threading

import pytest

from rostersync.store import erase
from rostersync.store.batch import BatchStore, get_models
from rostersync.store.batch_requests import Backoff, BatchRetriesExhausted
from rostersync.store.change_keys import RosterStamper


class StubDynamoDB:
    """Accepts at most `accept` requests per call and hands the rest back as unprocessed."""

    def __init__(self, accept: int = 25, unprocessed_keys_rounds: int = 0):
        self.accept = accept
        self.calls = []
        self.sent = []  # every write request as sent, attempt after attempt
        self.stored = {}
        self.lock = threading.Lock()
        self.unprocessed_keys_rounds = unprocessed_keys_rounds

    def batch_write_item(self, RequestItems):
        with self.lock:
            requests = [(t, r) for t, rs in RequestItems.items() for r in rs]
            self.calls.append(len(requests))
            self.sent.append(
                [(t, {k: dict(v) for k, v in r.get("PutRequest", {}).get("Item", {}).items()}) for t, r in requests]
            )
            assert len(requests) <= 25, "DynamoDB refuses more than 25 items per BatchWriteItem"
            done, left = requests[: self.accept], requests[self.accept :]
            for table, request in done:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    self.stored[(table, item["id"]["S"])] = item
                else:
                    self.stored.pop((table, request["DeleteRequest"]["Key"]["id"]["S"]), None)
            unprocessed = {}
            for table, request in left:
                unprocessed.setdefault(table, []).append(request)
            return {"UnprocessedItems": unprocessed}

    def batch_get_item(self, RequestItems):
        with self.lock:
            ((table, spec),) = RequestItems.items()
            assert len(spec["Keys"]) <= 100
            if self.unprocessed_keys_rounds:
                self.unprocessed_keys_rounds -= 1
                return {"Responses": {table: []}, "UnprocessedKeys": RequestItems}
            found = [self.stored[(table, k["id"]["S"])] for k in spec["Keys"] if (table, k["id"]["S"]) in self.stored]
            return {"Responses": {table: found}, "UnprocessedKeys": {}}


def no_sleep_backoff(attempts=10):
    delays = []
    return Backoff(base=0.01, cap=0.1, attempts=attempts, sleep=delays.append), delays


def test_writes_go_25_a_request_and_unprocessed_items_are_retried_with_backoff():
    stub = StubDynamoDB(accept=10)
    backoff, delays = no_sleep_backoff()
    store = BatchStore(client=stub, max_in_flight=3, backoff=backoff)
    for i in range(100):
        store.put("T", {"id": f"i{i}", "n": i})
    store.flush()
    assert len(stub.stored) == 100
    assert stub.stored[("T", "i7")] == {"id": {"S": "i7"}, "n": {"N": "7"}}
    assert max(stub.calls) == 25
    assert len(delays) > 0 and all(0 <= d <= 0.1 for d in delays)
    assert store.items_written == 100 and store.write_requests == len(stub.calls)
    assert 1 <= store.max_writes_in_flight <= 3


def test_writes_that_stay_unprocessed_fail_the_flush():
    stub = StubDynamoDB(accept=0)
    backoff, delays = no_sleep_backoff(attempts=3)
    store = BatchStore(client=stub, backoff=backoff)
    store.put("T", {"id": "x"})
    with pytest.raises(BatchRetriesExhausted):
        store.flush()
    assert len(stub.calls) == 3 and len(delays) == 3


def test_the_stamps_are_set_at_each_attempt_by_the_store_itself():
    stub = StubDynamoDB(accept=1)
    store = BatchStore(client=stub, backoff=no_sleep_backoff()[0])
    store.before_write = RosterStamper({"T": "id"})
    store.put("T", {"id": "a"})
    store.put("T", {"id": "b"})
    store.flush()
    (_, a_first), (_, b_first) = stub.sent[0]
    ((_, b_again),) = stub.sent[1]
    assert b_again["updatedAt"]["S"] >= b_first["updatedAt"]["S"] == a_first["updatedAt"]["S"]
    assert b_again["changeSeq"]["S"] == b_again["updatedAt"]["S"] + "#b"


def test_reads_go_100_keys_a_request_and_unprocessed_keys_are_retried():
    stub = StubDynamoDB()
    backoff, delays = no_sleep_backoff()
    store = BatchStore(client=stub, backoff=backoff)
    for i in range(250):
        store.put("T", {"id": f"i{i}"})
    store.flush()
    stub.unprocessed_keys_rounds = 2
    found = store.get_many("T", [{"id": f"i{i}"} for i in range(250)] + [{"id": "missing"}])
    assert sorted(item["id"] for item in found) == sorted(f"i{i}" for i in range(250))
    assert len(delays) == 2


def test_write_now_and_delete_now_are_whole_when_they_return():
    stub = StubDynamoDB(accept=7)
    backoff, delays = no_sleep_backoff()
    store = BatchStore(client=stub, backoff=backoff)
    store.write_now("C", [{"id": {"S": f"p{i}"}, "data": {"B": b"x"}} for i in range(60)])
    assert len(stub.stored) == 60 and max(stub.calls) == 25 and delays
    assert store.requests_now == len(stub.calls) and store.write_requests == store.items_written == 0
    store.delete_now("C", [{"id": {"S": f"p{i}"}} for i in range(55)])
    assert sorted(stub.stored) == [("C", f"p{i}") for i in range(55, 60)]
    stub.accept = 0
    with pytest.raises(BatchRetriesExhausted):
        store.write_now("C", [{"id": {"S": "q"}}])


def test_a_purge_deletes_with_the_same_backoff(monkeypatch):
    stub = StubDynamoDB(accept=25)
    store = BatchStore(client=stub, backoff=no_sleep_backoff()[0])
    store.write_now("A", [{"id": {"S": f"e{i}"}} for i in range(40)])
    stub.accept = 4
    delays = []
    monkeypatch.setattr("rostersync.store.batch_requests.time.sleep", delays.append)
    assert erase.delete_keys(stub, "A", [{"id": {"S": f"e{i}"}} for i in range(40)]) == 40
    assert not stub.stored and delays
    stub.stored[("A", "x")] = {"id": {"S": "x"}}
    stub.accept = 0
    with pytest.raises(erase.EraseIncomplete):
        erase.delete_keys(stub, "A", [{"id": {"S": "x"}}])


def test_models_are_read_in_batches_with_unprocessed_keys_sent_again():
    class Model:
        class Meta:
            table_name = "M"

        @classmethod
        def from_raw_data(cls, item):
            return ("model", item["id"]["S"])

    stub = StubDynamoDB(unprocessed_keys_rounds=1)
    store = BatchStore(client=stub, backoff=no_sleep_backoff()[0])
    store.write_now("M", [{"id": {"S": f"m{i}"}} for i in range(150)])
    backoff, delays = no_sleep_backoff()
    found = get_models(Model, [{"id": f"m{i}"} for i in range(150)] + [{"id": "gone"}], backoff, client=stub)
    assert sorted(found) == sorted(("model", f"m{i}") for i in range(150)) and len(delays) == 1
