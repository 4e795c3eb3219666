"""Batched writes and reads: 25 items a request, unprocessed items retried with backoff.

moto never returns unprocessed items, so these use a stub DynamoDB client that does.
"""

import threading

import pytest

from rostersync.store.batch import Backoff, BatchRetriesExhausted, BatchStore


class StubDynamoDB:
    """Accepts at most `accept` items per call and hands the rest back as unprocessed."""

    def __init__(self, accept: int = 25, unprocessed_keys_rounds: int = 0):
        self.accept = accept
        self.calls = []
        self.stored = {}
        self.lock = threading.Lock()
        self.unprocessed_keys_rounds = unprocessed_keys_rounds

    def batch_write_item(self, RequestItems):
        with self.lock:
            requests = [(t, r) for t, rs in RequestItems.items() for r in rs]
            self.calls.append(len(requests))
            assert len(requests) <= 25, "DynamoDB refuses more than 25 items per BatchWriteItem"
            done, left = requests[: self.accept], requests[self.accept :]
            for table, request in done:
                item = request["PutRequest"]["Item"]
                self.stored[(table, item["id"]["S"])] = item
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
    assert max(stub.calls) == 25
    assert len(delays) > 0 and all(0 <= d <= 0.1 for d in delays)
    assert store.items_written == 100 and store.write_requests == len(stub.calls)


def test_writes_that_stay_unprocessed_fail_the_flush():
    stub = StubDynamoDB(accept=0)
    backoff, _ = no_sleep_backoff(attempts=3)
    store = BatchStore(client=stub, backoff=backoff)
    store.put("T", {"id": "x"})
    with pytest.raises(BatchRetriesExhausted):
        store.flush()


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
