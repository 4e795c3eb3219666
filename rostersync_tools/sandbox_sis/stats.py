"""Request counters: how many OneRoster and token requests a client made (benchmarks read these),
and how many were being answered at once (the most at any moment: tests of the per-host limit
read it)."""

import threading
from collections import Counter


class RequestStats:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self._requests = 0
            self._token_requests = 0
            self._by_path: Counter[str] = Counter()
            self._by_status: Counter[str] = Counter()
            self._faults = 0
            # Requests being answered across a reset are still in flight: only the peak restarts.
            self._in_flight = getattr(self, "_in_flight", 0)
            self._in_flight_peak = self._in_flight

    def count(self, path: str, is_token_request: bool) -> None:
        """One request, by its path below the OneRoster base ("/users", "/token")."""
        with self._lock:
            self._requests += 1
            self._by_path[path] += 1
            if is_token_request:
                self._token_requests += 1

    def answered(self, status: int, faulted: bool) -> None:
        with self._lock:
            self._by_status[str(status)] += 1
            self._faults += int(faulted)

    def started(self) -> None:
        """A request is being answered (until finished())."""
        with self._lock:
            self._in_flight += 1
            self._in_flight_peak = max(self._in_flight_peak, self._in_flight)

    def finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def as_dict(self) -> dict:
        with self._lock:
            return {
                "requests": self._requests,
                "byPath": dict(self._by_path),
                "tokenRequests": self._token_requests,
                "byStatus": dict(self._by_status),
                "faultsInjected": self._faults,
                "inFlightPeak": self._in_flight_peak,
            }
