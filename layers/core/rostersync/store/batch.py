"""Batched DynamoDB reads and writes for the sync, several requests in flight.

A BatchStore buffers puts into 25-item batches and sends them in its threads, or, in a worker
configured with writer processes (SyncTuning.writer_processes), in processes of its own once a run
has written `processes_after` batches (store/write_processes.py). Each batch and each read of many
keys is one request sent until DynamoDB has taken all of it (store/batch_requests.py).
"""

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from rostersync import aws_clients
from rostersync.settings import SyncTuning
from rostersync.store.batch_requests import (
    GET_BATCH,
    WRITE_BATCH,
    Backoff,
    BeforeWrite,
    FenceCheck,
    InFlight,
    put_batch,
    send_gets,
    send_writes,
)
from rostersync.store.codec import from_item, to_item
from rostersync.store.write_processes import WriterProcesses


def get_models(model, keys: Iterable[dict], backoff: Backoff | None = None, client=None) -> list:
    """Instances of a pynamodb `model` for `keys` (plain dicts of its key attributes), found
    ones only, in no particular order, read as pynamodb's batch_get reads them (eventually
    consistent): its batch_get sends unprocessed keys again at once and without end; this sends
    them with the store's one backoff."""
    keys = [to_item(k) for k in keys]
    client, backoff = client or aws_clients.dynamodb(), backoff or Backoff()
    table = model.Meta.table_name
    found: list = []
    for i in range(0, len(keys), GET_BATCH):
        items, _ = send_gets(client, table, {"Keys": keys[i : i + GET_BATCH]}, backoff)
        found.extend(model.from_raw_data(item) for item in items)
    return found


