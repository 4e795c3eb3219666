"""OAuth 1.0a signing (checked by an independent verifier in the fake), OAuth 2 client
credentials (discovery, scopes, reuse, refresh) and auto mode."""

import base64
import re
from urllib.parse import unquote

import pytest

from rostersync.oneroster.errors import InsufficientScope, InvalidCredentials, NotOneRoster
from rostersync.oneroster.oauth_client import CORE_SCOPE, DEFAULT_SCOPE

from .fake_sis import BASE, Reply, make_users

FILTER = "givenName='O''Brien & Sons' AND dateLastModified>'2026-11-01T00:00:00.000Z'"


def oauth_params(header: str) -> dict:
    return {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header[6:])}


# --------------------------------------------------------------------------- OAuth 1.0a


def test_oauth1_signs_every_query_parameter(make_fake, make_client):
    fake = make_fake(auth="oauth1", data={"users": make_users(3)}, ignore_filter=True)
    client = make_client(fake, auth_method="oauth1")
    records = list(client.stream("users", filter=FILTER, sort="familyName", order_by="asc", fields="sourcedId"))
    assert len(records) == 3  # the fake's own RFC 5849 verifier accepted the signature
    seen = fake.data_requests("users")[0]
    assert dict(seen.query) == {
        "limit": "1000",
        "offset": "0",
        "filter": FILTER,
        "sort": "familyName",
        "orderBy": "asc",
        "fields": "sourcedId",
    }
    assert "%20" in seen.raw_query and "+" not in seen.raw_query  # RFC 3986, never form encoding
    assert oauth_params(seen.headers["authorization"])["oauth_signature_method"] == "HMAC-SHA256"
    assert client.auth_method == "oauth1" and client.signature_method == "HMAC-SHA256"


def test_a_tampered_query_fails_verification(make_fake, make_client):
    """The fake's verifier is real: a signature over different params is refused."""
    fake = make_fake(auth="oauth1", data={"users": make_users(1)})
    client = make_client(fake, auth_method="oauth1")
    signer = client._auth
    url = client.base_url + "/users?limit=5&offset=0"
    header = signer.headers("GET", client.base_url + "/users?limit=5&offset=10")["Authorization"]
    import requests

    response = requests.get(url, headers={"Authorization": header}, timeout=2)
    assert response.status_code == 401


def test_nonce_and_timestamp_are_fresh_on_every_retry(make_fake, make_client):
    fake = make_fake(auth="oauth1", data={"users": make_users(2)})
    fake.fail(BASE + "/users", Reply(503, {"error": "busy"}), Reply(500, {}))
    client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 2
    nonces = [oauth_params(s.headers["authorization"])["oauth_nonce"] for s in fake.data_requests("users")]
    assert len(nonces) == 3 and len(set(nonces)) == 3


def test_sha1_only_servers_get_sha1_after_one_refusal(make_fake, make_client):
    fake = make_fake(auth="oauth1", sha1_only=True, data={"users": make_users(2500)}, page_cap=1000)
    client = make_client(fake, auth_method="oauth1", max_in_flight=3)
    assert len(list(client.stream("users"))) == 2500
    assert fake.signature_methods[0] == "HMAC-SHA256"
    assert set(fake.signature_methods[1:]) == {"HMAC-SHA1"}
    assert client.signature_method == "HMAC-SHA1"
    assert any("HMAC-SHA1" in w for w in client.warnings)


def test_wrong_oauth1_secret_is_invalid_credentials_after_both_methods(make_fake, make_client):
    fake = make_fake(auth="oauth1", data={"users": []})
    client = make_client(fake, auth_method="oauth1", secret="not-the-secret")
    with pytest.raises(InvalidCredentials) as refused:
        list(client.stream("users"))
    assert refused.value.status == 401 and refused.value.endpoint == BASE + "/users"
    assert fake.signature_methods == ["HMAC-SHA256", "HMAC-SHA1"]


def test_no_fallback_after_sha256_has_worked(make_fake, make_client):
    fake = make_fake(auth="oauth1", data={"users": make_users(1)})
    client = make_client(fake, auth_method="oauth1")
    list(client.stream("users"))
    fake.revoked = True
    with pytest.raises(InvalidCredentials):
        list(client.stream("users"))
    assert fake.signature_methods[-1] == "HMAC-SHA256" and len(fake.signature_methods) == 1


