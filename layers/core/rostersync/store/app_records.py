"""App-made users and classes (origin `app`): what the app already had before the SIS came.

They live in UsersTable and ClassesTable beside the synced records, so the roster API reads
them as it reads everything else; they carry `origin: "app"` and no `sisSourcedId` until a sync
links one to an SIS record (sync/account_matching.py). A sync never deactivates an unlinked
app record. Their match keys (identifier, email, username; class code) go to RecordLinksTable
first, then the items: a registration cut short and retried ends in the same state, and a
record whose keys are not written yet is never written either (so matching never misses one).
"""

import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from rostersync import aws_clients
from rostersync.ids import new_id
from rostersync.settings import get_settings
from rostersync.store.batch import BatchStore
from rostersync.store.change_keys import RosterStamper
from rostersync.store.districts import DistrictModel
from rostersync.store.record_links import (
    RecordLinks,
    app_key,
    class_match_keys,
    match_key,
    user_match_keys,
)
from rostersync.store.roster import ACTIVE, index_key, school_keys, search_keys

APP = "app"
USER_FIELDS = ("role", "givenName", "familyName", "email", "username", "identifier", "schoolIds")
CLASS_FIELDS = ("title", "classCode", "schoolId", "teacherId")
OPTIONAL_FIELDS = ("teacherId",)  # left out when not given: the content hash of older registrations stays
KEY_WRITERS = 16  # key updates in flight (one UpdateItem each: ADD to a string set)


class RegistrationRefused(ValueError):
    """A record that cannot be registered: (code, message), naming the record."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Registered:
    item_id: str
    change: str  # created | updated | unchanged


def content_hash(fields: dict) -> str:
    """Same hash for the same registered fields: registering again writes nothing."""
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "app:" + hashlib.blake2b(encoded.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _stamped_store() -> BatchStore:
    st = get_settings()
    store = BatchStore(max_in_flight=4)
    store.before_write = RosterStamper({st.users_table: "userId", st.classes_table: "classId"})
    return store


def register_users(district_id: str, users: list[dict]) -> list[Registered]:
    """Create or update app users; each dict has the request's fields (userId optional)."""
    st = get_settings()
    return _register(
        district_id,
        users,
        table=st.users_table,
        key="userId",
        prefix="usr",
        fields=USER_FIELDS,
        keys_of=user_match_keys,
        kind="user",
        build=_user_item,
    )


def register_classes(district_id: str, classes: list[dict]) -> list[Registered]:
    st = get_settings()
    return _register(
        district_id,
        classes,
        table=st.classes_table,
        key="classId",
        prefix="cls",
        fields=CLASS_FIELDS,
        keys_of=class_match_keys,
        kind="class",
        build=_class_item,
    )


