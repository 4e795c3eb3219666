"""Which SIS hosts the client may call, and the URL an admin typed turned into one.

Deployed (allow_private=False) the client runs inside our AWS account, so a host URL is
an outside party's instruction to open a connection from there. Only https:// hosts
whose every address is public are called; the metadata service (169.254.169.254),
loopback, private, link-local, multicast, reserved, carrier-grade NAT and IPv6 ULA or
IPv4-mapped addresses are refused. The check runs three times: on the URL as typed
(literal addresses), on every resolution before a request or redirect hop, and on the
peer address of every socket after it connects (http.py), which is what defeats DNS
rebinding. The local stack passes allow_private=True: http:// and loopback are fine there.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from .errors import InvalidHostUrl, OutOfTime, UnreachableHost

ONEROSTER_BASE_PATH = "/ims/oneroster/v1p1"
# Where each OneRoster version's rostering endpoints live below the host (and a vendor prefix).
BASE_PATHS = {"1.1": ONEROSTER_BASE_PATH, "1.2": "/ims/oneroster/rostering/v1p2"}

# "/ims/oneroster/v1p1" and anything an admin pasted after it (an endpoint, a slash).
_ONEROSTER_SUFFIX = re.compile(r"/ims/oneroster(/v\d+p\d+)?(/.*)?$", re.IGNORECASE)
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")

Resolver = Callable[[str, int], Iterable[str]]
"""hostname, port -> the addresses a connection could reach (strings)."""


@dataclass(frozen=True)
class HostUrl:
    """A normalised SIS host: scheme, host, optional vendor path prefix, no trailing slash."""

    host_url: str
    warnings: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Where the OneRoster 1.1 endpoints live."""
        return self.host_url + ONEROSTER_BASE_PATH

    def base_url_for(self, version: str) -> str:
        """Where the rostering endpoints of OneRoster `version` ("1.1" or "1.2") live."""
        return self.host_url + BASE_PATHS[version]


