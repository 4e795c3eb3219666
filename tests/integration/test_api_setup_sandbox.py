"""The four setup steps through the API's Lambda handler with the real OneRoster client against
the sandbox SIS (in this process, no HTTP in front of the API): auth methods, every connection
failure, live reads, sync options as the SIS has them, and no secret in any log output."""

import datetime as _dt
import logging
import socket
from datetime import datetime, timedelta

import pytest

from rostersync.sync.schedule import local_today
from tests.unit.api.handler_client import Api

# A start date the API accepts: after today, within the 2 years it allows.
SOON = (_dt.date.today() + _dt.timedelta(days=300)).isoformat()

SANDBOX_SECRET = "sandbox-secret-integration-5c2e"


@pytest.fixture
def api(aws) -> Api:
    from rostersync.api.app import handle  # after `aws`: table names come from its environment

    return Api(handle)


@pytest.fixture
def sis(make_sandbox_sis):
    return make_sandbox_sis(client_secret=SANDBOX_SECRET)


def _admin(api, method, district_id, path, **options):
    return api.call(method, f"/districts/{district_id}{path}", role="district_admin", district=district_id, **options)


def _connect(api, district_id, sis, **overrides):
    body = {
        "hostUrl": sis.prefixed_host_url,
        "clientId": sis.config.client_id,
        "clientSecret": sis.config.client_secret,
        **overrides,
    }
    return _admin(api, "PUT", district_id, "/sis/connection", body=body)


@pytest.mark.parametrize("quirk, method", [("only_oauth2", "oauth2"), ("only_oauth1", "oauth1")])
def test_auto_finds_the_method_the_sis_speaks_and_explicit_methods_work(api, sis, quirk, method):
    sis.set_quirks(**{quirk: True})
    district_id = api.new_district()
    auto = _connect(api, district_id, sis)
    assert (auto.status, auto.body["authMethod"], auto.body["status"]) == (200, method, "connected")
    explicit = _connect(api, district_id, sis, authMethod=method)
    assert (explicit.status, explicit.body["authMethod"]) == (200, method)
    other = "oauth1" if method == "oauth2" else "oauth2"
    refused = _connect(api, district_id, sis, authMethod=other)
    assert refused.status == 422 and refused.code in ("invalid_credentials", "not_oneroster")


def test_a_wrong_secret_is_invalid_credentials_and_keeps_the_working_connection(api, sis):
    district_id = api.new_district()
    assert _connect(api, district_id, sis).status == 200
    wrong = _connect(api, district_id, sis, clientSecret="not-the-sandbox-secret")
    assert (wrong.status, wrong.code) == (422, "invalid_credentials")
    assert "client id and secret" in wrong.message
    assert _admin(api, "GET", district_id, "/sis/schools").status == 200  # the saved one still works


def test_a_pasted_oneroster_base_is_stripped_with_a_warning(api, make_sandbox_sis):
    sis = make_sandbox_sis(client_secret=SANDBOX_SECRET, path_prefix="district42")
    district_id = api.new_district()
    answer = _connect(api, district_id, sis, hostUrl=sis.base_url + "/")
    assert answer.status == 200
    assert answer.body["hostUrl"] == sis.prefixed_host_url
    assert any("/ims/oneroster/v1p1" in warning for warning in answer.body["warnings"])


def test_an_unreachable_host_is_unreachable_host(api):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    district_id = api.new_district()
    answer = _admin(
        api,
        "PUT",
        district_id,
        "/sis/connection",
        body={"hostUrl": f"http://127.0.0.1:{port}", "clientId": "c", "clientSecret": SANDBOX_SECRET},
    )
    assert (answer.status, answer.code) == (422, "unreachable_host")
    assert "host URL" in answer.message


def test_a_host_that_is_not_a_oneroster_server_is_not_oneroster(api, website):
    district_id = api.new_district()
    answer = _admin(
        api,
        "PUT",
        district_id,
        "/sis/connection",
        body={"hostUrl": website, "clientId": "c", "clientSecret": SANDBOX_SECRET, "authMethod": "oauth1"},
    )
    assert (answer.status, answer.code) == (422, "not_oneroster")
    assert "OneRoster 1.1" in answer.message


def test_a_connection_the_sis_later_revokes_answers_409_with_its_code(api, sis):
    district_id = api.new_district()
    assert _connect(api, district_id, sis).status == 200
    sis.set_quirks(revoke_credentials=True)
    answer = _admin(api, "GET", district_id, "/sis/schools")
    assert (answer.status, answer.code) == (409, "invalid_credentials")


