"""One HTTP exchange with the SIS: guarded sockets, redirects followed by hand, failures named.

Retries and auth recovery live one level up (requester.py). Here:
- every socket's peer address is checked right after it connects, before TLS or a byte
  of the request, so a DNS answer that changes between our check and the connect
  (rebinding) still cannot reach a private address;
- redirects are followed here (at most 5), each target checked by the AddressPolicy, and
  credentials are only re-applied for a target on the same origin;
- requests' own environment handling is off (no proxies or .netrc from the environment:
  a proxy would hide the peer, a .netrc could add credentials);
- low-level failures become ExchangeFailed with a kind the retry loop understands;
- inside a sync slice (hosts.gated), each request holds one of its host's shared slots
  (hosts.HostSlots), and HostBusy ends the slice when none is to be had.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import BadResponse, InvalidHostUrl, OutOfTime, UnreachableHost
from .hosts import AddressPolicy, HostSlots, slots_for_new_client

log = logging.getLogger("rostersync.oneroster")

MAX_REDIRECTS = 5
MIN_USEFUL_S = 0.25  # closer to the deadline than this, a request is not started
USER_AGENT = "rostersync-oneroster/1.0"
_REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))

HeadersFor = Callable[[str, str], dict]
"""(http method, absolute url) -> headers that authorise this exact request."""


class BlockedPeer(Exception):
    """Raised inside a connection whose peer address the policy refuses.

    Deliberately not an OSError: urllib3 would treat that as a network failure and retry.
    """


class ExchangeFailed(Exception):
    """A request that produced no usable HTTP response."""

    # kind -> retryable?
    KINDS: ClassVar[dict[str, bool]] = {
        "connect": True,
        "timeout": True,
        "reset": True,
        "truncated": True,
        "dns": False,
        "tls": False,
        "redirects": False,
        "deadline": False,
    }

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.KINDS.get(self.kind, False)

    def to_error(self, endpoint: str | None):
        if self.kind == "truncated":
            return BadResponse(self.message, endpoint=endpoint)
        if self.kind == "redirects":
            return BadResponse(self.message, endpoint=endpoint)
        if self.kind == "deadline":
            return OutOfTime(self.message, endpoint=endpoint)
        return UnreachableHost(self.message, endpoint=endpoint)


def _guarded(base: type[HTTPConnection], policy: AddressPolicy) -> type:
    """A urllib3 connection class that refuses to keep a socket to a refused peer."""

    def _new_conn(self):
        sock = base._new_conn(self)
        try:
            peer = sock.getpeername()[0]
        except OSError:
            peer = ""
        if not policy.check_peer(peer):
            sock.close()
            raise BlockedPeer("connected peer is not a public address")
        return sock

    return type(f"Guarded{base.__name__}", (base,), {"_new_conn": _new_conn})


class GuardedAdapter(HTTPAdapter):
    """requests adapter whose pools build guarded connections."""

    def __init__(self, policy: AddressPolicy, **kwargs):
        self._policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        http_pool = type(
            "GuardedHTTPConnectionPool",
            (HTTPConnectionPool,),
            {"ConnectionCls": _guarded(HTTPConnection, self._policy)},
        )
        https_pool = type(
            "GuardedHTTPSConnectionPool",
            (HTTPSConnectionPool,),
            {"ConnectionCls": _guarded(HTTPSConnection, self._policy)},
        )
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    def __getstate__(self):  # never pickled with its policy's resolver
        raise TypeError("GuardedAdapter is not picklable")


def endpoint_of(url: str) -> str:
    """The path of a URL: what errors and logs name, never the query or credentials."""
    return urlsplit(url).path or "/"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class HttpClient:
    """A requests session with the address guard, timeouts and hand-followed redirects."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int = 10,
        deadline: float | None = None,
    ):
        self.policy = policy
        self.timeout = (connect_timeout, read_timeout)
        # The caller's deadline, as seconds left (None: only the timeouts bound a request), and
        # how long a request may take however near it is: 0 for a hard deadline (the setup API's
        # 29 s); a sync slice lets its first request run (every slice must be able to progress).
        self.time_left: Callable[[], float] | None = None
        self.min_request_s = 0.0
        if deadline is not None:
            self.time_left = lambda: deadline - time.monotonic()
        session = requests.Session()
        session.trust_env = False
        session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        adapter = (
            HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
            if policy.allow_private
            else GuardedAdapter(policy, pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self.session = session
        # Opened inside a sync slice: requests hold slots of their host shared by every worker.
        self.host_slots: HostSlots | None = slots_for_new_client()

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None without one)."""
        return None if self.time_left is None else self.time_left()

    def _timeout(self) -> tuple[float, float]:
        left = self.remaining()
        if left is None:
            return self.timeout
        if self.min_request_s > 0:
            left = max(left, self.min_request_s)
        elif left <= MIN_USEFUL_S:
            raise ExchangeFailed("deadline", "The SIS did not answer in the time this request has.")
        return (min(self.timeout[0], left), min(self.timeout[1], left))

    def send(self, method: str, url: str, *, headers_for: HeadersFor, data: dict | None = None) -> requests.Response:
        """One request, following redirects; raises ExchangeFailed, InvalidHostUrl or (gated,
        when the host has no slot for this client) HostBusy."""
        if self.host_slots is None:
            return self._send(method, url, headers_for=headers_for, data=data)
        with self.host_slots.slot(url, endpoint_of(url)):
            return self._send(method, url, headers_for=headers_for, data=data)

    def host_paused(self, url: str, seconds: float) -> bool:
        """The host said Retry-After `seconds` (429, 503): tell every worker (gated clients only).
        True when this client should end its slice rather than wait (HostBusy follows)."""
        return self.host_slots is not None and self.host_slots.pause(url, seconds)

    def _send(self, method: str, url: str, *, headers_for: HeadersFor, data: dict | None = None) -> requests.Response:
        origin = _origin(url)
        for _hop in range(MAX_REDIRECTS + 1):
            endpoint = endpoint_of(url)
            self.policy.check_url(url, endpoint)
            # Credentials go only where they were meant to: a redirect to another origin
            # is followed anonymously (and will usually answer 401, which is honest).
            headers = headers_for(method, url) if _origin(url) == origin else {}
            if data is not None:
                headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
            response = self._send_once(method, url, headers, data, endpoint)
            if response.status_code not in _REDIRECT_STATUSES or "location" not in response.headers:
                return response
            target = urljoin(url, response.headers["location"])
            response.close()
            log.info("SIS redirected %s %s to %s", method, endpoint, endpoint_of(target))
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method, data = "GET", None
            url = target
        raise ExchangeFailed("redirects", f"The SIS redirected more than {MAX_REDIRECTS} times.")

    def _send_once(self, method, url, headers, data, endpoint) -> requests.Response:
        try:
            timeout = self._timeout()
            return self.session.request(method, url, headers=headers, data=data, allow_redirects=False, timeout=timeout)
        except BlockedPeer:
            raise InvalidHostUrl(
                "The SIS host name now resolves to a private, loopback or reserved address; "
                "only public hosts are called.",
                endpoint=endpoint,
            ) from None
        except requests.exceptions.SSLError:
            raise ExchangeFailed("tls", "The TLS handshake with the SIS failed (certificate or protocol).") from None
        except requests.exceptions.ConnectTimeout:
            raise ExchangeFailed("timeout", "Connecting to the SIS timed out.") from None
        except requests.exceptions.ReadTimeout:
            if (self.remaining() or 1.0) <= MIN_USEFUL_S:
                raise ExchangeFailed("deadline", "The SIS did not answer in the time this request has.") from None
            raise ExchangeFailed("timeout", "The SIS did not answer in time (read timeout).") from None
        except requests.exceptions.ChunkedEncodingError:
            raise ExchangeFailed("truncated", "The SIS's answer was cut off before its end.") from None
        except requests.exceptions.ContentDecodingError:
            raise ExchangeFailed("truncated", "The SIS's answer could not be decompressed.") from None
        except requests.exceptions.ConnectionError as exc:
            raise _classify_connection_error(exc) from None
        except requests.exceptions.RequestException as exc:
            raise ExchangeFailed("connect", f"The request to the SIS failed ({type(exc).__name__}).") from None

    def close(self) -> None:
        self.session.close()
        if self.host_slots is not None:
            self.host_slots.close()


def _classify_connection_error(exc: Exception) -> ExchangeFailed:
    # Walk the cause chain: requests wraps urllib3 which wraps the socket error.
    seen: BaseException | None = exc
    text = ""
    for _ in range(6):
        if seen is None:
            break
        if isinstance(seen, BlockedPeer):  # pragma: no cover - urllib3 may wrap it in some versions
            raise InvalidHostUrl(
                "The SIS host name resolves to a private, loopback or reserved address; only public hosts are called."
            )
        name = type(seen).__name__
        text += name + " "
        if name == "NameResolutionError":
            return ExchangeFailed("dns", "The SIS host name could not be resolved (DNS).")
        if name in ("ReadTimeoutError",):
            return ExchangeFailed("timeout", "The SIS did not answer in time (read timeout).")
        if name in ("ConnectTimeoutError",):
            return ExchangeFailed("timeout", "Connecting to the SIS timed out.")
        if name in ("IncompleteRead", "InvalidChunkLength"):
            return ExchangeFailed("truncated", "The SIS's answer was cut off before its end.")
        seen = (
            getattr(seen, "reason", None)
            or seen.__cause__
            or seen.__context__
            or (seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None)
        )
    if "Refused" in text or "NewConnectionError" in text:
        return ExchangeFailed("connect", "The SIS refused the connection.")
    return ExchangeFailed("reset", "The connection to the SIS was closed or reset.")
