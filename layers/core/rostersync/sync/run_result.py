"""What a sync is asked (SyncRequest) and what it answers (SyncResult, Outcome); the worker
reads these (sync/worker.py). Re-exported by sync/engine.py, where run_sync takes and gives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from rostersync.settings import SyncTuning
from rostersync.sync.run_state import Counts, Held, Mode


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    NEEDS_REVIEW = "needs_review"
    CONTINUE = "continue"
    FAILED = "failed"


@dataclass(frozen=True)
class SyncRequest:
    district_id: str
    run_id: str
    mode: str = Mode.FULL  # full | delta | preview (requested; the run's own is decided at its start)
    approve: bool = False  # apply the deactivations a needs_review run held back
    fence: Callable[[], None] | None = None  # checked before each write batch (sync/run_lifecycle.py)


@dataclass
class SyncResult:
    outcome: Outcome
    mode: str
    counts: Counts
    errors: list[dict] = field(default_factory=list)
    error_total: int = 0
    notices: list[dict] = field(default_factory=list)  # not errors: never in error_total (sync/notices.py)
    failure: str | None = None
    held_deactivations: Held | None = None
    progressed: bool = True  # this invocation moved the run forward (a page, a phase, an end)
    plan: dict | None = None  # the run's fixed selection, guard and connection (no secret)
    phase_seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase in this invocation


Tuning = SyncTuning  # the worker's tuning knobs (rostersync.settings)


class SyncInterrupted(RuntimeError):
    """The SIS failed in a way that may pass (unreachable, 5xx, bad bodies after retries).

    Raised out of run_sync so the queue message fails and SQS retries it later; the saved
    checkpoint lets the retry resume. After the queue's retries it lands in the dead-letter
    queue for on-call. The message names the endpoint and never the secret.
    """
