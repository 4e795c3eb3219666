"""The four setup steps as a district admin's browser drives them: over HTTP on the local stack
(its JWT authorizer, the real API function), against the sandbox SIS."""

import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
import requests

from rostersync.sync.schedule import local_today
from tests.fixtures.stack import api as api_client

pytestmark = pytest.mark.e2e

SECRET = "e2e-sandbox-secret-6b1d"
TIMEZONE = "America/New_York"


@pytest.fixture
def sis(make_sandbox_sis):
    return make_sandbox_sis(client_secret=SECRET, path_prefix="vendor")


@pytest.fixture
def district(local_stack):
    """A district and one existing school, made by support (platform admin) over HTTP."""
    support = api_client(local_stack, local_stack.token("platform_admin"))
    status, district = support.post("/districts", json={"name": "E2E District", "timezone": TIMEZONE})
    assert status == 201, district
    status, school = support.post(f"/districts/{district['districtId']}/schools", json={"name": "Oak Hill Elementary"})
    assert status == 201, school
    return {"id": district["districtId"], "school_id": school["schoolId"]}


@pytest.fixture
def admin(local_stack, district):
    return api_client(local_stack, local_stack.token("district_admin", district["id"]))


def _connection(sis, **overrides):
    return {"hostUrl": sis.prefixed_host_url, "clientId": sis.config.client_id, "clientSecret": SECRET, **overrides}


@pytest.mark.parametrize("quirk, method", [("only_oauth2", "oauth2"), ("only_oauth1", "oauth1")])
def test_a_district_admin_walks_the_four_steps(local_stack, sis, district, admin, quirk, method, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    sis.set_quirks(**{quirk: True})
    base = f"/districts/{district['id']}"

    # Step 2: connect, with the OneRoster base pasted in by mistake.
    status, connection = admin.put(f"{base}/sis/connection", json=_connection(sis, hostUrl=sis.base_url))
    assert status == 200, connection
    assert (connection["hostUrl"], connection["authMethod"], connection["status"]) == (
        sis.prefixed_host_url,
        method,
        "connected",
    )
    assert any("/ims/oneroster/v1p1" in w for w in connection["warnings"])
    status, saved = admin.get(f"{base}/sis/connection")
    assert status == 200 and saved["hostUrl"] == sis.prefixed_host_url and "clientSecret" not in saved

    # Step 3: the sandbox's Oak Hill Elementary School is suggested for the app's Oak Hill Elementary.
    status, listed = admin.get(f"{base}/sis/schools")
    assert status == 200
    suggested = {s["sisSourcedId"]: s["suggestedSchoolId"] for s in listed["schools"] if s["suggestedSchoolId"]}
    assert list(suggested.values()) == [district["school_id"]]
    matches = [{"sisSourcedId": sid, "schoolId": school_id} for sid, school_id in suggested.items()]
    status, saved_matches = admin.put(f"{base}/school-matches", json={"matches": matches})
    assert status == 200 and saved_matches == {"matches": matches}
    status, schools = admin.get(f"{base}/schools")
    assert [s["sisSourcedId"] for s in schools["schools"]] == list(suggested)

    # Step 4: options, then everything from tomorrow in the district's zone.
    status, options = admin.get(f"{base}/sync-options")
    assert status == 200 and options["schools"] and options["grades"] and options["subjects"]
    start = (local_today(TIMEZONE, datetime.now(UTC)) + timedelta(days=1)).isoformat()
    status, config = admin.put(
        f"{base}/sync-config",
        json={"schools": None, "grades": None, "subjects": None, "startDate": start, "enabled": True},
    )
    assert status == 200, config
    assert config["nextSyncAt"] > start  # the night of the start date, in UTC
    status, again = admin.get(f"{base}/sync-config")
    assert status == 200 and again == config

    # Whatever the stack logged on the way (every logger, at DEBUG) or printed: never the secret.
    out, err = capfd.readouterr()
    assert caplog.records and SECRET not in caplog.text + out + err


def test_connection_failures_tell_the_admin_what_to_fix(local_stack, sis, district, admin, website):
    path = f"/districts/{district['id']}/sis/connection"
    status, body = admin.put(path, json=_connection(sis, clientSecret="not-the-right-secret"))
    assert (status, body["error"]["code"]) == (422, "invalid_credentials")

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    status, body = admin.put(path, json=_connection(sis, hostUrl=f"http://127.0.0.1:{port}"))
    assert (status, body["error"]["code"]) == (422, "unreachable_host")

    status, body = admin.put(path, json=_connection(sis, hostUrl=website, authMethod="oauth1"))
    assert (status, body["error"]["code"]) == (422, "not_oneroster")

    status, body = admin.put(path, json=_connection(sis, hostUrl="ftp://sis.example.org"))
    assert (status, body["error"]["code"]) == (422, "invalid_host_url")
    # Nothing was saved by any of them.
    status, body = admin.get(path)
    assert (status, body["error"]["code"]) == (404, "not_connected")


def test_who_may_call_and_what_bad_requests_get_over_http(local_stack, sis, district, admin):
    base = f"/districts/{district['id']}"
    assert api_client(local_stack).get(f"{base}/schools")[0] == 401
    teacher = api_client(local_stack, local_stack.token("teacher", district["id"]))
    assert teacher.get(f"{base}/sync-config")[0] == 403
    stranger = api_client(local_stack, local_stack.token("district_admin", "dst_other"))
    assert stranger.put(f"{base}/sis/connection", json=_connection(sis))[0] == 403
    assert stranger.get("/districts/dst_nonexistent/schools")[0] == 403
    assert admin.post("/districts", json={"name": "Mine", "timezone": "UTC"})[0] == 403

    url = f"{local_stack.api_url}{base}/sync-config"
    headers = {"Authorization": admin.session.headers["Authorization"], "Content-Type": "application/json"}
    malformed = requests.put(url, data="{not json", headers=headers, timeout=30)
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed_json")
    oversized = requests.put(url, data='{"startDate": "' + "9" * 70_000 + '"}', headers=headers, timeout=30)
    assert (oversized.status_code, oversized.json()["error"]["code"]) == (400, "request_too_large")
    status, body = admin.put(f"{base}/sync-config", json={"startDate": "2001-01-01"})
    assert (status, body["error"]["code"]) == (409, "not_connected")
    assert admin.put(f"{base}/sis/connection", json=_connection(sis))[0] == 200
    status, body = admin.put(f"{base}/sync-config", json={"startDate": "2001-01-01"})
    assert (status, body["error"]["code"]) == (422, "start_date_in_past")
    status, body = admin.get("/no/such/route")
    assert (status, body["error"]["code"]) == (404, "not_found")

    served = requests.get(f"{local_stack.api_url}/openapi.json", timeout=30)
    assert served.status_code == 200 and "/districts/{districtId}/sis/connection" in served.json()["paths"]
