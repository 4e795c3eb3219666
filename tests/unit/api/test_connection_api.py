"""PUT/GET/DELETE /districts/{id}/sis/connection: tested live, secret in Secrets Manager only."""

import datetime as _dt
import json

import pytest
from botocore.exceptions import ClientError

from rostersync.oneroster import (
    BadResponse,
    InsufficientScope,
    InvalidCredentials,
    NotOneRoster,
    RequestRejected,
    ServerError,
    UnreachableHost,
)
from tests.unit.api.handler_client import SECRET

# A start date the API accepts: after today, within the 2 years it allows.
SOON = (_dt.date.today() + _dt.timedelta(days=300)).isoformat()


def _raw_district_item(aws, district_id):
    table = aws.resources.tables["DistrictsTable"]
    return aws.client("dynamodb").get_item(TableName=table, Key={"districtId": {"S": district_id}})["Item"]


def _stored_secret(aws, district_id):
    name = f"rostersync/local/district/{district_id}"
    return aws.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]


def test_a_working_connection_is_saved_with_its_secret_in_secrets_manager_only(api, fake_sis, aws):
    district_id = api.new_district()
    answer = api.connect(district_id)
    assert answer.status == 200
    assert answer.body["hostUrl"] == "https://sis.example.org"
    assert answer.body["clientId"] == "client-1"
    assert answer.body["authMethod"] == "oauth2"  # resolved from "auto"
    assert answer.body["requestedAuthMethod"] == "auto"
    assert answer.body["status"] == "connected"
    assert answer.body["warnings"] == []
    assert SECRET not in json.dumps(answer.raw)
    # The live test got the secret as given; the store got it; the district item did not.
    assert fake_sis.tested[0][1] == SECRET
    assert _stored_secret(aws, district_id) == SECRET
    item = _raw_district_item(aws, district_id)
    assert SECRET not in json.dumps(item)
    assert item["connection"]["M"]["secretName"]["S"] == f"rostersync/local/district/{district_id}"


def test_a_pasted_oneroster_path_is_stripped_with_a_warning(api, fake_sis):
    district_id = api.new_district()
    answer = api.connect(district_id, hostUrl="https://sis.example.org/vendor/ims/oneroster/v1p1/")
    assert answer.status == 200
    assert answer.body["hostUrl"] == "https://sis.example.org/vendor"
    assert len(answer.body["warnings"]) == 1 and "/ims/oneroster" in answer.body["warnings"][0]
    saved = api.call("GET", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id)
    assert saved.body["hostUrl"] == "https://sis.example.org/vendor"
    assert saved.body["warnings"] == answer.body["warnings"]


def test_the_requested_auth_method_and_oauth2_options_reach_the_test(api, fake_sis):
    district_id = api.new_district()
    answer = api.connect(district_id, authMethod="oauth1", tokenUrl=None, scope=None)
    assert answer.status == 200 and answer.body["authMethod"] == "oauth1"
    answer = api.connect(district_id, authMethod="oauth2", tokenUrl="https://sis.example.org/oauth/token", scope="a b")
    settings = fake_sis.tested[-1][0]
    assert (settings.auth_method, settings.token_url, settings.scope) == (
        "oauth2",
        "https://sis.example.org/oauth/token",
        "a b",
    )
    assert (answer.body["tokenUrl"], answer.body["scope"]) == ("https://sis.example.org/oauth/token", "a b")


@pytest.mark.parametrize(
    "error, code, hint",
    [
        (
            InvalidCredentials("The SIS refused the client id and secret", status=401),
            "invalid_credentials",
            "client id and secret",
        ),
        (InsufficientScope("Access to /users was refused", status=403), "invalid_credentials", "scope"),
        (UnreachableHost("Could not connect to sis.example.org"), "unreachable_host", "host URL"),
        (ServerError("The SIS answered 503", status=503), "unreachable_host", "Try again later"),
        (NotOneRoster("No OneRoster endpoint at /orgs", status=404), "not_oneroster", "host URL"),
        (BadResponse("The body was not JSON"), "not_oneroster", "OneRoster 1.1 JSON"),
        (RequestRejected("405 on /orgs", status=405), "not_oneroster", "host URL"),
    ],
)
def test_each_failed_test_is_422_with_a_code_and_what_to_fix(api, fake_sis, error, code, hint):
    district_id = api.new_district()
    fake_sis.error = error
    answer = api.connect(district_id)
    assert (answer.status, answer.code) == (422, code)
    assert hint in answer.message
    assert SECRET not in answer.message


