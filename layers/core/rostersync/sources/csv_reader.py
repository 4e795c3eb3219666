"""The source-reader port (sources/port.py) over a checked OneRoster 1.1 CSV bundle.

Each file is read as a stream of lines (`open_lines(name)`: an S3 object's body in a deployed
stack, any iterable of text lines in tests) through the csv module, a page of rows at a time, so
memory holds a page whatever the file's size. A row becomes the JSON shape the REST binding
gives the same record, and goes through the same parser (oneroster/records.py), so a bundle and
a REST server of the same district sync to the same roster. A row the parser cannot use becomes
a BadRecord whose message names the file and its line.

A bundle has no change cursor: every sync of one is full (bulk files are whole). `start` skips
that many rows from the file's beginning: a continued run reads on from where its checkpoint
says, on whatever container it lands (nothing is kept on local disk).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from rostersync.oneroster.errors import NotOneRoster
from rostersync.oneroster.records import (
    AcademicSession,
    BadRecord,
    Class,
    Course,
    Enrollment,
    Org,
    User,
    parse_records,
)

from .csv_bundle import Bundle
from .port import Collection, SourcePage

OpenLines = Callable[[str], Iterable[str]]
PAGE_ROWS = 1000


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _ref(value: str | None) -> dict | None:
    value = (value or "").strip()
    return {"sourcedId": value} if value else None


def _refs(value: str | None) -> list[dict]:
    return [{"sourcedId": part} for part in _list(value)]


def _user_ids(value: str | None) -> list[dict]:
    # "{Fed:1234},{LDAP:abc}": type and identifier in braces, comma-separated
    out = []
    for part in (value or "").split("},"):
        part = part.strip().strip("{}").strip()
        if ":" in part:
            kind, identifier = part.split(":", 1)
            out.append({"type": kind.strip(), "identifier": identifier.strip()})
    return out


def _base(row: dict) -> dict:
    return {
        "sourcedId": row.get("sourcedId"),
        "status": row.get("status") or None,
        "dateLastModified": row.get("dateLastModified") or None,
    }


def org_json(row: dict) -> dict:
    return {
        **_base(row),
        "name": row.get("name"),
        "type": row.get("type"),
        "identifier": row.get("identifier") or None,
        "parent": _ref(row.get("parentSourcedId")),
    }


def session_json(row: dict) -> dict:
    return {
        **_base(row),
        "title": row.get("title"),
        "type": row.get("type"),
        "startDate": row.get("startDate"),
        "endDate": row.get("endDate"),
        "parent": _ref(row.get("parentSourcedId")),
        "schoolYear": row.get("schoolYear") or None,
    }


def course_json(row: dict) -> dict:
    return {
        **_base(row),
        "title": row.get("title"),
        "courseCode": row.get("courseCode") or None,
        "grades": _list(row.get("grades")),
        "subjects": _list(row.get("subjects")),
        "subjectCodes": _list(row.get("subjectCodes")),
        "org": _ref(row.get("orgSourcedId")),
    }


def class_json(row: dict) -> dict:
    return {
        **_base(row),
        "title": row.get("title"),
        "classCode": row.get("classCode") or None,
        "classType": row.get("classType") or None,
        "course": _ref(row.get("courseSourcedId")),
        "school": _ref(row.get("schoolSourcedId")),
        "terms": _refs(row.get("termSourcedIds")),
        "grades": _list(row.get("grades")),
        "subjects": _list(row.get("subjects")),
        "subjectCodes": _list(row.get("subjectCodes")),
        "periods": _list(row.get("periods")),
    }


def user_json(row: dict) -> dict:
    return {
        **_base(row),
        "enabledUser": row.get("enabledUser"),
        "orgs": _refs(row.get("orgSourcedIds")),
        "role": row.get("role"),
        "username": row.get("username") or None,
        "userIds": _user_ids(row.get("userIds")),
        "givenName": row.get("givenName"),
        "familyName": row.get("familyName"),
        "middleName": row.get("middleName") or None,
        "identifier": row.get("identifier") or None,
        "email": row.get("email") or None,
        "grades": _list(row.get("grades")),
    }


def enrollment_json(row: dict) -> dict:
    return {
        **_base(row),
        "class": _ref(row.get("classSourcedId")),
        "school": _ref(row.get("schoolSourcedId")),
        "user": _ref(row.get("userSourcedId")),
        "role": row.get("role"),
        "primary": row.get("primary") or None,
        "beginDate": row.get("beginDate") or None,
        "endDate": row.get("endDate") or None,
    }


ROW_SHAPES: dict[str, tuple[str, Callable[[dict], dict]]] = {
    # port collection -> (bundle file, row -> REST JSON)
    Collection.SCHOOLS: ("orgs", org_json),
    Collection.COURSES: ("courses", course_json),
    Collection.ACADEMIC_SESSIONS: ("academicSessions", session_json),
    Collection.CLASSES: ("classes", class_json),
    Collection.USERS: ("users", user_json),
    Collection.ENROLLMENTS: ("enrollments", enrollment_json),
}


class CsvBundleReader:
    """SourceReader over a checked bundle's files."""

    has_change_cursor = False

    def __init__(self, bundle: Bundle, open_lines: OpenLines, page_rows: int = PAGE_ROWS):
        self.bundle = bundle
        self._open_lines = open_lines
        self.page_rows = page_rows

    def set_time_left(self, time_left: Callable[[], float] | None) -> None:
        pass  # reads from the store of bundles are short; the engine checks its time between pages

    def close(self) -> None:
        pass

    def schools(self, *, start: int = 0) -> Iterator[SourcePage[Org]]:
        # orgs.csv holds the district and departments too: only schools are the sync's (counted
        # in school rows, so a resumed read's offset means the same rows)
        return self._pages(Collection.SCHOOLS, start, keep=lambda row: (row.get("type") or "").strip() == "school")

    def courses(self, *, start: int = 0) -> Iterator[SourcePage[Course]]:
        return self._pages(Collection.COURSES, start)

    def academic_sessions(self) -> Iterator[SourcePage[AcademicSession]]:
        if not self.bundle.present("academicSessions"):
            raise NotOneRoster("The bundle has no academicSessions.csv (the manifest says absent).")
        return self._pages(Collection.ACADEMIC_SESSIONS, 0)

    def classes(self, *, start: int = 0, changed_since: datetime | None = None) -> Iterator[SourcePage[Class]]:
        return self._pages(Collection.CLASSES, start)

    def users(self, *, start: int = 0, changed_since: datetime | None = None) -> Iterator[SourcePage[User]]:
        return self._pages(Collection.USERS, start)

    def enrollments(self, *, start: int = 0, changed_since: datetime | None = None) -> Iterator[SourcePage[Enrollment]]:
        return self._pages(Collection.ENROLLMENTS, start)

    def user(self, sourced_id: str) -> User | BadRecord | None:
        return self._find(Collection.USERS, sourced_id)

    def class_(self, sourced_id: str) -> Class | BadRecord | None:
        return self._find(Collection.CLASSES, sourced_id)

    # ------------------------------------------------------------------ reading
    def _find(self, collection: str, sourced_id: str) -> Any:
        for page in self._pages(collection, 0):
            for record in page.records:
                if getattr(record, "sourced_id", None) == sourced_id:
                    return record
        return None

    def _pages(self, collection: str, start: int, keep: Callable[[dict], bool] | None = None) -> Iterator[Any]:
        file, to_json = ROW_SHAPES[collection]
        if not self.bundle.present(file):
            return
        rows = csv.reader(self._open_lines(file))
        header = [column.strip() for column in next(rows, [])]
        line, offset, page_rows, page_lines = 1, 0, [], []
        for values in rows:
            line += 1
            if not any(v.strip() for v in values):
                continue  # a blank line is no record
            row = dict(zip(header, values, strict=False))
            if keep is not None and not keep(row):
                continue
            if offset < start:  # rows before the checkpoint's: read past, not parsed
                offset += 1
                continue
            page_rows.append(to_json(row))
            page_lines.append(line)
            if len(page_rows) >= self.page_rows:
                yield self._page(collection, file, page_rows, page_lines, offset)
                offset += len(page_rows)
                page_rows, page_lines = [], []
        if page_rows:
            yield self._page(collection, file, page_rows, page_lines, offset)

    def _page(self, collection: str, file: str, rows: list[dict], lines: list[int], offset: int) -> SourcePage:
        records = parse_records(collection, rows)
        for i, record in enumerate(records):
            if isinstance(record, BadRecord):  # where in the bundle, for the admin
                records[i] = BadRecord(
                    record.collection,
                    record.sourced_id,
                    record.code,
                    f"{file}.csv line {lines[i]}: {record.message}",
                    record.raw_excerpt,
                )
        return SourcePage(records, offset)
