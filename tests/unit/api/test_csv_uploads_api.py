"""Step 2 for OneRoster CSV files and POST/GET /districts/{id}/csv-uploads: the choice records the
kind (nothing to test, no secret), and an upload is a short-lived presigned S3 POST for one key under
the district's raw/ prefix with a size limit, handed only to the district's admins."""

import base64
import json
from datetime import UTC, datetime

import pytest

from rostersync.sources.csv_delivery import MAX_UPLOAD_BYTES, UPLOAD_EXPIRES_S


def _csv(api, district_id, **body):
    return api.call(
        "PUT",
        f"/districts/{district_id}/sis/connection",
        role="district_admin",
        district=district_id,
        body={"kind": "oneroster_csv", **body},
    )


def _policy(fields: dict) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def test_choosing_csv_records_the_kind_with_nothing_to_test_and_no_secret(api, aws):
    district_id = api.new_district()
    answer = _csv(api, district_id, csvSchedule="on_arrival", retentionDays=7)
    assert answer.status == 200, answer.body
    assert answer.body["kind"] == "oneroster_csv"
    assert answer.body["hostUrl"] is None and answer.body["clientId"] is None
    assert answer.body["csv"] == {"csvSchedule": "on_arrival", "retentionDays": 7, "latestBundle": None}
    got = api.call("GET", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id)
    assert got.body["kind"] == "oneroster_csv" and got.body["csv"]["retentionDays"] == 7
    tested = api.call(
        "POST", f"/districts/{district_id}/sis/connection/test", role="district_admin", district=district_id
    )
    assert tested.status == 409 and tested.code == "csv_connection"
    overview = api.call("GET", f"/districts/{district_id}", role="district_admin", district=district_id)
    assert overview.body["connection"]["kind"] == "oneroster_csv"


def test_csv_defaults_are_nightly_and_30_days_and_longer_retention_is_refused(api):
    district_id = api.new_district()
    answer = _csv(api, district_id)
    assert answer.body["csv"]["csvSchedule"] == "nightly" and answer.body["csv"]["retentionDays"] == 30
    assert _csv(api, district_id, retentionDays=31).status == 422
    assert _csv(api, district_id, csvSchedule="hourly").status == 422
    assert _csv(api, district_id, hostUrl="https://sis.example.org").status == 422  # no REST fields for CSV


def test_switching_from_rest_to_csv_deletes_the_sis_secret(api, fake_sis, aws):
    district_id = api.new_district()
    assert api.connect(district_id).status == 200
    assert _csv(api, district_id).status == 200
    from botocore.exceptions import ClientError

    name = f"rostersync/local/district/{district_id}"
    with pytest.raises(ClientError):
        aws.client("secretsmanager").get_secret_value(SecretId=name)


def test_an_upload_is_a_presigned_post_for_one_key_with_a_size_limit(api, aws):
    district_id = api.new_district()
    _csv(api, district_id)
    before = datetime.now(UTC)
    answer = api.call("POST", f"/districts/{district_id}/csv-uploads", role="district_admin", district=district_id)
    assert answer.status == 201, answer.body
    ticket = answer.body
    assert ticket["uploadId"].startswith("upl_")
    assert ticket["key"] == f"raw/{district_id}/{ticket['uploadId']}.zip"
    assert ticket["fields"]["key"] == ticket["key"]
    assert ticket["maxBytes"] == MAX_UPLOAD_BYTES
    policy = _policy(ticket["fields"])
    conditions = policy["conditions"]
    assert ["content-length-range", 1, MAX_UPLOAD_BYTES] in conditions
    assert {"bucket": aws.resources.buckets["RawBundlesBucket"]} in conditions
    assert {"key": ticket["key"]} in conditions  # this key only
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - before).total_seconds() <= UPLOAD_EXPIRES_S + 5
    listed = api.call("GET", f"/districts/{district_id}/csv-uploads", role="district_admin", district=district_id)
    assert [(u["uploadId"], u["state"]) for u in listed.body["uploads"]] == [(ticket["uploadId"], "awaiting")]
    one = api.call(
        "GET", f"/districts/{district_id}/csv-uploads/{ticket['uploadId']}", role="district_admin", district=district_id
    )
    assert one.status == 200 and one.body["state"] == "awaiting" and one.body["createdAt"]


def test_only_the_district_s_admins_get_an_upload(api):
    district_id, other = api.new_district(), api.new_district(name="Shelbyville USD")
    _csv(api, district_id)
    path = f"/districts/{district_id}/csv-uploads"
    assert api.call("POST", path, role=None).status == 401
    assert api.call("POST", path, role="district_admin", district=other).status == 403
    assert api.call("POST", path, role="teacher", district=district_id).status == 403
    assert api.call("GET", path, role="district_admin", district=other).status == 403
    assert api.call("POST", path, role="district_admin", district=district_id).status == 201
    assert api.call("GET", path + "/upl_nope", role="district_admin", district=district_id).status == 404


def test_a_rest_or_unconnected_district_gets_no_upload(api, fake_sis):
    rest, bare = api.new_district(), api.new_district(name="Bare USD")
    assert api.connect(rest).status == 200
    for district_id in (rest, bare):
        answer = api.call("POST", f"/districts/{district_id}/csv-uploads", role="district_admin", district=district_id)
        assert answer.status == 409 and answer.code == "not_csv"