def _expected_options(sis) -> dict:
    """What GET sync-options should say, worked out from the sandbox's own data."""
    data = sis.state()["data"]
    courses = {c["sourcedId"]: c for c in data["courses"]}
    grades, subjects = set(), set()
    for cls in data["classes"]:
        if cls["status"] != "active":
            continue
        grades.update(cls.get("grades") or [])
        subjects.update(cls.get("subjects") or courses[cls["course"]["sourcedId"]].get("subjects") or [])
    for crs in data["courses"]:
        if crs["status"] == "active":
            grades.update(crs.get("grades") or [])
            subjects.update(crs.get("subjects") or [])
    schools = [o for o in data["orgs"] if o["type"] == "school" and o["status"] == "active"]
    return {"schools": {o["sourcedId"]: o["name"] for o in schools}, "grades": grades, "subjects": subjects}


def test_setup_steps_3_and_4_read_the_sandbox(api, sis):
    district_id = api.new_district()
    expected = _expected_options(sis)
    sis_name = sorted(expected["schools"].values())[0]
    app_school = api.new_school(district_id, sis_name.replace(" School", ""))
    assert _connect(api, district_id, sis).status == 200

    listed = _admin(api, "GET", district_id, "/sis/schools").body["schools"]
    assert {s["sisSourcedId"]: s["name"] for s in listed} == expected["schools"]
    suggested = [s for s in listed if s["suggestedSchoolId"]]
    assert [(s["name"], s["suggestedSchoolId"]) for s in suggested] == [(sis_name, app_school)]
    matches = [{"sisSourcedId": s["sisSourcedId"], "schoolId": s["suggestedSchoolId"]} for s in suggested]
    assert _admin(api, "PUT", district_id, "/school-matches", body={"matches": matches}).status == 200

    options = _admin(api, "GET", district_id, "/sync-options").body
    assert {s["sisSourcedId"]: s["name"] for s in options["schools"]} == expected["schools"]
    assert set(options["grades"]) == expected["grades"] and set(options["subjects"]) == expected["subjects"]
    assert options["subjects"] == sorted(options["subjects"], key=str.casefold)

    start = local_today("America/Chicago", datetime.now(_dt.UTC)) + timedelta(days=1)
    some_school = sorted(expected["schools"])[0]
    config = _admin(
        api,
        "PUT",
        district_id,
        "/sync-config",
        body={
            "schools": [some_school],
            "grades": options["grades"][:2],
            "subjects": None,
            "startDate": start.isoformat(),
            "enabled": True,
        },
    )
    assert config.status == 200 and config.body["nextSyncAt"] is not None


def test_no_log_output_of_a_whole_setup_carries_the_secret(api, sis, caplog, capfd):
    """Everything logged at DEBUG by every logger (botocore logs request bodies there), and
    everything written to stdout/stderr, during a setup that also fails in every way."""
    from rostersync.observability import logger

    wrong_secret = "wrong-secret-also-private-91d"
    previous_level = logger.log_level
    logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        district_id = api.new_district()
        api.new_school(district_id, "Oak Hill Elementary")
        assert _connect(api, district_id, sis, clientSecret=wrong_secret).code == "invalid_credentials"
        assert _connect(api, district_id, sis, unknownField=1).code == "invalid_request"
        assert _connect(api, district_id, sis, hostUrl="ftp://nowhere").code == "invalid_host_url"
        assert _connect(api, district_id, sis).status == 200
        assert _admin(api, "GET", district_id, "/sis/connection").status == 200
        assert _admin(api, "GET", district_id, "/sis/schools").status == 200
        assert _admin(api, "PUT", district_id, "/school-matches", body={"matches": []}).status == 200
        assert _admin(api, "GET", district_id, "/sync-options", query={"refresh": "true"}).status == 200
        assert _admin(api, "PUT", district_id, "/sync-config", body={"startDate": SOON}).status == 200
        sis.set_quirks(revoke_credentials=True)
        assert _admin(api, "GET", district_id, "/sis/schools").status == 409
        assert _admin(api, "DELETE", district_id, "/sis/connection").status == 204
    finally:
        logger.setLevel(previous_level)
    out, err = capfd.readouterr()
    records = caplog.records
    logged = caplog.text + out + err + "".join(repr(r.__dict__) for r in records)
    assert records and any(r.name.startswith("botocore") for r in records), "DEBUG logging was not captured"
    for secret in (SANDBOX_SECRET, wrong_secret):
        assert secret not in logged
    assert "[redacted]" in logged  # something did try to log a secret (botocore's request bodies) and was stopped
