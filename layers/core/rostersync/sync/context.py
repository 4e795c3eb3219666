"""RunContext: what a phase of a sync is handed, explicitly, instead of the engine.

A phase (sync/phases.py) and each helper it uses (delta, terms, review, account matching,
re-keys, class titles) take a RunContext and read or change only what is here:

- the run: its ids, its district as loaded at the invocation's start, its saved state (RunState:
  everything that must outlive the invocation), its selection rules and parked users;
- where it reads and writes: the source reader (sources/port.py; opened on the first read from
  the run's fixed connection), the batch store, the roster tables, the checkpoint store;
- the clock: `now` (one instant for the invocation), `time_left` and the pause rule;
- tuning, and what this invocation has done (Invocation: pages, errors to report, time per phase),
  which is reported with the result and never saved.

The bookkeeping every phase shares (an error reported, a record kept as stored, a pause) is here;
reading pages and writing items is sync/record_steps.py's, deactivating sync/deactivation.py's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from rostersync.settings import SyncTuning
from rostersync.sources.port import SourceReader
from rostersync.store.attributes import map_value
from rostersync.store.batch import BatchStore
from rostersync.store.districts import DistrictModel
from rostersync.store.roster_scan import RosterScan
from rostersync.store.sync_runs import MAX_STORED_ERRORS
from rostersync.sync import record_checks
from rostersync.sync.checkpoint import CheckpointStore
from rostersync.sync.notices import Notices
from rostersync.sync.parked_users import ParkedUsers
from rostersync.sync.run_state import RunPlan, RunState
from rostersync.sync.selection import Selection
from rostersync.sync.skip_counts import SkipCounts, reason_of_error

if TYPE_CHECKING:
    from rostersync.sync.account_matching import AccountMatching
    from rostersync.sync.class_titles import ClassTitles
    from rostersync.sync.rekeys import Rekeys
    from rostersync.sync.review import ReviewRecords
    from rostersync.sync.terms import TermPhases

logger = logging.getLogger(__name__)

# The record kind (record_id's) a refused record of each type is kept under.
KEPT_KINDS = {
    "schools": "school",
    "classes": "class",
    "teachers": "user",
    "students": "user",
    "enrollments": "enrollment",
}


class Paused(Exception):
    """Raised inside a phase when the invocation is out of time; the checkpoint is saved."""


@dataclass
class Invocation:
    """What this invocation has done; reported with its result, never saved."""

    pages: int = 0  # pages (or chunks) handled: the pause rule lets the first through whatever the clock
    progressed: bool = False  # moved the run forward (a page, a phase, an end)
    overlap: bool = False  # inside the page re-read when resuming (its records were seen before)
    errors: list[dict] = field(default_factory=list)  # bounded (MAX_STORED_ERRORS)
    # The current page's records -> where the source holds each (SourcePage.where), by identity:
    # {id(record): (record, "users.csv line 12")}; empty for a source that cannot say.
    located: dict[int, tuple[object, str]] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)

    def moved(self) -> None:
        self.pages += 1
        self.progressed = True


@dataclass
class RunContext:
    district_id: str
    run_id: str
    requested_mode: str  # what the request asked (full, delta or preview); the run's own is state.mode
    store: BatchStore
    roster: RosterScan
    checkpoints: CheckpointStore
    tuning: SyncTuning
    now: datetime
    time_left: Callable[[], float]
    on_progress: Callable[[dict], None]
    open_source: Callable[[RunPlan], SourceReader]  # the run's reader, from its fixed connection
    district: DistrictModel | None = None
    invocation: Invocation = field(default_factory=Invocation)
    notices: Notices = field(default_factory=Notices)  # not errors: never in error_total (sync/notices.py)
    _state: RunState | None = None
    _source: SourceReader | None = None
    # The helpers the phases share, set when the context is built (sync/engine.py).
    matching: AccountMatching = field(init=False)
    rekeys: Rekeys = field(init=False)
    class_titles: ClassTitles = field(init=False)
    terms: TermPhases = field(init=False)
    review: ReviewRecords = field(init=False)
    selection: Selection = field(init=False)
    parked: ParkedUsers = field(init=False)

    # ------------------------------------------------------------------ the run
    @property
    def state(self) -> RunState:
        if self._state is None:
            raise RuntimeError("the run has no state yet")
        return self._state

    @property
    def has_state(self) -> bool:
        return self._state is not None

    def use(self, state: RunState) -> None:
        """Make `state` the run's (a new run, a loaded checkpoint, a delta turned full)."""
        self._state = state
        self.selection = state.plan.selection_rules()
        self.parked = ParkedUsers(self.checkpoints, state.parked)

    def loaded_district(self) -> DistrictModel:
        if self.district is None:
            raise RuntimeError("the district is not loaded")
        return self.district

    @property
    def source(self) -> SourceReader:
        """The SIS as this run reads it (every read of a sync goes through here)."""
        if self._source is None:
            self._source = self.open_source(self.state.plan)
            self._source.set_time_left(self.time_left)
        return self._source

    def set_source(self, source: SourceReader) -> None:
        source.set_time_left(self.time_left)
        self._source = source

    def close_source(self) -> None:
        if self._source is not None:
            self._source.close()

    # ------------------------------------------------------------------ the pause rule
    def out_of_time(self) -> bool:
        """Time to stop, once this invocation has moved the run forward at least once."""
        return self.invocation.pages > 0 and self.time_left() <= 0

    def save_checkpoint(self) -> None:
        self.parked.flush()
        self.store.flush()  # what the checkpoint says is written must be written
        self.checkpoints.save(self.state)

    def pause(self) -> None:
        """Save the checkpoint and stop this invocation (phases and helpers call it)."""
        self.save_checkpoint()
        raise Paused()

    def moved(self) -> None:
        """A page (or chunk) of the run is done: counts for the pause rule and the progress report."""
        self.invocation.moved()

    # ------------------------------------------------------------------ bookkeeping
    def count(self, record_type: str, kind: str, n: int = 1) -> None:
        self.state.count(record_type, kind, n)

    def report(self, record_type: str, sourced_id: str | None, code: str, message: str) -> None:
        """One error shown with the run (bounded), counted in its total; nothing is counted skipped."""
        self.state.error_total += 1
        errors = self.invocation.errors
        if len(errors) < MAX_STORED_ERRORS:
            if sourced_id is not None:  # shown to people: bounded, and always encodable text
                sourced_id = sourced_id[: record_checks.MAX_ID_CHARS].encode("utf-8", "replace").decode("utf-8")
            errors.append({"type": record_type, "sisSourcedId": sourced_id, "code": code, "message": message[:500]})

    @property
    def skips(self) -> SkipCounts:
        """Records left out, by reason, into the run's counts (sync/skip_counts.py)."""
        return SkipCounts(self.state.counts)

    def error(self, record_type: str, sourced_id: str | None, code: str, message: str, record=None) -> None:
        """A record the run skipped, with why (counted skipped by the reason its error code gives);
        given the record, its message names where the source holds it (a CSV file and line)."""
        self.report(record_type, sourced_id, code, self.located(record, message))
        self.skips.count(record_type, reason_of_error(code))

    def same_place(self, derived, record) -> None:
        """`derived` (a copy of the current page's `record`, e.g. with its role resolved) is where `record` is."""
        entry = self.invocation.located.get(id(record))
        if derived is not None and entry is not None and entry[0] is record and derived is not record:
            self.invocation.located[id(derived)] = (derived, entry[1])

    def located(self, record, message: str) -> str:
        """`message` prefixed with where the current page's `record` is in the source, if known."""
        entry = self.invocation.located.get(id(record)) if record is not None else None
        if entry is None or entry[0] is not record or message.startswith(entry[1]):
            return message
        return f"{entry[1]}: {message}"

    def keep(self, kind: str, sourced_id: str | None) -> None:
        """A record kept as stored (never deactivated by this run): the SIS listed it, unusable."""
        if sourced_id and record_checks.record_id_ok(sourced_id):
            self.state.sets["kept"].add(f"{kind}:{sourced_id}")

    def kept(self, kind: str, sourced_id: str | None) -> bool:
        kept = self.state.sets["kept"]
        return bool(sourced_id) and bool(kept) and f"{kind}:{sourced_id}" in kept  # nearly always empty

    def refuse(self, record_type: str, record, code: str, message: str) -> None:
        """Report a record the SIS listed but this run cannot use, and keep its stored copy (and,
        for an enrollment, its user's) as they are."""
        if not self.invocation.overlap:
            self.error(record_type, record.sourced_id, code, message, record=record)
        kind = KEPT_KINDS.get(record_type, record_type)
        self.keep(kind, record.sourced_id)
        if kind == "enrollment" and getattr(record, "user_id", None):
            self.keep("user", record.user_id)

    def previous_active_counts(self) -> dict[str, int]:
        counts = map_value(self.loaded_district().active_counts)
        return {k: int(v) for k, v in counts.items()} if counts is not None else {}
