"""SIS records -> the app's roster items (plain dicts in the store's attribute names).

`contentHash` covers exactly the fields the app shows, so a record whose SIS
dateLastModified moved but whose visible fields did not is still "unchanged" (no write).
"""

import hashlib
import json
import json.encoder
from datetime import datetime
from functools import lru_cache

from rostersync.ids import record_id
from rostersync.store.roster import ACTIVE, index_key, school_keys, search_keys, term_keys
from rostersync.sync import record_checks


def _hashed_json():
    """json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str),
    the same text (the hashes of stored items must not move) without building an encoder for every
    record: json's own C encoder, made once (mapped fields cannot be circular, so it keeps no
    markers). tests/unit/sync/test_mapping_hash.py holds the two equal."""
    dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
    make_encoder = getattr(json.encoder, "c_make_encoder", None)  # not in json's public interface
    if make_encoder is None:  # a Python without the C accelerator
        return dumps
    encode = make_encoder(None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True)

    def hashed_json(fields: dict) -> str:
        if type(fields) is not dict:
            return dumps(fields)
        return "".join(encode(fields, 0))

    return hashed_json


_hashed_json_text = _hashed_json()


def content_hash(fields: dict) -> str:
    """The hash of the mapped fields; record_checks.Refused for fields a store cannot take (too long,
    NUL, lone surrogates), checked on the JSON built here anyway."""
    encoded = _hashed_json_text(fields)
    record_checks.check_fields(fields, encoded)
    try:
        data = encoded.encode("utf-8")
    except UnicodeEncodeError:
        raise record_checks.unencodable(fields) from None
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _stamp(item: dict, fields: dict, run_id: str, now: datetime, sis_status: str) -> dict:
    item.update(fields)
    item["contentHash"] = content_hash(fields)
    item["status"] = ACTIVE
    item["sisStatus"] = sis_status
    item["updatedAt"] = now
    item["lastRunId"] = run_id
    return item


# Items other modules build (academic sessions, sync/terms.py) get the same stamp.
stamped = _stamp


def user_item(district_id: str, user, school_ids: list[str], run_id: str, now: datetime) -> dict:
    user_id = record_id(district_id, "user", user.sourced_id)
    fields = {
        "sisSourcedId": user.sourced_id,
        "role": user.role,
        "givenName": user.given_name,
        "familyName": user.family_name,
        "email": user.email,
        "username": user.username,
        "identifier": user.identifier,
        "grades": list(user.grades),
        "schoolIds": sorted(school_ids),
    }
    # OneRoster 1.2's preferred names and pronouns, only where the SIS gives them: a 1.1 user's
    # fields (and so its contentHash) are what they were before 1.2 was read.
    for name, attribute in (
        ("preferredGivenName", "preferred_given_name"),
        ("preferredFamilyName", "preferred_family_name"),
        ("pronouns", "pronouns"),
    ):
        value = getattr(user, attribute, None)  # user-like records without them (tests, app records) have none
        if value is not None:
            fields[name] = value
    item = {"districtId": district_id, "userId": user_id, "districtRole": index_key(district_id, user.role)}
    if user.role == "teacher" and user.email:
        # The ByEmail index: a signed-in teacher is linked to their synced record by email (api/me.py).
        item["districtEmail"] = index_key(district_id, user.email.strip().lower())
    item.update(search_keys(district_id, fields))  # roster search (issue 26): ByName, BySearchEmail, ByUsername
    item.update(school_keys(district_id, user.role, school_ids))  # users?schoolId= (issue 31)
    identity = identity_key(user.identifier, user.email)
    if identity:  # the ByIdentity index: the same person under a new sourcedId (sync/rekeys.py)
        item["districtIdentity"] = index_key(district_id, identity)
    return _stamp(item, fields, run_id, now, user.status)


def identity_key(identifier: str | None, email: str | None) -> str | None:
    """A person's identity across SIS ids: the identifier, else the email (case and spaces ignored)."""
    for kind, value in (("id", identifier), ("email", email)):
        text = " ".join(str(value or "").split()).casefold()
        if text:
            return f"{kind}:{text[:400]}"
    return None


def class_item(district_id: str, cls, school_id: str, subjects: tuple[str, ...], run_id: str, now: datetime) -> dict:
    class_id = record_id(district_id, "class", cls.sourced_id)
    fields = {
        "sisSourcedId": cls.sourced_id,
        "title": cls.title,
        "classCode": cls.class_code,
        "schoolId": school_id,
        "grades": list(cls.grades),
        "subjects": list(subjects),
        "termIds": [record_id(district_id, "term", term) for term in cls.term_ids],  # OneRoster class.terms
    }
    item = {"districtId": district_id, "classId": class_id, "districtSchool": index_key(district_id, school_id)}
    item.update(term_keys(district_id, fields["termIds"]))  # classes?termId= (issue 31)
    return _stamp(item, fields, run_id, now, cls.status)


# An enrollment names its class and user, which many enrollments share (some 30 a class, 6 a
# student): their ids (uuid5, a few microseconds each) are remembered, within a bounded cache.
_reference_id = lru_cache(maxsize=16384)(record_id)


def enrollment_item(district_id: str, enrollment, run_id: str, now: datetime, ids=None) -> dict:
    """`ids(district, kind, sourcedId)`: the class's and user's stored ids (linked ones differ)."""
    ids = ids or _reference_id
    class_id = ids(district_id, "class", enrollment.class_id)
    user_id = ids(district_id, "user", enrollment.user_id)
    fields = {
        "sisSourcedId": enrollment.sourced_id,
        "classId": class_id,
        "userId": user_id,
        "classSourcedId": enrollment.class_id,
        "userSourcedId": enrollment.user_id,
        "role": enrollment.role,
        "primary": enrollment.primary,
        "beginDate": enrollment.begin_date.isoformat() if enrollment.begin_date else None,
        "endDate": enrollment.end_date.isoformat() if enrollment.end_date else None,
    }
    item = {
        "districtId": district_id,
        "enrollmentId": record_id(district_id, "enrollment", enrollment.sourced_id),
        "districtClass": index_key(district_id, class_id),
        "districtUser": index_key(district_id, user_id),
        "districtRole": index_key(district_id, enrollment.role),  # enrollments?role= (issue 31)
    }
    return _stamp(item, fields, run_id, now, enrollment.status)


ENROLLMENT_FIELDS = (
    "sisSourcedId",
    "classId",
    "userId",
    "classSourcedId",
    "userSourcedId",
    "role",
    "primary",
    "beginDate",
    "endDate",
)  # enrollment_item's hashed fields


def move_enrollment(item: dict, class_id: str, district_class: str) -> None:
    """An enrollment item under another class id (its class was linked after it was mapped,
    sync/class_titles.py): the index key and the hash follow, as enrollment_item would make them."""
    item["classId"] = class_id
    item["districtClass"] = district_class
    item["contentHash"] = content_hash({name: item.get(name) for name in ENROLLMENT_FIELDS})


def school_item(district_id: str, org, run_id: str, now: datetime, created_at: datetime) -> dict:
    """A selected SIS school nobody matched becomes an app school of origin "sis"."""
    fields = {"name": org.name or org.sourced_id, "identifier": org.identifier, "sisSourcedId": org.sourced_id}
    item = {
        "districtId": district_id,
        "schoolId": record_id(district_id, "school", org.sourced_id),
        "origin": "sis",
        "createdAt": created_at,
    }
    item.update(fields)
    item["contentHash"] = content_hash(fields)
    item["status"] = ACTIVE
    item["updatedAt"] = now
    return item
