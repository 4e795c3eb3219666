"""Reading a collection page by page: limit/offset, done right on servers that cut corners.

- A short page is not the end: servers cap `limit` silently (100, 1000). The first page
  teaches the effective page size; the stream ends on an empty page, at X-Total-Count,
  or (when the server sends Link headers and no total) when a page has no rel="next".
- A server that ignores `offset` repeats the same page forever: a page at a new offset
  that starts with the first sourcedId of an earlier page is a BadResponse. A hard cap on
  pages backs that up.
- With X-Total-Count known, the remaining pages are fetched concurrently, at most
  `max_in_flight` requests at a time, and still yielded strictly in offset order; at
  most `max_in_flight` fetched pages wait in memory.
- Each page's records are re-checked against the filter (filter_honoured) and parsed in
  the worker that fetched them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .errors import BadResponse
from .filters import DateStyle, Filter
from .records import BadRecord, Record, parse_records


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record | BadRecord]
    offset: int
    total: int | None


@dataclass(frozen=True, slots=True)
class RawPage:
    """What one GET of a collection returned, before parsing."""

    records: list[Any]
    total: int | None  # X-Total-Count, when sent
    has_next: bool | None  # Link rel="next" present; None when the server sends no Link header


@dataclass(slots=True)
class _Loaded:
    page: Page
    raw_count: int
    first_id: str | None
    has_next: bool | None
    total: int | None
    mismatches: int
    date_sample: Any


FetchPage = Callable[[int, int], RawPage]
"""(offset, limit) -> RawPage; raises the typed errors."""


class RecordStream:
    """An iterable over one collection; `pages()` for pages, iteration for flat records.

    Each call to pages() (or iter()) reads the collection again from start_offset (0 unless
    a sync resumes from its checkpoint).
    """

    def __init__(
        self,
        collection: str,
        fetch: FetchPage,
        *,
        endpoint: str,
        filter: Filter | None,
        page_limit: int,
        max_in_flight: int,
        max_pages: int,
        on_date_sample: Callable[[Any], None] | None = None,
        start_offset: int = 0,
        version: str = "1.1",
    ):
        self.collection = collection
        self.version = version  # the OneRoster version whose shapes the records are parsed as
        self.endpoint = endpoint
        self._kind = collection.rsplit("/", 1)[-1]
        self._fetch = fetch
        self._filter = filter
        self.page_limit = page_limit
        self.max_in_flight = max(1, max_in_flight)
        self.max_pages = max_pages
        self._on_date_sample = on_date_sample
        self.start_offset = max(0, start_offset)  # a sync resuming from its checkpoint starts mid-collection
        self._lock = threading.Lock()
        self.requests = 0  # HTTP requests made for the last read of this stream (retries included)
        self.pages_read = 0
        self.records_read = 0
        self.bad_records = 0
        self.filter_mismatches = 0
        self.page_size: int | None = None  # effective page size learnt from the first page
        self.total: int | None = None
        self.complete = False
        self.date_style: DateStyle | None = None

    # -- what callers read after iterating

    @property
    def filter_honoured(self) -> bool | None:
        """None without a filter (or before the stream was read to its end); False if any
        returned record fails the filter locally; else True."""
        if self._filter is None:
            return None
        if self.filter_mismatches:
            return False
        return True if self.complete else None

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    # -- iteration

    def __iter__(self) -> Iterator[Record | BadRecord]:
        for page in self.pages():
            yield from page.records

    def pages(self) -> Iterator[Page]:
        self.complete = False
        self.filter_mismatches = self.pages_read = self.records_read = self.bad_records = self.requests = 0
        first = self._load(self.start_offset, self.page_limit)
        self.total = first.total
        yield self._account(first)
        if first.raw_count == 0:
            self.complete = True
            return
        # A page shorter than asked, with more to come, means the server caps the size.
        self.page_size = min(first.raw_count, self.page_limit)
        first_ids = {first.first_id: self.start_offset} if first.first_id is not None else {}
        total = first.total
        if total is not None and self.start_offset + first.raw_count >= total:
            self.complete = True
            return
        if total is not None and self.max_in_flight > 1:
            yield from self._concurrent(first_ids, total)
        else:
            yield from self._sequential(first_ids, first)
        self.complete = True

    def _sequential(self, first_ids: dict, previous: _Loaded) -> Iterator[Page]:
        offset = previous.page.offset + previous.raw_count
        total = previous.total
        has_next = previous.has_next
        while True:
            if total is not None and offset >= total:
                return
            if total is None and has_next is False:
                return  # the server pages with Link headers and this was the last page
            self._check_page_cap()
            loaded = self._load(offset, self.page_limit)
            if loaded.raw_count == 0:
                return
            self._check_repeat(first_ids, loaded)
            yield self._account(loaded)
            offset += loaded.raw_count
            total = loaded.total if loaded.total is not None else total
            has_next = loaded.has_next

    def _concurrent(self, first_ids: dict, total: int) -> Iterator[Page]:
        size = self.page_size or self.page_limit
        offsets = iter(range(self.start_offset + size, total, size))
        pending: deque[tuple[int, Future]] = deque()
        executor = ThreadPoolExecutor(max_workers=self.max_in_flight, thread_name_prefix="oneroster-page")

        def submit_next() -> None:
            offset = next(offsets, None)
            if offset is not None:
                self._check_page_cap(len(pending))
                pending.append((offset, executor.submit(self._load, offset, size)))

        try:
            for _ in range(self.max_in_flight):
                submit_next()
            while pending:
                offset, future = pending.popleft()
                loaded = future.result()
                if loaded.raw_count == 0:
                    return  # fewer records than X-Total-Count said: the end came early
                self._check_repeat(first_ids, loaded)
                submit_next()  # keep max_in_flight busy while the caller works on this page
                yield self._account(loaded)
                # A short page before the end would leave a gap: fill it in order.
                got = loaded.raw_count
                while got < size and offset + got < total:
                    self._check_page_cap()
                    gap = self._load(offset + got, size - got)
                    if gap.raw_count == 0:
                        break
                    yield self._account(gap)
                    got += gap.raw_count
        finally:
            for _, future in pending:
                future.cancel()
            executor.shutdown(wait=False, cancel_futures=True)

    # -- one page

    def _load(self, offset: int, limit: int) -> _Loaded:
        raw = self._fetch(offset, limit)
        records = raw.records
        mismatches = 0
        if self._filter is not None:
            matches = self._filter.matches
            for item in records:
                if isinstance(item, dict) and matches(item) is False:
                    mismatches += 1
        parsed = parse_records(self._kind, records, self.version)
        first_id = None
        date_sample = None
        if records and isinstance(records[0], dict):
            sid = records[0].get("sourcedId")
            first_id = sid if isinstance(sid, str) else None
            date_sample = records[0].get("dateLastModified")
        return _Loaded(
            Page(parsed, offset, raw.total), len(records), first_id, raw.has_next, raw.total, mismatches, date_sample
        )

    def _account(self, loaded: _Loaded) -> Page:
        self.pages_read += 1
        self.records_read += loaded.raw_count
        self.filter_mismatches += loaded.mismatches
        self.bad_records += sum(1 for r in loaded.page.records if type(r) is BadRecord)
        if loaded.date_sample is not None and self.date_style is None:
            self.date_style = DateStyle.of(loaded.date_sample)
            if self._on_date_sample is not None:
                self._on_date_sample(loaded.date_sample)
        return loaded.page

    def _check_repeat(self, first_ids: dict, loaded: _Loaded) -> None:
        if loaded.first_id is None:
            return
        earlier = first_ids.get(loaded.first_id)
        if earlier is not None and earlier != loaded.page.offset:
            raise BadResponse(
                f"The SIS returned the same page at offset {loaded.page.offset} as at offset "
                f"{earlier} for {self.collection}: it does not honour offset paging.",
                endpoint=self.endpoint,
            )
        first_ids[loaded.first_id] = loaded.page.offset

    def _check_page_cap(self, extra: int = 0) -> None:
        if self.pages_read + extra >= self.max_pages:
            raise BadResponse(
                f"Stopped reading {self.collection} after {self.max_pages} pages; the server kept sending more.",
                endpoint=self.endpoint,
            )
