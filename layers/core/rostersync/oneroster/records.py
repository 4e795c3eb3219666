"""OneRoster 1.1 and 1.2 records as typed, frozen values, parsed tolerantly and fast.

Both versions parse into the same records (docs/oneroster.md lists where 1.2 differs): a 1.2 user's
`roles[]` decide its role and schools, and its preferred names, pronouns and master identifier
fill fields 1.1 does not have. Under 1.2 an unknown role is an error for that record.

Real servers disagree with the specification in small ways, so parsing is lenient where
a value can still be trusted and strict where it cannot:
- missing optional fields are None or (); unknown enum values are kept as given (known
  ones are put in their canonical case: "Student" -> "student");
- booleans arrive as JSON booleans or "true"/"false"; date-times in any precision, with or
  without Z or an offset (always returned aware, in UTC); dates as dates or date-times;
- references arrive as {sourcedId, href, type}, as bare ids, as relative hrefs, with a
  type that does not match the collection: the id is what counts;
- a record without a sourcedId, or without a reference the sync cannot do without
  (enrollment user and class, class school), becomes a BadRecord: reported, skipped, the
  stream goes on.
A district has millions of enrollments: parsers are plain functions over dict.get with
positional constructors, and date-times are cached (many records share one timestamp).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class Org:
    sourced_id: str
    status: str
    date_last_modified: datetime | None
    name: str | None
    type: str | None
    identifier: str | None
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class AcademicSession:
    sourced_id: str
    status: str
    date_last_modified: datetime | None
    title: str | None
    type: str | None
    start_date: date | None
    end_date: date | None
    parent_id: str | None
    school_year: str | None


@dataclass(frozen=True, slots=True)
class Course:
    sourced_id: str
    status: str
    date_last_modified: datetime | None
    title: str | None
    course_code: str | None
    grades: tuple[str, ...]
    subjects: tuple[str, ...]
    subject_codes: tuple[str, ...]
    org_id: str | None


@dataclass(frozen=True, slots=True)
class Class:
    sourced_id: str
    status: str
    date_last_modified: datetime | None
    title: str | None
    class_code: str | None
    class_type: str | None
    course_id: str | None
    school_id: str
    term_ids: tuple[str, ...]
    grades: tuple[str, ...]
    subjects: tuple[str, ...]
    subject_codes: tuple[str, ...]
    periods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class User:
    sourced_id: str
    status: str
    date_last_modified: datetime | None
    role: str | None
    username: str | None
    given_name: str | None
    family_name: str | None
    middle_name: str | None
    email: str | None
    identifier: str | None
    enabled_user: bool | None
    org_ids: tuple[str, ...]
    grades: tuple[str, ...]
    user_ids: tuple[tuple[str, str], ...]  # (type, identifier) pairs from userIds
    # OneRoster 1.2 only (None from a 1.1 server)
    preferred_given_name: str | None = None
    preferred_family_name: str | None = None
    pronouns: str | None = None
    master_identifier: str | None = None  # userMasterIdentifier
    # roles[] as (role, roleType, org sourcedId): the role held at each org (the engine takes the
    # one at the run's selected schools: sync/user_pass.py role_at_selected_schools)
    roles: tuple[tuple[str, str | None, str | None], ...] | None = None


@dataclass(frozen=True, slots=True)
class Enrollment:
    sourced_id: str
    status: str
    date_last_modified: datetime | None
    role: str | None
    user_id: str
    class_id: str
    school_id: str | None
    primary: bool | None
    begin_date: date | None
    end_date: date | None


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that could not be used; the stream reports it and goes on."""

    collection: str
    sourced_id: str | None
    code: str  # missing_sourced_id | missing_reference | invalid_record
    message: str
    raw_excerpt: str


Record = Org | AcademicSession | Course | Class | User | Enrollment