# --------------------------------------------------------------------------- OAuth 2


def token_posts(fake):
    return [s for s in fake.seen if s.method == "POST"]


def test_oauth2_basic_auth_default_scopes_and_bearer(make_fake, make_client):
    fake = make_fake(auth="oauth2", data={"users": make_users(5)})
    client = make_client(fake, auth_method="oauth2")
    assert len(list(client.stream("users"))) == 5
    post = token_posts(fake)[0]
    assert post.headers["authorization"] == "Basic " + base64.b64encode(b"fake-client:fake-secret").decode()
    assert fake.scopes_asked == [DEFAULT_SCOPE]
    assert "grant_type=client_credentials" in post.body.decode()
    assert fake.data_requests("users")[0].headers["authorization"].startswith("Bearer token-")
    assert client.auth_method == "oauth2" and client.token_url == fake.host_url + "/token"


@pytest.mark.parametrize(
    "token_path, probes",
    [
        ("/token", 1),
        (BASE + "/token", 2),
        ("/oauth/token", 3),
        ("/oauth/access_token", 4),
    ],
)
def test_token_paths_are_probed_in_order(make_fake, make_client, token_path, probes):
    fake = make_fake(auth="oauth2", token_path=token_path, data={"users": make_users(1)})
    # The paths that are not the token endpoint answer 404 HTML or 405, like real servers.
    if token_path != "/oauth/token":
        fake.routes["/oauth/token"] = lambda s: Reply(405, "<html>Method Not Allowed</html>")
    client = make_client(fake, auth_method="oauth2")
    assert len(list(client.stream("users"))) == 1
    paths = [s.path for s in token_posts(fake)]
    expected = ["/token", BASE + "/token", "/oauth/token", "/oauth/access_token"][:probes]
    assert paths == expected
    assert client.token_url.endswith(token_path)


def test_explicit_token_url_is_used_as_given(make_fake, make_client):
    fake = make_fake(auth="oauth2", token_path="/campus/oauth2/token", data={"users": make_users(1)})
    fake.routes["/campus/oauth2/token"] = lambda s: fake._token(s) if "appName=x" in s.raw_query else Reply(404)
    client = make_client(fake, auth_method="auto", token_url=fake.host_url + "/campus/oauth2/token?appName=x")
    assert len(list(client.stream("users"))) == 1
    assert [s.path for s in token_posts(fake)] == ["/campus/oauth2/token"]
    assert client.auth_method == "oauth2"


def test_no_token_endpoint_in_oauth2_mode_says_so(make_fake, make_client):
    fake = make_fake(auth="oauth1", data={"users": []})
    client = make_client(fake, auth_method="oauth2")
    with pytest.raises(NotOneRoster) as missing:
        list(client.stream("users"))
    assert "token URL" in str(missing.value)


def test_a_server_that_refuses_scopes_gets_none(make_fake, make_client):
    fake = make_fake(auth="oauth2", scope_mode="reject", data={"users": make_users(1)})
    client = make_client(fake, auth_method="oauth2")
    assert len(list(client.stream("users"))) == 1
    assert fake.scopes_asked == [DEFAULT_SCOPE, CORE_SCOPE, None]
    assert any("without a scope" in w for w in client.warnings)
    # the scope decision sticks for later tokens
    client._auth.endpoint.invalidate(None)
    list(client.stream("users"))
    assert fake.scopes_asked[-1] is None and len(fake.scopes_asked) == 4


def test_a_server_that_requires_a_scope_gets_the_read_scopes(make_fake, make_client):
    fake = make_fake(auth="oauth2", scope_mode="require", data={"users": make_users(1)})
    client = make_client(fake, auth_method="oauth2")
    list(client.stream("users"))
    assert fake.scopes_asked == [DEFAULT_SCOPE]


def test_a_given_scope_is_sent_and_its_refusal_reported(make_fake, make_client):
    fake = make_fake(auth="oauth2", scope_mode="reject", data={"users": []})
    client = make_client(fake, auth_method="oauth2", scope="custom.read")
    with pytest.raises(InsufficientScope):
        list(client.stream("users"))
    assert fake.scopes_asked == ["custom.read"]


