"""The source-reader port (sources/port.py) over a checked OneRoster 1.1 or 1.2 CSV bundle.

Each file is read as bytes from an offset (BundleFiles: S3 objects by ranged GetObject in a
deployed stack, sources/csv_files.py; bytes in memory in tests), split into lines and parsed by
the csv module a page of rows at a time, so memory holds a page whatever the file's size. A row
becomes the JSON shape the REST binding gives the same record, and goes through the same parser
(oneroster/records.py, in the bundle's version), so a bundle and a REST server of the same
district sync to the same roster. A row the parser cannot use becomes a BadRecord whose message
names the file and its line.

Exact resumption: every page carries its `position` (the file, the version of its object, the
byte offset and line where its first row starts); a checkpoint keeps it, and a later invocation,
on whatever container, reads on from that byte (the port's `resume`). A file found at another
version than the one the run started with fails the run (BundleUnusable): never two bundles mixed.

Full or delta: a bundle without delta files has no change cursor (every sync of it is full); a
bundle with one lists what changed, so it is read as a delta (`changed_since` given): a delta
file's rows are the changes (their `status` active or tobedeleted), an absent file has none, a
bulk file's rows are all offered (unchanged ones write nothing). A delta file read by a full
sync fails the run: what it lacks is not gone.

1.2: a user's roles and schools are in roles.csv; each page of users is joined with its roles
by one pass over roles.csv (memory: the page's roles; time: roles.csv once per page of users).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

from rostersync.oneroster.errors import NotOneRoster, OneRosterError
from rostersync.oneroster.records import (
    AcademicSession,
    BadRecord,
    Class,
    Course,
    Enrollment,
    Org,
    User,
    parse_date,
    parse_datetime,
    parse_records,
)

from .csv_bundle import Bundle
from .port import Collection, SourcePage

PAGE_ROWS = 1000
BOM = b"\xef\xbb\xbf"


class BundleUnusable(OneRosterError):
    """The run's staged bundle cannot serve it (changed under it, gone, or a delta file met by a
    full sync): the run fails, and a retry would fail the same way."""

    code = "bundle_unusable"


def changed_under_run(name: str) -> str:
    return (
        f"{name}.csv changed while this run was reading it (its stored version is not the one the run "
        "started with); the run stopped rather than mix two bundles. The next sync reads the new bundle."
    )


class BundleFiles(Protocol):
    def read(self, name: str, start: int, version: str | None) -> tuple[str, Iterator[bytes]]:
        """The file's bytes from byte `start`, as chunks, and the version being read;
        BundleUnusable when `version` is given and the file is now another."""
        ...


class MemoryFiles:
    """A bundle's files held in memory (tests, tools): versions are content digests."""

    def __init__(self, files: dict[str, bytes], chunk: int = 64 * 1024):
        self.files, self.chunk = files, chunk

    def read(self, name: str, start: int, version: str | None) -> tuple[str, Iterator[bytes]]:
        data = self.files[name]
        found = hashlib.sha256(data).hexdigest()[:32]
        if version and version != found:
            raise BundleUnusable(changed_under_run(name))
        return found, (data[i : i + self.chunk] for i in range(start, len(data), self.chunk))


class _Lines:
    """Text lines of a byte stream, counting the bytes handed out (`consumed`): the csv module
    asks for a record's lines as it needs them and no further, so `consumed` before a record is
    the byte where it starts. Lines split on LF only (csv handles CR and quoted breaks)."""

    def __init__(self, chunks: Iterator[bytes], at_start: bool):
        self._chunks = chunks
        self._at_start = at_start
        self.consumed = 0

    def __iter__(self) -> Iterator[str]:
        pending, first = b"", self._at_start
        for chunk in self._chunks:
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                self.consumed += len(line) + 1
                if first:  # a byte order mark is counted, not read
                    line, first = line.removeprefix(BOM), False
                yield line.decode("utf-8", "replace") + "\n"
        if pending:
            self.consumed += len(pending)
            yield (pending.removeprefix(BOM) if first else pending).decode("utf-8", "replace")


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


def _user_fields(row: dict) -> dict:
    """What a users.csv row says alike in 1.1 and 1.2."""
    return {
        **_base(row),
        "enabledUser": row.get("enabledUser"),
        "username": row.get("username") or None,
        "userIds": _user_ids(row.get("userIds")),
        "givenName": row.get("givenName"),
        "familyName": row.get("familyName"),
        "middleName": row.get("middleName") or None,
        "identifier": row.get("identifier") or None,
        "email": row.get("email") or None,
        "grades": _list(row.get("grades")),
    }