class _Bad(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- values


def _canonical(*names: str) -> dict[str, str]:
    table = {name: name for name in names}
    table.update({name.lower(): name for name in names})
    return table


STATUSES = _canonical("active", "tobedeleted", "inactive")
STATUSES["toBeDeleted".lower()] = "tobedeleted"
ROLES = _canonical(
    "administrator",
    "aide",
    "guardian",
    "parent",
    "proctor",
    "relative",
    "student",
    "teacher",
    "districtAdministrator",
    "siteAdministrator",
    "systemAdministrator",
    "principal",
)
# OneRoster 1.2's RoleEnum (1.1's "administrator" became districtAdministrator/siteAdministrator;
# "counselor" is new). Extensions are written "ext:..." and kept as given.
ROLES_V1P2 = _canonical(
    "aide",
    "counselor",
    "districtAdministrator",
    "guardian",
    "parent",
    "principal",
    "proctor",
    "relative",
    "siteAdministrator",
    "student",
    "systemAdministrator",
    "teacher",
)
ORG_TYPES = _canonical("department", "school", "district", "local", "state", "national")
SESSION_TYPES = _canonical("gradingPeriod", "semester", "schoolYear", "term")
CLASS_TYPES = _canonical("homeroom", "scheduled")


def _enum(value: Any, table: dict[str, str]) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        value = str(value)
    known = table.get(value)
    if known is not None:
        return known
    return table.get(value.lower(), value) if value else None


def _status(value: Any) -> str:
    # A missing status is read as active: servers that omit it only send live records.
    if value is None or value == "":
        return "active"
    if value == "active" or value == "tobedeleted":
        return value
    return _enum(value, STATUSES) or "active"


def _text(value: Any) -> str | None:
    if type(value) is str:
        return value if value else None
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _sourced_id(value: Any) -> str:
    if type(value) is str:
        if value.strip():
            return value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _Bad("missing_sourced_id", "The record has no sourcedId.")


def parse_bool(value: Any) -> bool | None:
    if value is True or value is False:
        return value
    if value == "true":  # the common case first: most servers send the string
        return True
    if value == "false":
        return False
    if type(value) is str:
        low = value.strip().lower()
        if low in ("true", "1", "yes", "y", "t"):
            return True
        if low in ("false", "0", "no", "n", "f"):
            return False
    if type(value) is int:
        return bool(value)
    return None


_DATETIME_CACHE: dict[str, datetime | None] = {}


def forget_parsed_datetimes() -> None:
    """Empty the cache of parsed date-times (a benchmark's rounds start cold)."""
    _DATETIME_CACHE.clear()


def parse_datetime(value: Any) -> datetime | None:
    """Any ISO 8601 date-time (any fraction precision, Z or offset or none) -> aware UTC."""
    if type(value) is not str or not value:
        return None
    cached = _DATETIME_CACHE.get(value)
    if cached is not None or value in _DATETIME_CACHE:
        return cached
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        parsed = _parse_datetime_leniently(value.strip())
    if parsed is not None and parsed.tzinfo is not UTC:
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if len(_DATETIME_CACHE) >= 65536:
        _DATETIME_CACHE.clear()
    _DATETIME_CACHE[value] = parsed
    return parsed


def _parse_datetime_leniently(text: str) -> datetime | None:
    # Seen in the wild: a lowercase z, a trailing " UTC", more than 6 fraction digits
    # followed by an offset, or a date-time with a space and lowercase t.
    cleaned = text.replace("t", "T").replace(" UTC", "Z").replace("z", "Z")
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        return None


_DATE_CACHE: dict[str, date | None] = {}


def parse_date(value: Any) -> date | None:
    """'2026-08-01' or a date-time ('2026-08-01T00:00:00Z') -> the date."""
    if type(value) is not str:
        return None
    cached = _DATE_CACHE.get(value)
    if cached is not None:
        return cached
    parsed = None
    if len(value) >= 10:
        try:
            parsed = date.fromisoformat(value[:10])
        except ValueError:
            parsed = None
    if len(_DATE_CACHE) >= 4096:
        _DATE_CACHE.clear()
    _DATE_CACHE[value] = parsed
    return parsed


def _id_from_href(href: str) -> str | None:
    # '/ims/oneroster/v1p1/classes/abc', 'classes/abc', 'https://x/.../abc?x=1' -> 'abc'
    path = href.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return unquote(last) if last else None


def ref_id(value: Any) -> str | None:
    """The sourcedId of a reference: {sourcedId, href, type}, a bare id, or an href."""
    if type(value) is dict:
        sid = value.get("sourcedId")
        if type(sid) is str and sid:
            return sid
        if isinstance(sid, int) and not isinstance(sid, bool):
            return str(sid)
        href = value.get("href")
        if type(href) is str and href:
            return _id_from_href(href)
        return None
    if type(value) is str:
        if not value:
            return None
        return _id_from_href(value) if "/" in value else value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def ref_ids(value: Any) -> tuple[str, ...]:
    if type(value) is list:
        ids = []
        for item in value:
            sid = ref_id(item)
            if sid is not None:
                ids.append(sid)
        return tuple(ids)
    single = ref_id(value)
    return (single,) if single is not None else ()


def strings(value: Any, split_commas: bool = False) -> tuple[str, ...]:
    """A list of strings; a lone string (comma-separated for grades) also works."""
    if type(value) is list:
        return tuple(
            item if type(item) is str else str(item)
            for item in value
            if item is not None and item != "" and not isinstance(item, (dict, list))
        )
    if type(value) is str:
        if not value.strip():
            return ()
        if split_commas:
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return (value,)
    if value is None or isinstance(value, (dict, bool)):
        return ()
    return (str(value),)


def _user_ids(value: Any) -> tuple[tuple[str, str], ...]:
    if type(value) is not list:
        return ()
    pairs = []
    for item in value:
        if type(item) is dict and item.get("identifier") is not None:
            pairs.append((str(item.get("type") or ""), str(item["identifier"])))
    return tuple(pairs)


def _user_role(raw: dict) -> str | None:
    role = raw.get("role")
    if role is None:
        # OneRoster 1.2-style roles[]: take the primary one, else the first.
        roles = raw.get("roles")
        if type(roles) is list and roles:
            chosen = next((r for r in roles if type(r) is dict and r.get("roleType") == "primary"), roles[0])
            role = chosen.get("role") if type(chosen) is dict else chosen
    return _enum(role, ROLES)


# --------------------------------------------------------------------------- parsers


def _org(raw: dict) -> Org:
    get = raw.get
    return Org(
        _sourced_id(get("sourcedId")),
        _status(get("status")),
        parse_datetime(get("dateLastModified")),
        _text(get("name")),
        _enum(get("type"), ORG_TYPES),
        _text(get("identifier")),
        ref_id(get("parent")),
    )


def _academic_session(raw: dict) -> AcademicSession:
    get = raw.get
    return AcademicSession(
        _sourced_id(get("sourcedId")),
        _status(get("status")),
        parse_datetime(get("dateLastModified")),
        _text(get("title")),
        _enum(get("type"), SESSION_TYPES),
        parse_date(get("startDate")),
        parse_date(get("endDate")),
        ref_id(get("parent")),
        _text(get("schoolYear")),
    )


def _course(raw: dict) -> Course:
    get = raw.get
    return Course(
        _sourced_id(get("sourcedId")),
        _status(get("status")),
        parse_datetime(get("dateLastModified")),
        _text(get("title")),
        _text(get("courseCode")),
        strings(get("grades"), True),
        strings(get("subjects")),
        strings(get("subjectCodes"), True),
        ref_id(get("org")),
    )


def _class(raw: dict) -> Class:
    get = raw.get
    sourced_id = _sourced_id(get("sourcedId"))
    school_id = ref_id(get("school"))
    if school_id is None:
        raise _Bad("missing_reference", "The class has no school reference.")
    return Class(
        sourced_id,
        _status(get("status")),
        parse_datetime(get("dateLastModified")),
        _text(get("title")),
        _text(get("classCode")),
        _enum(get("classType"), CLASS_TYPES),
        ref_id(get("course")),
        school_id,
        ref_ids(get("terms")),
        strings(get("grades"), True),
        strings(get("subjects")),
        strings(get("subjectCodes"), True),
        strings(get("periods"), True),
    )


def _user(raw: dict) -> User:
    get = raw.get
    return User(
        _sourced_id(get("sourcedId")),
        _status(get("status")),
        parse_datetime(get("dateLastModified")),
        _user_role(raw),
        _text(get("username")),
        _text(get("givenName")),
        _text(get("familyName")),
        _text(get("middleName")),
        _text(get("email")),
        _text(get("identifier")),
        parse_bool(get("enabledUser")),
        ref_ids(get("orgs")),
        strings(get("grades"), True),
        _user_ids(get("userIds")),
    )


def _role_v1p2(value: Any) -> str:
    role = _text(value)
    if role is None:
        raise _Bad("invalid_record", "A role of the user has no role value.")
    if role.startswith("ext:"):
        return role
    known = ROLES_V1P2.get(role) or ROLES_V1P2.get(role.lower())
    if known is None:
        raise _Bad("invalid_record", f"The user has the role {role!r}, which OneRoster 1.2 does not define.")
    return known


def _roles_v1p2(raw: dict) -> tuple[str | None, tuple[str, ...], tuple | None]:
    """A 1.2 user's role and schools from roles[]: the primary role (else the first), and every
    org where the user holds that same role, primaryOrg first; and every (role, roleType, org).
    A 1.1-shaped user (role, orgs) on a 1.2 server is read as 1.1 reads it (no roles)."""
    roles = raw.get("roles")
    if type(roles) is not list or not roles:
        if raw.get("role") is not None:
            return _enum(raw.get("role"), ROLES), ref_ids(raw.get("orgs")), None
        raise _Bad("invalid_record", "The user has no roles (OneRoster 1.2 requires at least one).")
    entries = []
    for entry in roles:
        if type(entry) is not dict:
            raise _Bad("invalid_record", "A role of the user is not an object.")
        entries.append((_role_v1p2(entry.get("role")), entry.get("roleType"), ref_id(entry.get("org"))))
    chosen = next((e for e in entries if e[1] == "primary"), entries[0])[0]
    orgs = [org for role, _, org in entries if role == chosen and org is not None]
    primary_org = ref_id(raw.get("primaryOrg"))
    if primary_org is not None and primary_org in orgs:
        orgs.remove(primary_org)
        orgs.insert(0, primary_org)
    return chosen, tuple(dict.fromkeys(orgs)), tuple(entries)


def _user_v1p2(raw: dict) -> User:
    get = raw.get
    sourced_id = _sourced_id(get("sourcedId"))
    role, org_ids, roles = _roles_v1p2(raw)
    master = _text(get("userMasterIdentifier"))
    return User(
        sourced_id,
        _status(get("status")),
        parse_datetime(get("dateLastModified")),
        role,
        _text(get("username")),
        _text(get("givenName")),
        _text(get("familyName")),
        _text(get("middleName")),
        _text(get("email")),
        _text(get("identifier")) or master,
        parse_bool(get("enabledUser")),
        org_ids,
        strings(get("grades"), True),
        _user_ids(get("userIds")),
        _text(get("preferredFirstName")),
        _text(get("preferredLastName")),
        _text(get("pronouns")),
        master,
        roles,
    )


def _enrollment(raw: dict) -> Enrollment:
    get = raw.get
    sourced_id = _sourced_id(get("sourcedId"))
    user_id = ref_id(get("user"))
    class_id = ref_id(get("class"))
    if user_id is None or class_id is None:
        missing = "user" if user_id is None else "class"
        raise _Bad("missing_reference", f"The enrollment has no {missing} reference.")
    role = get("role")
    return Enrollment(
        sourced_id,
        _status(get("status")),
        parse_datetime(get("dateLastModified")),
        role if role == "student" or role == "teacher" else _enum(role, ROLES),
        user_id,
        class_id,
        ref_id(get("school")),
        parse_bool(get("primary")),
        parse_date(get("beginDate")),
        parse_date(get("endDate")),
    )


PARSERS = {
    "orgs": _org,
    "schools": _org,
    "academicSessions": _academic_session,
    "terms": _academic_session,
    "gradingPeriods": _academic_session,
    "courses": _course,
    "classes": _class,
    "users": _user,
    "students": _user,
    "teachers": _user,
    "enrollments": _enrollment,
}


VERSIONS = ("1.1", "1.2")
# What 1.2 parses differently; every other collection reads as in 1.1.
PARSERS_V1P2 = {**PARSERS, "users": _user_v1p2, "students": _user_v1p2, "teachers": _user_v1p2}


def parser_for(collection: str, version: str = "1.1"):
    try:
        return (PARSERS_V1P2 if version == "1.2" else PARSERS)[collection]
    except KeyError:
        raise ValueError(
            f"Unknown OneRoster collection {collection!r}; expected one of {', '.join(sorted(PARSERS))}."
        ) from None


def excerpt(raw: Any, limit: int = 200) -> str:
    try:
        text = json.dumps(raw, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(raw)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_record(collection: str, raw: Any, version: str = "1.1") -> Record | BadRecord:
    return parse_records(collection, [raw], version)[0]


def parse_records(collection: str, raws: list, version: str = "1.1") -> list[Record | BadRecord]:
    """Parse a page of raw records (OneRoster `version`'s shapes); bad ones become BadRecord in place."""
    parse = parser_for(collection, version)
    out: list[Record | BadRecord] = []
    append = out.append
    for raw in raws:
        try:
            append(parse(raw))
        except _Bad as bad:
            append(_bad_record(collection, raw, bad.code, bad.message))
        except (AttributeError, TypeError, ValueError) as exc:
            append(
                _bad_record(collection, raw, "invalid_record", f"The record could not be read ({type(exc).__name__}).")
            )
    return out


def _bad_record(collection: str, raw: Any, code: str, message: str) -> BadRecord:
    sid = raw.get("sourcedId") if type(raw) is dict else None
    if not isinstance(sid, str) or not sid:
        sid = None
        if code == "invalid_record" and type(raw) is not dict:
            message = "The record is not a JSON object."
    return BadRecord(collection, sid, code, message, excerpt(raw))
