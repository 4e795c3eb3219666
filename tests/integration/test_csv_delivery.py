"""CSV bundles delivered (issue 27): a district admin chooses CSV files at step 2, gets a presigned
POST, sends the zip straight to the embedded S3; the local stack's stand-in for S3's EventBridge
notification hands it to the real arrival function, which checks and stages it and, for a
district that syncs on arrival, queues a sync the worker runs; a nightly district's bundle waits;
a bad bundle's problem, file named, is on its upload record; a CSV district without a bundle gets
a failed run saying so."""

import io
import time
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from rostersync_tools.local.bundle_arrivals import object_created_event
from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS
from rostersync_tools.sandbox_sis.csv_export import export_bundle
from tests.fixtures.sandbox import SMALL_DISTRICT
from tests.fixtures.stack import api


@pytest.fixture(scope="module")
def bundle() -> bytes:
    out = io.BytesIO()
    export_bundle(SandboxSIS(SandboxConfig(**SMALL_DISTRICT)).state()["data"], out)
    return out.getvalue()


def csv_district(stack, schedule: str) -> tuple[str, object]:
    district_id = api(stack, stack.token("platform_admin")).post(
        "/districts", json={"name": "CSV USD", "timezone": "America/Chicago"}
    )[1]["districtId"]
    admin = api(stack, stack.token("district_admin", district_id))
    status, body = admin.put(
        f"/districts/{district_id}/sis/connection", json={"kind": "oneroster_csv", "csvSchedule": schedule}
    )
    assert status == 200, body
    assert body["kind"] == "oneroster_csv" and body["csv"]["csvSchedule"] == schedule
    return district_id, admin


def upload(admin, district_id: str, data: bytes) -> str:
    status, ticket = admin.post(f"/districts/{district_id}/csv-uploads")
    assert status == 201, ticket
    sent = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": ("district.zip", data, "application/zip")}, timeout=30
    )
    assert sent.status_code in (200, 201, 204), sent.text
    return ticket["uploadId"]


