"""Batched DynamoDB reads and writes for the sync, several requests in flight.

BatchWriteItem takes at most 25 items and may hand some back as UnprocessedItems when a
table is busy; BatchGetItem takes at most 100 keys and may hand back UnprocessedKeys.
Both are retried here with exponential backoff and full jitter until done, or until the
attempts run out and the sync fails (and is retried as a whole: every write is idempotent).
"""

import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from rostersync import aws_clients
from rostersync.store.codec import format_datetime, from_item, to_attribute, to_item
from rostersync.store.dynamodb_wire import DynamoDbWire
from rostersync.store.wire_items import WireItemEncoder

WRITE_BATCH = 25
GET_BATCH = 100


class BatchRetriesExhausted(RuntimeError):
    pass


class _ItemEncoder:
    """codec.to_item, with its two common cases made cheap: strings, and the few datetimes a run
    stamps on every item (its start time), formatted once instead of once per item."""

    def __init__(self) -> None:
        self._datetimes: dict[datetime, str] = {}

    def __call__(self, values: dict) -> dict:
        item = {}
        for name, value in values.items():
            kind = type(value)
            if kind is str:
                item[name] = {"S": value}
            elif kind is datetime:
                text = self._datetimes.get(value)
                if text is None:
                    if len(self._datetimes) >= 64:
                        self._datetimes.clear()
                    text = self._datetimes[value] = format_datetime(value)
                item[name] = {"S": text}
            elif value is not None:
                item[name] = to_attribute(value)
        return item


class Backoff:
    def __init__(self, base: float = 0.05, cap: float = 2.0, attempts: int = 10, sleep: Callable = time.sleep):
        self.base, self.cap, self.attempts, self.sleep = base, cap, attempts, sleep

    def wait(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(self.cap, self.base * 2**attempt)))


class BatchStore:
    """Puts and gets across the roster tables; `flush()` waits for every put and re-raises failures."""

    def __init__(self, client=None, max_in_flight: int = 4, backoff: Backoff | None = None):
        # `client` serves every other caller (queries, single puts); the batches go over the
        # wire directly (store/dynamodb_wire.py) unless a client is given, as tests' stubs are.
        self.client = client or aws_clients.dynamodb_for_batches(max_in_flight)
        self.batch_client = client or DynamoDbWire(self.client)
        self.backoff = backoff or Backoff()
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="store")
        self._slots = threading.BoundedSemaphore(max_in_flight * 2)  # bounds memory held by queued batches
        self._buffer: list[tuple[str, dict]] = []
        self._futures: list[Future] = []
        self._lock = threading.Lock()
        self._to_item = _ItemEncoder()
        # Items for the wire are encoded as its JSON text when put (store/wire_items.py); a
        # client given (tests' stubs) gets attribute-value dicts.
        self._to_wire_item = WireItemEncoder() if isinstance(self.batch_client, DynamoDbWire) else None
        self._late: dict[str, frozenset | None] = {}  # table -> what before_write sets there (None: unknown)
        self.write_requests = 0
        self.items_written = 0
        self.get_requests = 0
        # Called on every item of every write attempt with (table, encoded item, the attempt's
        # time as stored text): store/change_keys.py stamps roster items' change keys here, so
        # an item's changeSeq is the time it was sent, whatever waited before (retries included).
        self._before_write: Callable[[str, dict, str], None] | None = None
        # Called before each write attempt; raising refuses the batch (nothing is sent): a
        # run's fenced writes (sync/run_lifecycle.py fence).
        self.fence: Callable[[], None] | None = None

    @property
    def before_write(self) -> Callable[[str, dict, str], None] | None:
        return self._before_write

    @before_write.setter
    def before_write(self, hook: Callable[[str, dict, str], None] | None) -> None:
        self._before_write = hook
        self._late = {}

    # ---------------------------------------------------------------- writes
    def put(self, table: str, values: dict) -> None:
        late = self._late.get(table, False) if self._to_wire_item is not None else None
        if late is False:
            late = self._late[table] = self._late_attributes(table)
        self._buffer.append((table, self._to_item(values) if late is None else self._to_wire_item(values, late)))
        if len(self._buffer) >= WRITE_BATCH:
            self._submit(self._buffer)
            self._buffer = []

    def _late_attributes(self, table: str) -> frozenset | None:
        """The attributes the hook sets on `table`'s items at each send: left out of the text.
        None (encode as dicts) for a hook that does not say (it may set anything)."""
        hook = self._before_write
        if hook is None:
            return frozenset()
        late = getattr(hook, "late_attributes", None)
        return late(table) if late is not None else None

    def flush(self) -> None:
        if self._buffer:
            self._submit(self._buffer)
            self._buffer = []
        futures, self._futures = self._futures, []
        for future in futures:
            future.result()  # re-raises a batch that could not be written

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
        for attempt in range(self.backoff.attempts):
            if self.fence is not None:
                self.fence()
            if self.before_write is not None:
                sent_at = format_datetime(datetime.now(UTC))
                for table, requests in request.items():
                    for put in requests:
                        self.before_write(table, put["PutRequest"]["Item"], sent_at)
            response = self.batch_client.batch_write_item(RequestItems=request)
            with self._lock:
                self.write_requests += 1
            request = response.get("UnprocessedItems") or {}
            if not request:
                with self._lock:
                    self.items_written += len(batch)
                return
            self.backoff.wait(attempt)
        raise BatchRetriesExhausted(f"{sum(len(v) for v in request.values())} items still unprocessed")

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
        request = {table: spec}
        found: list[dict] = []
        for attempt in range(self.backoff.attempts):
            response = self.batch_client.batch_get_item(RequestItems=request)
            with self._lock:
                self.get_requests += 1
            found.extend(from_item(item) for item in response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
            self.backoff.wait(attempt)
        raise BatchRetriesExhausted(f"{len(request[table]['Keys'])} keys still unprocessed")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if isinstance(self.batch_client, DynamoDbWire):
            self.batch_client.close()