def normalise_host_url(raw: str, allow_private: bool = False) -> HostUrl:
    """The host an admin typed, made canonical, or InvalidHostUrl saying what to fix.

    Strips a trailing slash and a pasted /ims/oneroster/v1p1 (with a warning), drops a
    query or fragment (with a warning), refuses user:password@, non-http(s) schemes and,
    deployed, http:// and literal non-public addresses. Hostnames are resolved later, on
    every request (AddressPolicy), not here: DNS answers change.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidHostUrl("Give the SIS host URL, for example https://sis.example.org.")
    text = raw.strip()
    warnings: list[str] = []
    if "://" not in text:
        text = "https://" + text
        warnings.append("The host URL had no scheme; https:// was assumed.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidHostUrl("The host URL is not a valid URL: check the host name and port.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidHostUrl("The host URL must start with https://.")
    if scheme != "https" and not allow_private:
        raise InvalidHostUrl("The host URL must use https://: the SIS is only called over TLS.")
    if parts.username is not None or parts.password is not None:
        raise InvalidHostUrl(
            "The host URL must not contain a user name or password; give the client id and secret in their own fields."
        )
    hostname = (parts.hostname or "").rstrip(".").lower()
    if not hostname or any(ch in hostname for ch in " \t\\"):
        raise InvalidHostUrl("The host URL has no valid host name.")
    if not allow_private:
        _refuse_local_literal(hostname)
    if parts.query or parts.fragment:
        warnings.append("The host URL included a query or fragment; it was removed.")

    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    match = _ONEROSTER_SUFFIX.search(path)
    if match:
        pasted = path[match.start() :]
        path = path[: match.start()]
        if pasted.lower() == ONEROSTER_BASE_PATH:
            warnings.append("The host URL included /ims/oneroster/v1p1; it was removed: give the host only.")
        else:
            warnings.append(f"The host URL included {pasted}; it was removed: give the host only.")

    netloc = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None and not (scheme == "https" and port == 443) and not (scheme == "http" and port == 80):
        netloc += f":{port}"
    return HostUrl(urlunsplit((scheme, netloc, path, "", "")), warnings)


def check_token_url(raw: str, allow_private: bool) -> str:
    """A token URL an admin gave: same rules as the host, but its path and query are kept
    (vendors put `?appName=...` there)."""
    try:
        parts = urlsplit(raw.strip())
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except (ValueError, AttributeError):
        raise InvalidHostUrl("The token URL is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidHostUrl("The token URL must be an https:// URL.")
    if parts.scheme.lower() != "https" and not allow_private:
        raise InvalidHostUrl("The token URL must use https://.")
    if parts.username is not None or parts.password is not None:
        raise InvalidHostUrl("The token URL must not contain a user name or password.")
    if not allow_private:
        _refuse_local_literal(parts.hostname.lower())
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path, parts.query, ""))


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses a SIS could legitimately have."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 would dodge the IPv4 checks: refuse the wrappers.
        if ip.ipv4_mapped is not None or ip.sixtofour is not None or ip.teredo is not None:
            return False
        if ip in _NAT64:
            return False
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_private
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_reserved
        and not ip.is_unspecified
    )


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _refuse_local_literal(hostname: str) -> None:
    if hostname in _LOCAL_NAMES or hostname.endswith(".localhost"):
        raise InvalidHostUrl("The host URL points at this machine; give the SIS's public host name.")
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return  # a name: resolved and checked on every request
    if not is_public_address(hostname):
        raise InvalidHostUrl(
            "The host URL is a private, loopback or reserved address; give the SIS's public host name."
        )


def _is_ip_literal(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return False
    return True


def system_resolver(hostname: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class AddressPolicy:
    """Decides, per URL and per connected socket, whether the client may talk to it."""

    # Resolutions are cached briefly: one lookup per page would be waste, and the
    # per-socket peer check (http.py) catches an answer that changes meanwhile.
    CACHE_SECONDS = 30.0

    def __init__(
        self,
        allow_private: bool,
        resolver: Resolver | None = None,
        *,
        require_https: bool | None = None,
        is_public: Callable[[str], bool] = is_public_address,
    ):
        self.allow_private = allow_private
        self.require_https = (not allow_private) if require_https is None else require_https
        self._resolver = resolver or system_resolver
        self._is_public = is_public  # swappable in tests, where every server is on loopback
        self._checked: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def check_url(self, url: str, endpoint: str | None = None) -> None:
        """Raise InvalidHostUrl unless `url` (a request or redirect target) may be called."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise InvalidHostUrl("The SIS sent the client to a URL that is not http(s).", endpoint=endpoint)
        if scheme != "https" and self.require_https:
            raise InvalidHostUrl(
                "The SIS sent the client to a non-https URL; only https:// is called.", endpoint=endpoint
            )
        if self.allow_private:
            return
        hostname = parts.hostname.rstrip(".").lower()
        if hostname in _LOCAL_NAMES or hostname.endswith(".localhost"):
            raise InvalidHostUrl("The SIS URL points at this machine; only public hosts are called.", endpoint=endpoint)
        port = parts.port or (443 if scheme == "https" else 80)
        key = (hostname, port)
        now = time.monotonic()
        with self._lock:
            if self._checked.get(key, 0.0) > now:
                return
        try:
            addresses = (
                [str(ipaddress.ip_address(hostname.strip("[]")))]
                if _is_ip_literal(hostname)
                else list(self._resolver(hostname, port))
            )
        except (socket.gaierror, UnicodeError, OSError):
            raise UnreachableHost(
                f"The SIS host name {hostname} could not be resolved (DNS).", endpoint=endpoint
            ) from None
        if not addresses:
            raise UnreachableHost(f"The SIS host name {hostname} has no addresses (DNS).", endpoint=endpoint)
        refused = [a for a in addresses if not self._is_public(a)]
        if refused:
            raise InvalidHostUrl(
                f"The SIS host name {hostname} resolves to a private, loopback or reserved "
                "address; only public hosts are called.",
                endpoint=endpoint,
            )
        with self._lock:
            self._checked[key] = now + self.CACHE_SECONDS

    def check_peer(self, peer_address: str) -> bool:
        """For a connected socket: may this peer be talked to?"""
        return self.allow_private or self._is_public(peer_address)


