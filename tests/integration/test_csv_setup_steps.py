"""Setup steps 3 and 4 for a CSV district (issue 27): its SIS schools and its sync options are
read from its latest staged bundle, and are what the same sandbox district answers over REST;
before a bundle is staged both answer 409 no_bundle_yet. The admin can then match schools and
choose schools, grades and subjects before the first sync."""

import io
from datetime import UTC, datetime, timedelta

import pytest

from rostersync import aws_clients
from rostersync.sources.csv_files import stage_bundle
from rostersync.store.districts import DistrictModel
from rostersync.sync.schedule import local_today
from rostersync_tools.sandbox_sis.csv_export import export_bundle
from tests.unit.api.handler_client import Api

BUCKET = "rostersync-test-setup-bundles"
SECRET = "sandbox-secret-csv-setup-7d1a"


@pytest.fixture
def api(aws) -> Api:
    from rostersync.api.app import handle  # after `aws`: table names come from its environment

    aws_clients.client("s3").create_bucket(Bucket=BUCKET)
    return Api(handle)


@pytest.fixture
def sis(make_sandbox_sis):
    return make_sandbox_sis(client_secret=SECRET)


def admin(api, method, district_id, path, **options):
    return api.call(method, f"/districts/{district_id}{path}", role="district_admin", district=district_id, **options)


def rest_district(api, sis) -> str:
    district_id = api.new_district()
    body = {"hostUrl": sis.prefixed_host_url, "clientId": sis.config.client_id, "clientSecret": SECRET}
    assert admin(api, "PUT", district_id, "/sis/connection", body=body).status == 200
    return district_id


def csv_district(api) -> str:
    district_id = api.new_district()
    body = {"kind": "oneroster_csv", "csvSchedule": "nightly"}
    answer = admin(api, "PUT", district_id, "/sis/connection", body=body)
    assert answer.status == 200, answer.body
    return district_id


