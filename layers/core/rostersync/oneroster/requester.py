"""Getting a JSON document from the SIS: auth, retries, and the typed error at the end.

The loop per request: authorise (fresh OAuth 1 nonce and timestamp on every attempt), send,
then
- 401: let the authenticator recover once per step of its fallback chain (refresh the
  OAuth 2 token, fall back from HMAC-SHA256 to HMAC-SHA1, from OAuth 2 to OAuth 1 in auto
  mode); these do not count as retries;
- 429, 5xx, 408, connection failures, timeouts, truncated or invalid JSON: back off and
  retry up to max_retries; a Retry-After also pauses the host for every sync worker (a gated
  client, hosts.HostSlots), and one longer than a moment ends the slice (HostBusy);
- everything else: the typed error, or the decoded body.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol, overload

import requests

from .errors import BadResponse, InvalidCredentials, NotOneRoster, OneRosterError, OutOfTime, scrub
from .hosts import HostBusy
from .http import MIN_USEFUL_S, ExchangeFailed, HeadersFor, HttpClient, endpoint_of
from .responses import (
    InvalidJson,
    StatusInfo,
    decode_json,
    describe_body,
    error_for_failure_info,
    error_for_status,
    looks_like_html,
    status_info,
)
from .retries import RetryPolicy, is_retryable_status

log = logging.getLogger("rostersync.oneroster")


class Authenticator(Protocol):
    @property
    def method(self) -> str: ...

    def headers(self, http_method: str, url: str) -> dict: ...

    def recover_from_401(self, recoveries: int) -> bool: ...

    def on_success(self) -> None: ...

    def describe(self) -> str: ...


class Secrets:
    """Everything that must never appear in text the client produces."""

    def __init__(self, *values: str):
        self._values: list[str] = [v for v in values if v]
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value:
            with self._lock:
                if value not in self._values:
                    self._values.append(value)
                    del self._values[:-16]  # old tokens: keep the list short

    def scrub(self, text: str) -> str:
        return scrub(text, tuple(self._values))

    def clean(self, error: OneRosterError) -> OneRosterError:
        """The same error with its message scrubbed (for errors built from server text)."""
        error.message = self.scrub(error.message)
        error.args = (error.message,)
        return error

    def __repr__(self) -> str:
        return "Secrets(<redacted>)"


class Requester:
    def __init__(
        self, http: HttpClient, retry: RetryPolicy, secrets: Secrets, on_request: Callable[[], None] | None = None
    ):
        self.http = http
        self.retry = retry
        self.secrets = secrets
        self._on_request = on_request or (lambda: None)

    def describe(self, response: requests.Response) -> str:
        return self.secrets.scrub(describe_body(response.content or b"", response.headers.get("content-type")))

    def exchange(
        self,
        method: str,
        url: str,
        *,
        headers_for: HeadersFor,
        data: dict | None = None,
        max_retries: int | None = None,
        count: Callable[[], None] | None = None,
    ) -> requests.Response:
        """Send, retrying connection failures and retryable statuses; returns the last
        response (whatever its status) or raises the typed error for a failed exchange."""
        limit = self.retry.max_retries if max_retries is None else max_retries
        endpoint = endpoint_of(url)
        attempt = 0
        while True:
            self._on_request()
            if count:
                count()
            try:
                response = self.http.send(method, url, headers_for=headers_for, data=data)
            except ExchangeFailed as failure:
                if failure.retryable and attempt < limit:
                    self._wait(attempt, None, endpoint, failure.message)
                    attempt += 1
                    continue
                raise failure.to_error(endpoint) from None
            if is_retryable_status(response.status_code) and attempt < limit:
                self._tell_host(url, response.headers.get("retry-after"), endpoint)
                self._wait(attempt, response.headers.get("retry-after"), endpoint, f"HTTP {response.status_code}")
                attempt += 1
                continue
            return response

    @overload
    def get_json(
        self,
        url: str,
        *,
        auth: Authenticator,
        allow_404: Literal[False] = False,
        count: Callable[[], None] | None = None,
    ) -> tuple[Any, requests.Response]: ...
    @overload
    def get_json(
        self, url: str, *, auth: Authenticator, allow_404: bool, count: Callable[[], None] | None = None
    ) -> tuple[Any, requests.Response] | tuple[None, None]: ...
    def get_json(
        self, url: str, *, auth: Authenticator, allow_404: bool = False, count: Callable[[], None] | None = None
    ) -> tuple[Any, requests.Response] | tuple[None, None]:
        """GET a JSON document with auth recovery and retries.

        Returns (body, response); (None, None) for a 404 when allow_404.
        """
        endpoint = endpoint_of(url)
        attempt = 0
        recoveries = 0
        while True:
            response = self.exchange(
                "GET", url, headers_for=auth.headers, max_retries=self.retry.max_retries - attempt, count=count
            )
            status = response.status_code
            if status == 401:
                if auth.recover_from_401(recoveries):
                    recoveries += 1
                    continue
                said = self.describe(response)
                raise InvalidCredentials(
                    f"The SIS refused the client id and secret ({auth.describe()}). The server said: {said}.",
                    endpoint=endpoint,
                    status=status,
                )
            if 200 <= status < 300:
                content = response.content or b""
                if looks_like_html(content, response.headers.get("content-type")):
                    raise NotOneRoster(
                        "The host answered with an HTML page where OneRoster JSON was expected; "
                        "check the host URL and its path prefix.",
                        endpoint=endpoint,
                        status=status,
                    )
                try:
                    body = decode_json(content)
                except InvalidJson:
                    if attempt < self.retry.max_retries:
                        self._wait(attempt, None, endpoint, "invalid JSON")
                        attempt += 1
                        continue
                    raise BadResponse(
                        "The SIS kept answering with invalid or truncated JSON.", endpoint=endpoint, status=status
                    ) from None
                busy = _transient_status_failure(body)
                if busy is not None:
                    # A 200 carrying "failure/server_busy" and no records: as good as a 503.
                    if attempt < self.retry.max_retries:
                        self._wait(attempt, response.headers.get("retry-after"), endpoint, busy.describe())
                        attempt += 1
                        continue
                    raise self.secrets.clean(error_for_failure_info(busy, endpoint=endpoint, status=status))
                auth.on_success()
                return body, response
            if status == 404 and allow_404:
                return None, None
            # 429 and 5xx land here once exchange() has used up the retries.
            raise self._final_error(response, endpoint)

    def _final_error(self, response: requests.Response, endpoint: str) -> OneRosterError:
        return error_for_status(response.status_code, self.describe(response), endpoint=endpoint)

    def _tell_host(self, url: str, retry_after: str | None, endpoint: str) -> None:
        """A Retry-After pauses the host for every worker (gated clients); a long one ends this
        slice too, rather than hold the worker waiting (HostBusy: the run comes back later)."""
        seconds = self.retry.parse_retry_after(retry_after)
        if seconds and self.http.host_paused(url, seconds):
            raise HostBusy(
                f"The SIS asked every client to wait {seconds:.0f} s (Retry-After); the sync goes on later.",
                retry_at=time.time() + seconds,
                endpoint=endpoint,
            )

    def _wait(self, attempt: int, retry_after: str | None, endpoint: str, why: str) -> None:
        delay = self.retry.delay(attempt, retry_after)
        left = self.http.remaining()
        if left is not None and delay + MIN_USEFUL_S >= left:
            log.warning("OneRoster %s: %s; no time left to retry before the deadline", endpoint, why)
            raise OutOfTime(
                f"The SIS did not answer in the time this request has ({why} on {endpoint}).", endpoint=endpoint
            )
        log.warning(
            "OneRoster %s: %s; retry %d of %d in %.2f s", endpoint, why, attempt + 1, self.retry.max_retries, delay
        )
        if delay > 0:
            self.retry.sleep(delay)


TRANSIENT_MINOR_CODES = frozenset(("server_busy", "serverbusy", "internal_server_error", "timeout"))


def _transient_status_failure(body: Any) -> StatusInfo | None:
    """The status info of a status-only failure body whose minor code says "try later"."""
    # Records next to the status are not "try later"; an empty or null collection is.
    if not isinstance(body, dict) or any(isinstance(v, list) and v and k != "statusInfoSet" for k, v in body.items()):
        return None
    info = status_info(body)
    if info is None or info.code_major != "failure" or (info.code_minor or "").lower() not in TRANSIENT_MINOR_CODES:
        return None
    return info
