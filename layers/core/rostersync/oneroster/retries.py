"""When to try again, and how long to wait first.

Exponential backoff with full jitter (a random delay between 0 and base * 2^attempt,
capped) spreads retries from many Lambda workers; a Retry-After header (seconds or an
HTTP date) is honoured as given, capped so a server cannot park a worker for an hour.
Sleep and randomness are injectable so tests run in milliseconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset((408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 525, 526, 527, 529, 598, 599))


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or (500 <= status < 600 and status != 501)


@dataclass
class RetryPolicy:
    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 10.0
    retry_after_cap: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2^attempt)]."""
        return self.random() * min(self.max_delay, self.base_delay * (2**attempt))

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        honoured = self.parse_retry_after(retry_after)
        if honoured is not None:
            return min(honoured, self.retry_after_cap)
        return self.backoff(attempt)

    def parse_retry_after(self, value: str | None) -> float | None:
        """Seconds from 'Retry-After: 3' or 'Retry-After: Wed, 21 Oct 2026 07:28:00 GMT'."""
        if not value:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - self.now()).total_seconds())
