"""The sync engine: one district's SIS roster into the store, correct, bounded and resumable.

Phases, each a stream of SIS pages (see docs/design.md):
  full:  schools -> courses -> classes -> users (parked) -> enrollments -> write users -> sweep
  delta: schools -> courses -> delta classes -> delta users -> delta enrollments -> delta finish
Each page is diffed against the store by deterministic keys (BatchGet) and only what changed
is written (BatchWrite, several requests in flight, overlapping the next page's fetch).
Nothing is deactivated until every phase has read the SIS completely; then what goes out is
deactivated in one step shared by full and delta runs, unless that is more than the run's
guard allows (the run stops as needs_review and approval applies it).

A run may be cut into many invocations on different containers. Its state (sync/run_state.py)
is saved with the page it has reached (sync/checkpoint.py) at every phase boundary and when
the invocation runs short of time; nothing is kept on local disk or across invocations in
memory. The run's plan (selection, guard, connection) is fixed when it starts.
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from rostersync import sis_access
from rostersync.notify import announce
from rostersync.oneroster import BadRecord, OneRosterClient, OutOfTime
from rostersync.oneroster.errors import OneRosterError
from rostersync.settings import SyncTuning, get_settings
from rostersync.sis_secrets import SecretNotFound
from rostersync.store.batch import BatchStore
from rostersync.store.districts import DEFAULT_FULL_SYNC_EVERY_DAYS, DistrictModel
from rostersync.store.roster import ACTIVE, INACTIVE
from rostersync.store.roster_scan import RosterScan, RosterTable
from rostersync.store.schools import SchoolModel
from rostersync.store.sync_runs import MAX_STORED_ERRORS, RECORD_TYPES, get_run
from rostersync.sync import class_terms, mapping, notices, record_checks
from rostersync.sync.account_matching import AccountMatching
from rostersync.sync.checkpoint import CheckpointStore
from rostersync.sync.class_titles import ClassTitles
from rostersync.sync.collections_tuning import fewer_collections
from rostersync.sync.delta import DeltaNotEnough, DeltaPhases
from rostersync.sync.fingerprints import ReferenceMemo, fingerprint
from rostersync.sync.notices import Notices
from rostersync.sync.options import SyncOptionsCollector
from rostersync.sync.parked_users import ParkedUsers
from rostersync.sync.rekeys import Rekeys
from rostersync.sync.review import PREVIEW, ReviewRecords, preview_store
from rostersync.sync.run_state import DeltaState, RunPlan, RunState, empty_counts
from rostersync.sync.selection import class_is_in, enrollment_counts, is_active, user_is_eligible
from rostersync.sync.skip_counts import (
    SkipCounts,
    SkipReason,
    enrollment_left_out,
    enrollment_reason,
    reason_of_error,
    user_left_out,
)
from rostersync.sync.terms import TermPhases
from rostersync.times import utc_now

logger = logging.getLogger(__name__)

FULL_PHASES = (
    "schools",
    "courses",
    "terms",
    "classes",
    "pair_classes",
    "users",
    "pair_users",
    "enrollments",
    "class_titles",
    "write_users",
    "write_terms",
    "sweep",
    "done",
)
# A delta reads only what changed since the last successful sync (see sync/delta.py); academic
# sessions are read whole in both (sync/terms.py).
DELTA_PHASES = (
    "schools",
    "courses",
    "terms",
    "delta_classes",
    "delta_users",
    "delta_enrollments",
    "write_terms",
    "delta_finish",
    "done",
)
CURSOR_OVERLAP = timedelta(minutes=10)  # clock skew between us and the SIS
GUARDED_TYPES = ("teachers", "students", "classes", "enrollments")
KEPT_KINDS = {
    "schools": "school",
    "classes": "class",
    "teachers": "user",
    "students": "user",
    "enrollments": "enrollment",
}
SWEEP_MEMORY_ITEMS = 50_000  # leaving items held between the guard's count and the writes

__all__ = [
    "Outcome",
    "SyncEngine",
    "SyncInterrupted",
    "SyncRequest",
    "SyncResult",
    "Tuning",
    "choose_mode",
    "empty_counts",
    "run_sync",
]


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    NEEDS_REVIEW = "needs_review"
    CONTINUE = "continue"
    FAILED = "failed"


@dataclass(frozen=True)
class SyncRequest:
    district_id: str
    run_id: str
    mode: str = "full"  # full | delta (requested)
    approve: bool = False  # apply the deactivations a needs_review run held back
    fence: Callable[[], None] | None = None  # checked before each write batch (sync/run_lifecycle.py)


@dataclass
class SyncResult:
    outcome: Outcome
    mode: str
    counts: dict
    errors: list[dict] = field(default_factory=list)
    error_total: int = 0
    notices: list[dict] = field(default_factory=list)  # not errors: never in error_total (sync/notices.py)
    failure: str | None = None
    held_deactivations: dict | None = None
    progressed: bool = True  # this invocation moved the run forward (a page, a phase, an end)
    plan: dict | None = None  # the run's fixed selection, guard and connection (no secret)
    phase_seconds: dict = field(default_factory=dict)  # wall time per phase in this invocation


Tuning = SyncTuning  # the worker's tuning knobs (rostersync.settings)


def choose_mode(
    district: DistrictModel, now: datetime, interval_checked: bool = True, selection_fingerprint: str | None = None
) -> str:
    """Delta when the last successful sync used the same selection and (for nightly runs) a
    full one ran recently enough: hard deletes only show in a full sync's diff."""
    from rostersync.sync.selection import Selection

    config = district.sync_config
    if config is None or district.last_success_started_at is None or district.last_full_sync_at is None:
        return "full"
    if getattr(district, "full_sync_due", None):  # records kept by a partial approval or a rejection
        return "full"
    selection = selection_fingerprint or Selection.from_config(config).fingerprint()
    if district.synced_selection_hash != selection:
        return "full"
    every = timedelta(days=float(config.full_sync_every_days or DEFAULT_FULL_SYNC_EVERY_DAYS))
    if interval_checked and now - district.last_full_sync_at >= every:
        return "full"
    return "delta"


