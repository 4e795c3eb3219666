"""The sandbox district written as a OneRoster 1.1 CSV bundle (a zip), for CSV-source tests and
demos: `rostersync sandbox-sis export-csv --out district.zip [--seed N --students N ...]`.

Every record of the district's current state becomes a row of its file with the 1.1 CSV headers;
references become sourcedId columns, lists comma-separated inside one field (csv quotes them).
"""

import argparse
import csv
import io
import sys
import zipfile
from typing import IO

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


def _row(name: str, record: dict) -> list[str]:
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
        "userIds": ",".join(f"{{{u.get('type')}:{u.get('identifier')}}}" for u in get("userIds") or []),
    }
    row = []
    for column in HEADERS[name]:
        value = derived.get(column)
        row.append(value if value is not None and column in derived else _text(get(column)))
    return row


def export_bundle(data: dict, out: IO[bytes]) -> dict[str, int]:
    """Write the district's records (`SandboxSIS.state()["data"]`) as a bulk 1.1 bundle; rows per file."""
    counts = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        manifest = [["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", "1.1"]]
        manifest += [[f"file.{name}", "bulk"] for name in HEADERS]
        manifest += [["source.systemName", "Roster Sync sandbox SIS"], ["source.systemCode", "sandbox"]]
        for name, rows in [("manifest", manifest)] + [
            (name, [HEADERS[name]] + [_row(name, r) for r in data.get(name, [])]) for name in HEADERS
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
    parser.add_argument("--version", default="1.1", choices=["1.1"], help="only 1.1 bundles are written so far")
    args = parser.parse_args(argv)
    sis = SandboxSIS(
        SandboxConfig(
            seed=args.seed,
            **{n: getattr(args, n) for n in ("schools", "students", "teachers", "classes", "enrollments")},
        )
    )
    with open(args.out, "wb") as out:
        counts = export_bundle(sis.state()["data"], out)
    print(f"wrote {args.out}: " + ", ".join(f"{n} {c}" for n, c in counts.items()), file=sys.stdout)
    return 0