# ---------------------------------------------------------------- per-host politeness
#
# Every sync worker shares one limit of requests in flight per SIS host (a HostGate: slots in
# DynamoDB, store/host_leases.py). A client holds slots for a while and reuses them page after
# page (HostSlots): the gate is written when a slot is taken, renewed (every SLOT_SECONDS -
# RENEW_MARGIN_S of use) and given back, never per page. A client that holds no slot and is
# refused one raises HostBusy, an OutOfTime: the sync saves and ends its slice, and the worker
# sends the run again later (sync/worker.py). Only clients opened inside `gated(...)` (the sync
# worker's slices) are gated; the setup API's reads are an admin waiting, few, and not gated.


def host_key(url: str) -> str:
    """The host a limit applies to: "name:port", lower case (the scheme's port when none)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{(parts.hostname or '').rstrip('.').lower()}:{port}"


class HostBusy(OutOfTime):
    """Every slot of the SIS host is taken by other workers, or the host asked everyone to wait
    (429 / Retry-After). `retry_at`: epoch seconds worth trying again at (None: unknown)."""

    code = "host_busy"

    def __init__(self, message: str, *, retry_at: float | None = None, endpoint: str | None = None):
        super().__init__(message, endpoint=endpoint)
        self.retry_at = retry_at


@dataclass(frozen=True)
class Slot:
    host: str
    index: int
    expires_at: float  # epoch seconds


@dataclass(frozen=True)
class Refusal:
    """The gate's no: `retry_at` epoch seconds (a pause's end), or None (all slots taken)."""

    retry_at: float | None = None


class HostGate(Protocol):
    """Slots of SIS hosts shared by every worker; `holder` names one client's slots."""

    def take(self, host: str, holder: str) -> Slot | Refusal: ...

    def renew(self, slot: Slot, holder: str) -> tuple[Slot | None, float | None]:
        """The slot for longer (None: lost), and the host's pause end if it has one."""
        ...

    def give_back(self, slots: list[Slot], holder: str) -> None: ...

    def pause(self, host: str, until: float) -> None:
        """Nobody starts a request to `host` before `until` (epoch seconds)."""
        ...


