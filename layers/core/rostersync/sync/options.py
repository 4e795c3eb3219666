"""The sync options: what the SIS offers to filter a sync on (setup step 4's choices), read
from the SIS by the setup API (GET sync-options?refresh=true) and refreshed by every full sync.

The rules, in one place: the schools are the SIS's active schools (rostersync.sis_access); the
grades and subjects are those of its active classes and of its active courses (a class without
subjects of its own offers its course's). Memory holds the sets, never the records
(SyncOptionsCollector). A full sync reads the same records in its own phases and order
(courses first), applying the same rules, and caches what it found through this collector.
A CSV district's options come from its latest staged bundle through the source reader
(collect_source_options), by the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from rostersync.oneroster import Class, Course, OneRosterClient, Org, OutOfTime
from rostersync.sis_access import active_sis_schools, is_active_school
from rostersync.sources.port import SourcePage, SourceReader
from rostersync.store.districts import SyncOptions, SyncOptionSchool
from rostersync.sync.class_terms import ClassTerms, read_term_ends, source_term_ends
from rostersync.times import utc_now


def collect_sync_options(client: OneRosterClient, refreshed_at: datetime, today: str | None = None) -> SyncOptions:
    """Stream the SIS once: its active schools, classes and courses; with `today` (the district's
    date) its calendar too, to count its classes in a current or future term and those over."""
    return _collect(
        active_sis_schools(client),
        lambda: read_term_ends(client) if today else None,
        _streamed(client, "classes"),
        _streamed(client, "courses"),
        refreshed_at,
        today,
    )


def collect_source_options(
    source: SourceReader,
    refreshed_at: datetime,
    today: str | None = None,
    time_left: Callable[[], float] | None = None,
) -> SyncOptions:
    """The same options read through a source reader (a CSV district's staged bundle): its active
    schools as the sync reads them, its sessions, classes and courses, by the same rules. With
    `time_left` (seconds), OutOfTime once it is spent, checked between pages."""
    return _collect(
        (org for org in _records(source.schools(), time_left) if is_active_school(org, listed_as_school=True)),
        lambda: source_term_ends(source) if today else None,
        _records(source.classes(), time_left),
        _records(source.courses(), time_left),
        refreshed_at,
        today,
    )


def _streamed(client: OneRosterClient, collection: str) -> Iterator:
    yield from client.stream(collection)  # opened when first read, in the order the options read


def _records(pages: Iterable[SourcePage], time_left: Callable[[], float] | None) -> Iterator:
    for page in pages:
        yield from page.records
        if time_left is not None and time_left() <= 0:
            raise OutOfTime("The bundle could not be read within the time a request has.")


def _collect(
    schools: Iterable[Org],
    term_ends: Callable[[], dict[str, str | None] | None],
    classes: Iterable,
    courses: Iterable,
    refreshed_at: datetime,
    today: str | None,
) -> SyncOptions:
    collector = SyncOptionsCollector()
    for org in schools:
        collector.add_school(org.sourced_id, org.name)
    ends = term_ends()  # after the schools, as a read of the SIS always went
    outlook = ClassTerms()
    for record in classes:
        if isinstance(record, Class) and record.status == "active":
            collector.add_class(record.grades, record.subjects, record.course_id)
            if ends is not None and today is not None:
                outlook.add(record.term_ids, ends, today)
    collector.class_terms = outlook.to_json() if ends is not None else None
    for record in courses:
        if isinstance(record, Course):
            collector.add_course(record.sourced_id, record.status == "active", record.grades, record.subjects)
    return collector.options(refreshed_at=refreshed_at)


class SyncOptionsCollector:
    """Builds SyncOptions from streamed SIS records, holding only the sets (never the records).

    Rules: schools are the active orgs of type school; grades and subjects are those of the
    active classes, where a class without subjects takes its course's, together with those
    of the active courses. Feed every class before the courses: the collector remembers
    only the ids of the courses whose subjects subject-less classes borrow.
    """

    def __init__(self) -> None:
        self.schools: dict[str, str] = {}
        self.grades: set[str] = set()
        self.subjects: set[str] = set()
        self._courses_lending_subjects: set[str] = set()
        self.class_terms: dict | None = None  # {current, ended, lastEnded} (sync/class_terms.py)

    def add_school(self, sourced_id: str, name: str | None) -> None:
        self.schools[sourced_id] = (name or "").strip() or sourced_id

    def add_class(self, grades: Iterable[str] | None, subjects: Iterable[str] | None, course_id: str | None) -> None:
        self.grades.update(_values(grades))
        own_subjects = _values(subjects)
        self.subjects.update(own_subjects)
        if not own_subjects and course_id:
            self._courses_lending_subjects.add(course_id)

    def add_course(
        self, sourced_id: str, active: bool, grades: Iterable[str] | None, subjects: Iterable[str] | None
    ) -> None:
        if active:
            self.grades.update(_values(grades))
            self.subjects.update(_values(subjects))
        elif sourced_id in self._courses_lending_subjects:
            # An active class keeps its (even retired) course's subjects: the sync filters it by them.
            self.subjects.update(_values(subjects))

    def options(self, refreshed_at: datetime | None = None) -> SyncOptions:
        schools = sorted(self.schools.items(), key=lambda item: (item[1].casefold(), item[0]))
        return SyncOptions(
            schools=[SyncOptionSchool(sis_sourced_id=sid, name=name) for sid, name in schools],
            grades=sorted(self.grades, key=grade_sort_key),
            subjects=sorted(self.subjects, key=lambda s: (s.casefold(), s)),
            refreshed_at=refreshed_at or utc_now(),
            class_terms=self.class_terms,
        )


def _values(values: Iterable[str] | None) -> set[str]:
    return {v.strip() for v in values or () if isinstance(v, str) and v.strip()}


# CEDS grade levels in school order; anything else (vendor extras) after them, alphabetically.
_GRADE_ORDER = {
    code: i
    for i, code in enumerate(["IT", "PR", "PK", "TK", "KG", *(f"{n:02d}" for n in range(1, 14)), "PS", "UG", "Other"])
}


def grade_sort_key(grade: str) -> tuple[int, str]:
    return (_GRADE_ORDER.get(grade, len(_GRADE_ORDER)), grade.casefold())