def teacher_problems(district_id: str, user_ids: Iterable[str]) -> dict[str, str]:
    """userId -> why it cannot be a class's teacher (not a user of the district, not a teacher,
    inactive), for those of `user_ids` that cannot."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    store = BatchStore(max_in_flight=4)
    try:
        found = {
            u["userId"]: u
            for u in store.get_many(
                get_settings().users_table,
                [{"districtId": district_id, "userId": i} for i in wanted],
                projection=["userId", "role", "status"],
            )
        }
    finally:
        store.close()
    problems = {}
    for user_id in wanted:
        user = found.get(user_id)
        if user is None:
            problems[user_id] = "is not a user of this district"
        elif user.get("role") != "teacher":
            problems[user_id] = f"is a {user.get('role')}, not a teacher"
        elif user.get("status") != ACTIVE:
            problems[user_id] = "is an inactive teacher"
    return problems


def _user_item(district_id: str, values: dict) -> dict:
    return {
        "districtId": district_id,
        "userId": values["userId"],
        "districtRole": index_key(district_id, values["role"]),
        "grades": [],
        **search_keys(district_id, values),  # roster search (issue 26)
        **school_keys(district_id, values["role"], values.get("schoolIds")),  # users?schoolId= (issue 31)
    }


def _class_item(district_id: str, values: dict) -> dict:
    return {
        "districtId": district_id,
        "classId": values["classId"],
        "districtSchool": index_key(district_id, values["schoolId"]),
        "grades": [],
        "subjects": [],
    }


def _register(
    district_id: str,
    records: list[dict],
    *,
    table: str,
    key: str,
    prefix: str,
    fields: tuple,
    keys_of,
    kind: str,
    build,
) -> list[Registered]:
    store = _stamped_store()
    links = RecordLinks(store.client, district_id, batch=store)
    try:
        records = [{**r, key: r.get(key) or new_id(prefix)} for r in records]
        stored = {s[key]: s for s in store.get_many(table, [{"districtId": district_id, key: r[key]} for r in records])}
        linked = links.get_many(app_key(kind, r[key]) for r in records if r[key] in stored)
        for record in records:  # linked by a sync or an admin's resolution: the SIS's from now on
            link = linked.get(app_key(kind, record[key]))
            if link is not None:
                raise RegistrationRefused(
                    "linked_to_sis",
                    f"{key} {record[key]} is linked to SIS record "
                    f"{link.get('sisSourcedId')!r}; the sync keeps it up to date now.",
                )
        for record in records:
            before = stored.get(record[key])
            if before is None:
                continue
            if before.get("origin") != APP:
                raise RegistrationRefused(
                    "not_an_app_record",
                    f"{key} {record[key]} is a record the SIS sync made; register app records under ids of their own.",
                )
            if before.get("sisSourcedId"):
                raise RegistrationRefused(
                    "linked_to_sis",
                    f"{key} {record[key]} is linked to SIS record "
                    f"{before['sisSourcedId']!r}; the sync keeps it up to date now.",
                )
        now = datetime.now(UTC)
        items, added, removed, results = [], [], [], []
        for record in records:
            values = {
                name: record.get(name) for name in fields if name not in OPTIONAL_FIELDS or record.get(name) is not None
            }
            item = build(district_id, record)
            item.update({name: value for name, value in values.items()})
            item.update({"origin": APP, "status": ACTIVE, "contentHash": content_hash(values), "updatedAt": now})
            before = stored.get(record[key])
            new_keys = {match_key(kind, f, v) for f, v in keys_of(values).items()}
            old_keys = {match_key(kind, f, v) for f, v in keys_of(before or {}).items()}
            added += [(k, record[key]) for k in new_keys]
            removed += [(k, record[key]) for k in old_keys - new_keys]
            if (
                before is not None
                and before.get("contentHash") == item["contentHash"]
                and before.get("status") == ACTIVE
            ):
                results.append(Registered(record[key], "unchanged"))
                continue
            item["createdAt"] = (before or {}).get("createdAt") or now
            items.append(item)
            results.append(Registered(record[key], "updated" if before is not None else "created"))
        flag = DistrictModel.has_app_users if kind == "user" else DistrictModel.has_app_classes
        # First: a sync then looks for the keys (never creates a district item that is gone).
        DistrictModel(district_id).update(actions=[flag.set(True)], condition=DistrictModel.district_id.exists())
        _each(links.add_to_key, added)  # keys first: an item is never findable by less than its keys
        for item in items:
            store.put(table, item)
        store.flush()
        _each(links.remove_from_key, removed)
        return results
    finally:
        store.close()


def _each(operation, pairs: Iterable[tuple[str, str]]) -> None:
    pairs = list(pairs)
    if not pairs:
        return
    with ThreadPoolExecutor(max_workers=KEY_WRITERS, thread_name_prefix="keys") as pool:
        for future in [pool.submit(operation, k, i) for k, i in pairs]:
            future.result()


# ---------------------------------------------------------------- counts (GET app-records)

COUNTED_TYPES = ("teachers", "students", "classes")


def counts_by_origin(district_id: str, client=None) -> dict[str, dict[str, int]]:
    """Per type: the app's records (registered; linked to an SIS record; inactive) and the records
    the SIS sync created. One projected read of the district's users and classes, counted here:
    an admin opens this screen now and then, and nothing needs an index kept for it."""
    st = get_settings()
    client = client or aws_clients.dynamodb()
    counts = {t: {"registered": 0, "linked": 0, "inactive": 0, "fromSis": 0} for t in COUNTED_TYPES}
    for table, kind_of in (
        (st.users_table, lambda item: {"teacher": "teachers", "student": "students"}.get(_text(item, "role") or "")),
        (st.classes_table, lambda item: "classes"),
    ):
        pages = client.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="districtId = :d",
            ExpressionAttributeValues={":d": {"S": district_id}},
            ExpressionAttributeNames={"#role": "role", "#status": "status"},
            ProjectionExpression="origin, #role, #status, sisSourcedId",
        )
        for page in pages:
            for item in page["Items"]:
                kind = kind_of(item)
                if kind is None:
                    continue
                count = counts[kind]
                if _text(item, "origin") != APP:
                    count["fromSis"] += 1
                    continue
                count["registered"] += 1
                count["linked"] += 1 if _text(item, "sisSourcedId") else 0
                count["inactive"] += 1 if _text(item, "status") != ACTIVE else 0
    return counts


def _text(item: dict, name: str) -> str | None:
    value = item.get(name)
    return value.get("S") if value else None
