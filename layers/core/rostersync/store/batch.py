"""Batched DynamoDB reads and writes for the sync, several requests in flight.

BatchWriteItem takes at most 25 items and may hand some back as UnprocessedItems when a
table is busy; BatchGetItem takes at most 100 keys and may hand back UnprocessedKeys. The SDK
retries a refused or failed request (throttling, 5xx, dropped connections: rostersync/
aws_clients.py), never the items an accepted one hands back: those are sent again here, by
`send_writes` and `send_gets` with one `Backoff` (exponential, full jitter), until done or until
the attempts run out and the caller fails (a sync is retried as a whole: every write is
idempotent). Every batch of ours goes through these two: the sync's puts and reads, checkpoint
parts and parked users (sync/checkpoint.py), a purge's deletes (store/erase.py) and the API's
reads of many items (`get_models`).
"""

import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from rostersync import aws_clients
from rostersync.store.codec import format_datetime, from_item, to_item

WRITE_BATCH = 25
GET_BATCH = 100


class BatchRetriesExhausted(RuntimeError):
    pass


class Backoff:
    """How long to wait before sending unprocessed items or keys again: full jitter, capped."""

    def __init__(self, base: float = 0.05, cap: float = 2.0, attempts: int = 10, sleep: Callable | None = None):
        self.base, self.cap, self.attempts, self.sleep = base, cap, attempts, sleep

    def wait(self, attempt: int) -> None:
        # Jitter spreads retries out; it guards nothing, so a seeded-quality generator is right.
        (self.sleep or time.sleep)(random.uniform(0, min(self.cap, self.base * 2**attempt)))  # noqa: S311


def send_writes(client, request: dict, backoff: Backoff, before_send: Callable[[dict], None] | None = None) -> int:
    """BatchWriteItem with `request` (RequestItems, at most 25 puts and deletes) until DynamoDB has
    taken all of it; returns the number of requests sent. `before_send` sees each attempt's
    RequestItems first (the change stamps are set there)."""
    for attempt in range(backoff.attempts):
        if before_send is not None:
            before_send(request)
        request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        if not request:
            return attempt + 1
        backoff.wait(attempt)
    raise BatchRetriesExhausted(f"{sum(len(v) for v in request.values())} items still unprocessed")


def send_gets(client, table: str, spec: dict, backoff: Backoff) -> tuple[list[dict], int]:
    """BatchGetItem of `spec` (Keys, at most 100, and options) on `table` until every key is
    answered: (the items found, as attribute values; the number of requests sent)."""
    request = {table: spec}
    found: list[dict] = []
    for attempt in range(backoff.attempts):
        response = client.batch_get_item(RequestItems=request)
        found.extend(response.get("Responses", {}).get(table, []))
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found, attempt + 1
        backoff.wait(attempt)
    raise BatchRetriesExhausted(f"{len(request[table]['Keys'])} keys still unprocessed")


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

    def __init__(self, client=None, max_in_flight: int = 4, backoff: Backoff | None = None):
        # `client` serves the sync's queries, single puts and the rest (hand-built requests:
        # botocore validates them); the batches, built by store/codec.py only, go through a
        # client of their own that skips that validation (aws_clients.dynamodb_for_batches).
        # A client given (tests' stubs) serves both.
        self.client = client or aws_clients.dynamodb()
        self.batch_client = client or aws_clients.dynamodb_for_batches(max_in_flight)
        self.backoff = backoff or Backoff()
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="store")
        self._slots = threading.BoundedSemaphore(max_in_flight * 2)  # bounds memory held by queued batches
        self._buffer: list[tuple[str, dict]] = []
        self._futures: list[Future] = []
        self._lock = threading.Lock()
        self.write_requests = 0  # the BatchWriteItem requests of put's items
        self.items_written = 0
        self.requests_now = 0  # those of write_now and delete_now (checkpoint parts)
        self.get_requests = 0
        self.max_writes_in_flight = 0  # the most BatchWriteItem batches seen in flight at once (the bench)
        self._writes_in_flight = 0
        # Called on every item of every write attempt with (table, encoded item, the attempt's
        # time as stored text): store/change_keys.py stamps roster items' change keys here, so
        # an item's changeSeq is the time it was sent, whatever waited before (retries included).
        self.before_write: Callable[[str, dict, str], None] | None = None
        # Called before each write attempt; raising refuses the batch (nothing is sent): a
        # run's fenced writes (sync/run_lifecycle.py fence).
        self.fence: Callable[[], None] | None = None

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
        future = self._pool.submit(self._write, batch)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def _write(self, batch: list[tuple[str, dict]]) -> None:
        request: dict[str, list] = {}
        for table, item in batch:
            request.setdefault(table, []).append({"PutRequest": {"Item": item}})
        with self._lock:
            self._writes_in_flight += 1
            self.max_writes_in_flight = max(self.max_writes_in_flight, self._writes_in_flight)
        try:
            hook = self._before_attempt if self.before_write or self.fence else None
            sent = send_writes(self.batch_client, request, self.backoff, hook)
        finally:
            with self._lock:
                self._writes_in_flight -= 1
        with self._lock:
            self.write_requests += sent
            self.items_written += len(batch)

    def _before_attempt(self, request: dict) -> None:
        if self.fence is not None:
            self.fence()  # raises when the run's lock token is stale: this attempt is not sent
        hook, sent_at = self.before_write, format_datetime(datetime.now(UTC))
        if hook is None:
            return
        for table, requests in request.items():
            for put in requests:
                hook(table, put["PutRequest"]["Item"], sent_at)

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
        self._pool.shutdown(wait=True)
