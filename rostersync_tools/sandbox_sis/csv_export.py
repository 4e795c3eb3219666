"""The sandbox district written as a OneRoster CSV bundle (a zip), for CSV-source tests, demos and
the bench: `rostersync sandbox-sis export-csv --out district.zip [--version 1.1|1.2]
[--delta-since INSTANT] [--seed N --students N ...]`.

Every record of the district's current state becomes a row of its file with the version's CSV
headers; references become sourcedId columns, lists comma-separated inside one field (csv quotes
them). 1.2 takes the records as the sandbox's 1.2 REST answers them (v1p2.py): a user's role and
schools become rows of roles.csv, with primaryOrgSourcedId, userMasterIdentifier and preferred
names on the user. `--delta-since` writes a delta bundle: classes, users and enrollments (and
roles) hold only the records modified after the instant, each with its status (active or
tobedeleted); orgs, courses and academic sessions stay bulk.
"""

import argparse
import csv
import io
import sys
import zipfile
from datetime import datetime
from typing import IO

from . import v1p2
from .timestamps import parse_instant

HEADERS = {
    "orgs": ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
    "academicSessions": [
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ],
    "courses": [
        "sourcedId",
        "status",
        "dateLastModified",
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ],
    "classes": [
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ],
    "users": [
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ],
    "enrollments": [
        "sourcedId",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "status",
        "dateLastModified",
        "primary",
        "beginDate",
        "endDate",
    ],
}


HEADERS_V1P2 = {
    **{name: columns for name, columns in HEADERS.items() if name != "users"},
    "users": [
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "userMasterIdentifier",
        "resourceSourcedIds",
        "preferredFirstName",
        "preferredMiddleName",
        "preferredLastName",
        "primaryOrgSourcedId",
        "pronouns",
    ],
    "roles": [
        "sourcedId",
        "status",
        "dateLastModified",
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
        "userProfileSourcedId",
    ],
}
DELTA_FILES = ("classes", "users", "enrollments", "roles")


def _id(ref) -> str:
    if isinstance(ref, dict):
        return str(ref.get("sourcedId") or "")
    return str(ref or "")


def _ids(refs) -> str:
    return ",".join(_id(r) for r in refs or [])


def _text(value) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _row(name: str, record: dict, headers: dict[str, list[str]] = HEADERS) -> list[str]:
    get = record.get
    derived = {
        "parentSourcedId": _id(get("parent")),
        "schoolYearSourcedId": _id(get("schoolYear")) if name == "courses" else None,
        "orgSourcedId": _id(get("org")),
        "courseSourcedId": _id(get("course")),
        "schoolSourcedId": _id(get("school")),
        "termSourcedIds": _ids(get("terms")),
        "orgSourcedIds": _ids(get("orgs")),
        "agentSourcedIds": _ids(get("agents")),
        "classSourcedId": _id(get("class")),
        "userSourcedId": _id(get("user")),
        "primaryOrgSourcedId": _id(get("primaryOrg")),
        "userIds": ",".join(f"{{{u.get('type')}:{u.get('identifier')}}}" for u in get("userIds") or []),
    }
    row = []
    for column in headers[name]:
        value = derived.get(column)
        row.append(value if value is not None and column in derived else _text(get(column)))
    return row


def _records_v1p2(data: dict) -> dict[str, list[dict]]:
    """The district as 1.2 REST serves it, with each user's roles as roles.csv rows."""
    out: dict[str, list[dict]] = {name: [v1p2.record(name, r) for r in data.get(name, [])] for name in HEADERS}
    out["roles"] = []
    for user in out["users"]:
        for role in user.get("roles") or []:
            org = _id(role.get("org"))
            out["roles"].append(
                {
                    "sourcedId": f"{user['sourcedId']}-{role.get('role')}-{org}",
                    "status": user.get("status"),
                    "dateLastModified": user.get("dateLastModified"),
                    "user": {"sourcedId": user["sourcedId"]},
                    "roleType": role.get("roleType"),
                    "role": role.get("role"),
                    "org": role.get("org"),
                }
            )
    return out


def _changed_since(records: list[dict], since: datetime) -> list[dict]:
    """What a delta file holds: the records modified after `since`, with a delta's status."""
    changed = []
    for record in records:
        modified = record.get("dateLastModified")
        if modified and parse_instant(modified) > since:
            status = "tobedeleted" if record.get("status") in ("inactive", "tobedeleted") else "active"
            changed.append({**record, "status": status})
    return changed


def export_bundle(
    data: dict, out: IO[bytes], version: str = "1.1", delta_since: datetime | None = None
) -> dict[str, int]:
    """Write the district's records (`SandboxSIS.state()["data"]`) as a bundle of OneRoster
    `version`: bulk, or a delta of what changed after `delta_since`. Rows per file."""
    headers = HEADERS_V1P2 if version == "1.2" else HEADERS
    records = _records_v1p2(data) if version == "1.2" else {name: data.get(name, []) for name in HEADERS}
    modes = dict.fromkeys(headers, "bulk")
    if delta_since is not None:
        for name in DELTA_FILES:
            if name in records:
                records[name], modes[name] = _changed_since(records[name], delta_since), "delta"
    counts = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        manifest = [["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", version]]
        manifest += [[f"file.{name}", mode] for name, mode in modes.items()]
        manifest += [["source.systemName", "Roster Sync sandbox SIS"], ["source.systemCode", "sandbox"]]
        for name, rows in [("manifest", manifest)] + [
            (name, [headers[name]] + [_row(name, r, headers) for r in records[name]]) for name in headers
        ]:
            text = io.StringIO()
            csv.writer(text, lineterminator="\r\n").writerows(rows)
            bundle.writestr(f"{name}.csv", text.getvalue())
            counts[name] = len(rows) - 1
    return counts


def main(argv: list[str] | None = None) -> int:
    from .config import SandboxConfig
    from .server import SandboxSIS

    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(prog="rostersync sandbox-sis export-csv", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the zip to write")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    for name in ("schools", "students", "teachers", "classes", "enrollments"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
    parser.add_argument("--version", default="1.1", choices=["1.1", "1.2"], help="OneRoster version of the bundle")
    parser.add_argument(
        "--delta-since",
        type=parse_instant,
        default=None,
        help="write a delta bundle: classes, users and enrollments modified after this ISO instant",
    )
    args = parser.parse_args(argv)
    sis = SandboxSIS(
        SandboxConfig(
            seed=args.seed,
            **{n: getattr(args, n) for n in ("schools", "students", "teachers", "classes", "enrollments")},
        )
    )
    with open(args.out, "wb") as out:
        counts = export_bundle(sis.state()["data"], out, args.version, args.delta_since)
    print(f"wrote {args.out}: " + ", ".join(f"{n} {c}" for n, c in counts.items()), file=sys.stdout)
    return 0