def settled(admin, district_id: str, upload_id: str, stack, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stack.wait_until_idle(timeout)
        status, record = admin.get(f"/districts/{district_id}/csv-uploads/{upload_id}")
        assert status == 200, record
        if record["state"] != "awaiting":
            return record
        assert time.monotonic() < deadline, record
        time.sleep(0.2)


def test_an_uploaded_bundle_is_staged_and_synced_on_arrival(local_stack, bundle):
    district_id, admin = csv_district(local_stack, "on_arrival")
    upload_id = upload(admin, district_id, bundle)
    record = settled(admin, district_id, upload_id, local_stack)
    assert record["state"] == "staged" and record["next"] == "queued", record
    assert record["size"] == len(bundle)
    local_stack.wait_until_idle(120)
    status, run = admin.get(f"/districts/{district_id}/syncs/{record['runId']}")
    assert status == 200 and run["status"] == "succeeded", run
    assert run["trigger"] == "csv_arrival"
    assert run["counts"]["students"]["created"] > 0 and run["counts"]["enrollments"]["created"] > 0
    # the staged files are in S3, one object per file, under the bundle's own prefix
    s3 = local_stack.aws.client("s3")
    bucket = local_stack.aws.resources.buckets["RawBundlesBucket"]
    staged = s3.list_objects_v2(Bucket=bucket, Prefix=f"staged/{district_id}/{record['bundleId']}/")
    assert {o["Key"].rsplit("/", 1)[1] for o in staged["Contents"]} >= {"users.csv", "classes.csv", "enrollments.csv"}
    _, listing = admin.get(f"/districts/{district_id}/csv-uploads")
    assert listing["latestBundle"]["bundleId"] == record["bundleId"]
    assert listing["uploads"][0]["uploadId"] == upload_id


def test_a_nightly_district_s_bundle_waits_for_tonight(local_stack, bundle):
    district_id, admin = csv_district(local_stack, "nightly")
    record = settled(admin, district_id, upload(admin, district_id, bundle), local_stack)
    assert record["state"] == "staged" and record["next"] == "tonight" and record["runId"] is None
    _, runs = admin.get(f"/districts/{district_id}/syncs")
    assert runs["syncs"] == []


def test_a_bad_bundle_is_rejected_with_its_file_and_problem_named(local_stack, bundle):
    district_id, admin = csv_district(local_stack, "on_arrival")
    members = {}
    with zipfile.ZipFile(io.BytesIO(bundle)) as original:
        members = {name: original.read(name) for name in original.namelist()}
    members["users.csv"] = members["users.csv"].replace(b"givenName", b"firstName", 1)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as bad:
        for name, data in members.items():
            bad.writestr(name, data)
    record = settled(admin, district_id, upload(admin, district_id, out.getvalue()), local_stack)
    assert record["state"] == "rejected"
    assert record["error"].startswith("users.csv:") and "givenName" in record["error"], record["error"]
    _, connection = admin.get(f"/districts/{district_id}/sis/connection")
    assert connection["csv"]["latestBundle"] is None  # nothing staged
    _, runs = admin.get(f"/districts/{district_id}/syncs")
    assert runs["syncs"] == []


def test_a_csv_district_without_a_bundle_gets_a_failed_run_saying_so(local_stack):
    district_id, admin = csv_district(local_stack, "nightly")
    # step 4 without a selection (every school, grade, subject) needs no read of the SIS
    today = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    status, body = admin.put(f"/districts/{district_id}/sync-config", json={"startDate": today})
    assert status == 200, body
    status, run = admin.post(f"/districts/{district_id}/syncs", json={})
    assert status in (201, 202), run
    local_stack.wait_until_idle(60)
    _, run = admin.get(f"/districts/{district_id}/syncs/{run['runId']}")
    assert run["status"] == "failed"
    assert "No CSV bundle has been delivered yet" in (run.get("failure") or str(run)), run


def test_an_sftp_delivery_under_any_name_arrives_the_same(local_stack, bundle):
    """SFTP writes raw/<districtId>/<its own file name>: a new upload id is made for it."""
    district_id, admin = csv_district(local_stack, "nightly")
    bucket = local_stack.aws.resources.buckets["RawBundlesBucket"]
    local_stack.aws.client("s3").put_object(Bucket=bucket, Key=f"raw/{district_id}/nightly export.zip", Body=bundle)
    local_stack.wait_until_idle(60)
    _, listing = admin.get(f"/districts/{district_id}/csv-uploads")
    (record,) = listing["uploads"]
    assert record["state"] == "staged" and record["key"].endswith("nightly export.zip")
    assert record["uploadId"].startswith("upl_")


def test_the_event_shape_is_s3_s_eventbridge_one():
    event = object_created_event("b", "raw/d/x.zip", 10, "etag")
    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    assert event["detail"]["bucket"]["name"] == "b" and event["detail"]["object"]["key"] == "raw/d/x.zip"


def test_a_purge_deletes_the_district_s_bundles_and_upload_records(local_stack, bundle):
    district_id, admin = csv_district(local_stack, "nightly")
    record = settled(admin, district_id, upload(admin, district_id, bundle), local_stack)
    assert record["state"] == "staged"
    s3 = local_stack.aws.client("s3")
    bucket = local_stack.aws.resources.buckets["RawBundlesBucket"]

    def objects() -> list[str]:
        found = []
        for prefix in (f"raw/{district_id}/", f"staged/{district_id}/"):
            found += [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
        return found

    assert len(objects()) > 5  # the zip and its files
    assert admin.delete(f"/districts/{district_id}")[0] == 202
    support = api(local_stack, local_stack.token("platform_admin"))
    status, body = support.delete(f"/districts/{district_id}?confirm={district_id}")
    assert status == 202, body
    deadline = time.monotonic() + 60
    while support.get(f"/districts/{district_id}/purge")[1].get("status") != "done":
        assert time.monotonic() < deadline
        local_stack.wait_until_idle(60)
        time.sleep(0.2)
    assert objects() == []
    uploads = local_stack.aws.client("dynamodb").query(
        TableName=local_stack.aws.resources.tables["RunRecordsTable"],
        KeyConditionExpression="runKey = :k",
        ExpressionAttributeValues={":k": {"S": f"{district_id}#uploads"}},
    )
    assert uploads["Items"] == []
