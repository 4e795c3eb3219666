"""The client's typed errors: what went wrong, where, in words an admin can act on.

Every error carries a snake_case `code` (the setup API answers with it), the endpoint
path it happened on (never the query string, never a URL with credentials) and the HTTP
status when there was one. Messages are built from fixed text plus what the server said
about itself; the client scrubs its own secret and tokens out of server text before it
gets here (`scrub`), so no str(), repr() or log line can carry them.
"""

from __future__ import annotations

import re


class OneRosterError(Exception):
    """Base of every error the OneRoster client raises."""

    code = "oneroster_error"

    def __init__(self, message: str, *, endpoint: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status = status

    def __str__(self) -> str:
        where = f" ({self.endpoint}" + (f", HTTP {self.status})" if self.status else ")") if self.endpoint else ""
        return f"{self.message}{where}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, endpoint={self.endpoint!r}, "
            f"status={self.status!r}, message={self.message!r})"
        )

    def __reduce__(self):  # picklable across process/thread boundaries with its fields
        return (_rebuild, (type(self), self.message, self.endpoint, self.status))


def _rebuild(cls, message, endpoint, status):
    return cls(message, endpoint=endpoint, status=status)


class InvalidHostUrl(OneRosterError):
    """Not a URL, not https (deployed), or a private/loopback/metadata address (deployed)."""

    code = "invalid_host_url"


class UnreachableHost(OneRosterError):
    """DNS failure, connect/read timeout, TLS failure, refused or reset connections."""

    code = "unreachable_host"


class OutOfTime(UnreachableHost):
    """The caller's deadline came before the SIS answered, or before a retry could wait its turn
    (the setup API must answer within API Gateway's 29 s; a sync slice must end in time). A kind
    of UnreachableHost; the sync engine catches it first: it saves and continues."""

    code = "out_of_time"


class InvalidCredentials(OneRosterError):
    """401, or a token endpoint that refuses the client id and secret."""

    code = "invalid_credentials"


class InsufficientScope(OneRosterError):
    """403: the credentials work but may not read this."""

    code = "insufficient_scope"


class NotOneRoster(OneRosterError):
    """The host does not answer like a OneRoster 1.1 server (404, HTML, no known envelope)."""

    code = "not_oneroster"


class ServerError(OneRosterError):
    """5xx or 429 after every retry, or an imsx failure payload."""

    code = "server_error"


class BadResponse(OneRosterError):
    """Invalid or truncated JSON after retries, a page of the wrong collection, a looping server."""

    code = "bad_response"


class RequestRejected(OneRosterError):
    """Another 4xx (400 for a filter the server cannot parse, 405, 422...)."""

    code = "request_rejected"


ERROR_TYPES: dict[str, type[OneRosterError]] = {
    cls.code: cls
    for cls in (
        InvalidHostUrl,
        UnreachableHost,
        OutOfTime,
        InvalidCredentials,
        InsufficientScope,
        NotOneRoster,
        ServerError,
        BadResponse,
        RequestRejected,
    )
}

REDACTED = "[redacted]"


# Credentials a server may echo from our own request headers, whatever their value.
_ECHOED_CREDENTIALS = re.compile(
    r'(oauth_signature=)"?[^",\s]*"?|(Bearer\s+)[A-Za-z0-9._~+/=-]+|(Basic\s+)[A-Za-z0-9+/=]+', re.IGNORECASE
)


def scrub(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """`text` with every non-trivial secret and echoed credential replaced: server text
    may repeat what we sent."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, REDACTED)
    return _ECHOED_CREDENTIALS.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + REDACTED, text)
