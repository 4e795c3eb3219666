"""How requests to the SIS are authorised: OAuth 1.0a, OAuth 2 client credentials, or auto.

Each authenticator answers `headers(method, url)` for one exact request, and
`recover_from_401(recoveries)` when the server refused it: True means "try again now,
something changed" (a fresh token, HMAC-SHA1 instead of HMAC-SHA256, OAuth 1 instead of
OAuth 2 in auto mode). Fallbacks only happen before the first success: once a method has
worked, a 401 means the credentials were revoked, not that we guessed wrong.

The secret lives in the oauthlib clients and the Basic header only; no repr shows it.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256
from oauthlib.oauth1 import Client as OAuth1Client

from .errors import InsufficientScope, InvalidCredentials, NotOneRoster, ServerError
from .http import endpoint_of
from .requester import Requester, Secrets
from .responses import describe_body, looks_like_html
from .retries import is_retryable_status

log = logging.getLogger("rostersync.oneroster")

CORE_SCOPE = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly"
ROSTER_SCOPE = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster.readonly"
DEFAULT_SCOPE = f"{CORE_SCOPE} {ROSTER_SCOPE}"
# Asked in this order when the admin gave no scope: both read scopes, the core one alone,
# then none at all (servers that refuse every scope with invalid_scope).
DEFAULT_SCOPE_LADDER: tuple[str | None, ...] = (DEFAULT_SCOPE, CORE_SCOPE, None)
# OneRoster 1.2's rostering scopes, asked the same way of a 1.2 server.
CORE_SCOPE_V1P2 = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
ROSTER_SCOPE_V1P2 = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"
SCOPE_LADDERS: dict[str, tuple[str | None, ...]] = {
    "1.1": DEFAULT_SCOPE_LADDER,
    "1.2": (f"{CORE_SCOPE_V1P2} {ROSTER_SCOPE_V1P2}", CORE_SCOPE_V1P2, None),
}

TOKEN_REFRESH_MARGIN = 60.0  # seconds before expires_in when a token is replaced


def token_url_candidates(host_url: str, base_url: str) -> list[str]:
    """Where OAuth 2 token endpoints usually are, in the order they are probed."""
    return [f"{host_url}/token", f"{base_url}/token", f"{host_url}/oauth/token", f"{host_url}/oauth/access_token"]


# --------------------------------------------------------------------------- OAuth 1.0a


class OAuth1Auth:
    """Two-legged OAuth 1.0a, HMAC-SHA256 by default, HMAC-SHA1 for servers that want it.

    oauthlib signs the full URL: every query parameter (limit, offset, filter, sort) is
    in the base string, and each call makes a fresh nonce and timestamp, so retries are
    never replays.
    """

    method = "oauth1"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        signature_method: str = SIGNATURE_HMAC_SHA256,
        sha1_fallback: bool = True,
    ):
        self._signers = {
            name: OAuth1Client(client_id, client_secret=client_secret, signature_method=name)
            for name in (SIGNATURE_HMAC_SHA256, SIGNATURE_HMAC_SHA1)
        }
        self.signature_method = signature_method
        self._fallback_left = sha1_fallback and signature_method == SIGNATURE_HMAC_SHA256
        self._confirmed = False
        self._lock = threading.Lock()
        self.warnings: list[str] = []

    def headers(self, http_method: str, url: str) -> dict:
        _uri, headers, _body = self._signers[self.signature_method].sign(url, http_method=http_method)
        return {"Authorization": headers["Authorization"]}

    def recover_from_401(self, recoveries: int) -> bool:
        with self._lock:
            if self._confirmed or not self._fallback_left:
                return False
            self._fallback_left = False
            self.signature_method = SIGNATURE_HMAC_SHA1
        log.info("OneRoster: HMAC-SHA256 signature refused; trying HMAC-SHA1")
        return True

    def on_success(self) -> None:
        if not self._confirmed:
            self._confirmed = True
            if self.signature_method == SIGNATURE_HMAC_SHA1 and not self.warnings:
                self.warnings.append(
                    "The SIS accepts only HMAC-SHA1 OAuth 1.0a signatures (not HMAC-SHA256); HMAC-SHA1 is used."
                )

    def describe(self) -> str:
        return f"OAuth 1.0a, {self.signature_method}"

    def __repr__(self) -> str:
        return f"OAuth1Auth(signature_method={self.signature_method!r})"


# --------------------------------------------------------------------------- OAuth 2


@dataclass(frozen=True)
class TokenAnswer:
    """What one token endpoint said: issued, refused (these credentials), invalid_scope, not_here."""

    kind: str
    url: str
    token: str | None = None
    expires_in: float | None = None
    message: str = ""


class TokenEndpoint:
    """Finds the OAuth 2 token endpoint, gets client-credentials tokens and keeps one fresh."""

    def __init__(
        self,
        requester: Requester,
        client_id: str,
        client_secret: str,
        secrets: Secrets,
        *,
        candidates: list[str],
        explicit_url: str | None = None,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        probe_retries: int = 1,
        scope_ladder: tuple[str | None, ...] = DEFAULT_SCOPE_LADDER,
    ):
        self._requester = requester
        # RFC 6749 2.3.1 form-encodes id and secret before Basic; many servers skip that
        # decoding. They differ only for ids/secrets with reserved characters: try the RFC
        # form first, the raw one when it is refused, and keep whichever worked.
        self._basic_headers: list[str] = []
        for user, password in ((quote_plus(client_id), quote_plus(client_secret)), (client_id, client_secret)):
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            secrets.add(encoded)
            if f"Basic {encoded}" not in self._basic_headers:
                self._basic_headers.append(f"Basic {encoded}")
        self._secrets = secrets
        self._candidates = [explicit_url] if explicit_url else list(candidates)
        self.explicit = explicit_url is not None
        self._scope_ladder: tuple[str | None, ...] = (scope,) if scope else scope_ladder
        self.scope_given = scope is not None
        self._clock = clock
        self._probe_retries = probe_retries
        self._lock = threading.RLock()
        self.token_url: str | None = explicit_url
        self.scope_used: str | None = None
        self._scope_resolved = False
        self._token: str | None = None
        self._refresh_at = 0.0
        self.tokens_issued = 0
        self.warnings: list[str] = []
        self.last_answer: TokenAnswer | None = None

    def __repr__(self) -> str:
        return f"TokenEndpoint(token_url={self.token_url!r})"

    # -- discovery

    def discover(self) -> TokenAnswer:
        """Ask each candidate in turn; stop at the first that issues or refuses.

        404, 405, HTML, redirects away and non-OAuth answers mean "not here".
        """
        with self._lock:
            if self._token is not None and self.token_url:
                return TokenAnswer("issued", self.token_url, self._token)
            answer = TokenAnswer("not_here", "", message="no token endpoint was probed")
            for url in self._candidates:
                answer = self._ask_with_scopes(url)
                if answer.kind != "not_here":
                    break
            self.last_answer = answer
            if answer.kind == "issued":
                self.token_url = answer.url
                self._keep(answer)
            return answer

    def probed_paths(self) -> str:
        return ", ".join(endpoint_of(u) for u in self._candidates)

    # -- tokens

    def token(self) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token
            self._token = None
            if self.token_url is None:
                answer = self.discover()
            else:
                answer = self._ask_with_scopes(self.token_url)
                self.last_answer = answer
                if answer.kind == "issued":
                    self._keep(answer)
            if answer.kind == "issued":
                return self._token  # type: ignore[return-value]
            raise self._error_for(answer)

    def invalidate(self, token: str | None) -> None:
        """Drop `token` after a 401 (only if no other thread replaced it meanwhile)."""
        with self._lock:
            if token is None or token == self._token:
                self._token = None

    def _keep(self, answer: TokenAnswer) -> None:
        self._token = answer.token
        self._secrets.add(answer.token)
        self.tokens_issued += 1
        if answer.expires_in is None:
            self._refresh_at = math.inf  # no expiry given: keep it until the server says 401
        else:
            lifetime = answer.expires_in
            self._refresh_at = self._clock() + max(lifetime - TOKEN_REFRESH_MARGIN, lifetime / 2)

    def _error_for(self, answer: TokenAnswer):
        endpoint = endpoint_of(answer.url) if answer.url else None
        if answer.kind == "refused":
            return InvalidCredentials(
                f"The OAuth 2 token endpoint refused the client id and secret. The server said: {answer.message}.",
                endpoint=endpoint,
            )
        if answer.kind == "invalid_scope":
            return InsufficientScope(
                f"The OAuth 2 token endpoint refused the scope that was asked for. The server said: {answer.message}.",
                endpoint=endpoint,
            )
        if answer.kind == "server_error":
            return ServerError(
                f"The OAuth 2 token endpoint kept failing. The server said: {answer.message}.", endpoint=endpoint
            )
        return NotOneRoster(
            f"No OAuth 2 token endpoint answered (tried {self.probed_paths()}); give the token URL, or use OAuth 1.0a.",
            endpoint=endpoint,
        )

    def _ask_with_scopes(self, url: str) -> TokenAnswer:
        ladder = (self.scope_used,) if self._scope_resolved else self._scope_ladder
        answer = TokenAnswer("not_here", url)
        for scope in ladder:
            answer = self._ask(url, scope)
            if answer.kind != "invalid_scope":
                if answer.kind == "issued" and not self._scope_resolved:
                    self._scope_resolved = True
                    self.scope_used = scope
                    if scope is None and not self.scope_given:
                        self.warnings.append(
                            "The SIS token endpoint refused the OneRoster scopes; tokens are requested without a scope."
                        )
                    elif scope != self._scope_ladder[0]:
                        self.warnings.append(
                            f"The SIS token endpoint refused the full OneRoster read scopes; "
                            f"tokens are requested with {scope}."
                        )
                return answer
            log.info("OneRoster: token endpoint %s refused scope; trying the next", endpoint_of(url))
        return answer

    def _ask(self, url: str, scope: str | None) -> TokenAnswer:
        answer = TokenAnswer("not_here", url)
        for basic in list(self._basic_headers):
            answer = self._ask_once(url, scope, basic)
            if answer.kind != "refused":
                if answer.kind == "issued":
                    self._basic_headers = [basic]
                return answer
        return answer

    def _ask_once(self, url: str, scope: str | None, basic: str) -> TokenAnswer:
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        retries = None if self.explicit else self._probe_retries
        response = self._requester.exchange(
            "POST",
            url,
            data=data,
            max_retries=retries,
            headers_for=lambda _method, _url: {"Authorization": basic, "Accept": "application/json"},
        )
        status = response.status_code
        content = response.content or b""
        said = self._secrets.scrub(describe_body(content, response.headers.get("content-type")))
        if looks_like_html(content, response.headers.get("content-type")):
            return TokenAnswer("not_here", url, message=said)
        try:
            body = json.loads(content) if content.strip() else None
        except (ValueError, UnicodeDecodeError):
            body = None
        if 200 <= status < 300:
            if isinstance(body, dict) and isinstance(body.get("access_token"), str) and body["access_token"]:
                return TokenAnswer(
                    "issued", url, token=body["access_token"], expires_in=_seconds(body.get("expires_in"))
                )
            return TokenAnswer("not_here", url, message="answered without an access token")
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, str):
            error = error.lower()
            if error == "invalid_scope":
                return TokenAnswer("invalid_scope", url, message=said)
            if error == "unsupported_grant_type" or status in (404, 405):
                return TokenAnswer("not_here", url, message=said)
            return TokenAnswer("refused", url, message=said)
        if status in (401, 403):
            return TokenAnswer("refused", url, message=said)
        if is_retryable_status(status):
            return TokenAnswer("server_error" if self.explicit else "not_here", url, message=said)
        return TokenAnswer("not_here", url, message=said)


def _seconds(value) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


class OAuth2Auth:
    """Bearer tokens from a TokenEndpoint; one refresh per request on a 401."""

    method = "oauth2"

    def __init__(self, endpoint: TokenEndpoint):
        self.endpoint = endpoint
        self._used = threading.local()

    @property
    def warnings(self) -> list[str]:
        return self.endpoint.warnings

    def headers(self, http_method: str, url: str) -> dict:
        token = self.endpoint.token()
        self._used.token = token
        return {"Authorization": f"Bearer {token}"}

    def recover_from_401(self, recoveries: int) -> bool:
        if recoveries > 0:
            return False
        self.endpoint.invalidate(getattr(self._used, "token", None))
        log.info("OneRoster: bearer token refused; fetching a new one")
        return True

    def on_success(self) -> None:
        pass

    def describe(self) -> str:
        where = endpoint_of(self.endpoint.token_url) if self.endpoint.token_url else "?"
        return f"OAuth 2 client credentials, token endpoint {where}"

    def __repr__(self) -> str:
        return f"OAuth2Auth({self.endpoint!r})"


# --------------------------------------------------------------------------- auto


class AutoAuth:
    """OAuth 2 when a token endpoint issues a token for these credentials, else OAuth 1.0a.

    A token endpoint that refuses the credentials does not settle it (the same id may be
    an OAuth 1 consumer key); OAuth 1 is tried, and if the data endpoint refuses that too
    the error is InvalidCredentials. Bearer tokens the data endpoint will not take (after a
    refresh) also fall back to OAuth 1, once, before anything has succeeded.
    """

    def __init__(self, endpoint: TokenEndpoint, make_oauth1: Callable[[], OAuth1Auth]):
        self._endpoint = endpoint
        self._make_oauth1 = make_oauth1
        self._current: OAuth1Auth | OAuth2Auth | None = None
        self._confirmed = False
        self._lock = threading.RLock()
        self._notes: list[str] = []

    def __repr__(self) -> str:
        return f"AutoAuth(current={self._current!r})"

    def resolve(self) -> OAuth1Auth | OAuth2Auth:
        with self._lock:
            if self._current is None:
                answer = self._endpoint.discover()
                if answer.kind == "issued":
                    self._current = OAuth2Auth(self._endpoint)
                else:
                    if answer.kind == "refused":
                        self._notes.append(f"OAuth 2 token endpoint {endpoint_of(answer.url)} refused them")
                    else:
                        self._notes.append(f"no OAuth 2 token endpoint at {self._endpoint.probed_paths()}")
                    self._current = self._make_oauth1()
            return self._current

    @property
    def resolved(self) -> bool:
        """Has the method been worked out yet (without working it out now)?"""
        return self._current is not None

    @property
    def method(self) -> str:
        return self.resolve().method

    @property
    def current(self) -> OAuth1Auth | OAuth2Auth:
        return self.resolve()

    @property
    def warnings(self) -> list[str]:
        return list(self.resolve().warnings)

    def headers(self, http_method: str, url: str) -> dict:
        return self.resolve().headers(http_method, url)

    def recover_from_401(self, recoveries: int) -> bool:
        current = self.resolve()
        if current.recover_from_401(recoveries):
            return True
        with self._lock:
            if not self._confirmed and isinstance(current, OAuth2Auth):
                self._notes.append(
                    f"the data endpoint refused tokens from {endpoint_of(self._endpoint.token_url or '')}"
                )
                self._current = self._make_oauth1()
                return True
        return False

    def on_success(self) -> None:
        self._confirmed = True
        self.resolve().on_success()

    def describe(self) -> str:
        text = f"auto: {self.resolve().describe()}"
        if self._notes:
            text += "; " + "; ".join(self._notes)
        return text


def build_authenticator(
    auth_method: str,
    *,
    requester: Requester,
    client_id: str,
    client_secret: str,
    secrets: Secrets,
    host_url: str,
    base_url: str,
    token_url: str | None,
    scope: str | None,
    version: str = "1.1",
) -> OAuth1Auth | OAuth2Auth | AutoAuth:
    def make_oauth1() -> OAuth1Auth:
        return OAuth1Auth(client_id, client_secret)

    def make_endpoint() -> TokenEndpoint:
        return TokenEndpoint(
            requester,
            client_id,
            client_secret,
            secrets,
            candidates=token_url_candidates(host_url, base_url),
            explicit_url=token_url,
            scope=scope,
            scope_ladder=SCOPE_LADDERS[version],
        )

    if auth_method == "oauth1":
        return make_oauth1()
    if auth_method == "oauth2":
        return OAuth2Auth(make_endpoint())
    # auto with a token URL given: the admin told us it is OAuth 2.
    if token_url:
        return OAuth2Auth(make_endpoint())
    return AutoAuth(make_endpoint(), make_oauth1)