def test_an_invalid_host_url_is_422_invalid_host_url(api, fake_sis):
    district_id = api.new_district()
    answer = api.connect(district_id, hostUrl="ftp://sis.example.org")
    assert (answer.status, answer.code) == (422, "invalid_host_url")
    assert "https://" in answer.message


def test_a_secret_echoed_in_a_client_error_never_reaches_the_answer(api, fake_sis):
    district_id = api.new_district()
    fake_sis.error = InvalidCredentials(f"server said: bad secret {SECRET}", status=401)
    answer = api.connect(district_id)
    assert answer.code == "invalid_credentials"
    assert SECRET not in json.dumps(answer.raw)


def test_replacing_works_and_a_failed_replacement_leaves_the_previous_connection(api, fake_sis, aws):
    district_id = api.new_district()
    assert api.connect(district_id).status == 200
    assert api.connect(district_id, hostUrl="https://new.example.org", clientSecret="second-secret-42").status == 200
    assert _stored_secret(aws, district_id) == "second-secret-42"

    fake_sis.error = InvalidCredentials("refused", status=401)
    failed = api.connect(district_id, hostUrl="https://third.example.org", clientSecret="third-secret-99")
    assert failed.status == 422
    assert _stored_secret(aws, district_id) == "second-secret-42"
    saved = api.call("GET", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id)
    assert saved.body["hostUrl"] == "https://new.example.org"


def test_get_shows_the_saved_connection_and_404_not_connected_without_one(api, fake_sis):
    district_id = api.new_district()
    none = api.call("GET", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id)
    assert (none.status, none.code) == (404, "not_connected")
    api.connect(district_id)
    saved = api.call("GET", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id)
    assert saved.status == 200
    assert {k: saved.body[k] for k in ("hostUrl", "clientId", "authMethod", "status")} == {
        "hostUrl": "https://sis.example.org",
        "clientId": "client-1",
        "authMethod": "oauth2",
        "status": "connected",
    }
    assert "clientSecret" not in saved.body and SECRET not in json.dumps(saved.raw)


def test_delete_removes_connection_and_secret_and_stops_nightly_syncs(api, fake_sis, aws):
    district_id = api.new_district()
    api.connect(district_id)
    config = api.call(
        "PUT",
        f"/districts/{district_id}/sync-config",
        role="district_admin",
        district=district_id,
        body={"startDate": SOON, "enabled": True},
    )
    assert config.status == 200 and config.body["enabled"] is True

    deleted = api.call(
        "DELETE", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id
    )
    assert deleted.status == 204 and deleted.body is None
    assert (
        api.call("GET", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id).code
        == "not_connected"
    )
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        _stored_secret(aws, district_id)
    after = api.call("GET", f"/districts/{district_id}/sync-config", role="district_admin", district=district_id)
    assert after.body["enabled"] is False and after.body["nextSyncAt"] is None
    # Deleting again is harmless (a retried DELETE).
    assert (
        api.call(
            "DELETE", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id
        ).status
        == 204
    )


@pytest.mark.parametrize(
    "change, field",
    [
        ({"clientSecret": None}, "clientSecret"),
        ({"clientSecret": 12345}, "clientSecret"),
        ({"clientSecret": ""}, "clientSecret"),
        ({"authMethod": "basic"}, "authMethod"),
        ({"hostUrl": ["https://a"]}, "hostUrl"),
        ({"password": SECRET}, "password"),
    ],
)
def test_bad_connection_bodies_are_422_and_never_echo_the_secret(api, fake_sis, change, field):
    district_id = api.new_district()
    body = {"hostUrl": "https://sis.example.org", "clientId": "client-1", "clientSecret": SECRET, **change}
    body = {k: v for k, v in body.items() if v is not None}
    answer = api.call(
        "PUT", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id, body=body
    )
    assert (answer.status, answer.code) == (422, "invalid_request")
    assert field in answer.message
    assert SECRET not in json.dumps(answer.raw)
    assert fake_sis.tested == []


def test_admins_of_other_districts_and_teachers_cannot_touch_the_connection(api, fake_sis):
    district_id = api.new_district()
    body = {"hostUrl": "https://sis.example.org", "clientId": "c", "clientSecret": SECRET}
    path = f"/districts/{district_id}/sis/connection"
    for role, district in (("district_admin", "dst_other"), ("teacher", district_id)):
        for method in ("PUT", "GET", "DELETE"):
            answer = api.call(method, path, role=role, district=district, body=body if method == "PUT" else None)
            assert (answer.status, answer.code) == (403, "forbidden")
    assert fake_sis.tested == []
    assert api.call("PUT", path, role="platform_admin", body=body).status == 200
