"""The roster reads the app's front ends make, paginated with opaque cursors.

Every query is keyed by the district (the table's partition key, or an index key that starts
with "districtId#"), so no query can cross districts whatever a caller sends. A cursor is
base64url JSON of where the last page stopped, bound to the district and to the query's
parameters: decode_cursor refuses (InvalidCursor) a cursor made for another district or
another query, or one whose key does not belong to this query, before DynamoDB sees it.
"""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass

from pynamodb.exceptions import QueryError
from pynamodb.models import Model

from rostersync.store.roster import ACTIVE, INACTIVE, ClassModel, EnrollmentModel, UserModel, index_key

STATUSES = ("active", "inactive", "all")
ROLES = ("teacher", "student")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# One request reads at most this many items past its filters before it answers with what
# it found and a cursor (a filter that matches few items must not read a whole district).
MAX_EVALUATED = 5000
_CURSOR_VERSION = 1
_MAX_CURSOR_LENGTH = 2048


class InvalidCursor(ValueError):
    pass


@dataclass
class Page:
    items: list
    next_cursor: str | None


# ---------------------------------------------------------------- cursors


def encode_cursor(district_id: str, query: str, key: dict[str, str]) -> str:
    payload = {"v": _CURSOR_VERSION, "d": district_id, "q": query, "k": key}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, district_id: str, query: str, key_names: dict[str, str | None]) -> dict[str, str]:
    """The key a cursor points at, if it was made for this district and this query.

    `key_names` maps each key attribute the query's cursor must hold to its required value
    (the partition and index hash keys) or None (a sort key: any position is fine, it can
    only move within this district's partition)."""
    if not isinstance(token, str) or not token or len(token) > _MAX_CURSOR_LENGTH:
        raise InvalidCursor("empty or too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("not a cursor") from None
    if not isinstance(payload, dict) or payload.get("v") != _CURSOR_VERSION:
        raise InvalidCursor("not a cursor")
    if payload.get("d") != district_id or payload.get("q") != query:
        raise InvalidCursor("made for another district or query")
    key = payload.get("k")
    if not isinstance(key, dict) or set(key) != set(key_names):
        raise InvalidCursor("wrong key")
    for name, required in key_names.items():
        value = key[name]
        if not isinstance(value, str) or not value or len(value) > 256:
            raise InvalidCursor("wrong key")
        if required is not None and value != required:
            raise InvalidCursor("wrong key")
    return key


def _dynamo_key(key: dict[str, str] | None) -> dict | None:
    return None if key is None else {name: {"S": value} for name, value in key.items()}


def _plain_key(raw_key: dict, names) -> dict[str, str]:
    return {name: raw_key[name]["S"] for name in names}


# ---------------------------------------------------------------- the paging loop


@dataclass(frozen=True)
class _Query:
    """One way to read a list: which model/index, its hash key, and its cursor's key names."""

    model: type[Model]
    run: Callable[..., object]  # Model.query or Index.query, bound
    hash_value: str
    key_names: dict[str, str | None]
    fingerprint: str  # the parameters a cursor is bound to


def _status_filter(model: type[Model], status: str):
    if status == "all":
        return None
    return model.status == (ACTIVE if status == "active" else INACTIVE)


def _page(district_id: str, query: _Query, filter_condition, limit: int, cursor: str | None,
          dense: bool = True) -> Page:
    start = None
    if cursor is not None:
        start = decode_cursor(cursor, district_id, query.fingerprint, query.key_names)
    results = query.run(
        query.hash_value,
        filter_condition=filter_condition,
        last_evaluated_key=_dynamo_key(start),
        # Nearly every item matches a dense filter (active records, no school): read one page's
        # worth. A sparse one (inactive records, one school's users) reads more per round trip.
        page_size=limit + 1 if dense else min(MAX_EVALUATED, max(limit + 1, 100)),
    )
    pages = results.page_iter
    found: list[dict] = []
    for page in _pages(pages, from_cursor=start is not None):
        found.extend(page.get("Items", []))
        if len(found) > limit:
            # More than a page's worth: answer `limit` and continue after the last one answered.
            last = found[limit - 1]
            items = [query.model.from_raw_data(item) for item in found[:limit]]
            return Page(items, encode_cursor(district_id, query.fingerprint, _plain_key(last, query.key_names)))
        evaluated_to = pages.last_evaluated_key
        if evaluated_to is None:
            break
        if pages.total_scanned_count >= MAX_EVALUATED:
            # Read enough for one request: answer what matched so far, continue where reading stopped.
            items = [query.model.from_raw_data(item) for item in found]
            return Page(items, encode_cursor(district_id, query.fingerprint, _plain_key(evaluated_to, query.key_names)))
    return Page([query.model.from_raw_data(item) for item in found], None)


def _pages(pages, from_cursor: bool):
    try:
        yield from pages
    except QueryError as error:
        # A start key DynamoDB will not take (our checks let through only this district's
        # partition, but not every odd value): the caller's cursor is at fault, not us.
        if from_cursor and getattr(error, "cause_response_code", None) == "ValidationException":
            raise InvalidCursor("not a position of this query") from None
        raise


# ---------------------------------------------------------------- users and classes


def list_users(district_id: str, role: str | None = None, school_id: str | None = None, status: str = "active",
               limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
    """Teachers and/or students of a district, optionally of one school; by userId."""
    fingerprint = f"users|role={role or ''}|school={school_id or ''}|status={status}"
    if role is not None:
        query = _Query(UserModel, UserModel.by_role.query, index_key(district_id, role),
                       {"districtRole": index_key(district_id, role), "userId": None, "districtId": district_id},
                       fingerprint)
    else:
        query = _Query(UserModel, UserModel.query, district_id, {"districtId": district_id, "userId": None}, fingerprint)
    condition = _status_filter(UserModel, status)
    if school_id is not None:
        in_school = UserModel.school_ids.contains(school_id)
        condition = in_school if condition is None else condition & in_school
    return _page(district_id, query, condition, limit, cursor, dense=school_id is None and status != "inactive")


def list_classes(district_id: str, school_id: str | None = None, status: str = "active",
                 limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
    """Classes of a district, optionally of one school; by classId."""
    fingerprint = f"classes|school={school_id or ''}|status={status}"
    if school_id is not None:
        hash_value = index_key(district_id, school_id)
        query = _Query(ClassModel, ClassModel.by_school.query, hash_value,
                       {"districtSchool": hash_value, "classId": None, "districtId": district_id}, fingerprint)
    else:
        query = _Query(ClassModel, ClassModel.query, district_id, {"districtId": district_id, "classId": None},
                       fingerprint)
    return _page(district_id, query, _status_filter(ClassModel, status), limit, cursor, dense=status != "inactive")


def get_class(district_id: str, class_id: str) -> ClassModel | None:
    try:
        return ClassModel.get(district_id, class_id)
    except ClassModel.DoesNotExist:
        return None


def class_roster(district_id: str, class_id: str, status: str = "active") -> tuple[list[UserModel], list[UserModel]]:
    """(teachers, students) of a class: its enrollments of that status, and their users (of
    that status too), each user once per role, ordered by family then given name."""
    enrollments = EnrollmentModel.by_class.query(
        index_key(district_id, class_id), filter_condition=_status_filter(EnrollmentModel, status)
    )
    role_of: dict[str, set[str]] = {}
    for enrollment in enrollments:
        if enrollment.role in ROLES and enrollment.district_id == district_id:
            role_of.setdefault(enrollment.user_id, set()).add(enrollment.role)
    users = {}
    if role_of:
        for user in UserModel.batch_get([(district_id, user_id) for user_id in role_of]):
            if status == "all" or user.status == status:
                users[user.user_id] = user
    teachers = [users[u] for u in users if "teacher" in role_of[u]]
    students = [users[u] for u in users if "student" in role_of[u]]

    def by_name(user: UserModel):
        return ((user.family_name or "").lower(), (user.given_name or "").lower(), user.user_id)

    return sorted(teachers, key=by_name), sorted(students, key=by_name)
