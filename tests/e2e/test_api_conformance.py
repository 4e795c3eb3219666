"""The document is the truth: every operation of docs/openapi.json, called over HTTP on the local
stack for a synced district by each caller that may call it (platform admin, district admin, the
app's backend with a client token, a teacher), answers a status the operation documents with a
body its schema accepts (references resolved). The test sends only documented query parameters
(the required ones always), and fails for any operation it does not exercise: a route added
later is in the generated document (tests/unit/api/test_openapi.py keeps the two equal), so it
fails here until it is called and its answers are documented.
"""

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator

from rostersync.sync.schedule import local_today
from rostersync_tools.local.tokens import issue_client_token

pytestmark = pytest.mark.e2e

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8"))
TIMEZONE = "America/Chicago"
# Two schools, so that syncing one of them deactivates past the guard: a held run to review.
DISTRICT = {"schools": 2, "students": 60, "teachers": 6, "classes": 12, "enrollments": 300}

# Who may call what: every operation of the document, and the callers it is exercised as.
READERS = ("platform", "admin", "client")
CALLERS = {
    **{
        op: READERS
        for op in (
            "listUsers",
            "getUser",
            "listUserClasses",
            "listClasses",
            "getClass",
            "getClassRoster",
            "listClassTeachers",
            "listClassStudents",
            "listEnrollments",
            "listTerms",
            "getTerm",
            "listSchoolTerms",
            "getCurrentTerm",
            "listSchools",
        )
    },
    **{op: ("teacher",) for op in ("listMyClasses", "getMyClassRoster")},
    **{op: ("writer", "admin") for op in ("registerAppUser", "registerAppClass")},
    **{op: ("writer",) for op in ("registerAppUsers", "registerAppClasses")},
    **{op: ("platform",) for op in ("createDistrict", "createSchool", "deleteDistrict")},
    "listDistricts": ("platform", "admin"),
    "getPurge": ("platform",),  # of the scratch district, whose admin this test is not
    **{
        op: ("admin", "platform")
        for op in (
            "getDistrict",
            "getSisConnection",
            "listSisSchools",
            "getSyncOptions",
            "getSyncConfig",
            "listSyncs",
            "getSync",
            "getPreview",
            "listPreviewRecords",
            "listHeldRecords",
            "listAudit",
            "getSyncMatching",
            "listMatchingConflicts",
            "getAppRecordCounts",
            "getNotifications",
            "createCsvUpload",
            "listCsvUploads",
            "getCsvUpload",
        )
    },
    **{
        op: ("admin",)
        for op in (
            "updateDistrict",
            "putSisConnection",
            "deleteSisConnection",
            "testSisConnection",
            "putSchoolMatches",
            "putSyncConfig",
            "startSync",
            "approveSync",
            "rejectSync",
            "previewSyncConfig",
            "resolveMatchingConflict",
            "sendTestNotification",
        )
    },
}
OPERATIONS = {
    op["operationId"]: (method, path, op) for path, ops in DOCUMENT["paths"].items() for method, op in ops.items()
}


def _validator(schema: dict) -> Draft202012Validator:
    # The response's schema with the document's components beside it: its "#/components/..." refs resolve.
    return Draft202012Validator({**schema, "components": DOCUMENT["components"]})