def stage(district_id: str, data: dict, delta_since: datetime | None = None, staged_at: datetime | None = None):
    """What the arrival function records for a checked bundle (sync/csv_arrival.py)."""
    out = io.BytesIO()
    export_bundle(data, out, "1.1", delta_since)
    bundle_id = f"bnd_{len(out.getvalue())}_{delta_since is not None}"
    prefix = f"staged/{district_id}/{bundle_id}"
    bundle = stage_bundle(io.BytesIO(out.getvalue()), BUCKET, prefix)
    district = DistrictModel.get(district_id)
    district.update(
        actions=[
            DistrictModel.csv_bundle.set(
                {
                    "bucket": BUCKET,
                    "prefix": prefix,
                    "bundleId": bundle_id,
                    "manifest": bundle.to_json(),
                    "stagedAt": (staged_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
                }
            )
        ]
    )


def without_times(options: dict) -> dict:
    return {k: v for k, v in options.items() if k != "refreshedAt"}


def test_steps_3_and_4_read_the_bundle_and_answer_as_rest_does(api, sis):
    over_rest, over_csv = rest_district(api, sis), csv_district(api)
    # an app school in each, named like one SIS school: both suggest it the same way
    data = sis.state()["data"]
    sis_name = sorted(o["name"] for o in data["orgs"] if o["type"] == "school" and o["status"] == "active")[0]
    for district_id in (over_rest, over_csv):
        api.new_school(district_id, sis_name.replace(" School", ""), identifier="APP-1")

    for path in ("/sis/schools", "/sync-options"):
        before = admin(api, "GET", over_csv, path)
        assert (before.status, before.code) == (409, "no_bundle_yet"), before.body
        assert "upload a bundle first" in before.message

    stage(over_csv, data)
    stats = sis.stats()
    rest_schools = admin(api, "GET", over_rest, "/sis/schools")
    csv_schools = admin(api, "GET", over_csv, "/sis/schools")
    assert rest_schools.status == csv_schools.status == 200, csv_schools.body
    app_ids = {over_rest: rest_schools, over_csv: csv_schools}
    assert len(csv_schools.body["schools"]) >= 2
    suggested = {d: [s for s in a.body["schools"] if s["suggestedSchoolId"]] for d, a in app_ids.items()}
    assert [s["name"] for s in suggested[over_csv]] == [sis_name] == [s["name"] for s in suggested[over_rest]]

    def no_app_ids(schools):
        return [{**s, "suggestedSchoolId": bool(s["suggestedSchoolId"])} for s in schools]

    assert no_app_ids(csv_schools.body["schools"]) == no_app_ids(rest_schools.body["schools"])

    rest_options = admin(api, "GET", over_rest, "/sync-options", query={"refresh": "true"})
    csv_options = admin(api, "GET", over_csv, "/sync-options", query={"refresh": "true"})
    assert rest_options.status == csv_options.status == 200, csv_options.body
    assert csv_options.body["grades"] and csv_options.body["subjects"] and csv_options.body["classTerms"]
    assert without_times(csv_options.body) == without_times(rest_options.body)
    rest_reads = sis.stats()
    assert rest_reads != stats  # the REST district read the sandbox ...
    assert admin(api, "GET", over_csv, "/sync-options", query={"refresh": "true"}).status == 200
    assert admin(api, "GET", over_csv, "/sis/schools").status == 200
    assert sis.stats() == rest_reads  # ... the CSV district only its bundle

    # step 3: match the suggested school; step 4: choose a school, a grade and a subject of the bundle
    match = suggested[over_csv][0]
    matches = {"matches": [{"sisSourcedId": match["sisSourcedId"], "schoolId": match["suggestedSchoolId"]}]}
    saved = admin(api, "PUT", over_csv, "/school-matches", body=matches)
    assert saved.status == 200, saved.body
    listed = admin(api, "GET", over_csv, "/sis/schools").body["schools"]
    assert [s["matchedSchoolId"] for s in listed if s["sisSourcedId"] == match["sisSourcedId"]] == [
        match["suggestedSchoolId"]
    ]
    unknown = {"matches": [{"sisSourcedId": "no-such-school", "schoolId": match["suggestedSchoolId"]}]}
    assert admin(api, "PUT", over_csv, "/school-matches", body=unknown).code == "unknown_school"

    start = (local_today("America/Chicago", datetime.now(UTC)) + timedelta(days=1)).isoformat()
    chosen = {
        "schools": [match["sisSourcedId"]],
        "grades": csv_options.body["grades"][:1],
        "subjects": csv_options.body["subjects"][:1],
        "startDate": start,
    }
    config = admin(api, "PUT", over_csv, "/sync-config", body=chosen)
    assert config.status == 200, config.body
    assert config.body["schools"] == chosen["schools"] and config.body["grades"] == chosen["grades"]
    refused = admin(api, "PUT", over_csv, "/sync-config", body={**chosen, "grades": ["no-such-grade"]})
    assert (refused.status, refused.code) == (422, "unknown_grade")


def test_a_delta_bundle_offers_its_schools_but_not_options(api, sis):
    district_id = csv_district(api)
    stage(district_id, sis.state()["data"], delta_since=datetime(2000, 1, 1, tzinfo=UTC))
    assert admin(api, "GET", district_id, "/sis/schools").status == 200
    options = admin(api, "GET", district_id, "/sync-options", query={"refresh": "true"})
    assert (options.status, options.code) == (409, "delta_bundle")
    assert "bulk" in options.message


def test_a_bundle_past_its_retention_is_not_read(api, sis):
    district_id = csv_district(api)
    stage(district_id, sis.state()["data"], staged_at=datetime.now(UTC) - timedelta(days=31))
    answer = admin(api, "GET", district_id, "/sis/schools")
    assert (answer.status, answer.code) == (409, "bundle_expired")
    assert "deliver a new bundle" in answer.message


def test_a_bundle_read_out_of_the_request_s_time_serves_the_cache_stale(api, sis, monkeypatch):
    from rostersync.api import sync_config

    district_id = csv_district(api)
    stage(district_id, sis.state()["data"])
    monkeypatch.setattr(sync_config, "time_left_of_request", lambda: 0.0)
    nothing_cached = admin(api, "GET", district_id, "/sync-options")
    assert (nothing_cached.status, nothing_cached.code) == (503, "sis_too_slow")
    assert nothing_cached.message.startswith("The latest CSV bundle's classes and courses")
    monkeypatch.setattr(sync_config, "time_left_of_request", lambda: 20.0)
    fresh = admin(api, "GET", district_id, "/sync-options")
    assert fresh.status == 200 and fresh.body["grades"] and not fresh.body.get("stale")
    monkeypatch.setattr(sync_config, "time_left_of_request", lambda: 0.0)
    stale = admin(api, "GET", district_id, "/sync-options", query={"refresh": "true"})
    assert stale.status == 200 and stale.body["stale"] is True
    assert stale.body["grades"] == fresh.body["grades"]
