"""`rostersync local token --client app --write`: the app's backend with roster/write as well,
passed on by the local adapter as API Gateway passes a Cognito access token's scopes."""

import requests

from rostersync_tools.local.tokens import issue_client_token
from tests.integration.test_local_client_tokens import adapter, keys, recorder  # noqa: F401  (fixtures)
from tests.integration.test_local_http_adapter import bearer

# Seconds a request to a loopback server may take: a hung one fails its test, not the whole run.
TIMEOUT = 30


def test_a_write_token_carries_both_scopes(adapter, recorder, keys):  # noqa: F811
    for district, expected in (
        (None, ["roster/read", "roster/write"]),
        ("dst_1", ["roster/read:dst_1", "roster/write:dst_1"]),
    ):
        token = issue_client_token(keys, "app", district_id=district, write=True)
        response = requests.post(
            f"{adapter.url}/districts/dst_1/app-users", headers=bearer(token), json={"role": "student"}, timeout=TIMEOUT
        )
        assert response.status_code == 200
        assert recorder.events[-1]["requestContext"]["authorizer"]["jwt"]["scopes"] == expected
    plain = issue_client_token(keys, "app")  # without --write: reading only, as before
    requests.get(f"{adapter.url}/districts/dst_1/users", headers=bearer(plain), timeout=TIMEOUT)
    assert recorder.events[-1]["requestContext"]["authorizer"]["jwt"]["scopes"] == ["roster/read"]
