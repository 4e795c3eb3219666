"""The sandbox district as OneRoster 1.2 serves it: the same records in 1.2's shapes.

The store holds 1.1 records; a request below the 1.2 rostering path gets them reshaped here:
- users: `roles[]` (the 1.1 role at each of the user's orgs, primary there) and `primaryOrg` (the
  first org) instead of `role` and `orgs`; `userMasterIdentifier` (the identifier); for some
  users, picked by their sourcedId, `preferredFirstName`, `preferredLastName` and `pronouns`;
- status: 1.2 knows only active and tobedeleted (1.1's inactive becomes tobedeleted);
- hrefs point below the 1.2 path.
Everything else (classes' single school, sessions' schoolYear and parent, enrollments) already
has 1.2's shape. Deterministic: the same district reads the same over and over.
"""

import json
import zlib

V1P1_PATH = "/ims/oneroster/v1p1"
V1P2_PATH = "/ims/oneroster/rostering/v1p2"
ROLE_NAMES = {"administrator": "districtAdministrator"}  # 1.1 roles 1.2 renamed
PRONOUNS = ("she/her", "he/him", "they/them")
NICKNAMES = {"Alexander": "Alex", "Benjamin": "Ben", "Elizabeth": "Liz", "Katherine": "Kate", "William": "Will"}


def _draw(sourced_id: str, salt: str) -> int:
    return zlib.crc32(f"{salt}:{sourced_id}".encode())


def user(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k not in ("role", "orgs")}
    role = record.get("role")
    role = ROLE_NAMES.get(role, role) if isinstance(role, str) else role
    orgs = record.get("orgs") or []
    # One role per org, so it is the primary one there: the information model wants one, and only one,
    # primary role for each org (secondary roles are further roles at the same org).
    out["roles"] = [{"roleType": "primary", "role": role, "org": org} for org in orgs]
    if orgs:
        out["primaryOrg"] = orgs[0]
    if record.get("identifier"):
        out["userMasterIdentifier"] = record["identifier"]
    sid = str(record.get("sourcedId"))
    given = record.get("givenName") or ""
    if _draw(sid, "preferred") % 5 == 0 and given:
        out["preferredFirstName"] = NICKNAMES.get(given, given[:3])
        out["preferredLastName"] = record.get("familyName")
    if _draw(sid, "pronouns") % 4 == 0:
        out["pronouns"] = PRONOUNS[_draw(sid, "which") % len(PRONOUNS)]
    return out


def record(collection: str, item: dict) -> dict:
    if type(item) is not dict:
        return item
    if collection == "users":
        item = user(item)
    if item.get("status") == "inactive":
        item = {**item, "status": "tobedeleted"}
    return item


def body(raw: bytes) -> bytes:
    """A 1.1 answer's body as 1.2 answers it (collections and single records alike)."""
    try:
        data = json.loads(raw.decode("utf-8").replace(V1P1_PATH + "/", V1P2_PATH + "/"))
    except (UnicodeDecodeError, ValueError):
        return raw
    if type(data) is not dict:
        return raw
    for key, value in data.items():
        collection = "users" if key in ("users", "user") else key
        if type(value) is list:
            data[key] = [record(collection, item) for item in value]
        elif type(value) is dict and "sourcedId" in value:
            data[key] = record(collection, value)
    return json.dumps(data, separators=(",", ":")).encode()
