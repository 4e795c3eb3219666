"""OneRosterClient: the one object the sync and the setup API use to read a SIS.

    client = OneRosterClient(settings, secret)
    for page in client.stream("classes", filter=...).pages(): ...
    client.get("users", sourced_id)

It wires the parts together: the host guard (hosts.py), guarded HTTP (http.py), retries
(requester.py), auth (auth.py), envelopes, paging and records. The secret is handed to
the authenticator and kept nowhere else; repr(client) never shows it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .envelopes import ENVELOPES, record_of, records_of
from .errors import OneRosterError
from .filters import DateStyle, Filter, changed_since, encode_query, parse_filter
from .hosts import AddressPolicy, Resolver, check_token_url, normalise_host_url
from .http import HttpClient, endpoint_of
from .oauth_client import AutoAuth, OAuth1Auth, OAuth2Auth, build_authenticator
from .paging import Page, RawPage, RecordStream
from .records import VERSIONS, BadRecord, Record, parse_record
from .requester import Requester, Secrets
from .retries import RetryPolicy

AUTH_METHODS = ("auto", "oauth1", "oauth2")
COLLECTIONS = (
    "orgs",
    "schools",
    "academicSessions",
    "terms",
    "gradingPeriods",
    "courses",
    "classes",
    "users",
    "students",
    "teachers",
    "enrollments",
)
DEFAULT_MAX_PAGES = 200_000
MIN_SLICE_REQUEST_S = 5.0
# Client options for reads behind an API request, which must finish inside API Gateway's 29 s:
# short timeouts and one retry (the request's deadline bounds them all). The setup API's
# connection check and its reads of a saved connection use them.
REQUEST_TIME_OPTIONS: dict[str, Any] = {
    "connect_timeout": 4,
    "read_timeout": 10,
    "retry_policy": RetryPolicy(max_retries=1, base_delay=0.2, max_delay=1.0, retry_after_cap=2.0),
}


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to connect; everything but the secret (which is passed apart)."""

    host_url: str
    client_id: str
    auth_method: str = "auto"
    token_url: str | None = None
    scope: str | None = None
    version: str = "1.1"  # the OneRoster version read: "1.1" or "1.2" (check_connection detects it)

    def __post_init__(self):
        if self.version not in VERSIONS:
            raise ValueError(f"version must be one of {', '.join(VERSIONS)}.")
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(f"auth_method must be one of {', '.join(AUTH_METHODS)}.")
        if not isinstance(self.client_id, str) or not self.client_id.strip():
            raise ValueError("client_id is required.")