def test_token_is_reused_then_refreshed_60s_before_expiry(make_fake, make_client):
    fake = make_fake(auth="oauth2", token_ttl=3600, data={"users": make_users(3000)}, page_cap=1000)
    client = make_client(fake, auth_method="oauth2", max_in_flight=2)
    now = [1000.0]
    client._auth.endpoint._clock = lambda: now[0]
    list(client.stream("users"))
    list(client.stream("users"))
    assert fake.tokens_issued == 1 and len(fake.data_requests("users")) == 6
    now[0] += 3600 - 61
    list(client.stream("users"))
    assert fake.tokens_issued == 1
    now[0] += 2  # now inside the last minute
    list(client.stream("users"))
    assert fake.tokens_issued == 2


def test_a_401_refreshes_the_token_once(make_fake, make_client):
    fake = make_fake(auth="oauth2", data={"users": make_users(2)})
    client = make_client(fake, auth_method="oauth2")
    list(client.stream("users"))
    fake.tokens.clear()  # the server forgets every token
    assert len(list(client.stream("users"))) == 2
    assert fake.tokens_issued == 2


def test_a_401_after_a_fresh_token_is_invalid_credentials(make_fake, make_client):
    fake = make_fake(auth="oauth2", data={"users": make_users(2)})
    client = make_client(fake, auth_method="oauth2")
    fake.routes[BASE + "/users"] = lambda s: Reply(401, {"error": "invalid_token"})
    with pytest.raises(InvalidCredentials):
        list(client.stream("users"))
    assert fake.tokens_issued == 2


def test_wrong_secret_at_the_token_endpoint(make_fake, make_client):
    fake = make_fake(auth="oauth2", data={"users": []})
    client = make_client(fake, auth_method="oauth2", secret="wrong-secret")
    with pytest.raises(InvalidCredentials) as refused:
        list(client.stream("users"))
    assert refused.value.endpoint == "/token"


# --------------------------------------------------------------------------- auto


def test_auto_picks_oauth2_when_a_token_endpoint_answers(make_fake, make_client):
    fake = make_fake(auth="both", data={"users": make_users(1)})
    client = make_client(fake)
    assert client.auth_method == "oauth2"
    list(client.stream("users"))
    assert fake.data_requests("users")[0].headers["authorization"].startswith("Bearer ")


def test_auto_falls_back_to_oauth1_without_a_token_endpoint(make_fake, make_client):
    fake = make_fake(auth="oauth1", data={"users": make_users(1)})
    client = make_client(fake)
    assert len(list(client.stream("users"))) == 1
    assert client.auth_method == "oauth1"
    assert len(token_posts(fake)) == 4  # every usual token path was asked once


@pytest.mark.parametrize("auth", ["oauth1", "oauth2", "both"])
def test_auto_with_a_wrong_secret_is_invalid_credentials(make_fake, make_client, auth):
    fake = make_fake(auth=auth, data={"users": []})
    client = make_client(fake, secret="wrong-secret")
    with pytest.raises(InvalidCredentials) as refused:
        list(client.stream("users"))
    assert refused.value.code == "invalid_credentials"


def test_auto_falls_back_to_oauth1_when_bearer_tokens_are_refused(make_fake, make_client):
    fake = make_fake(auth="both", data={"users": make_users(1)})
    real_check = fake._check_auth
    fake._check_auth = lambda seen: (
        Reply(401, {"error": "invalid_token"})
        if seen.headers.get("authorization", "").startswith("Bearer")
        else real_check(seen)
    )
    client = make_client(fake)
    assert len(list(client.stream("users"))) == 1
    assert client.auth_method == "oauth1"


def test_reserved_characters_in_the_secret_fall_back_to_raw_basic(make_fake, make_client):
    """RFC 6749 form-encodes id and secret inside Basic; this server compares them raw."""
    fake = make_fake(auth="oauth2", client_secret="p@ss+w/rd=&x", data={"users": make_users(1)})
    client = make_client(fake, auth_method="oauth2")
    assert len(list(client.stream("users"))) == 1
    first, second = token_posts(fake)[:2]
    assert base64.b64decode(first.headers["authorization"][6:]) == b"fake-client:p%40ss%2Bw%2Frd%3D%26x"
    assert base64.b64decode(second.headers["authorization"][6:]) == b"fake-client:p@ss+w/rd=&x"
    client._auth.endpoint.invalidate(None)
    list(client.stream("users"))
    assert len(token_posts(fake)) == 3  # the form that worked is kept
