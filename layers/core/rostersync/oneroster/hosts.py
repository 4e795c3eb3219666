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
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from .errors import InvalidHostUrl, UnreachableHost

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
