"""The source-reader port: what a sync needs from a district's SIS, and nothing more.

A source delivers six collections (schools, courses, academic sessions, classes, users,
enrollments) as streams of pages of typed records: the frozen dataclasses of
rostersync.oneroster.records (Org, Course, AcademicSession, Class, User, Enrollment), or a
BadRecord for a record it could not parse (reported, and its stored copy kept). Whatever the
source's wire format (OneRoster 1.1 or 1.2 JSON, a CSV bundle), the sync sees only these.

Resumable position: every page carries the offset of its first record in the collection's read
order, and a stream can start at any offset (`start`); the sync saves the offset it reached in
its checkpoint and asks for the stream again from there (one page early) in a later invocation.
A source must therefore deliver a collection in a stable order for the length of a run.
A source that can seek (a CSV bundle's files, by byte) also gives each page its `position`, a
small JSON-able dict the checkpoint keeps; a later read handed it back as `resume` (with `start`,
the offset of that same page) starts there instead of reading past `start` records. A source
without one gives None and is never handed a `resume`.

Change cursor: a source that can list only what changed since an instant (OneRoster's
dateLastModified filter) says so with `has_change_cursor`, and then honours `changed_since` on
classes, users and enrollments; each page tells how many of its records fail that filter when
checked locally (`off_filter`), so a delta run can refuse a server that ignores it. A source
without one (a CSV bundle of bulk files) is always read whole: a delta run continues as a full
one. A CSV bundle with delta files has one: its delta files are what changed.

Errors are the typed errors of rostersync.oneroster.errors (each with a `code`): the engine
fails a run for good on a refusal (invalid_credentials, insufficient_scope, not_oneroster,
invalid_host_url) and retries it later on anything else; OutOfTime means the invocation's time
(set_time_left) ran out inside a read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from rostersync.oneroster.records import AcademicSession, BadRecord, Class, Course, Enrollment, Org, User


class Collection(StrEnum):
    """The collections a sync reads (values are OneRoster's names, also used in saved state)."""

    SCHOOLS = "schools"
    COURSES = "courses"
    ACADEMIC_SESSIONS = "academicSessions"
    CLASSES = "classes"
    USERS = "users"
    ENROLLMENTS = "enrollments"


@dataclass(frozen=True, slots=True)
class SourcePage[R: (Org, Course, AcademicSession, Class, User, Enrollment)]:
    """One page of a collection: its records in read order, where it starts, and how many of its
    records fail the change filter it was asked with (0 without one)."""

    records: list[R | BadRecord]
    offset: int
    off_filter: int = 0
    position: dict | None = None  # where the page's first record starts, for a source that can seek
    # Where each record is in the source, for the run's errors ("users.csv line 12"); None where
    # the source cannot say (REST).
    where: list[str] | None = None


@runtime_checkable
class SourceReader(Protocol):
    """A district's SIS as the sync reads it. Streams are lazy: nothing is read until iterated,
    and each call reads the collection again from `start`."""

    @property
    def has_change_cursor(self) -> bool:
        """Whether `changed_since` is honoured (a delta sync is possible)."""
        ...

    def set_time_left(self, time_left: Callable[[], float] | None) -> None:
        """The invocation's deadline as seconds left: a read that would pass it raises OutOfTime."""
        ...

    def schools(self, *, start: int = 0, resume: dict | None = None) -> Iterator[SourcePage[Org]]: ...

    def courses(self, *, start: int = 0, resume: dict | None = None) -> Iterator[SourcePage[Course]]: ...

    def academic_sessions(self) -> Iterator[SourcePage[AcademicSession]]:
        """Every session (school years, terms, grading periods), always whole. Raises one of
        NotOneRoster, InsufficientScope or RequestRejected when the source offers none."""
        ...

    def classes(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[Class]]: ...

    def users(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[User]]: ...

    def enrollments(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[Enrollment]]: ...

    def user(self, sourced_id: str) -> User | BadRecord | None:
        """One user by sourcedId (a delta's user it has no current copy of); None when unknown."""
        ...

    def class_(self, sourced_id: str) -> Class | BadRecord | None:
        """One class by sourcedId; None when unknown."""
        ...

    def close(self) -> None: ...
