"""How long a request may read the SIS: API Gateway drops an HTTP API request after 29 s.

`handle` opens `request_time(context)` for each request; routes pass `sis_deadline()` to the
OneRoster client, which then starts no request and sleeps no backoff past it (OutOfTime).
RESERVE_S is left for what follows the SIS reads (the secret write, the store write, the answer).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

API_GATEWAY_LIMIT_S = 29.0
RESERVE_S = 4.0

_deadline: ContextVar[float | None] = ContextVar("rostersync_request_deadline", default=None)


@contextmanager
def request_time(context=None, limit_s: float | None = None) -> Iterator[None]:
    """From now, SIS reads of this request end `limit_s - RESERVE_S` seconds later (sooner when
    the Lambda invocation itself has less time left)."""
    started = time.monotonic()
    limit_s = API_GATEWAY_LIMIT_S if limit_s is None else limit_s
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        with suppress(Exception):  # a context that cannot say: API Gateway's limit stands
            limit_s = min(limit_s, remaining() / 1000)
    token = _deadline.set(started + max(limit_s - RESERVE_S, 1.0))
    try:
        yield
    finally:
        _deadline.reset(token)


def sis_deadline() -> float:
    """The time.monotonic() instant this request's SIS reads must end by."""
    deadline = _deadline.get()
    return deadline if deadline is not None else time.monotonic() + API_GATEWAY_LIMIT_S - RESERVE_S
