"""One batch request to DynamoDB, sent until DynamoDB has taken all of it.

BatchWriteItem takes at most 25 items and may hand some back as UnprocessedItems when a
table is busy; BatchGetItem takes at most 100 keys and may hand back UnprocessedKeys. The SDK
retries a refused or failed request (throttling, 5xx, dropped connections: rostersync/
aws_clients.py), never the items an accepted one hands back: those are sent again here, by
`send_writes` and `send_gets` with one `Backoff` (exponential, full jitter), until done or until
the attempts run out and the caller fails (a sync is retried as a whole: every write is
idempotent). Every batch of ours goes through these two: the sync's puts and reads, in the
worker's threads or its writer processes (store/batch.py, store/write_processes.py), checkpoint
parts and parked users (sync/checkpoint.py), a purge's deletes (store/erase.py) and the API's
reads of many items (store/batch.py `get_models`).
"""

import functools
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from rostersync.store.codec import format_datetime

WRITE_BATCH = 25
GET_BATCH = 100

# Called before each write attempt; raising refuses the batch (nothing is sent): a run's fenced
# writes (sync/run_lifecycle.py Fence).
FenceCheck = Callable[[], None]
# Called on every item of every write attempt with (table, encoded item, the attempt's time as
# stored text): store/change_keys.py stamps roster items' change keys here, so an item's
# changeSeq is the time it was sent, whatever waited before (retries included).
BeforeWrite = Callable[[str, dict, str], None]


class InFlight:
    """Write requests out now, and the most at once (the bench's "several in flight"): counted
    by a BatchStore's threads and by each writer process alike."""

    def __init__(self):
        self._lock = threading.Lock()
        self.now = self.most = 0

    def __enter__(self) -> "InFlight":
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        return self

    def __exit__(self, *_) -> None:
        with self._lock:
            self.now -= 1


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


class SharedCheck:
    """One fence check for the write attempts that ask while another check is running.

    An attempt may go out only after a check that began after it asked has passed, as if it had
    made its own: asking while no check runs begins one; asking while one runs waits for the
    next, which begins when that one ends and answers every attempt that asked meanwhile. Nothing
    is sent on a check that began before its attempt asked, so a moved token refuses exactly the
    attempts a check of their own would have refused, with fewer reads (one GetItem each,
    issue 30) when several writers ask at once."""

    def __init__(self, check: FenceCheck):
        self._check = check
        self._changed = threading.Condition()
        self._begun = self._ended = 0  # checks begun and ended, in order: one runs at a time
        self._running = False
        self._error: BaseException | None = None  # what the last ended check raised

    @property
    def checks(self) -> int:
        """Checks made (one runs at a time, so the ones ended)."""
        return self._ended

    def __call__(self) -> None:
        with self._changed:
            wanted = self._begun + 1  # the first check to begin from now on
            while self._ended < wanted and self._running:
                self._changed.wait()
            if self._ended >= wanted:  # another attempt's check, begun after this one asked
                if self._error is not None:
                    raise self._error
                return
            self._running, self._begun = True, self._begun + 1
            number = self._begun
        error = None
        try:
            self._check()
        except BaseException as raised:  # LockLost, or the read failing: every sharer gets it
            error = raised
        with self._changed:
            self._running, self._ended, self._error = False, number, error
            self._changed.notify_all()
        with _made_lock:
            _made[0] += 1
        if error is not None:
            raise error


_made, _made_lock = [0], threading.Lock()


def fence_checks_made() -> int:
    """Fence checks this process has made (the bench counts them)."""
    with _made_lock:
        return _made[0]


@functools.lru_cache(maxsize=16)
def shared_check(fence: FenceCheck) -> SharedCheck:
    """The process's SharedCheck for `fence` (a run's Fence is a value: the copies a writer
    process is handed with each batch are equal, so they share one)."""
    return SharedCheck(fence)


def put_batch(
    client,
    batch: list[tuple[str, dict]],
    backoff: Backoff,
    fence: FenceCheck | None = None,
    before_write: BeforeWrite | None = None,
) -> int:
    """Put `batch` ((table, encoded item), at most 25) with `send_writes`, the fence checked and
    the items stamped before each attempt; returns the requests sent."""
    request: dict[str, list] = {}
    for table, item in batch:
        request.setdefault(table, []).append({"PutRequest": {"Item": item}})

    check = shared_check(fence) if fence is not None else None

    def before_attempt(attempt: dict) -> None:
        if check is not None:
            check()  # raises when the run's lock token is stale: this attempt is not sent
        if before_write is None:
            return
        sent_at = format_datetime(datetime.now(UTC))
        for table, requests in attempt.items():
            for put in requests:
                before_write(table, put["PutRequest"]["Item"], sent_at)

    return send_writes(client, request, backoff, before_attempt if fence or before_write else None)