class HostSlots:
    """One client's slots at the shared gate: taken when its requests need them, reused page
    after page, renewed before they expire, given back when the client closes."""

    # A slot must outlast the request started on it: a read may take up to its timeout (30 s).
    RENEW_MARGIN_S = 35.0
    # After a refusal, a client still holding slots asks again no sooner than this (it reuses
    # its own meanwhile); one holding none stops (HostBusy).
    ASK_AGAIN_S = 5.0
    # A pause shorter than this is waited out here; a longer one ends the slice.
    WAIT_OUT_PAUSE_S = 2.0

    def __init__(self, gate: HostGate, clock: Callable[[], float] = time.time):
        self.gate = gate
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._clock = clock
        self._cond = threading.Condition()
        self._idle: dict[str, list[Slot]] = {}
        self._held: dict[str, int] = {}  # per host: slots this client holds (idle or in use)
        self._asking: dict[str, int] = {}
        self._ask_after: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        self.refused: HostBusy | None = None  # the last HostBusy raised (the worker reads it)
        self._thread = threading.local()  # the hosts whose slot this thread holds right now

    @contextmanager
    def slot(self, url: str, endpoint: str | None = None) -> Iterator[None]:
        """Hold one of the host's slots for one request. A request made while this thread holds
        one for the same host (the OAuth 2 token fetched to sign a page) rides on it: it would
        otherwise wait for itself where the host's limit is 1."""
        host = host_key(url)
        riding: set[str] = self._thread.__dict__.setdefault("hosts", set())
        if host in riding:
            yield
            return
        slot = self._acquire(host, endpoint)
        riding.add(host)
        try:
            yield
        finally:
            riding.discard(host)
            with self._cond:
                self._idle.setdefault(slot.host, []).append(slot)
                self._cond.notify()

    def pause(self, url: str, seconds: float) -> bool:
        """The host said Retry-After `seconds`: every worker waits that long before its next
        request there. True when it is long enough that this client's slice should end."""
        host, until = host_key(url), self._clock() + seconds
        with self._cond:
            self._paused_until[host] = max(until, self._paused_until.get(host, 0.0))
        self.gate.pause(host, until)
        return seconds > self.WAIT_OUT_PAUSE_S

    def close(self) -> None:
        with self._cond:
            slots = [slot for idle in self._idle.values() for slot in idle]
            self._idle.clear()
            self._held.clear()
        if slots:
            self.gate.give_back(slots, self.holder)

    def _busy(self, host: str, retry_at: float | None, endpoint: str | None) -> HostBusy:
        why = "asked every client to wait" if retry_at else "is at its limit of requests in flight"
        self.refused = HostBusy(
            f"The SIS host {host} {why}; the sync goes on later.", retry_at=retry_at, endpoint=endpoint
        )
        return self.refused

    def _acquire(self, host: str, endpoint: str | None) -> Slot:
        while True:
            slot = self._next_slot(host, endpoint)
            if slot.expires_at - self._clock() >= self.RENEW_MARGIN_S:
                return slot
            renewed, paused_until = self.gate.renew(slot, self.holder)
            with self._cond:
                if paused_until:
                    self._paused_until[host] = max(paused_until, self._paused_until.get(host, 0.0))
                if renewed is None:  # expired and taken by someone else meanwhile: not ours any more
                    self._held[host] -= 1
                    continue
            return renewed

    def _next_slot(self, host: str, endpoint: str | None) -> Slot:
        with self._cond:
            while True:
                left = self._paused_until.get(host, 0.0) - self._clock()
                if left > self.WAIT_OUT_PAUSE_S:
                    raise self._busy(host, self._paused_until[host], endpoint)
                if left > 0:
                    self._cond.wait(left)
                    continue
                idle = self._idle.get(host)
                if idle:
                    return idle.pop()
                if self._asking.get(host, 0):
                    self._cond.wait(1.0)  # another request of ours is asking the gate
                    continue
                if self._clock() < self._ask_after.get(host, 0.0):
                    if not self._held.get(host, 0):
                        raise self._busy(host, None, endpoint)
                    self._cond.wait(1.0)  # one of ours comes back when its request ends
                    continue
                self._asking[host] = self._asking.get(host, 0) + 1
                break
        try:
            taken = self.gate.take(host, self.holder)
        finally:
            with self._cond:
                self._asking[host] -= 1
                self._cond.notify_all()
        with self._cond:
            if isinstance(taken, Slot):
                self._held[host] = self._held.get(host, 0) + 1
                return taken
            if taken.retry_at:
                self._paused_until[host] = max(taken.retry_at, self._paused_until.get(host, 0.0))
            self._ask_after[host] = self._clock() + self.ASK_AGAIN_S
            if self._held.get(host, 0) == 0:
                raise self._busy(host, taken.retry_at, endpoint)
        return self._next_slot(host, endpoint)  # wait for one of our own


_scope = threading.local()


@contextmanager
def gated(gate: HostGate | None) -> Iterator[list[HostSlots]]:
    """Clients opened on this thread inside the block hold slots at `gate` (None: no limit).
    Yields the list of their HostSlots (the worker asks them whether a host was busy)."""
    opened: list[HostSlots] = []
    previous = getattr(_scope, "current", None)
    _scope.current = (gate, opened) if gate is not None else None
    try:
        yield opened
    finally:
        _scope.current = previous


def slots_for_new_client() -> HostSlots | None:
    """The HostSlots a client opened now on this thread uses (None outside `gated`)."""
    current = getattr(_scope, "current", None)
    if current is None:
        return None
    gate, opened = current
    slots = HostSlots(gate)
    opened.append(slots)
    return slots