class Caller:
    """Calls operations by id and checks each answer against the document."""

    def __init__(self, api_url: str, tokens: dict[str, str]):
        self.api_url = api_url
        self.tokens = tokens
        self.answered: dict[str, set[tuple[str, int]]] = {}

    def __call__(self, operation_id: str, caller: str, expect: int | None = None, query=None, body=None, **params):
        method, path, operation = OPERATIONS[operation_id]
        documented = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        query = {k: v for k, v in (query or {}).items() if v is not None}
        assert set(query) <= set(documented), f"{operation_id}: undocumented {set(query) - set(documented)}"
        missing = {n for n, p in documented.items() if p.get("required")} - set(query)
        assert not missing, f"{operation_id}: required {missing}"
        response = requests.request(
            method.upper(),
            self.api_url + path.format(**params),
            params=query,
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[caller]}"},
            timeout=60,
        )
        status = str(response.status_code)
        where = f"{method.upper()} {path} as {caller}: {status} {response.text[:300]}"
        assert status in operation["responses"], f"undocumented status: {where}"
        content = operation["responses"][status].get("content")
        if content is None:
            assert not response.content, f"a body where none is documented: {where}"
            answer = None
        else:
            assert response.headers["content-type"].startswith("application/json"), where
            answer = response.json()
            errors = sorted(_validator(content["application/json"]["schema"]).iter_errors(answer), key=str)
            assert not errors, f"{where}\n" + "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
        if expect is not None:
            assert response.status_code == expect, where
        self.answered.setdefault(operation_id, set()).add((caller, response.status_code))
        return answer

    def as_each(self, operation_id: str, query=None, body=None, **params):
        """The operation as every caller that may call it; each must succeed. The last answer."""
        answer = None
        for caller in CALLERS[operation_id]:
            answer = self(operation_id, caller, query=query, body=body, **params)
        for caller in CALLERS[operation_id]:
            assert any(c == caller and 200 <= s < 300 for c, s in self.answered[operation_id]), (operation_id, caller)
        return answer


def wait_for_run(call: Caller, district: str, run_id: str, stack, done=("succeeded", "needs_review")) -> dict:
    stack.wait_until_idle(timeout=120)
    deadline = time.monotonic() + 60
    while (run := call("getSync", "admin", 200, districtId=district, runId=run_id))["status"] not in done:
        assert run["status"] in ("queued", "running") and time.monotonic() < deadline, run
        time.sleep(0.2)
    return run