def user_json(row: dict) -> dict:
    return {**_user_fields(row), "orgs": _refs(row.get("orgSourcedIds")), "role": row.get("role")}


def role_json(row: dict) -> dict:
    """A roles.csv row as an entry of a 1.2 user's `roles`."""
    return {
        "roleType": row.get("roleType") or None,
        "role": row.get("role") or None,
        "org": _ref(row.get("orgSourcedId")),
        "userProfile": _ref(row.get("userProfileSourcedId")),
        "beginDate": row.get("beginDate") or None,
        "endDate": row.get("endDate") or None,
    }


def user_json_v1p2(row: dict, roles: list[dict]) -> dict:
    """A 1.2 users.csv row and its roles.csv rows as 1.2 REST gives the user. The CSV binding
    names the preferred names preferredFirstName/preferredLastName; some exports write
    preferredGivenName/preferredFamilyName, read too."""
    return {
        **_user_fields(row),
        "roles": roles,
        "primaryOrg": _ref(row.get("primaryOrgSourcedId")),
        "userMasterIdentifier": row.get("userMasterIdentifier") or None,
        "preferredFirstName": row.get("preferredFirstName") or row.get("preferredGivenName") or None,
        "preferredLastName": row.get("preferredLastName") or row.get("preferredFamilyName") or None,
        "pronouns": row.get("pronouns") or None,
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


# Columns holding an instant or a date: a value that is not one makes the row an error (the REST
# parser reads such a value as absent; in a file a typo is more likely than a server's quirk).
DATE_COLUMNS = {
    "dateLastModified": parse_datetime,
    "beginDate": parse_date,
    "endDate": parse_date,
    "startDate": parse_date,
}


def _bad_date(row: dict) -> str | None:
    for column, parse in DATE_COLUMNS.items():
        value = (row.get(column) or "").strip()
        if value and parse(value) is None:
            return f"{column} {value!r} is not a date."
    return None


class CsvBundleReader:
    """SourceReader over a checked bundle's files (Bundle: what the manifest said of each)."""

    def __init__(self, bundle: Bundle, files: BundleFiles, page_rows: int = PAGE_ROWS):
        self.bundle = bundle
        self.files = files
        self.page_rows = page_rows

    @property
    def has_change_cursor(self) -> bool:
        return self.bundle.is_delta

    def set_time_left(self, time_left: Callable[[], float] | None) -> None:
        pass  # reads from the store of bundles are short; the engine checks its time between pages

    def close(self) -> None:
        pass

    def schools(self, *, start: int = 0, resume: dict | None = None) -> Iterator[SourcePage[Org]]:
        # orgs.csv holds the district and departments too: only schools are the sync's (counted
        # in school rows, so a resumed read's offset means the same rows)
        return self._pages(
            Collection.SCHOOLS, start, resume, keep=lambda row: (row.get("type") or "").strip() == "school"
        )

    def courses(self, *, start: int = 0, resume: dict | None = None) -> Iterator[SourcePage[Course]]:
        return self._pages(Collection.COURSES, start, resume)

    def academic_sessions(self) -> Iterator[SourcePage[AcademicSession]]:
        if not self.bundle.present("academicSessions"):
            raise NotOneRoster("The bundle has no academicSessions.csv (the manifest says absent).")
        return self._pages(Collection.ACADEMIC_SESSIONS, 0)

    def classes(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[Class]]:
        return self._pages(Collection.CLASSES, start, resume, delta=changed_since is not None)

    def users(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[User]]:
        return self._pages(Collection.USERS, start, resume, delta=changed_since is not None)

    def enrollments(
        self, *, start: int = 0, changed_since: datetime | None = None, resume: dict | None = None
    ) -> Iterator[SourcePage[Enrollment]]:
        return self._pages(Collection.ENROLLMENTS, start, resume, delta=changed_since is not None)

    def user(self, sourced_id: str) -> User | BadRecord | None:
        return self._find(Collection.USERS, sourced_id)

    def class_(self, sourced_id: str) -> Class | BadRecord | None:
        return self._find(Collection.CLASSES, sourced_id)

    # ------------------------------------------------------------------ reading
    def _find(self, collection: str, sourced_id: str) -> Any:
        for page in self._pages(collection, 0, delta=True):
            for record in page.records:
                if getattr(record, "sourced_id", None) == sourced_id:
                    return record
        return None

    def _rows(self, file: str, resume: dict | None) -> Iterator[tuple[dict, dict]]:
        """The file's rows as {column: value}, each with its position (file, version, byte
        offset, lines before it), from the start or from a saved position on."""
        byte, lines_before, version = 0, 0, self.bundle.versions.get(file)
        if resume is not None and resume.get("file") == file:
            byte, lines_before, version = int(resume["byte"]), int(resume["line"]), resume.get("version") or version
        found, chunks = self.files.read(file, byte, version)
        lines = _Lines(chunks, at_start=byte == 0)
        rows = csv.reader(lines)
        # a read from the middle takes the header the bundle's check saw
        header = [c.strip() for c in next(rows, [])] if byte == 0 else list(self.bundle.headers[file])
        while True:
            line = lines_before + rows.line_num
            here: dict[str, Any] = {"file": file, "version": found, "byte": byte + lines.consumed, "line": line}
            try:
                values = next(rows)
            except StopIteration:
                return
            except csv.Error as error:
                raise BundleUnusable(f"{file}.csv line {line + 1} cannot be read as CSV: {error}") from None
            if any(v.strip() for v in values):  # a blank line is no record
                yield dict(zip(header, values, strict=False)), here

    def _pages(
        self,
        collection: str,
        start: int,
        resume: dict | None = None,
        keep: Callable[[dict], bool] | None = None,
        delta: bool = False,
    ) -> Iterator[Any]:
        file, to_json = ROW_SHAPES[collection]
        mode = self.bundle.mode(file)
        if mode == "absent":
            return
        if mode == "delta" and not delta:
            raise BundleUnusable(
                f"{file}.csv is a delta file, but this run is a full sync (a first sync, a changed selection, "
                "or a delta that could not be applied exactly); deliver a bundle whose files are all bulk."
            )
        # From a saved position the offset goes on from `start`; without one, `start` rows are read past.
        resumed = resume is not None and resume.get("file") == file
        offset, skip = (start, 0) if resumed else (0, start)
        page_rows: list[dict] = []
        page_lines: list[int] = []
        page_position: dict | None = None
        for row, position in self._rows(file, resume if resumed else None):
            if keep is not None and not keep(row):
                continue
            if skip:  # rows before the checkpoint's: read past, not parsed
                skip -= 1
                offset += 1
                continue
            if not page_rows:
                page_position = position
            page_rows.append(row)
            page_lines.append(position["line"] + 1)
            if len(page_rows) >= self.page_rows:
                yield self._page(collection, file, to_json, page_rows, page_lines, offset, page_position)
                offset += len(page_rows)
                page_rows, page_lines = [], []
        if page_rows:
            yield self._page(collection, file, to_json, page_rows, page_lines, offset, page_position)

    def _page(
        self,
        collection: str,
        file: str,
        to_json: Callable[[dict], dict],
        rows: list[dict],
        lines: list[int],
        offset: int,
        position: dict | None,
    ) -> SourcePage:
        if collection == Collection.USERS and self.bundle.version == "1.2":
            roles = self._roles_of({row.get("sourcedId") or "" for row in rows})
            raws = [user_json_v1p2(row, roles.get(row.get("sourcedId") or "", [])) for row in rows]
        else:
            raws = [to_json(row) for row in rows]
        records = parse_records(collection, raws, self.bundle.version)
        for i, row in enumerate(rows):
            bad_date = _bad_date(row)
            if bad_date is not None and not isinstance(records[i], BadRecord):
                records[i] = BadRecord(collection, row.get("sourcedId") or None, "invalid_record", bad_date, "")
        for i, record in enumerate(records):
            if isinstance(record, BadRecord):  # where in the bundle, for the admin
                records[i] = BadRecord(
                    record.collection,
                    record.sourced_id,
                    record.code,
                    f"{file}.csv line {lines[i]}: {record.message}",
                    record.raw_excerpt,
                )
        # the engine's own errors on a record (a dangling reference, a repeated sourcedId) name
        # its file and line too: SourcePage.where
        return SourcePage(records, offset, position=position, where=[f"{file}.csv line {n}" for n in lines])

    def _roles_of(self, user_ids: set) -> dict[str, list[dict]]:
        """The roles.csv entries of these users, in file order: those not tobedeleted, or, for a
        user all of whose roles are (a user deleted with its roles), those: its role still says
        which of the district's people is leaving."""
        live: dict[str, list[dict]] = {}
        gone: dict[str, list[dict]] = {}
        if not self.bundle.present("roles"):
            return live
        for row, _ in self._rows("roles", None):
            user_id = (row.get("userSourcedId") or "").strip()
            if user_id in user_ids:
                deleted = (row.get("status") or "").strip().lower() == "tobedeleted"
                (gone if deleted else live).setdefault(user_id, []).append(role_json(row))
        return {**gone, **live}