class Paused(Exception):
    """Raised inside a phase when the invocation is out of time; the checkpoint is saved."""


class SyncInterrupted(RuntimeError):
    """The SIS failed in a way that may pass (unreachable, 5xx, bad bodies after retries).

    Raised out of run_sync so the queue message fails and SQS retries it later; the saved
    checkpoint lets the retry resume. After the queue's retries it lands in the dead-letter
    queue for on-call. The message names the endpoint and never the secret.
    """


# Failures no retry can fix: the district admin has to change the connection.
PERMANENT_SIS_ERRORS = ("invalid_credentials", "insufficient_scope", "not_oneroster", "invalid_host_url")


class SyncEngine:
    def __init__(
        self,
        request: SyncRequest,
        time_left: Callable[[], float],
        on_progress: Callable[[dict], None] | None = None,
        tuning: Tuning | None = None,
        client: OneRosterClient | None = None,
        store: BatchStore | None = None,
    ):
        self.request = request
        self.district_id = request.district_id
        self.run_id = request.run_id
        self.time_left = time_left
        self.on_progress = on_progress or (lambda counts: None)
        self.tuning = tuning or Tuning.from_env()
        self.settings = get_settings()
        if store is None and request.mode == PREVIEW:  # reads as a full sync, writes no roster item
            store = preview_store(self.tuning.store_in_flight)
        self.store = store or BatchStore(max_in_flight=self.tuning.store_in_flight)
        self.store.fence = request.fence
        self.checkpoints = CheckpointStore(self.store, self.district_id, self.run_id)
        self.roster = RosterScan(self.store, self.district_id)
        self.matching = AccountMatching(self)  # app-made records and links (issue 13)
        self.roster.id_of = self.matching.item_id
        self.rekeys = Rekeys(self)  # SIS records under new sourcedIds keep their ids (issue 13)
        self.class_titles = ClassTitles(self)  # classes matched by title and teacher (issue 13)
        self._client = client
        if client is not None:
            client.set_time_left(time_left)
        self.errors: list[dict] = []
        self.notices = Notices()
        self.state: RunState | None = None
        self.parked: ParkedUsers | None = None
        self.delta = DeltaPhases(self)
        self.review = ReviewRecords(self)  # held records, approval decisions, preview samples
        self.terms = TermPhases(self)  # academic sessions; classes whose terms are over
        self.pages_this_invocation = 0
        self.progressed = False
        self.phase_seconds: dict[str, float] = {}
        self._overlap = False  # inside the page re-read when resuming
        self._stream = None
        self.now = utc_now()

    # ------------------------------------------------------------------ entry point
    def run(self) -> SyncResult:
        with fewer_collections():
            return self._run()

    def _run(self) -> SyncResult:
        self.district = DistrictModel.get(self.district_id)
        state = self.checkpoints.load()
        if self.request.approve and state is not None and state.approved:
            self._use(state)  # an approval redelivered after a crash: it resumes where it stopped
        elif self.request.approve and state is None and self._approval_applied():
            return self._result(Outcome.SUCCEEDED)  # killed after its last write, before the run's end was recorded
        elif self.request.approve:
            if state is None or state.phase != "review":
                return self._result(Outcome.FAILED, failure="This run holds no deactivations to approve.")
            self._use(state)
            newer = self.district.last_success_started_at
            if newer is not None and newer > state.started:
                return self._result(Outcome.FAILED, failure="A newer sync has run since; run a new sync instead.")
            state.approved = True
            state.phase = "sweep" if state.mode == "full" else "delta_finish"
        elif state is None:
            failure = self._start()
            if failure:
                return self._result(Outcome.FAILED, failure=failure)
        else:
            self._use(state)
            if state.phase == "review":
                return self._result(Outcome.NEEDS_REVIEW, held=state.held)
        try:
            return self._run_phases()
        except Paused:
            return self._result(Outcome.CONTINUE)
        except OutOfTime:
            # The deadline came inside a page: what this invocation did since its last save
            # is redone from that save (every write is idempotent).
            self.store.flush()
            return self._result(Outcome.CONTINUE)
        except SecretNotFound:
            self.store.flush()
            self.checkpoints.delete()
            return self._result(
                Outcome.FAILED,
                failure="The SIS secret this run started with is gone (the connection "
                "was removed or replaced during the run); the next run uses the current connection.",
            )
        except OneRosterError as error:
            # A failed or partial read: nothing has been deactivated (deactivation comes last).
            announce.sis_check(self.district_id, error, run_id=self.run_id)  # the connection's health (never raises)
            self.store.flush()
            if error.code in PERMANENT_SIS_ERRORS:
                self.checkpoints.delete()
                return self._result(Outcome.FAILED, failure=f"The SIS refused the sync: {error}")
            self._save_checkpoint_quietly()
            raise SyncInterrupted(f"The SIS could not be read completely: {error}") from None
        finally:
            if self._client is not None:
                self._client.close()

    def _approval_applied(self) -> bool:
        """An approved run without a checkpoint finished its work: the district records a success
        started at or after this run's own start (no other run can start while it holds the lock)."""
        run = get_run(self.district_id, self.run_id)
        done = self.district.last_success_started_at
        return run is not None and run.started_at is not None and done is not None and done >= run.started_at

    def _run_phases(self) -> SyncResult:
        state = self.state
        while state.phase != "done":
            phase, started = state.phase, time.perf_counter()
            try:
                outcome = self._phase_method(phase)()
                self.store.flush()  # a phase is done when its writes are
            except DeltaNotEnough as reason:
                # Everything written so far is right; a full sync finishes the run exactly.
                logger.info("delta sync continues as a full sync: %s", reason)
                self.store.flush()
                self._use(
                    self._fresh_state(
                        "full",
                        plan=state.plan,
                        started_at=state.started_at,
                        counts=state.counts,
                        error_total=state.error_total,
                    )
                )
                state = self.state
                self._save_checkpoint()
                continue
            finally:
                self.phase_seconds[phase] = round(self.phase_seconds.get(phase, 0) + time.perf_counter() - started, 3)
            if outcome is not None:
                return outcome
            phases = DELTA_PHASES if state.mode == "delta" else FULL_PHASES
            state.phase = phases[phases.index(state.phase) + 1]
            state.offset = state.last_page_size = 0
            state.cursor = None
            self.progressed = True
            if state.phase != "done":
                self._save_checkpoint()
        self.notices.add_if(notices.end_of_run(state))  # most classes' terms over: said prominently
        self._finish_district()
        self.checkpoints.delete()
        return self._result(Outcome.SUCCEEDED)

    def _phase_method(self, phase: str) -> Callable[[], SyncResult | None]:
        if phase.startswith("delta_"):
            return getattr(self.delta, phase[len("delta_") :])
        return getattr(self, f"_phase_{phase}")

    # ------------------------------------------------------------------ state
    def _start(self) -> str | None:
        """A new run: fix its plan and save its first checkpoint. A failure text when the
        district cannot be synced at all."""
        if self.district.connection is None:
            return "The district has no SIS connection any more."
        from rostersync.sis_secrets import current_secret_version

        try:
            version = current_secret_version(self.district_id)
        except SecretNotFound:
            return "The district's SIS secret is missing; connect the SIS again."
        plan = self.review.plan(RunPlan.of_district(self.district, version))
        if plan is None:
            return "This preview's proposed configuration is gone; start the preview again."
        self._use(self._fresh_state(self._effective_mode(plan), plan=plan, started_at=self.now.isoformat()))
        self._save_checkpoint()
        return None

    def _fresh_state(
        self, mode: str, *, plan: RunPlan, started_at: str, counts: dict | None = None, error_total: int = 0
    ) -> RunState:
        state = RunState(
            mode=mode,
            plan=plan,
            started_at=started_at,
            counts=counts or empty_counts(),
            error_total=error_total,
            # Tables that held nothing for this district when the run began need no diff
            # reads and no sweep: a first sync only writes. A delta follows a synced district
            # and reads only what changed: it always diffs (an absent table counts as held).
            had_items={}
            if mode == "delta"
            else {table.name: self.roster.has_items(table) for table in self.roster.tables},
        )
        self.matching.prepare(state)
        if mode == "delta":
            state.delta = DeltaState(since=(self.district.last_success_started_at - CURSOR_OVERLAP).isoformat())
        return state

    def _use(self, state: RunState) -> None:
        self.state = state
        self.selection = state.plan.selection_rules()
        self.parked = ParkedUsers(self.checkpoints, state.parked)

    def _effective_mode(self, plan: RunPlan) -> str:
        """A delta only where one can be exact; otherwise full (see choose_mode)."""
        if self.request.mode == PREVIEW:
            return PREVIEW
        fingerprint_ = plan.selection_rules().fingerprint()
        if (
            self.request.mode == "delta"
            and choose_mode(self.district, self.now, interval_checked=False, selection_fingerprint=fingerprint_)
            == "delta"
        ):
            return "delta"
        return "full"

    def _save_checkpoint(self) -> None:
        self.parked.flush()
        self.store.flush()  # what the checkpoint says is written must be written
        self.checkpoints.save(self.state)

    def _save_checkpoint_quietly(self) -> None:
        try:
            self._save_checkpoint()
        except Exception:  # the run is failing anyway; the previous checkpoint stays valid
            logger.exception("could not save the checkpoint of a failing run")

    def pause(self) -> None:
        """Save the checkpoint and stop this invocation (the phases and their helpers call it)."""
        self._save_checkpoint()
        raise Paused()

    def out_of_time(self) -> bool:
        """Time to stop, once this invocation has moved the run forward at least once."""
        return self.pages_this_invocation > 0 and self.time_left() <= 0

    def _result(self, outcome: Outcome, failure: str | None = None, held: dict | None = None) -> SyncResult:
        state = self.state
        mode = state.mode if state else self.request.mode
        return SyncResult(
            outcome=outcome,
            mode=mode,
            counts=state.counts if state else empty_counts(),
            errors=self.errors,
            error_total=state.error_total if state else 0,
            notices=self.notices.items,
            failure=failure,
            held_deactivations=held,
            progressed=self.progressed or outcome != Outcome.CONTINUE,
            plan=state.plan.to_json() if state else None,
            phase_seconds=self.phase_seconds,
        )

    def _count(self, record_type: str, kind: str, n: int = 1) -> None:
        self.state.count(record_type, kind, n)

    @property
    def skips(self) -> SkipCounts:
        """Records left out, by reason, into the run's counts (sync/skip_counts.py)."""
        return SkipCounts(self.state.counts)

    def error(self, record_type: str, sourced_id: str | None, code: str, message: str) -> None:
        self.state.error_total += 1
        self.skips.count(record_type, reason_of_error(code))
        if len(self.errors) < MAX_STORED_ERRORS:
            if sourced_id is not None:  # shown to people: bounded, and always encodable text
                sourced_id = sourced_id[: record_checks.MAX_ID_CHARS].encode("utf-8", "replace").decode("utf-8")
            self.errors.append(
                {"type": record_type, "sisSourcedId": sourced_id, "code": code, "message": message[:500]}
            )

    # ------------------------------------------------------------------ records kept as stored
    def keep(self, kind: str, sourced_id: str | None) -> None:
        if sourced_id and record_checks.record_id_ok(sourced_id):
            self.state.sets["kept"].add(f"{kind}:{sourced_id}")

    def kept(self, kind: str, sourced_id: str | None) -> bool:
        kept = self.state.sets["kept"]
        return bool(sourced_id) and bool(kept) and f"{kind}:{sourced_id}" in kept  # nearly always empty

    def _refuse(self, record_type: str, record, code: str, message: str) -> None:
        """Report a record the SIS listed but this run cannot use, and keep its stored copy (and,
        for an enrollment, its user's) as they are."""
        if not self._overlap:
            self.error(record_type, record.sourced_id, code, message)
        kind = KEPT_KINDS.get(record_type, record_type)
        self.keep(kind, record.sourced_id)
        if kind == "enrollment" and getattr(record, "user_id", None):
            self.keep("user", record.user_id)

    def map(self, record_type: str, build: Callable, record, *args) -> dict | None:
        """mapping's item for `record`, or None when it cannot be stored (refused and kept)."""
        try:
            return self.matching.builder(build)(self.district_id, record, *args)
        except record_checks.Refused as refused:
            self._refuse(record_type, record, refused.code, refused.message)
            return None

    def class_decision(self, cls) -> tuple[bool, str | None]:
        """(in, app schoolId) for a class: in when the selection takes it and its school is one
        of the run's schools. A class whose school was refused in this run is kept as stored
        (neither in nor out: (False, None) after keep); one whose school is unknown is an error."""
        state = self.state
        course_subjects = tuple(state.course_subjects.get(cls.course_id or "", ()))
        if not class_is_in(cls, course_subjects, self.selection):
            self.skips.count("classes", SkipReason.FILTER if is_active(cls) else SkipReason.INACTIVE)
            return False, None
        school_id = state.school_map.get(cls.school_id)
        if school_id is None and self.kept("school", cls.school_id):
            self.keep("class", cls.sourced_id)  # its school could not be read this time
            self.skips.count("classes", SkipReason.INVALID_REFERENCE)
            return False, None
        if school_id is None:
            if not self._overlap:
                self.error(
                    "classes",
                    cls.sourced_id,
                    "unknown_school",
                    f"The class's school {cls.school_id!r} is not an active school of the SIS.",
                )
            return False, None
        self.terms.link(cls, school_id)
        if self.terms.class_ended(cls):
            state.sets["classes_ended"].add(cls.sourced_id)
            self.skips.count("classes", SkipReason.TERM_ENDED)
            return False, None  # its school year is over: the sweep ends it (sync/terms.py)
        return True, school_id

    def class_subjects(self, cls) -> tuple[str, ...]:
        return tuple(cls.subjects or self.state.course_subjects.get(cls.course_id or "", ()))

    # ------------------------------------------------------------------ SIS reading
    @property
    def client(self) -> OneRosterClient:
        if self._client is None:
            connection = self.state.plan.connection
            self._client = sis_access.open_client(
                self.district_id,
                sis_access.plan_client_settings(connection),
                secret_version=connection.get("secretVersion"),
                page_limit=self.tuning.page_limit,
                max_in_flight=self.tuning.sis_in_flight,
            )
            self._client.set_time_left(self.time_left)
        return self._client

    def pages(self, collection: str, record_type: str, filter: str | None = None):
        """The collection's pages from the saved offset on; bad records reported and dropped.

        A resumed read starts one page early: records deleted from the SIS meanwhile shift
        the rest down, and a record skipped here would be deactivated wrongly by the sweep.
        The caller's work on a page is done when it asks for the next one: the offset moves
        then, and a pause saves it.
        """
        state = self.state
        saved = state.offset
        start = max(0, saved - state.last_page_size) if saved else 0
        stream = self._stream = self.client.stream(collection, filter=filter, start_offset=start)
        pages = stream.pages()
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except OutOfTime:
                self.pause()  # between pages: the state is whole at the last page handled
            self._overlap = page.offset < saved  # records seen before are expected here
            if self.out_of_time():
                state.offset = page.offset
                self.pause()
            good = []
            for record in page.records:
                if isinstance(record, BadRecord):
                    self._refuse(record_type, record, record.code, record.message)
                    continue
                problem = record_checks.record_problem(record)
                if problem is not None:
                    self._refuse(record_type, record, problem.code, problem.message)
                    continue
                good.append(record)
            yield good
            if not self._overlap:
                self.pages_this_invocation += 1
                self.progressed = True
            state.offset = page.offset + len(page.records)
            state.last_page_size = len(page.records)
            self._overlap = False
            self.on_progress(state.counts)

    @property
    def stream(self):
        """The stream `pages` reads (its filter_mismatches tell whether a filter was honoured)."""
        return self._stream

    def first_sight(self, set_name: str, record_type: str, record) -> bool:
        """False (and an error) for a sourcedId this collection already delivered in this run."""
        return self.sighted(set_name, record_type, record) is not None

    def sighted(self, set_name: str, record_type: str, record) -> int | None:
        """first_sight, answering with the record's fingerprint (None: seen before)."""
        seen, fp = self.state.sets[set_name], fingerprint(record.sourced_id)
        if seen.contains_fingerprint(fp):
            if self._overlap:
                return None
            self.error(
                record_type,
                record.sourced_id,
                "duplicate_sourced_id",
                "The SIS sent this sourcedId more than once; the first record was used.",
            )
            return None
        seen.add_fingerprint(fp)
        return fp

    # ------------------------------------------------------------------ diff and write
    def apply(
        self,
        table: RosterTable,
        items: list[dict],
        type_of: Callable[[dict], str],
        on_reentry: Callable[[dict], None] | None = None,
    ) -> None:
        """Write the items that are new or changed; count each as created, updated or unchanged."""
        if not items:
            return
        self.matching.before_apply(table, items, type_of)
        stored_by_key = {}
        if self.state.had_items.get(table.name, True):
            stored = self.roster.by_keys(
                table, [item[table.key] for item in items], projection=[table.key, "contentHash", "status"]
            )
            stored_by_key = {s[table.key]: s for s in stored}
        for item in items:
            before = stored_by_key.get(item[table.key])
            record_type = type_of(item)
            if before is None:
                change = "created"
            elif before.get("contentHash") == item["contentHash"] and before.get("status") == ACTIVE:
                self._count(record_type, "unchanged")
                self.review.saw(record_type, "unchanged", item, table.key)
                continue
            else:
                if on_reentry is not None and before.get("status") != ACTIVE:
                    on_reentry(item)
                change = "updated"
            self._count(record_type, change)
            self.review.saw(record_type, change, item, table.key)
            item["lastChange"] = change  # what this run did to it, for Roster Changed (not hashed)
            self.store.put(table.name, item)

    # ------------------------------------------------------------------ phases both modes share
    def _phase_schools(self):
        state = self.state
        if state.offset == 0:
            # Matches as they stand when this run reads schools; kept in the state so a
            # continued read maps every page the same way.
            state.app_matches = {
                s.sis_sourced_id: s.school_id
                for s in SchoolModel.query(self.district_id)
                if s.origin == "app" and s.sis_sourced_id
            }
            state.school_map, state.sis_schools, state.matched_schools = {}, [], []
        matched = state.app_matches
        for page in self.pages("schools", "schools"):
            items = []
            for org in page:
                if not self.first_sight("schools_all", "schools", org):
                    continue
                if not sis_access.is_active_school(org, listed_as_school=True):
                    self.skips.count("schools", SkipReason.INACTIVE)
                    continue
                state.sis_schools.append({"sisSourcedId": org.sourced_id, "name": org.name or org.sourced_id})
                if not self.selection.school_selected(org.sourced_id):
                    self.skips.count("schools", SkipReason.FILTER)
                    continue
                state.sets["schools_in"].add(org.sourced_id)
                if org.sourced_id in matched:
                    # A SIS school matched to an app school since a sync created one of its
                    # own: the sync-created one goes (the sweep), the match carries the rest.
                    state.school_map[org.sourced_id] = matched[org.sourced_id]
                    state.matched_schools.append(org.sourced_id)
                    self._count("schools", "unchanged")
                    continue
                item = self.map("schools", mapping.school_item, org, self.run_id, self.now, self.now)
                if item is not None:
                    state.school_map[org.sourced_id] = item["schoolId"]
                    items.append(item)
            created = {
                i["schoolId"]: i.get("createdAt")
                for i in self.roster.by_keys(
                    self.roster.schools, [item["schoolId"] for item in items], projection=["schoolId", "createdAt"]
                )
            }
            for item in items:  # keep a school's creation time across syncs
                item["createdAt"] = created.get(item["schoolId"]) or self.now
            self.apply(self.roster.schools, items, lambda item: "schools")

    def _phase_courses(self):
        state = self.state
        offered_grades, offered_subjects = set(state.grades), set(state.subjects)
        for page in self.pages("courses", "classes"):
            for course in page:
                if course.subjects:
                    state.course_subjects[course.sourced_id] = list(course.subjects)
                if is_active(course):  # the sync options offer what active courses carry too
                    offered_grades.update(course.grades)
                    offered_subjects.update(course.subjects)
            state.grades, state.subjects = sorted(offered_grades), sorted(offered_subjects)

    def _phase_terms(self):
        self.terms.read()

    def _phase_write_terms(self):
        self.terms.write()

    # ------------------------------------------------------------------ full sync
    def _phase_classes(self):
        state = self.state
        grades, subjects = set(state.grades), set(state.subjects)
        for page in self.pages("classes", "classes"):
            items = []
            for cls in page:
                if not self.first_sight("classes_all", "classes", cls):
                    continue
                class_subjects = self.class_subjects(cls)
                if is_active(cls):
                    grades.update(cls.grades)
                    subjects.update(class_subjects)
                    class_terms.count(state.terms, cls)  # step 4's current / ended classes
                is_in, school_id = self.class_decision(cls)
                if not is_in:
                    continue
                item = self.map("classes", mapping.class_item, cls, school_id, class_subjects, self.run_id, self.now)
                if item is None:
                    continue
                state.sets["classes_in"].add(cls.sourced_id)
                items.append(item)
            # A possible re-key first: a re-keyed class linked to an app class keeps its id instead
            # of meeting its own app class as a conflict; then matching by code, then by title.
            items = self.rekeys.hold_back_classes(items)
            self.matching.match_classes(items)
            items = self.class_titles.hold_back(items)
            self.apply(self.roster.classes, items, lambda item: "classes")
            state.grades, state.subjects = sorted(grades), sorted(subjects)

    def _phase_pair_classes(self):
        self.rekeys.pair("class")  # the whole collection is read: the old sourcedIds that are gone

    def _phase_users(self):
        if self.state.offset == 0:
            self.parked.clear()
        for page in self.pages("users", "students"):
            self.park_users(page)
            self.parked.flush()

    def _phase_pair_users(self):
        self.rekeys.pair("user")  # the whole collection is read: the old sourcedIds that are gone

    def park_users(self, page) -> list:
        """Park the eligible users of a page (first sight only); returns the users parked."""
        state, parked, rows = self.state, [], []
        for user in page:
            record_type = "teachers" if user.role == "teacher" else "students"
            if not self.first_sight("users_all", record_type, user):
                continue
            if not user_is_eligible(user):
                self.skips.count(record_type, SkipReason.INACTIVE if not is_active(user) else SkipReason.ROLE)
                continue
            item = self.map(record_type, mapping.user_item, user, self._user_schools(user), self.run_id, self.now)
            if item is None:
                continue
            state.sets["users_eligible"].add(user.sourced_id)
            del item["updatedAt"]  # stamped when written
            rows.append((fingerprint(user.sourced_id), item))
            parked.append(user)
        # A possible re-key first (see _phase_classes); matching for the others.
        pending = self.rekeys.look_for_users([item for _fp, item in rows])
        self.matching.match_users([item for _fp, item in rows if item["sisSourcedId"] not in pending])
        self.parked.add_many(rows)
        return parked

    def park_fetched_user(self, user) -> dict | None:
        """Park one user fetched on its own (a delta's); its item, or None when refused."""
        try:
            item = self.matching.builder(mapping.user_item)(
                self.district_id, user, self._user_schools(user), self.run_id, self.now
            )
        except record_checks.Refused:
            self.keep("user", user.sourced_id)
            return None
        del item["updatedAt"]
        self.parked.add_many([(fingerprint(user.sourced_id), item)])
        return item

    def _user_schools(self, user) -> list[str]:
        school_map = self.state.school_map
        return [school_map[o] for o in user.org_ids if o in school_map]

    def _phase_enrollments(self):
        sets = self.state.sets
        classes_all, classes_in = sets["classes_all"], sets["classes_in"]
        users_all, users_eligible = sets["users_all"], sets["users_eligible"]
        # A class has some 30 enrollments and a user 6: what the sets above (fixed by now) say
        # about each is remembered for the phase, not looked up again (bounded).
        classes, users = ReferenceMemo(classes_all, classes_in), ReferenceMemo(users_all, users_eligible)
        kept = sets["kept"]  # nearly always empty
        for page in self.pages("enrollments", "enrollments"):
            items = []
            for enrollment in page:
                own_fp = self.sighted("enrollments_all", "enrollments", enrollment)
                if own_fp is None:
                    continue
                if not enrollment_counts(enrollment):
                    self.skips.count("enrollments", enrollment_reason(enrollment))
                    continue
                if kept and (self.kept("class", enrollment.class_id) or self.kept("user", enrollment.user_id)):
                    # Its class or user could not be read this time: kept as stored, as they are.
                    self.keep("enrollment", enrollment.sourced_id)
                    self.keep("user", enrollment.user_id)
                    self.skips.count("enrollments", SkipReason.INVALID_REFERENCE)
                    continue
                class_fp, class_listed, class_in = classes.of(enrollment.class_id)
                user_fp, user_listed, user_eligible = users.of(enrollment.user_id)
                if not class_listed:
                    self.error(
                        "enrollments",
                        enrollment.sourced_id,
                        "unknown_class",
                        f"The enrollment points at class {enrollment.class_id!r}, which the SIS does not list.",
                    )
                    continue
                if not user_listed:
                    self.error(
                        "enrollments",
                        enrollment.sourced_id,
                        "unknown_user",
                        f"The enrollment points at user {enrollment.user_id!r}, which the SIS does not list.",
                    )
                    continue
                if not class_in or not user_eligible:
                    self.terms.enrolled_in_ended(class_fp, user_fp, users_eligible)
                    self.skips.count("enrollments", enrollment_left_out(self.state.sets, class_fp, class_in))
                    continue
                item = self.map("enrollments", mapping.enrollment_item, enrollment, self.run_id, self.now)
                if item is None:
                    continue
                sets["enrollments_in"].add_fingerprint(own_fp)
                sets["users_in"].add_fingerprint(user_fp)
                items.append(item)
            self.rekeys.pair_enrollments(items)
            items = self.class_titles.hold_enrollments(items)
            self.apply(self.roster.enrollments, items, lambda item: "enrollments")

    def _phase_class_titles(self):
        self.class_titles.decide()  # set-aside classes, now that their teachers are known

    def _phase_write_users(self):
        """Write the parked users that turned out to be in, a chunk at a time (the offset
        counts chunks written)."""
        state = self.state
        users_in = state.sets["users_in"]
        for number, rows in self.parked.iterate(start=state.offset):
            if self.out_of_time():
                self.pause()
            items = []
            for fp, item in rows:
                if users_in.contains_fingerprint(fp):
                    item["updatedAt"] = self.now
                    items.append(item)
                else:
                    self.skips.count(user_type(item), user_left_out(self.state.sets, fp))
            self.apply(self.roster.users, items, user_type)
            state.offset = number + 1
            self.pages_this_invocation += 1
            self.progressed = True
            self.on_progress(state.counts)

    # ------------------------------------------------------------------ sweep
    def _sweep_plan(self):
        """(table, record type of an item, whether an active item goes) for each roster table."""
        sets, kept, roster = self.state.sets, self.kept, self.roster
        matched = set(self.state.matched_schools)

        def enrollment_goes(i) -> bool:
            if kept("enrollment", i["sisSourcedId"]):
                self.keep("user", i["userSourcedId"])  # users are swept after enrollments
                return False
            return i["sisSourcedId"] not in sets["enrollments_in"] or i["userSourcedId"] not in sets["users_in"]

        superseded = self.matching.superseded  # copies an admin's link replaced (issue 13)
        plan = (
            (
                roster.classes,
                lambda i: "classes",
                lambda i: (
                    (i["sisSourcedId"] not in sets["classes_in"] and not kept("class", i["sisSourcedId"]))
                    or superseded(i["classId"])
                ),
            ),
            (roster.enrollments, lambda i: "enrollments", enrollment_goes),
            (
                roster.users,
                user_type,
                lambda i: (
                    (i["sisSourcedId"] not in sets["users_in"] and not kept("user", i["sisSourcedId"]))
                    or superseded(i["userId"])
                ),
            ),
            (
                roster.schools,
                lambda i: "schools",
                lambda i: (
                    i.get("origin") == "sis"
                    and not kept("school", i.get("sisSourcedId"))
                    and (i.get("sisSourcedId") not in sets["schools_in"] or i.get("sisSourcedId") in matched)
                ),
            ),
        )
        return [step for step in plan if self.state.had_items.get(step[0].name, True)]

    def _phase_sweep(self):
        """Deactivate what the complete read did not find in; one pass unless very many leave."""
        active, leaving, held_items, overflow = {}, {}, [], False
        ended = {}  # of those leaving, how many because their school year is over (sync/terms.py)
        for table, type_of, goes in self._sweep_plan():
            for page in self.roster.active_items(table):
                for item in page:
                    if table.kind != "school" and not item.get("sisSourcedId"):
                        continue  # an app-made record no sync has linked: never the sync's to deactivate
                    record_type = type_of(item)
                    active[record_type] = active.get(record_type, 0) + 1
                    if goes(item):
                        leaving[record_type] = leaving.get(record_type, 0) + 1
                        if self.terms.leaves_with_term(record_type, item):
                            ended[record_type] = ended.get(record_type, 0) + 1
                        if len(held_items) < SWEEP_MEMORY_ITEMS:
                            held_items.append((table, record_type, item))
                        else:
                            overflow = True  # too many to hold: read them again below

        def items():
            if not overflow:
                return held_items
            return (
                (table, type_of(item), item)
                for table, type_of, goes in self._sweep_plan()
                for page in self.roster.active_items(table)
                for item in page
                if (table.kind == "school" or item.get("sisSourcedId")) and goes(item)
            )

        return self.hold_or_deactivate(active, leaving, items, ended=ended)

    # ------------------------------------------------------------------ deactivation, both modes
    def hold_or_deactivate(
        self,
        active: dict,
        leaving: dict,
        items: Callable[[], Iterable[tuple[RosterTable, str, dict]]],
        ended: dict | None = None,
    ) -> SyncResult | None:
        """The one step where records go inactive: held for review when more leave than the
        run's guard allows (and the run was not approved), else deactivated now. `ended`: how
        many of those leaving go because their terms are over, which the guard does not count."""
        state = self.state
        if ended:
            self.terms.year_end_notice(ended)
        if not state.approved:
            self.rekeys.summary(leaving)
            held = self._guard(active, leaving, ended) or self.review.hold_everything(leaving)
            if held and state.mode == PREVIEW:
                self.review.would_hold(held)  # what the sync would hold; the preview counts on
            elif held:
                self.review.write_held(items())  # listed record by record for the admin
                state.phase = "review"
                state.held = held
                self._save_checkpoint()
                return self._result(Outcome.NEEDS_REVIEW, held=held)
        for table, record_type, item in items():
            if state.approved and not self.review.approves(record_type, item[table.key]):
                continue  # an approval in part: the rest stay active, re-evaluated by the next run
            item["status"] = INACTIVE
            item["updatedAt"] = self.now
            item["lastRunId"] = self.run_id
            # A delta's finish re-plans from the store after a crash: it must see what this run
            # already took out as leaving still (sync/delta.py, was_active).
            item["deactivatedBy"] = self.run_id
            self._count(record_type, "deactivated")
            self.review.saw(record_type, "deactivated", item, table.key)
            self.store.put(table.name, item)
        self.store.flush()
        return None

    def _guard(self, active: dict, leaving: dict, ended: dict | None = None) -> dict | None:
        """The deactivations to hold back for a person's approval, or None when within bounds.
        Records leaving because their terms are over (`ended`) are expected, not a loss."""
        plan, ended = self.state.plan, ended or {}
        losses = {t: leaving.get(t, 0) - ended.get(t, 0) for t in GUARDED_TYPES}
        over = {
            t: losses[t]
            for t in GUARDED_TYPES
            if losses[t] > plan.guard_min_records and losses[t] > plan.guard_max_share * active.get(t, 0)
        }
        return {t: leaving.get(t, 0) for t in RECORD_TYPES if leaving.get(t)} if over else None

    def previous_active_counts(self) -> dict:
        counts = self.district.active_counts
        return {k: int(v) for k, v in counts.as_dict().items()} if counts is not None else {}

    # ------------------------------------------------------------------ finish
    def _finish_district(self) -> None:
        state = self.state
        if state.mode == PREVIEW:
            return  # a preview changes nothing about the district
        actions = self.review.finish_actions() + [
            DistrictModel.last_success_started_at.set(state.started),
            DistrictModel.synced_selection_hash.set(self.selection.fingerprint()),
        ]
        counts = state.counts
        if state.mode == "full":
            active = {t: c["created"] + c["updated"] + c["unchanged"] for t, c in counts.items()}
        else:
            before = self.previous_active_counts()
            active = {t: max(0, int(before.get(t, 0)) + c["created"] - c["deactivated"]) for t, c in counts.items()}
        actions.append(DistrictModel.active_counts.set(active))
        if state.mode == "full":
            actions.append(DistrictModel.last_full_sync_at.set(state.started))
            # A full sync has read everything the step-4 page offers: refresh its cache.
            options = SyncOptionsCollector()
            for school in state.sis_schools:
                options.add_school(school["sisSourcedId"], school["name"])
            options.add_class(state.grades, state.subjects, course_id=None)
            options.class_terms = state.terms.class_terms if state.terms is not None and state.terms.read else None
            actions.append(DistrictModel.sync_options.set(options.options(refreshed_at=self.now)))
        self.district.update(actions=actions)


def user_type(item: dict) -> str:
    return "teachers" if item.get("role") == "teacher" else "students"


def run_sync(
    request: SyncRequest, time_left: Callable[[], float], on_progress: Callable[[dict], None] | None = None, **kwargs
) -> SyncResult:
    return SyncEngine(request, time_left, on_progress, **kwargs).run()