def test_every_operation_answers_as_documented_for_every_caller(local_stack, make_sandbox_sis):
    sis = make_sandbox_sis(**DISTRICT)
    tokens = {"platform": local_stack.token("platform_admin")}
    call = Caller(local_stack.api_url, tokens)

    # Provisioning, and a second district to purge.
    district = call("createDistrict", "platform", 201, body={"name": "Conformance", "timezone": TIMEZONE})["districtId"]
    scratch = call("createDistrict", "platform", 201, body={"name": "Scratch", "timezone": TIMEZONE})["districtId"]
    d = {"districtId": district}
    tokens |= {
        "admin": local_stack.token("district_admin", district),
        "client": issue_client_token(local_stack.keys, "app", district_id=district),
        "writer": issue_client_token(local_stack.keys, "app", district_id=district, write=True),
    }
    school = call("createSchool", "platform", 201, body={"name": "Oak Hill Elementary"}, **d)["schoolId"]
    call.as_each("listDistricts", query={"limit": 10})
    call.as_each("getDistrict", **d)
    call("updateDistrict", "admin", 200, body={"name": "Conformance District"}, **d)

    # Setup: the connection, the schools, the configuration.
    connection = {"hostUrl": sis.host_url, "clientId": sis.config.client_id, "clientSecret": sis.config.client_secret}
    call("putSisConnection", "admin", 200, body=connection, **d)
    call.as_each("getSisConnection", **d)
    call("testSisConnection", "admin", 200, **d)
    sis_schools = call.as_each("listSisSchools", **d)["schools"]
    matches = [{"sisSourcedId": sis_schools[0]["sisSourcedId"], "schoolId": school}]
    call("putSchoolMatches", "admin", 200, body={"matches": matches}, **d)
    call.as_each("getSyncOptions", query={"refresh": "true"}, **d)
    start = (local_today(TIMEZONE, datetime.now(UTC)) + timedelta(days=1)).isoformat()
    config = {"schools": None, "grades": None, "subjects": None, "startDate": start, "enabled": True}
    call("putSyncConfig", "admin", 200, body=config, **d)
    call.as_each("getSyncConfig", **d)

    # The app's own accounts before the first sync: one SIS student's email twice is a conflict.
    users = sis.state()["data"]["users"]
    student = next(u for u in users if u["role"] == "student" and u.get("email"))
    twins = [{"userId": f"app-twin-{n}", "role": "student", "email": student["email"]} for n in "ab"]
    call("registerAppUsers", "writer", 200, body={"users": twins}, **d)
    call.as_each(
        "registerAppUser", body={"userId": "app-lonely", "role": "student", "email": "lonely@example.org"}, **d
    )
    call.as_each("registerAppClass", body={"classId": "app-class-1", "title": "Lonely class", "schoolId": school}, **d)
    call.as_each(
        "registerAppClasses", body={"classes": [{"classId": "app-class-2", "title": "Other", "schoolId": school}]}, **d
    )
    counts = call.as_each("getAppRecordCounts", **d)
    assert (counts["students"]["registered"], counts["classes"]["registered"]) == (3, 2), counts

    # The first sync, and what it matched.
    run_id = call("startSync", "admin", 202, body={}, **d)["runId"]
    assert wait_for_run(call, district, run_id, local_stack)["status"] == "succeeded"
    call.as_each("listSyncs", query={"limit": 5}, **d)
    call.as_each("getSync", districtId=district, runId=run_id)
    call.as_each("getSyncMatching", query={"limit": 50}, districtId=district, runId=run_id)
    conflicts = call.as_each("listMatchingConflicts", query={"limit": 50}, **d)["conflicts"]
    assert any(c["sisSourcedId"] == student["sourcedId"] for c in conflicts), conflicts
    call(
        "resolveMatchingConflict",
        "admin",
        200,
        body={"type": "user", "sisSourcedId": student["sourcedId"], "action": "link", "appId": "app-twin-a"},
        **d,
    )

    # Every roster read, with its filters.
    since = {"updatedSince": "2000-01-01T00:00:00Z"}
    listed = call.as_each("listUsers", query={"limit": 200}, **d)["users"]
    teacher = next(u for u in listed if u["role"] == "teacher" and u.get("email"))
    learner = next(u for u in listed if u["role"] == "student" and u.get("schoolIds"))
    call.as_each("listUsers", query={"role": "student", "schoolId": learner["schoolIds"][0], "limit": 10}, **d)
    call.as_each("listUsers", query={"role": "teacher", "status": "all", "limit": 10, **since}, **d)
    call.as_each("getUser", userId=teacher["userId"], **d)
    call.as_each("listUserClasses", query={"role": "teacher", "limit": 10}, userId=teacher["userId"], **d)
    call.as_each("listUserClasses", query={"limit": 10, **since}, userId=learner["userId"], **d)
    classes = call.as_each("listClasses", query={"limit": 200}, **d)["classes"]
    klass = next(c for c in classes if c.get("termIds"))
    call.as_each("listClasses", query={"schoolId": klass["schoolId"], "limit": 10}, **d)
    call.as_each("listClasses", query={"teacherId": teacher["userId"], "limit": 10}, **d)
    call.as_each("listClasses", query={"termId": klass["termIds"][0], "limit": 10, **since}, **d)
    c = {"classId": klass["classId"], **d}
    call.as_each("getClass", **c)
    call.as_each("getClassRoster", query={"status": "all"}, **c)
    call.as_each("listClassTeachers", query={"limit": 10}, **c)
    call.as_each("listClassStudents", query={"limit": 10, **since}, **c)
    call.as_each("listEnrollments", query={"classId": klass["classId"], "role": "student", "limit": 10}, **d)
    call.as_each("listEnrollments", query={"userId": learner["userId"], "limit": 10, **since}, **d)
    call.as_each("listEnrollments", query={"limit": 10, **since}, **d)
    terms = call.as_each("listTerms", query={"limit": 50}, **d)["terms"]
    call.as_each("listTerms", query={"limit": 10, **since}, **d)
    call.as_each("getTerm", termId=terms[0]["termId"], **d)
    s = {"schoolId": klass["schoolId"], **d}
    call.as_each("listSchoolTerms", query={"limit": 10}, **s)
    for caller in READERS:  # 200, or 404 when no term of the school is current on that date
        call("getCurrentTerm", caller, query={"date": terms[0].get("startDate")}, **s)
    call.as_each("listSchools", query={"limit": 10}, **d)
    call.as_each("listSchools", query={"limit": 10, **since}, **d)

    # A teacher linked by their verified email: their classes.
    tokens["teacher"] = local_stack.token("teacher", district, email=teacher["email"], email_verified=True)
    mine = call.as_each("listMyClasses", query={"limit": 50})["classes"]
    call.as_each("getMyClassRoster", classId=mine[0]["classId"])

    # A preview of one school, listed completely.
    one_school = {**config, "schools": [sis_schools[0]["sisSourcedId"]]}
    preview = call("previewSyncConfig", "admin", 202, query={"complete": "true"}, body=one_school, **d)["runId"]
    wait_for_run(call, district, preview, local_stack)
    p = {"districtId": district, "runId": preview}
    call.as_each("getPreview", **p)
    call.as_each("listPreviewRecords", query={"type": "students"}, **p)
    call.as_each("listPreviewRecords", query={"type": "students", "change": "deactivated", "limit": 5}, **p)

    # Syncing one school deactivates past the guard: held, listed, rejected; the next one approved.
    call("putSyncConfig", "admin", 200, body=one_school, **d)
    held = call("startSync", "admin", 202, body={"mode": "full"}, **d)["runId"]
    assert wait_for_run(call, district, held, local_stack)["status"] == "needs_review"
    h = {"districtId": district, "runId": held}
    records = call.as_each("listHeldRecords", query={"limit": 10}, **h)["records"]
    assert records
    call.as_each("listHeldRecords", query={"type": "students", "limit": 5}, **h)
    reason = records[0]["reason"]
    by_reason = call.as_each("listHeldRecords", query={"reason": reason, "limit": 200}, **h)["records"]
    assert by_reason and {r["reason"] for r in by_reason} == {reason}
    call("listHeldRecords", "admin", 422, query={"reason": "no_such_reason"}, **h)
    call("rejectSync", "admin", 200, **h)
    again = call("startSync", "admin", 202, body={}, **d)["runId"]
    assert wait_for_run(call, district, again, local_stack)["status"] == "needs_review"
    call("approveSync", "admin", 202, body={}, districtId=district, runId=again)
    wait_for_run(call, district, again, local_stack, done=("succeeded",))
    call.as_each("listAudit", query={"limit": 20}, **d)
    rejected = call.as_each("listAudit", query={"action": "sync.reject", "limit": 20}, **d)["entries"]
    assert [e["action"] for e in rejected] == ["sync.reject"], rejected
    call.as_each("listAudit", query={"action": "sync", "by": rejected[0]["by"]["sub"], "limit": 20}, **d)
    call("listAudit", "admin", 422, query={"action": "not an action"}, **d)

    # Notifications: who hears of what, and a test message (once in ten minutes).
    call.as_each("getNotifications", **d)
    call("sendTestNotification", "admin", 200, **d)
    call("sendTestNotification", "admin", 429, **d)

    # Disconnecting; then OneRoster CSV files instead, and an upload form.
    call("deleteSisConnection", "admin", 204, **d)
    call("createCsvUpload", "admin", 409, **d)  # not a CSV district (yet)
    call("putSisConnection", "admin", 200, body={"kind": "oneroster_csv", "csvSchedule": "nightly"}, **d)
    upload = call.as_each("createCsvUpload", **d)
    assert upload["fields"]["key"] == upload["key"] and upload["maxBytes"] > 0, upload
    listed_uploads = call.as_each("listCsvUploads", **d)["uploads"]
    assert upload["uploadId"] in {u["uploadId"] for u in listed_uploads}, listed_uploads
    assert call.as_each("getCsvUpload", uploadId=upload["uploadId"], **d)["state"] == "awaiting"

    # A purge of the scratch district.
    call("deleteDistrict", "platform", 202, query={"confirm": scratch}, districtId=scratch)
    local_stack.wait_until_idle(timeout=120)
    call.as_each("getPurge", districtId=scratch)

    # Every operation of the document was called, and succeeded for every caller it names.
    assert set(CALLERS) == set(OPERATIONS), {"not in CALLERS": set(OPERATIONS) - set(CALLERS)}
    for operation_id, callers in CALLERS.items():
        answered = call.answered.get(operation_id, set())
        succeeded = {c for c, s in answered if 200 <= s < 300}
        if operation_id == "getCurrentTerm":
            succeeded = {c for c, _ in answered}
        assert set(callers) <= succeeded, (operation_id, answered)
