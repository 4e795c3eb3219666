"""Membership keys for roster items written before issue 31's list indexes existed (a one-off after
deploying them): users' school keys (BySchoolRole1/2, ManySchools), classes' term keys (ByTerm1/2,
ManyTerms) and enrollments' role key (ByRole, RoleChanges).

A sync writes these keys with each item (sync/mapping.py, store/app_records.py), but rewrites only
what changed: items stored before are in none of these indexes, and users?schoolId=, classes?termId=
and enrollments?role= would not list them until they change in the SIS. `backfill` gives each such
item its keys now, computed as a write computes them (store/roster.py school_keys, term_keys), on
the condition that it still has none and that the values they come from are the ones read (a
concurrent write wins). The keys are not part of the content hash and not a change the app reads:
no updatedAt or change key moves. Items whose values give no key (a user of no school, a class of
no term) are left as they are. Run it with `rostersync ops backfill-membership-keys`; re-running it
finds nothing left to do.
"""

from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError

from rostersync.settings import get_settings
from rostersync.store.codec import from_attribute
from rostersync.store.district_walk import walk_items
from rostersync.store.roster import (
    CLASS_MANY_TERMS,
    CLASS_TERM_SLOTS,
    USER_MANY_SCHOOLS,
    USER_SCHOOL_SLOTS,
    index_key,
    school_keys,
    term_keys,
)


@dataclass(frozen=True)
class _Kind:
    table: str
    id_name: str
    sources: tuple[str, ...]  # the attributes the keys are computed from
    key_names: tuple[str, ...]  # an item with any of these is keyed already
    keys: Callable[[str, dict], dict[str, str]]


def kinds() -> dict[str, _Kind]:
    st = get_settings()
    return {
        "users": _Kind(
            st.users_table,
            "userId",
            ("role", "schoolIds"),
            (*USER_SCHOOL_SLOTS, USER_MANY_SCHOOLS),
            lambda district, v: school_keys(district, v.get("role") or "", v.get("schoolIds")),
        ),
        "classes": _Kind(
            st.classes_table,
            "classId",
            ("termIds",),
            (*CLASS_TERM_SLOTS, CLASS_MANY_TERMS),
            lambda district, v: term_keys(district, v.get("termIds")),
        ),
        "enrollments": _Kind(
            st.enrollments_table,
            "enrollmentId",
            ("role",),
            ("districtRole",),
            lambda district, v: {"districtRole": index_key(district, v["role"])} if v.get("role") else {},
        ),
    }


def items_without_keys(client, kind: _Kind, district_id: str | None = None):
    names = {f"#k{i}": name for i, name in enumerate(kind.key_names)}
    names |= {f"#s{i}": name for i, name in enumerate(kind.sources)} | {"#id": kind.id_name}
    request = {
        "TableName": kind.table,
        "FilterExpression": " AND ".join(f"attribute_not_exists(#k{i})" for i in range(len(kind.key_names))),
        "ProjectionExpression": ", ".join(["districtId", "#id", *(f"#s{i}" for i in range(len(kind.sources)))]),
        "ExpressionAttributeNames": names,
    }
    return walk_items(client, request, district_id)


def backfill(
    client,
    district_id: str | None = None,
    dry_run: bool = False,
    on_progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """{"users" | "classes" | "enrollments": items given their keys (or, with dry_run, that would be)}."""
    done = {}
    for name, kind in kinds().items():
        keyed = 0
        for item in items_without_keys(client, kind, district_id):
            values = {source: from_attribute(item[source]) for source in kind.sources if source in item}
            keys = kind.keys(item["districtId"]["S"], values)
            if keys and (dry_run or _key(client, kind, item, keys)):
                keyed += 1
                if on_progress is not None and keyed % 1000 == 0:
                    on_progress(name, keyed)
        done[name] = keyed
    return done


def _key(client, kind: _Kind, item: dict, keys: dict[str, str]) -> bool:
    names = {f"#k{i}": name for i, name in enumerate(keys)} | {f"#n{i}": n for i, n in enumerate(kind.key_names)}
    values = {f":v{i}": {"S": value} for i, value in enumerate(keys.values())}
    conditions = ["attribute_exists(districtId)"] + [f"attribute_not_exists(#n{i})" for i in range(len(kind.key_names))]
    for i, source in enumerate(kind.sources):  # the keys' values are still what they were computed from
        names[f"#s{i}"] = source
        if source in item:
            values[f":s{i}"] = item[source]
            conditions.append(f"#s{i} = :s{i}")
        else:
            conditions.append(f"attribute_not_exists(#s{i})")
    try:
        client.update_item(
            TableName=kind.table,
            Key={"districtId": item["districtId"], kind.id_name: item[kind.id_name]},
            UpdateExpression="SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(keys))),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False  # written meanwhile, with its keys (or with other values)
        raise
    return True
