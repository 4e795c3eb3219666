"""The sync engine: one district's SIS roster into the store, correct, bounded and resumable.

A sync is a list of phases (sync/phases.py: full, delta and preview runs are different lists
of the same phases), each a unit that takes the run's context (sync/context.py) and returns
what it decided. This module holds only the loop over them, the pause/continue rule and the
error boundary. Every read goes through the source reader (sources/port.py); each page is
diffed against the store by deterministic keys and only what changed is written. Nothing is
deactivated until every phase has read the SIS completely (sync/deactivation.py).

A run may be cut into many invocations on different containers. Its state (sync/run_state.py)
is saved with the page it has reached (sync/checkpoint.py) at every phase boundary and when
the invocation runs short of time; nothing is kept on local disk or across invocations in
memory. The run's plan (selection, guard, connection) is fixed when it starts (sync/run_start.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rostersync.notify import announce
from rostersync.oneroster import OneRosterClient, OutOfTime
from rostersync.oneroster.errors import OneRosterError
from rostersync.settings import SyncTuning
from rostersync.sis_secrets import SecretNotFound
from rostersync.sources import OneRosterRestReader, SourceReader
from rostersync.sources.opening import open_reader
from rostersync.store.batch import BatchStore
from rostersync.store.districts import DistrictModel
from rostersync.store.roster_scan import RosterScan
from rostersync.store.sync_runs import get_run
from rostersync.sync import notices, phases, run_start
from rostersync.sync.account_matching import AccountMatching
from rostersync.sync.checkpoint import CheckpointStore
from rostersync.sync.class_titles import ClassTitles
from rostersync.sync.collections_tuning import fewer_collections
from rostersync.sync.context import Paused, RunContext
from rostersync.sync.delta import DeltaNotEnough
from rostersync.sync.rekeys import Rekeys
from rostersync.sync.review import ReviewRecords, preview_store
from rostersync.sync.run_result import Outcome, SyncInterrupted, SyncRequest, SyncResult, Tuning
from rostersync.sync.run_start import choose_mode
from rostersync.sync.run_state import Held, Mode, Phase, RunPlan, RunState, empty_counts
from rostersync.sync.terms import TermPhases
from rostersync.times import utc_now

logger = logging.getLogger(__name__)

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


# Failures no retry can fix: the district admin has to change the connection.
# A CSV run's bundle that changed under it, or cannot serve its mode, is as final (sources/csv_reader.py).
PERMANENT_SIS_ERRORS = (
    "invalid_credentials",
    "insufficient_scope",
    "not_oneroster",
    "invalid_host_url",
    "bundle_unusable",
)


def open_source(district_id: str, tuning: SyncTuning) -> Callable[[RunPlan], SourceReader]:
    """The run's reader, from the connection its plan fixed (sources/opening.py)."""
    return lambda plan: open_reader(district_id, plan.connection, tuning)