class OneRosterClient:
    def __init__(
        self,
        settings: ConnectionSettings,
        client_secret: str,
        allow_private: bool = False,
        page_limit: int = 1000,
        max_in_flight: int = 4,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_retries: int = 5,
        *,
        retry_policy: RetryPolicy | None = None,
        resolver: Resolver | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        address_policy: AddressPolicy | None = None,
        deadline: float | None = None,
    ):
        """`deadline`: a time.monotonic() instant past which no request runs or waits (the
        setup API's 29 s); reads then raise OutOfTime. A sync slice uses set_time_left."""
        if not isinstance(client_secret, str) or not client_secret:
            raise ValueError("client_secret is required.")
        self.settings = settings
        self.allow_private = allow_private
        host = normalise_host_url(settings.host_url, allow_private=allow_private)
        self.host_url = host.host_url
        self.version = settings.version
        self.base_url = host.base_url_for(settings.version)
        self._host_warnings = list(host.warnings)
        token_url = check_token_url(settings.token_url, allow_private) if settings.token_url else None
        self.page_limit = max(1, int(page_limit))
        self.max_in_flight = max(1, int(max_in_flight))
        self.max_pages = max_pages
        self._secrets = Secrets(client_secret)
        self._requests_total = 0
        self._count_lock = threading.Lock()
        policy = address_policy or AddressPolicy(allow_private, resolver)
        self._http = HttpClient(
            policy,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            pool_size=max(10, self.max_in_flight * 2),
            deadline=deadline,
        )
        retry = retry_policy or RetryPolicy(max_retries=max_retries)
        self._requester = Requester(self._http, retry, self._secrets, on_request=self._count_request)
        self._auth = build_authenticator(
            settings.auth_method,
            requester=self._requester,
            client_id=settings.client_id,
            client_secret=client_secret,
            secrets=self._secrets,
            host_url=self.host_url,
            base_url=self.base_url,
            token_url=token_url,
            scope=settings.scope,
            version=settings.version,
        )
        self._date_styles: dict[str, DateStyle] = {}

    def __repr__(self) -> str:
        return (
            f"OneRosterClient(host_url={self.host_url!r}, client_id={self.settings.client_id!r}, auth={self._auth!r})"
        )

    def __enter__(self) -> OneRosterClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def set_time_left(self, time_left: Callable[[], float] | None, min_request_s: float = MIN_SLICE_REQUEST_S) -> None:
        """A sync slice's deadline, as seconds left: retries and Retry-After waits that would
        pass it raise OutOfTime, and requests are cut to fit it, yet never below
        `min_request_s` (so a slice can always read its first page; the worker keeps a
        reserve past the slice for that)."""
        self._http.time_left = time_left
        self._http.min_request_s = min_request_s

    # -- what was worked out

    @property
    def auth_method(self) -> str:
        """ "oauth1" or "oauth2". In auto mode, reading this resolves it (token probe) if no
        request has yet."""
        return self._auth.method

    @property
    def signature_method(self) -> str | None:
        """HMAC-SHA256 or HMAC-SHA1 for OAuth 1; None for OAuth 2."""
        current = self._auth.current if isinstance(self._auth, AutoAuth) else self._auth
        return current.signature_method if isinstance(current, OAuth1Auth) else None

    @property
    def token_url(self) -> str | None:
        current = self._auth.current if isinstance(self._auth, AutoAuth) else self._auth
        return current.endpoint.token_url if isinstance(current, OAuth2Auth) else None

    @property
    def warnings(self) -> list[str]:
        """Things the admin should know: URL fixes, SHA1-only servers, refused scopes."""
        unresolved = isinstance(self._auth, AutoAuth) and not self._auth.resolved
        auth_warnings = [] if unresolved else self._auth.warnings
        return self._host_warnings + [w for w in auth_warnings if w not in self._host_warnings]

    @property
    def requests_total(self) -> int:
        return self._requests_total

    def _count_request(self) -> None:
        with self._count_lock:
            self._requests_total += 1

    # -- reading

    def _collection_path(self, collection: str) -> tuple[str, str]:
        """("schools/x 1/classes") -> ("schools/x%201/classes", "classes")."""
        segments = [s for s in collection.strip("/").split("/") if s]
        if not segments:
            raise ValueError("collection is required")
        kind = segments[-1]
        if kind not in ENVELOPES or kind == "demographics":
            raise ValueError(f"Unknown OneRoster collection {kind!r}; expected one of {', '.join(COLLECTIONS)}.")
        return "/".join(quote(s, safe="") for s in segments), kind

    def stream(
        self,
        collection: str,
        filter: str | Filter | None = None,
        *,
        sort: str | None = None,
        order_by: str | None = None,
        fields: str | None = None,
        page_limit: int | None = None,
        max_in_flight: int | None = None,
        start_offset: int = 0,
    ) -> RecordStream:
        """A lazy stream over a collection (or a nested path like "schools/{id}/classes")."""
        path, kind = self._collection_path(collection)
        parsed_filter = parse_filter(filter) if filter is not None else None
        url = f"{self.base_url}/{path}"
        extra: list[tuple[str, str]] = []
        if parsed_filter is not None:
            extra.append(("filter", str(parsed_filter)))
        if sort:
            extra.append(("sort", sort))
            if order_by:
                extra.append(("orderBy", order_by))
        if fields:
            extra.append(("fields", fields))
        stream: RecordStream

        def fetch(offset: int, limit: int) -> RawPage:
            query = encode_query([("limit", str(limit)), ("offset", str(offset)), *extra])
            try:
                body, response = self._requester.get_json(f"{url}?{query}", auth=self._auth, count=stream.count_request)
                records = records_of(body, kind, endpoint=endpoint_of(url), status=response.status_code)
            except OneRosterError as error:
                raise self._secrets.clean(error) from None
            return RawPage(records, _total_count(response.headers.get("x-total-count")), _has_next(response))

        stream = RecordStream(
            collection,
            fetch,
            endpoint=endpoint_of(url),
            filter=parsed_filter,
            page_limit=page_limit or self.page_limit,
            max_in_flight=max_in_flight or self.max_in_flight,
            max_pages=self.max_pages,
            on_date_sample=lambda sample: self._learn_date_style(kind, sample),
            start_offset=start_offset,
            version=self.version,
        )
        return stream

    def get(self, collection: str, sourced_id: str) -> Record | BadRecord | None:
        """One record by sourcedId; None when the server answers 404."""
        path, kind = self._collection_path(collection)
        url = f"{self.base_url}/{path}/{quote(str(sourced_id), safe='')}"
        try:
            body, response = self._requester.get_json(url, auth=self._auth, allow_404=True)
            if body is None or response is None:  # a 404 (or a null document)
                return None
            raw = record_of(body, kind, endpoint=endpoint_of(url), status=response.status_code)
        except OneRosterError as error:
            raise self._secrets.clean(error) from None
        if raw is None:
            return None
        return parse_record(kind, raw, self.version)

    def first_page(self, collection: str, limit: int = 5) -> Page:
        """One small page (test connection, sampling); no paging beyond it."""
        stream = self.stream(collection, page_limit=limit, max_in_flight=1)
        return next(iter(stream.pages()))

    # -- delta cursors

    def _learn_date_style(self, kind: str, sample: Any) -> None:
        style = DateStyle.of(sample)
        if style is not None:
            self._date_styles.setdefault(kind, style)

    def date_style(self, collection: str = "users") -> DateStyle:
        """How this server writes dateLastModified, learnt from records already read, or
        from one record of `collection` fetched now."""
        _path, kind = self._collection_path(collection)
        if kind not in self._date_styles and not self._date_styles:
            self.first_page(collection, limit=1)
        return self._date_styles.get(kind) or next(iter(self._date_styles.values()), DateStyle())

    def changed_since(self, instant: datetime, collection: str = "users") -> str:
        """filter=dateLastModified>'instant' in the server's own precision (the caller
        subtracts its overlap first)."""
        return str(changed_since(instant, self.date_style(collection)))


def _total_count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        total = int(value.strip())
    except ValueError:
        return None
    return total if total >= 0 else None


def _has_next(response) -> bool | None:
    if "link" not in response.headers:
        return None
    return "next" in response.links
