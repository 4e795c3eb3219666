"""Who may read: OAuth 1.0a two-legged signatures and OAuth 2 client-credentials bearer tokens.

Both are accepted unless a quirk restricts them. Error messages never contain the secret.
"""

import base64
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from urllib.parse import quote, unquote, unquote_plus

from .faults import Quirks
from .responses import Response, imsx_error, json_response

OAUTH1_TIMESTAMP_WINDOW_S = 300  # older (or further in the future) signatures are refused
SIGNATURE_HASHES = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}
SCOPE_ROOT = "https://purl.imsglobal.org/spec/or/v1p1/scope/"
ROSTER_SCOPE = SCOPE_ROOT + "roster.readonly"
DEFAULT_SCOPE = " ".join(
    SCOPE_ROOT + name for name in ("roster-core.readonly", "roster.readonly", "roster-demographics.readonly")
)
_HEADER_PARAM = re.compile(r'([\w-]+)\s*=\s*"([^"]*)"')


def rfc3986(text: str) -> str:
    """Percent-encoding as OAuth 1 signs it: everything but unreserved characters (space is %20)."""
    return quote(text, safe="~")


def oauth1_signature(
    method: str, base_uri: str, params: list[tuple[str, str]], secret: str, signature_method: str
) -> str:
    """RFC 5849 3.4: HMAC over METHOD & URI & the sorted, encoded parameters; key `enc(secret)&`."""
    pairs = sorted((rfc3986(k), rfc3986(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    base_string = "&".join((method.upper(), rfc3986(base_uri), rfc3986(normalized)))
    key = rfc3986(secret) + "&"
    digest = hmac.new(key.encode(), base_string.encode(), SIGNATURE_HASHES[signature_method]).digest()
    return base64.b64encode(digest).decode()


def unauthorized(description: str, challenge: str = 'OAuth realm="sandbox-sis"') -> Response:
    return imsx_error(401, "unauthorisedrequest", description, {"WWW-Authenticate": challenge})


def oauth_error(status: int, error: str, description: str) -> Response:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="sandbox-sis"'
    return json_response(status, {"error": error, "error_description": description}, headers)


class AuthGate:
    def __init__(self, client_id: str, client_secret: str, token_ttl_s: float, quirks: Quirks):
        self.client_id = client_id
        self._secret = client_secret
        self.token_ttl_s = token_ttl_s
        self.quirks = quirks
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, str]] = {}  # token -> (monotonic expiry, scope)
        self._nonces: dict[str, float] = {}  # OAuth 1 nonce -> its timestamp (replays refused)

    # -- OAuth 2: the token endpoint
    def issue_token(self, authorization: str | None, form: dict[str, str]) -> Response:
        if self.quirks.only_oauth1:
            return json_response(404, {"error": "not_found"})
        client_id, client_secret = self._client_credentials(authorization, form)
        if client_id is None:
            return oauth_error(401, "invalid_client", "client authentication missing (HTTP Basic or form)")
        if (
            self.quirks.revoke_credentials
            or client_id != self.client_id
            or not hmac.compare_digest(client_secret.encode(), self._secret.encode())
        ):
            return oauth_error(401, "invalid_client", "unknown client or wrong secret")
        grant_type = form.get("grant_type")
        if not grant_type:
            return oauth_error(400, "invalid_request", "grant_type is missing")
        if grant_type != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        scope = " ".join(form.get("scope", "").split())
        if scope and self.quirks.reject_scope:
            return oauth_error(400, "invalid_scope", "this server does not accept a scope")
        if not scope and self.quirks.require_scope:
            return oauth_error(400, "invalid_scope", "a scope is required")
        granted = scope or DEFAULT_SCOPE
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._tokens = {t: v for t, v in self._tokens.items() if v[0] > now}
            self._tokens[token] = (now + self.token_ttl_s, granted)
        return json_response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": math.ceil(self.token_ttl_s),
                "scope": granted,
            },
            {"Cache-Control": "no-store"},
        )

    @staticmethod
    def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str | None, str]:
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except ValueError:
                return None, ""
            client_id, _, client_secret = decoded.partition(":")
            # RFC 6749 2.3.1: both are form-encoded before they are joined.
            return unquote_plus(client_id), unquote_plus(client_secret)
        if "client_id" in form:
            return form["client_id"], form.get("client_secret", "")
        return None, ""

    def revoke_all_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- every OneRoster request
    def check(
        self,
        method: str,
        base_uri: str,
        query: list[tuple[str, str]],
        authorization: str | None,
        needs_scope: str | None = None,
    ) -> Response | None:
        """None when the request may proceed, else the 401 (or 403) to send.

        `needs_scope`: a scope a bearer token must have been granted (OAuth 1 carries no scope).
        """
        if self.quirks.revoke_credentials:
            return unauthorized("the credentials have been revoked")
        authorization = authorization or ""
        scheme = authorization.split(" ", 1)[0].lower()
        if scheme == "bearer":
            token = authorization.split(" ", 1)[1].strip() if " " in authorization else ""
            return self._check_bearer(token, needs_scope)
        if scheme == "oauth":
            params = {k: unquote(v) for k, v in _HEADER_PARAM.findall(authorization)}
            params.pop("realm", None)
            return self._check_oauth1(method, base_uri, list(query), params)
        query_oauth = {k: v for k, v in query if k.startswith("oauth_")}
        if "oauth_signature" in query_oauth:  # OAuth 1 signature sent in the query string
            rest = [(k, v) for k, v in query if not k.startswith("oauth_")]
            return self._check_oauth1(method, base_uri, rest, query_oauth)
        return unauthorized("no credentials: send an OAuth 1.0a signature or a bearer token")

    def _check_bearer(self, token: str, needs_scope: str | None) -> Response | None:
        challenge = 'Bearer realm="sandbox-sis", error="invalid_token"'
        if self.quirks.only_oauth1:
            return unauthorized("this server accepts only OAuth 1.0a signatures", challenge)
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            return unauthorized("unknown bearer token", challenge)
        if entry[0] <= time.monotonic():
            return unauthorized("the bearer token has expired", challenge)
        if needs_scope and needs_scope not in entry[1].split():
            return imsx_error(
                403,
                "forbidden",
                f"insufficient_scope: this route needs {needs_scope}",
                {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needs_scope}"'},
            )
        return None

    def _check_oauth1(
        self, method: str, base_uri: str, query: list[tuple[str, str]], oauth: dict[str, str]
    ) -> Response | None:
        if self.quirks.only_oauth2:
            return unauthorized("this server accepts only OAuth 2 bearer tokens", 'Bearer realm="sandbox-sis"')
        missing = [
            name
            for name in (
                "oauth_consumer_key",
                "oauth_signature_method",
                "oauth_signature",
                "oauth_timestamp",
                "oauth_nonce",
            )
            if not oauth.get(name)
        ]
        if missing:
            return unauthorized(f"OAuth 1 parameters missing: {', '.join(missing)}")
        if oauth["oauth_consumer_key"] != self.client_id:
            return unauthorized("unknown consumer key")
        signature_method = oauth["oauth_signature_method"].upper()
        allowed = ("HMAC-SHA1",) if self.quirks.oauth1_sha1_only else tuple(SIGNATURE_HASHES)
        if signature_method not in allowed:
            return unauthorized(f"signature method {signature_method} not accepted (use {' or '.join(allowed)})")
        if oauth.get("oauth_version", "1.0") != "1.0":
            return unauthorized("oauth_version must be 1.0")
        try:
            timestamp = int(oauth["oauth_timestamp"])
        except ValueError:
            return unauthorized("oauth_timestamp is not a number")
        now = time.time()
        if abs(now - timestamp) > OAUTH1_TIMESTAMP_WINDOW_S:
            return unauthorized("oauth_timestamp too old or in the future")
        params = query + [(k, v) for k, v in oauth.items() if k != "oauth_signature"]
        expected = oauth1_signature(method, base_uri, params, self._secret, signature_method)
        if not hmac.compare_digest(expected.encode(), oauth["oauth_signature"].encode()):
            return unauthorized(
                "invalid signature (check the signature base string: method, URL "
                "without query, every query and oauth parameter, RFC 3986 encoded)"
            )
        with self._lock:
            nonce = f"{timestamp}:{oauth['oauth_nonce']}"
            if nonce in self._nonces:
                return unauthorized("oauth_nonce already used")
            if len(self._nonces) > 50_000:
                self._nonces = {n: t for n, t in self._nonces.items() if now - t <= OAUTH1_TIMESTAMP_WINDOW_S}
            self._nonces[nonce] = timestamp
        return None
