"""The source-reader port (sources/port.py) over a OneRoster REST server, 1.1 or 1.2 (the client
reads the version its connection names: oneroster/client.py, docs/oneroster.md).

A thin adapter: OneRosterClient (rostersync.oneroster) does the paging, concurrency, retries,
auth and parsing; this maps its streams to the port's typed pages and its delta filter
(`dateLastModified>'...'` in the server's own date precision) to `changed_since`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.errors import InsufficientScope, NotOneRoster, RequestRejected
from rostersync.oneroster.records import AcademicSession, BadRecord, Class, Course, Enrollment, Org, User

from .port import Collection, SourcePage

logger = logging.getLogger(__name__)

# Sessions live at /academicSessions; a few servers offer only /terms.
SESSION_COLLECTIONS = ("academicSessions", "terms")
# Answers that mean "this server does not offer that endpoint to us", not "the SIS is down".
NOT_OFFERED = (NotOneRoster, InsufficientScope, RequestRejected)


class OneRosterRestReader:
    """SourceReader over OneRosterClient; the reader owns the client (close closes it). Its pages
    have no position: a resumed read asks for the page at its offset (`resume` is never given)."""

    has_change_cursor = True

    def __init__(self, client: OneRosterClient):
        self.client = client

    def set_time_left(self, time_left: Callable[[], float] | None) -> None:
        self.client.set_time_left(time_left)

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ streams
    def schools(self, *, start: int = 0, resume: dict | None = None) -> Iterator[SourcePage[Org]]:
        return self._pages(Collection.SCHOOLS, start)

    def courses(self, *, start: int = 0, resume: dict | None = None) -> Iterator[SourcePage[Course]]:
        return self._pages(Collection.COURSES, start)

    def academic_sessions(self) -> Iterator[SourcePage[AcademicSession]]:
        for number, collection in enumerate(SESSION_COLLECTIONS):
            pages = self._pages(collection, 0)
            try:
                first = next(pages, None)
            except NOT_OFFERED as error:
                if number == len(SESSION_COLLECTIONS) - 1:
                    raise
                logger.info("the SIS offers no %s: %s", collection, error.code)
                continue
            if first is not None:
                yield first
            yield from pages
            return

    def classes(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[Class]]:
        return self._pages(Collection.CLASSES, start, changed_since)

    def users(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[User]]:
        return self._pages(Collection.USERS, start, changed_since)

    def enrollments(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[Enrollment]]:
        return self._pages(Collection.ENROLLMENTS, start, changed_since)

    # ------------------------------------------------------------------ single records
    def user(self, sourced_id: str) -> User | BadRecord | None:
        record = self.client.get(Collection.USERS, sourced_id)
        return record if record is None or isinstance(record, User | BadRecord) else None

    def class_(self, sourced_id: str) -> Class | BadRecord | None:
        record = self.client.get(Collection.CLASSES, sourced_id)
        return record if record is None or isinstance(record, Class | BadRecord) else None

    # ------------------------------------------------------------------ paging
    def _pages(self, collection: str, start: int, changed_since: datetime | None = None) -> Iterator[Any]:
        # The filter is made when the stream is read, not when asked for: it may take one
        # request to learn the server's date precision.
        filter_ = None if changed_since is None else self.client.changed_since(changed_since, collection)
        stream = self.client.stream(collection, filter=filter_, start_offset=start)
        seen_off_filter = 0
        for page in stream.pages():
            off_filter, seen_off_filter = stream.filter_mismatches - seen_off_filter, stream.filter_mismatches
            yield SourcePage(page.records, page.offset, off_filter)
