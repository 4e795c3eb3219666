"""The roster reads the app's front ends make, paginated with opaque cursors.

Every query is keyed by the district (the table's partition key, or an index key that starts
with "districtId#"), so no query can cross districts whatever a caller sends. A cursor is
base64url JSON of where the last page stopped, bound to the district and to the query's
parameters: decode_cursor refuses (InvalidCursor) a cursor made for another district or
another query, or one whose key does not belong to this query, before DynamoDB sees it.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from pynamodb.exceptions import QueryError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.pagination import ResultIterator

from rostersync.ids import record_id
from rostersync.store import change_keys
from rostersync.store.batch import get_models
from rostersync.store.roster import (
    ACTIVE,
    INACTIVE,
    ClassModel,
    EnrollmentModel,
    RosterItem,
    UserModel,
    fold,
    index_key,
    school_keys,
    term_keys,
)
from rostersync.store.schools import SchoolModel

if TYPE_CHECKING:
    from rostersync.store.terms import TermModel

STATUSES = ("active", "inactive", "all")
ROLES = ("teacher", "student")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# One request reads at most this many items past its filters before it answers with what
# it found and a cursor (a filter that matches few items must not read a whole district).
MAX_EVALUATED = 5000
_CURSOR_VERSION = 1
CHANGES_PREFIX = "changes|"
_MAX_CURSOR_LENGTH = 2048


class InvalidCursor(ValueError):
    pass


@dataclass
class Page:
    items: list
    next_cursor: str | None
    # Change reads only: where to resume later (store it; never null). See change_page.
    changes_cursor: str | None = None
    # Items DynamoDB read for this page (its ScannedCount, summed): what the read cost.
    items_read: int = 0


# ---------------------------------------------------------------- cursors


def encode_cursor(district_id: str, query: str, key: dict[str, str]) -> str:
    payload = {"v": _CURSOR_VERSION, "d": district_id, "q": query, "k": key}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_query(token: str | None) -> str | None:
    """The query a cursor says it was made for (unchecked: decode_cursor checks it), or None."""
    if not isinstance(token, str) or not token or len(token) > _MAX_CURSOR_LENGTH:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    query = payload.get("q") if isinstance(payload, dict) else None
    return query if isinstance(query, str) else None


def is_change_cursor(token: str | None) -> bool:
    return (cursor_query(token) or "").startswith(CHANGES_PREFIX)


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
    run: Callable[..., ResultIterator]  # Model.query or Index.query, bound
    hash_value: str
    key_names: dict[str, str | None]
    fingerprint: str  # the parameters a cursor is bound to


def _status_filter(model: type[RosterItem] | type[SchoolModel] | type[TermModel], status: str) -> Condition | None:
    if status == "all":
        return None
    return model.status == (ACTIVE if status == "active" else INACTIVE)


def _page(
    district_id: str, query: _Query, filter_condition, limit: int, cursor: str | None, dense: bool = True
) -> Page:
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
            next_cursor = encode_cursor(district_id, query.fingerprint, _plain_key(last, query.key_names))
            return Page(items, next_cursor, items_read=pages.total_scanned_count)
        evaluated_to = pages.last_evaluated_key
        if evaluated_to is None:
            break
        if pages.total_scanned_count >= MAX_EVALUATED:
            # Read enough for one request: answer what matched so far, continue where reading stopped.
            items = [query.model.from_raw_data(item) for item in found]
            next_cursor = encode_cursor(district_id, query.fingerprint, _plain_key(evaluated_to, query.key_names))
            return Page(items, next_cursor, items_read=pages.total_scanned_count)
    return Page([query.model.from_raw_data(item) for item in found], None, items_read=pages.total_scanned_count)


def _pages(pages, from_cursor: bool):
    try:
        yield from pages
    except QueryError as error:
        # A start key DynamoDB will not take (our checks let through only this district's
        # partition, but not every odd value): the caller's cursor is at fault, not us.
        if from_cursor and getattr(error, "cause_response_code", None) == "ValidationException":
            raise InvalidCursor("not a position of this query") from None
        raise


@dataclass(frozen=True)
class _Partition:
    """One partition of a merged read: an index (keyed by the item id), its hash key, and the
    filter only it needs (the overflow's membership test)."""

    index: GlobalSecondaryIndex
    hash_value: str
    only_if: Condition | None = None


def _partition_items(partition: _Partition, range_condition, condition, first_size: int, room, read: list[int]):
    """A partition's items in its range key's order, one request at a time and only as the merge asks
    for its next item: the first request asks for `first_size`, each next one for twice as many, never
    more than `room()` (what the page still needs). Adds the items read to read[0]."""
    start, size = None, first_size
    while True:
        results = partition.index.query(
            partition.hash_value,
            range_key_condition=range_condition,
            filter_condition=condition if partition.only_if is None else _and(condition, partition.only_if),
            last_evaluated_key=start,
            page_size=size,
        )
        pages = results.page_iter
        page: dict = next(iter(pages), {})
        read[0] += pages.total_scanned_count
        yield from page.get("Items", [])
        start = pages.last_evaluated_key
        if start is None:
            return
        size = max(1, min(2 * size, room()))


def _merged_items(partitions: list[_Partition], range_condition, condition, limit: int, found: list, read, key):
    """The items of `partitions` merged in `key` order (_partition_items each: a first request of
    a share of the page, asking no more than the page, `found` so far, still needs)."""
    first_size = max(1, -(-(limit + 1) // len(partitions)))
    streams = [
        _partition_items(p, range_condition, condition, first_size, lambda: limit + 1 - len(found), read)
        for p in partitions
    ]
    return heapq.merge(*streams, key=key)


def _merged_page(
    district_id: str,
    model: type[UserModel] | type[ClassModel],
    id_name: str,
    partitions: list[_Partition],
    condition,
    limit: int,
    cursor: str | None,
    fingerprint: str,
) -> Page:
    """A page of the union of `partitions` (disjoint: an item is in one of them), by item id.

    Each partition is queried for ids after the cursor's (_partition_items: a share of the page first,
    then twice as many, only while the merge needs its next item). So a read costs the items answered
    plus a look-ahead of a page or so however many partitions it merges (a slot partition of second
    schools or terms is small, the overflow smaller)."""
    after = None
    if cursor is not None:
        after = decode_cursor(cursor, district_id, fingerprint, {id_name: None})[id_name]
    id_attribute = getattr(model, {"userId": "user_id", "classId": "class_id"}[id_name])
    found: list[dict] = []
    read = [0]
    after_cursor = None if after is None else id_attribute > after
    for raw in _merged_items(partitions, after_cursor, condition, limit, found, read, lambda raw: raw[id_name]["S"]):
        found.append(raw)
        if len(found) > limit:
            break
    if len(found) > limit:
        last = found[limit - 1][id_name]["S"]
        items = [model.from_raw_data(raw) for raw in found[:limit]]
        return Page(items, encode_cursor(district_id, fingerprint, {id_name: last}), items_read=read[0])
    return Page([model.from_raw_data(raw) for raw in found], None, items_read=read[0])


# The membership slot indexes and their overflow, by id (lists) and change-ordered (change reads).
_SCHOOL_INDEXES = {
    False: (UserModel.by_school_1, UserModel.by_school_2, UserModel.many_schools),
    True: (UserModel.school_changes_1, UserModel.school_changes_2, UserModel.many_schools_changes),
}
_TERM_INDEXES = {
    False: (ClassModel.by_term_1, ClassModel.by_term_2, ClassModel.many_terms),
    True: (ClassModel.term_changes_1, ClassModel.term_changes_2, ClassModel.many_terms_changes),
}


def _slot_partitions(indexes, key: str, overflow_key: str, only_if: Condition) -> list[_Partition]:
    """A member's two slot partitions (`key`) and, filtered by `only_if`, the overflow's."""
    slot_1, slot_2, overflow = indexes
    return [_Partition(slot_1, key), _Partition(slot_2, key), _Partition(overflow, overflow_key, only_if)]


def _school_partitions(district_id: str, roles, school_id: str, changes: bool = False) -> list[_Partition]:
    """Where the users of `roles` in one school are: their slot partitions and, filtered, the overflow;
    in the indexes by userId, or with `changes` in their change-ordered copies."""
    partitions = []
    for role in roles:
        key = school_keys(district_id, role, [school_id])["districtSchoolRole1"]
        in_school = UserModel.school_ids.contains(school_id)
        partitions += _slot_partitions(_SCHOOL_INDEXES[changes], key, index_key(district_id, role), in_school)
    return partitions


def _term_partitions(district_id: str, term_id: str, changes: bool = False) -> list[_Partition]:
    """Where one term's classes are (as _school_partitions)."""
    key = term_keys(district_id, [term_id])["districtTerm1"]
    return _slot_partitions(_TERM_INDEXES[changes], key, district_id, ClassModel.term_ids.contains(term_id))


# ---------------------------------------------------------------- users and classes


def list_users(
    district_id: str,
    role: str | None = None,
    school_id: str | None = None,
    status: str = "active",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """Teachers and/or students of a district, optionally of one school; by userId. One school's are
    its partitions of the membership indexes (store/roster.py school_keys), merged."""
    fingerprint = f"users|role={role or ''}|school={school_id or ''}|status={status}"
    condition = _status_filter(UserModel, status)
    if school_id is not None:
        partitions = _school_partitions(district_id, [role] if role else ROLES, school_id)
        return _merged_page(district_id, UserModel, "userId", partitions, condition, limit, cursor, fingerprint)
    if role is not None:
        query = _Query(
            UserModel,
            UserModel.by_role.query,
            index_key(district_id, role),
            {"districtRole": index_key(district_id, role), "userId": None, "districtId": district_id},
            fingerprint,
        )
    else:
        query = _Query(
            UserModel, UserModel.query, district_id, {"districtId": district_id, "userId": None}, fingerprint
        )
    return _page(district_id, query, condition, limit, cursor, dense=status != "inactive")


# ---------------------------------------------------------------- roster search (issue 26)


def search_users(
    district_id: str,
    role: str,
    q: str | None,
    school_id: str | None = None,
    status: str = "active",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """A role's users sorted by family then given name (the ByName index), those whose name starts
    with `q` when it is given ("smi", "smith jo", "Smith, Jo"). With `q`, the first page starts with
    the users whose email, username or SIS id is exactly `q` (keys-only indexes and one get); they
    are left out of the name matches on every page, so nobody is listed twice. Every read is a
    query of this district's keys: no scan, whatever `q` is."""
    prefix = fold((q or "").replace(",", " "))
    hash_value = index_key(district_id, role)
    fingerprint = f"users-by-name|role={role}|q={prefix}|school={school_id or ''}|status={status}"
    run = UserModel.by_name.query
    if prefix:
        run = partial(run, range_key_condition=UserModel.name_key.startswith(prefix))
    query = _Query(
        UserModel,
        run,
        hash_value,
        {"districtRole": hash_value, "nameKey": None, "districtId": district_id, "userId": None},
        fingerprint,
    )
    condition = _status_filter(UserModel, status)
    if school_id is not None:
        condition = _and(condition, UserModel.school_ids.contains(school_id))
    exact = _exact_user_matches(district_id, q, role, school_id, status) if prefix else []
    if not exact:
        return _page(district_id, query, condition, limit, cursor, dense=school_id is None and status != "inactive")
    shown = [u.user_id for u in exact]
    condition = _and(condition, ~UserModel.user_id.is_in(*shown))
    rest = _page(district_id, query, condition, limit, cursor, dense=school_id is None and status != "inactive")
    return rest if cursor is not None else Page(exact + rest.items, rest.next_cursor)


def _exact_user_matches(
    district_id: str, q: str | None, role: str, school_id: str | None, status: str
) -> list[UserModel]:
    """Users whose email, username or SIS id is exactly `q` (case folded), of this role, status and school."""
    folded = fold(q)[:200]
    ids = [record_id(district_id, "user", (q or "").strip())]
    for index in (UserModel.by_search_email, UserModel.by_username):
        ids += [hit.user_id for hit in index.query(index_key(district_id, folded), limit=20)]
    found = _users_by_id(district_id, ids)
    return [
        user
        for user in (found[i] for i in dict.fromkeys(ids) if i in found)
        if user.role == role
        and (status == "all" or user.status == status)
        and (school_id is None or school_id in (user.school_ids or []))
    ]


def list_classes(
    district_id: str,
    school_id: str | None = None,
    status: str = "active",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    term_id: str | None = None,
) -> Page:
    """Classes of a district, optionally of one school and/or one term (termIds); by classId. One
    term's are its partitions of the membership indexes (store/roster.py term_keys), merged; with a
    school too, the school's partition filtered by term (a school's classes are a few terms' worth)."""
    fingerprint = f"classes|school={school_id or ''}|status={status}" + (f"|term={term_id}" if term_id else "")
    if term_id is not None and school_id is None:
        partitions = _term_partitions(district_id, term_id)
        condition = _status_filter(ClassModel, status)
        return _merged_page(district_id, ClassModel, "classId", partitions, condition, limit, cursor, fingerprint)
    if school_id is not None:
        hash_value = index_key(district_id, school_id)
        query = _Query(
            ClassModel,
            ClassModel.by_school.query,
            hash_value,
            {"districtSchool": hash_value, "classId": None, "districtId": district_id},
            fingerprint,
        )
    else:
        query = _Query(
            ClassModel, ClassModel.query, district_id, {"districtId": district_id, "classId": None}, fingerprint
        )
    condition = _status_filter(ClassModel, status)
    if term_id is not None:
        condition = _and(condition, ClassModel.term_ids.contains(term_id))
    return _page(district_id, query, condition, limit, cursor, dense=status != "inactive" and term_id is None)


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
        for user in get_models(UserModel, [_user_key(district_id, user_id) for user_id in role_of]):
            if status == "all" or user.status == status:
                users[user.user_id] = user
    teachers = [users[u] for u in users if "teacher" in role_of[u]]
    students = [users[u] for u in users if "student" in role_of[u]]

    def by_name(user: UserModel):
        return ((user.family_name or "").lower(), (user.given_name or "").lower(), user.user_id)

    return sorted(teachers, key=by_name), sorted(students, key=by_name)


# ---------------------------------------------------------------- enrollments and joins


def list_enrollments(
    district_id: str,
    class_id: str | None = None,
    user_id: str | None = None,
    role: str | None = None,
    status: str = "active",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """Enrollments of a district, of one class or of one user; by enrollmentId."""
    fingerprint = f"enrollments|class={class_id or ''}|user={user_id or ''}|role={role or ''}|status={status}"
    if class_id is not None:
        hash_value = index_key(district_id, class_id)
        query = _Query(
            EnrollmentModel,
            EnrollmentModel.by_class.query,
            hash_value,
            {"districtClass": hash_value, "enrollmentId": None, "districtId": district_id},
            fingerprint,
        )
    elif user_id is not None:
        hash_value = index_key(district_id, user_id)
        query = _Query(
            EnrollmentModel,
            EnrollmentModel.by_user.query,
            hash_value,
            {"districtUser": hash_value, "enrollmentId": None, "districtId": district_id},
            fingerprint,
        )
    elif role is not None:  # one role's enrollments: its partition of ByRole
        hash_value = index_key(district_id, role)
        query = _Query(
            EnrollmentModel,
            EnrollmentModel.by_role.query,
            hash_value,
            {"districtRole": hash_value, "enrollmentId": None, "districtId": district_id},
            fingerprint,
        )
    else:
        query = _Query(
            EnrollmentModel,
            EnrollmentModel.query,
            district_id,
            {"districtId": district_id, "enrollmentId": None},
            fingerprint,
        )
    condition = _status_filter(EnrollmentModel, status)
    if class_id is not None and user_id is not None:
        condition = _and(condition, EnrollmentModel.user_id == user_id)
    role_filtered = role is not None and (class_id is not None or user_id is not None)
    if role_filtered:  # a class's or user's partition: a few dozen enrollments, filtered
        condition = _and(condition, EnrollmentModel.role == role)
    dense = status != "inactive" and not role_filtered and not (class_id and user_id)
    return _page(district_id, query, condition, limit, cursor, dense=dense)


def _and(condition, other):
    return other if condition is None else condition & other


def _users_by_id(district_id: str, user_ids: list[str]) -> dict[str, UserModel]:
    unique = list(dict.fromkeys(user_ids))
    return {u.user_id: u for u in get_models(UserModel, [_user_key(district_id, i) for i in unique])}


def _classes_by_id(district_id: str, class_ids: list[str]) -> dict[str, ClassModel]:
    unique = list(dict.fromkeys(class_ids))
    keys = [{ClassModel.district_id.attr_name: district_id, ClassModel.class_id.attr_name: i} for i in unique]
    return {c.class_id: c for c in get_models(ClassModel, keys)}


def _user_key(district_id: str, user_id: str) -> dict:
    return {UserModel.district_id.attr_name: district_id, UserModel.user_id.attr_name: user_id}


def _other_side(page: Page, key_of, get_by_id, status: str) -> Page:
    """What a page of enrollments joins to (their users, or their classes), in the enrollments'
    order, each once, of `status` unless it is all; the page's cursor goes on over the enrollments."""
    found = get_by_id([key_of(e) for e in page.items])
    seen, items = set(), []
    for enrollment in page.items:
        key = key_of(enrollment)
        item = found.get(key)
        if item is None or key in seen or (status != "all" and item.status != status):
            continue
        seen.add(key)
        items.append(item)
    return Page(items, page.next_cursor)


def class_members(
    district_id: str,
    class_id: str,
    role: str,
    status: str = "active",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """A class's teachers or students, a page of its enrollments at a time (by enrollmentId):
    enrollments of that status whose users have that status too. A page may hold fewer than
    `limit` users (a user enrolled twice, or of another status); follow nextCursor."""
    page = list_enrollments(district_id, class_id=class_id, role=role, status=status, limit=limit, cursor=cursor)
    return _other_side(page, lambda e: e.user_id, lambda ids: _users_by_id(district_id, ids), status)


def classes_of_user(
    district_id: str,
    user_id: str,
    role: str | None = None,
    status: str = "active",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """The classes a user is enrolled in (as `role`, or any), a page of their enrollments at a
    time: enrollments and classes of that status."""
    page = list_enrollments(district_id, user_id=user_id, role=role, status=status, limit=limit, cursor=cursor)
    return _other_side(page, lambda e: e.class_id, lambda ids: _classes_by_id(district_id, ids), status)


def get_user(district_id: str, user_id: str) -> UserModel | None:
    try:
        return UserModel.get(district_id, user_id)
    except UserModel.DoesNotExist:
        return None


def get_enrollment(district_id: str, enrollment_id: str) -> EnrollmentModel | None:
    try:
        return EnrollmentModel.get(district_id, enrollment_id)
    except EnrollmentModel.DoesNotExist:
        return None


# ---------------------------------------------------------------- changes since


@dataclass(frozen=True)
class ChangeQuery:
    """A list read in change order: which kind, its model and id attribute, its filter, and the
    parameters a cursor is bound to (never `updatedSince`: a cursor replaces it)."""

    kind: str  # users | classes | enrollments | schools
    model: type[UserModel] | type[ClassModel] | type[EnrollmentModel] | type[SchoolModel] | type[TermModel]
    id_attribute: str
    filter_condition: Condition | None
    parameters: str
    # Read from this index's partition "districtId#<partition_value>" (keyed by `partition_attribute`)
    # rather than the district's ByChange: the answer's own partition, so a read costs what it returns.
    index_name: str | None = None
    partition_attribute: str | None = None
    partition_value: str | None = None
    # Or read the union of these partitions of change-ordered indexes (given the district), merged by
    # changeSeq: one school's users, one term's classes (the membership slots and overflow).
    partitions_of: Callable[[str], list[_Partition]] | None = None

    @property
    def fingerprint(self) -> str:
        return f"{CHANGES_PREFIX}{self.kind}|{self.parameters}"


def user_changes(role: str | None, school_id: str | None, status: str) -> ChangeQuery:
    """One role's changes read its partition of RoleChanges; one school's (of a role or both) its
    partitions of the change-ordered membership indexes (SchoolRoleChanges1/2, ManySchoolsChanges)."""
    condition = _status_filter(UserModel, status)
    parameters = f"role={role or ''}|school={school_id or ''}|status={status}"
    if school_id is not None:
        roles = (role,) if role else ROLES
        in_school = partial(_school_partitions, roles=roles, school_id=school_id, changes=True)
        return ChangeQuery("users", UserModel, "userId", condition, parameters, partitions_of=in_school)
    return ChangeQuery(
        "users",
        UserModel,
        "userId",
        condition,
        parameters,
        index_name="role_changes" if role else None,
        partition_attribute="districtRole" if role else None,
        partition_value=role,
    )


def class_changes(school_id: str | None, status: str, term_id: str | None = None) -> ChangeQuery:
    """One school's class changes read its partition of SchoolChanges (with a term too, filtered by
    it); one term's its partitions of the change-ordered membership indexes (TermChanges1/2,
    ManyTermsChanges)."""
    condition = _status_filter(ClassModel, status)
    parameters = f"school={school_id or ''}|status={status}" + (f"|term={term_id}" if term_id else "")
    if term_id is not None and school_id is None:
        in_term = partial(_term_partitions, term_id=term_id, changes=True)
        return ChangeQuery("classes", ClassModel, "classId", condition, parameters, partitions_of=in_term)
    if term_id is not None:
        condition = _and(condition, ClassModel.term_ids.contains(term_id))
    return ChangeQuery(
        "classes",
        ClassModel,
        "classId",
        condition,
        parameters,
        index_name="school_changes" if school_id else None,
        partition_attribute="districtSchool" if school_id else None,
        partition_value=school_id,
    )


def enrollment_changes(class_id: str | None, user_id: str | None, role: str | None, status: str) -> ChangeQuery:
    """A class's enrollment changes read its partition of ClassChanges, a user's of UserChanges, a
    role's (without either) of RoleChanges; what is left (the other id, role, status) filters that
    partition only."""
    index = attribute = partition = None
    if class_id is not None:
        index, attribute, partition = "class_changes", "districtClass", class_id
    elif user_id is not None:
        index, attribute, partition = "user_changes", "districtUser", user_id
    elif role is not None:
        index, attribute, partition = "role_changes", "districtRole", role
    condition = _status_filter(EnrollmentModel, status)
    for field, value in (
        (EnrollmentModel.class_id, None if index == "class_changes" else class_id),
        (EnrollmentModel.user_id, None if index == "user_changes" else user_id),
        (EnrollmentModel.role, None if index == "role_changes" else role),
    ):
        if value is not None:
            condition = _and(condition, field == value)
    return ChangeQuery(
        "enrollments",
        EnrollmentModel,
        "enrollmentId",
        condition,
        f"class={class_id or ''}|user={user_id or ''}|role={role or ''}|status={status}",
        index_name=index,
        partition_attribute=attribute,
        partition_value=partition,
    )


def school_changes(status: str) -> ChangeQuery:
    condition = None if status == "all" else SchoolModel.status == (ACTIVE if status == "active" else INACTIVE)
    return ChangeQuery("schools", SchoolModel, "schoolId", condition, f"status={status}")


def change_page(
    district_id: str,
    query: ChangeQuery,
    since: str | None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    now=None,
) -> Page:
    """Items written after a position, oldest change first (store/change_keys.py).

    The position is the cursor's, else `since` (stored time text: writes at or after it),
    else the beginning. Reads stop at the change horizon (now - CHANGE_LAG). The answer's
    `next_cursor` is set while more changes are there now; `changes_cursor` always: the place
    to resume from (the last item answered, or the horizon when every change up to it was).
    """
    start_key = None
    lower: str | None
    after: str | None = None  # the change answered last, if the cursor is just after one
    partition = district_id if query.partition_value is None else index_key(district_id, query.partition_value)
    if cursor is not None:
        lower = decode_cursor(cursor, district_id, query.fingerprint, {"changeSeq": None})["changeSeq"]
        if change_keys.SEPARATOR in lower:
            after = lower
        if after is not None and query.partitions_of is None:  # start just after it
            start_key = {
                "districtId": {"S": district_id},
                query.id_attribute: {"S": change_keys.item_id_of(lower)},
                "changeSeq": {"S": lower},
            }
            if query.partition_attribute is not None:
                start_key[query.partition_attribute] = {"S": partition}
    else:
        lower = since
    upper = change_keys.change_horizon(now)

    def cursor_at(seq: str) -> str:
        return encode_cursor(district_id, query.fingerprint, {"changeSeq": seq})

    if lower is not None and lower >= upper:
        # Nothing can be read past the horizon yet (or a clock behind the cursor's): come back later.
        return Page([], None, cursor if cursor is not None else cursor_at(lower))
    if query.partitions_of is not None:
        return _merged_change_page(query, query.partitions_of(district_id), lower, after, upper, limit, cursor_at)
    model = query.model
    condition = model.change_seq <= upper if lower is None else model.change_seq.between(lower, upper)
    index = getattr(model, query.index_name or "by_change")
    results = index.query(
        partition,
        range_key_condition=condition,
        filter_condition=query.filter_condition,
        last_evaluated_key=start_key,
        page_size=limit + 1 if query.filter_condition is None else min(MAX_EVALUATED, max(limit + 1, 100)),
    )
    pages = results.page_iter
    found: list[dict] = []
    for page in _pages(pages, from_cursor=start_key is not None):
        found.extend(page.get("Items", []))
        if len(found) > limit:
            last = found[limit - 1]["changeSeq"]["S"]
            items = [model.from_raw_data(item) for item in found[:limit]]
            return Page(items, cursor_at(last), cursor_at(last), pages.total_scanned_count)
        evaluated_to = pages.last_evaluated_key
        if evaluated_to is None:
            break
        if pages.total_scanned_count >= MAX_EVALUATED:
            position = cursor_at(evaluated_to["changeSeq"]["S"])
            return Page([model.from_raw_data(item) for item in found], position, position, pages.total_scanned_count)
    # Every change up to the horizon has been answered: resume from the horizon.
    return Page([model.from_raw_data(item) for item in found], None, cursor_at(upper), pages.total_scanned_count)


def _merged_change_page(
    query: ChangeQuery,
    partitions: list[_Partition],
    lower: str | None,
    after: str | None,
    upper: str,
    limit: int,
    cursor_at: Callable[[str], str],
) -> Page:
    """change_page over the union of `partitions` (disjoint: an item is in one of them), by changeSeq.

    Each partition is read from `lower` to the horizon (_partition_items: a share of the page first,
    then twice as many, only while the merge needs its next change) and the streams merged; `after`,
    the change a cursor points just after (which `lower` includes), is passed over, at most one item
    read more. Same answers and cursors as change_page: a cursor holds a changeSeq only, so it resumes
    whichever partition the next change is in."""
    model = query.model
    found: list[dict] = []
    read = [0]
    range_condition = model.change_seq <= upper if lower is None else model.change_seq.between(lower, upper)
    by_change = _merged_items(
        partitions, range_condition, query.filter_condition, limit, found, read, lambda raw: raw["changeSeq"]["S"]
    )
    for raw in by_change:
        if raw["changeSeq"]["S"] == after:
            continue
        found.append(raw)
        if len(found) > limit:
            last = found[limit - 1]["changeSeq"]["S"]
            items = [model.from_raw_data(item) for item in found[:limit]]
            return Page(items, cursor_at(last), cursor_at(last), read[0])
    # Every change up to the horizon has been answered: resume from the horizon.
    return Page([model.from_raw_data(item) for item in found], None, cursor_at(upper), read[0])