class SyncEngine:
    def __init__(
        self,
        request: SyncRequest,
        time_left: Callable[[], float],
        on_progress: Callable[[dict], None] | None = None,
        tuning: Tuning | None = None,
        client: OneRosterClient | None = None,
        store: BatchStore | None = None,
        source: SourceReader | None = None,
    ):
        self.request = request
        tuning = tuning or Tuning.from_env()
        self._owns_store = store is None  # closed at the end of run(): its writer processes end with it
        if store is None and request.mode == Mode.PREVIEW:  # reads as a full sync, writes no roster item
            store = preview_store(tuning.store_in_flight)
        store = store or BatchStore(
            max_in_flight=tuning.store_in_flight,
            processes=tuning.writer_processes,
            processes_after=tuning.writer_processes_after,
        )
        store.fence = request.fence
        district_id, run_id = request.district_id, request.run_id
        self.ctx = ctx = RunContext(
            district_id=district_id,
            run_id=run_id,
            requested_mode=request.mode,
            store=store,
            roster=RosterScan(store, district_id),
            checkpoints=CheckpointStore(store, district_id, run_id),
            tuning=tuning,
            now=utc_now(),
            time_left=time_left,
            on_progress=on_progress or (lambda counts: None),
            open_source=open_source(district_id, tuning),
        )
        ctx.matching = AccountMatching(ctx)  # app-made records and links (issue 13)
        ctx.roster.id_of = ctx.matching.item_id
        ctx.rekeys = Rekeys(ctx)  # SIS records under new sourcedIds keep their ids (issue 13)
        ctx.class_titles = ClassTitles(ctx)  # classes matched by title and teacher (issue 13)
        ctx.review = ReviewRecords(ctx)  # held records, approval decisions, preview samples
        ctx.terms = TermPhases(ctx)  # academic sessions; classes whose terms are over
        if source is None and client is not None:
            source = OneRosterRestReader(client)
        if source is not None:
            ctx.set_source(source)

    @property
    def state(self) -> RunState | None:
        return self.ctx.state if self.ctx.has_state else None

    # ------------------------------------------------------------------ entry point
    def run(self) -> SyncResult:
        try:
            with fewer_collections():
                return self._run()
        finally:
            if self._owns_store:
                self.ctx.store.close()

    def _run(self) -> SyncResult:
        ctx = self.ctx
        ctx.district = district = DistrictModel.get(ctx.district_id)
        state = ctx.checkpoints.load()
        if self.request.approve and state is not None and state.approved:
            ctx.use(state)  # an approval redelivered after a crash: it resumes where it stopped
        elif self.request.approve and state is None and self._approval_applied():
            return self._result(Outcome.SUCCEEDED)  # killed after its last write, before the run's end was recorded
        elif self.request.approve:
            if state is None or state.phase != Phase.REVIEW:
                return self._result(Outcome.FAILED, failure="This run holds no deactivations to approve.")
            ctx.use(state)
            newer = district.last_success_started_at
            if newer is not None and newer > state.started:
                return self._result(Outcome.FAILED, failure="A newer sync has run since; run a new sync instead.")
            state.approved = True
            state.phase = phases.APPLY_HELD[state.mode]
        elif state is None:
            failure = run_start.start(ctx)
            if failure:
                return self._result(Outcome.FAILED, failure=failure)
        else:
            ctx.use(state)
            if state.phase == Phase.REVIEW:
                return self._result(Outcome.NEEDS_REVIEW, held=state.held)
        try:
            return self._run_phases()
        except Paused:
            return self._result(Outcome.CONTINUE)
        except OutOfTime:
            # The deadline came inside a page: what this invocation did since its last save
            # is redone from that save (every write is idempotent).
            ctx.store.flush()
            return self._result(Outcome.CONTINUE)
        except SecretNotFound:
            ctx.store.flush()
            ctx.checkpoints.delete()
            return self._result(
                Outcome.FAILED,
                failure="The SIS secret this run started with is gone (the connection "
                "was removed or replaced during the run); the next run uses the current connection.",
            )
        except OneRosterError as error:
            # A failed or partial read: nothing has been deactivated (deactivation comes last).
            announce.sis_check(ctx.district_id, error, run_id=ctx.run_id)  # the connection's health (never raises)
            ctx.store.flush()
            if error.code in PERMANENT_SIS_ERRORS:
                ctx.checkpoints.delete()
                refused = str(error) if error.code == "bundle_unusable" else f"The SIS refused the sync: {error}"
                return self._result(Outcome.FAILED, failure=refused)
            self._save_checkpoint_quietly()
            raise SyncInterrupted(f"The SIS could not be read completely: {error}") from None
        finally:
            ctx.close_source()

    def _approval_applied(self) -> bool:
        """An approved run without a checkpoint finished its work: the district records a success
        started at or after this run's own start (no other run can start while it holds the lock)."""
        run = get_run(self.ctx.district_id, self.ctx.run_id)
        done = self.ctx.loaded_district().last_success_started_at
        return run is not None and run.started_at is not None and done is not None and done >= run.started_at

    def _run_phases(self) -> SyncResult:
        ctx = self.ctx
        seconds = ctx.invocation.phase_seconds
        while ctx.state.phase != Phase.DONE:
            state = ctx.state
            phase, started = state.phase, time.perf_counter()
            try:
                held = phases.unit(phase)(ctx)
                ctx.store.flush()  # a phase is done when its writes are
            except DeltaNotEnough as reason:
                # Everything written so far is right; a full sync finishes the run exactly.
                logger.info("delta sync continues as a full sync: %s", reason)
                ctx.store.flush()
                ctx.use(run_start.as_full(ctx))
                ctx.save_checkpoint()
                continue
            finally:
                seconds[str(phase)] = round(seconds.get(str(phase), 0) + time.perf_counter() - started, 3)
            if held:
                state.phase, state.held = Phase.REVIEW, held
                ctx.save_checkpoint()
                return self._result(Outcome.NEEDS_REVIEW, held=held)
            state.phase = phases.next_phase(state.mode, phase)
            state.offset = state.last_page_size = 0
            state.cursor = state.position = None
            ctx.invocation.progressed = True
            if state.phase != Phase.DONE:
                ctx.save_checkpoint()
        ctx.notices.add_if(notices.end_of_run(ctx.state))  # most classes' terms over: said prominently
        run_start.finish_district(ctx)
        ctx.checkpoints.delete()
        return self._result(Outcome.SUCCEEDED)

    def _save_checkpoint_quietly(self) -> None:
        try:
            self.ctx.save_checkpoint()
        except Exception:  # the run is failing anyway; the previous checkpoint stays valid
            logger.exception("could not save the checkpoint of a failing run")

    def _result(self, outcome: Outcome, failure: str | None = None, held: Held | None = None) -> SyncResult:
        state, invocation = self.state, self.ctx.invocation
        return SyncResult(
            outcome=outcome,
            mode=state.mode if state else self.request.mode,
            counts=state.counts if state else empty_counts(),
            errors=invocation.errors,
            error_total=state.error_total if state else 0,
            notices=self.ctx.notices.items,
            failure=failure,
            held_deactivations=held,
            progressed=invocation.progressed or outcome != Outcome.CONTINUE,
            plan=state.plan.to_json() if state else None,
            phase_seconds=invocation.phase_seconds,
        )


def run_sync(
    request: SyncRequest, time_left: Callable[[], float], on_progress: Callable[[dict], None] | None = None, **kwargs
) -> SyncResult:
    return SyncEngine(request, time_left, on_progress, **kwargs).run()
