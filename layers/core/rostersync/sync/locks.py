"""The district run lock: at most one queued or running sync per district.

The lock is two attributes on the district item (activeRunId, lockExpiresAt) and is only
ever taken with a conditional write that also creates (or re-queues) the run, so a run
holds the lock exactly when it is queued or running. A queued run's lock lasts long
enough to wait in a busy queue; a running run's worker heart-beats it forward. A lock
whose holder stopped heart-beating can be taken over, and the stale run is failed in the
same transaction (a worker that wakes up later finds its run failed and stops).

Times here are wall-clock epoch seconds from `clock()`, never a scheduled event's time:
tests replace `clock` to make a lock stale.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from rostersync.store import runs as store

# A queued run waits for a worker; with the queue's 90-minute visibility timeout a message
# whose worker died comes back within that, so two hours is "nobody will pick this up".
QUEUED_LOCK_SECONDS = 2 * 60 * 60
# A running worker extends its lock on every page; 15 minutes without one means it died
# (a Lambda invocation lasts at most 15 minutes).
RUNNING_LOCK_SECONDS = 15 * 60
WORKER_STOPPED = "The sync worker stopped (no heartbeat for a while); a newer sync took over the district."
_ATTEMPTS = 5


def clock() -> float:
    return time.time()


def expiry(seconds: int) -> int:
    return int(clock()) + seconds


class RunInProgress(Exception):
    """Another run is queued or running for the district (and heart-beating)."""

    def __init__(self, run_id: str):
        super().__init__(f"sync {run_id} is queued or running")
        self.run_id = run_id


class NightAlreadyDispatched(Exception):
    """A nightly run for this night (or a later one) was already created."""


class LockLost(Exception):
    """The run no longer holds its district lock (or its worker lease): someone took over."""


class DistrictNotFound(Exception):
    pass


@dataclass(frozen=True)
class ObservedLock:
    holder: str | None
    expires_at: int | None
    stale_failure: str | None  # text to fail the holder with when taking over, if it is still active
    stale_run: object | None = None  # that holder's run as read here (for telling people it failed)


def observe(district) -> ObservedLock:
    """What taking the lock now would mean; raises RunInProgress while a live run holds it."""
    holder = district.active_run_id
    expires_at = None if district.lock_expires_at is None else int(district.lock_expires_at)
    if holder is None:
        return ObservedLock(None, None, None)
    holder_run = store.get_run(district.district_id, holder)
    if holder_run is None or holder_run.status not in store.ACTIVE_STATUSES:
        # The holder finished but its release was lost (crash between two writes): free.
        return ObservedLock(holder, expires_at, None)
    if expires_at is not None and expires_at >= clock():
        raise RunInProgress(holder)
    return ObservedLock(holder, expires_at, WORKER_STOPPED, stale_run=holder_run)


def take(district_id: str, write: Callable[[object, ObservedLock], None], night: str | None = None) -> ObservedLock:
    """Read the district, check the lock (and the night), and let `write` make its
    conditional transaction; re-read and retry when someone else wrote in between.
    Returns what was taken over (its `stale_failure` is set when a stopped run was failed)."""
    for _ in range(_ATTEMPTS):
        district = store.get_district(district_id)
        if district is None:
            raise DistrictNotFound(district_id)
        if night is not None and district.last_nightly_night is not None and district.last_nightly_night >= night:
            raise NightAlreadyDispatched(night)
        observed = observe(district)
        try:
            write(district, observed)
            return observed
        except store.LockTaken:
            continue  # the district changed under us: look again
    # Still contended after several rounds: someone else is busy with this district.
    district = store.get_district(district_id)
    raise RunInProgress(district.active_run_id if district and district.active_run_id else "unknown")


def heartbeat(district_id: str, run_id: str, seconds: int = RUNNING_LOCK_SECONDS) -> None:
    if not store.extend_lock(district_id, run_id, expiry(seconds)):
        raise LockLost(run_id)


def release(district_id: str, run_id: str) -> bool:
    return store.release_lock(district_id, run_id)