class BatchStore:
    """Puts and gets across the roster tables; `flush()` waits for every put and re-raises failures."""

    def __init__(
        self,
        client=None,
        max_in_flight: int = 4,
        backoff: Backoff | None = None,
        processes: int = 0,
        processes_after: int = SyncTuning.writer_processes_after,
    ):
        # `client` serves the sync's queries, single puts and the rest (hand-built requests:
        # botocore validates them); the batches, built by store/codec.py only, go through a
        # client of their own that skips that validation (aws_clients.dynamodb_for_batches).
        # A client given (tests' stubs) serves both, and keeps the batches in this process.
        self.client = client or aws_clients.dynamodb()
        self.batch_client = client or aws_clients.dynamodb_for_batches(max_in_flight)
        self.backoff = backoff or Backoff()
        self.max_in_flight = max_in_flight
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="store")
        # Writer processes (store/write_processes.py), started once `processes_after` batches
        # have gone: a small run never pays their start.
        self._processes = 0 if client is not None else processes
        self._processes_after = processes_after
        self._writers: WriterProcesses | None = None
        self._batches = 0
        self.writer_stats: list[dict] = []  # what each writer process measured of itself (close)
        # Bounds memory held by queued batches.
        self._slots = threading.BoundedSemaphore(max_in_flight * 2 * max(1, self._processes))
        self._buffer: list[tuple[str, dict]] = []
        self._futures: list[Future] = []
        self._lock = threading.Lock()
        self.write_requests = 0  # the BatchWriteItem requests of put's items
        self.items_written = 0
        self.requests_now = 0  # those of write_now and delete_now (checkpoint parts)
        self.get_requests = 0
        self._in_flight = InFlight()  # BatchWriteItem batches of this process's threads (the bench)
        # Stamps every item of every write attempt (batch_requests.BeforeWrite): roster items'
        # change keys (store/change_keys.py RosterStamper).
        self.before_write: BeforeWrite | None = None
        # Checked before each write attempt; raising refuses the batch (nothing is sent): a
        # run's fenced writes (sync/run_lifecycle.py Fence). Both are values a writer process
        # can be handed.
        self.fence: FenceCheck | None = None

    # ---------------------------------------------------------------- writes
    def put(self, table: str, values: dict) -> None:
        self._buffer.append((table, to_item(values)))
        if len(self._buffer) >= WRITE_BATCH:
            self._submit(self._buffer)
            self._buffer = []

    def flush(self) -> None:
        if self._buffer:
            self._submit(self._buffer)
            self._buffer = []
        futures, self._futures = self._futures, []
        for future in futures:
            future.result()  # re-raises a batch that could not be written

    def write_now(self, table: str, items: list[dict]) -> None:
        """Put `items` (attribute values) on this thread, 25 a request, and return when all are
        stored: checkpoint parts, which must be whole before the head that names them."""
        self._send_now(table, [{"PutRequest": {"Item": item}} for item in items])

    def delete_now(self, table: str, keys: list[dict]) -> None:
        """Delete the items of `keys` (attribute values) on this thread, 25 a request."""
        self._send_now(table, [{"DeleteRequest": {"Key": key}} for key in keys])

    def _send_now(self, table: str, requests: list[dict]) -> None:
        for i in range(0, len(requests), WRITE_BATCH):
            sent = send_writes(self.batch_client, {table: requests[i : i + WRITE_BATCH]}, self.backoff)
            with self._lock:
                self.requests_now += sent

    def _submit(self, batch: list[tuple[str, dict]]) -> None:
        self._slots.acquire()
        self._futures = [f for f in self._futures if not f.done() or f.exception() is not None]
        self._batches += 1
        if self._processes and self._writers is None and self._batches > self._processes_after:
            self._writers = WriterProcesses(self._processes, self.max_in_flight, self.backoff)
        if self._writers is not None:
            future = self._writers.submit(batch, self.fence, self.before_write)
            future.add_done_callback(partial(self._written_elsewhere, len(batch)))
        else:
            future = self._pool.submit(self._write, batch)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def _write(self, batch: list[tuple[str, dict]]) -> None:
        with self._in_flight:
            sent = put_batch(self.batch_client, batch, self.backoff, self.fence, self.before_write)
        with self._lock:
            self.write_requests += sent
            self.items_written += len(batch)

    def _written_elsewhere(self, items: int, future: Future) -> None:
        if future.exception() is None:
            with self._lock:
                self.write_requests += future.result()
                self.items_written += items

    # ---------------------------------------------------------------- reads
    def get_many(self, table: str, keys: Iterable[dict], projection: list[str] | None = None) -> list[dict]:
        """The stored items for `keys` (plain dicts of key attributes), in no particular order."""
        keys = [to_item(k) for k in keys]
        chunks = [keys[i : i + GET_BATCH] for i in range(0, len(keys), GET_BATCH)]
        if len(chunks) == 1:
            return self._get(table, chunks[0], projection)
        results = []
        for found in self._pool.map(lambda chunk: self._get(table, chunk, projection), chunks):
            results.extend(found)
        return results

    def _get(self, table: str, keys: list[dict], projection: list[str] | None) -> list[dict]:
        spec: dict = {"Keys": keys, "ConsistentRead": True}
        if projection:
            spec["ProjectionExpression"] = ", ".join(f"#p{i}" for i in range(len(projection)))
            spec["ExpressionAttributeNames"] = {f"#p{i}": name for i, name in enumerate(projection)}
        items, sent = send_gets(self.batch_client, table, spec, self.backoff)
        with self._lock:
            self.get_requests += sent
        return [from_item(item) for item in items]

    def close(self) -> None:
        """Wait for every write in flight and end the threads and writer processes."""
        self._pool.shutdown(wait=True)
        if self._writers is not None:
            self.writer_stats = self._writers.close()
            self._writers = None

    @property
    def max_writes_in_flight(self) -> int:
        """The most BatchWriteItem batches seen in flight at once, in a thread pool (this one's or a
        writer process's, once closed)."""
        return max([self._in_flight.most, *(stats.get("max_in_flight", 0) for stats in self.writer_stats)])
