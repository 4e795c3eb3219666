"""A run's first invocation fixes what it does (its mode) and what it syncs (its plan); a delta
that cannot be exact starts over as a full run in the same place. And a successful run's end:
what the district remembers of it."""

from __future__ import annotations

from datetime import datetime, timedelta

from rostersync.sis_secrets import SecretNotFound, current_secret_version
from rostersync.sources.opening import planned_bundle
from rostersync.store.districts import DEFAULT_FULL_SYNC_EVERY_DAYS, DistrictModel, csv_retention_days, is_csv
from rostersync.sync.context import RunContext
from rostersync.sync.options import SyncOptionsCollector
from rostersync.sync.run_state import Counts, DeltaState, Mode, RunPlan, RunState, empty_counts
from rostersync.sync.selection import Selection

CURSOR_OVERLAP = timedelta(minutes=10)  # clock skew between us and the SIS


def choose_mode(
    district: DistrictModel, now: datetime, interval_checked: bool = True, selection_fingerprint: str | None = None
) -> Mode:
    """Delta when the last successful sync used the same selection and (for nightly runs) a
    full one ran recently enough: hard deletes only show in a full sync's diff."""
    config = district.sync_config
    if config is None or district.last_success_started_at is None or district.last_full_sync_at is None:
        return Mode.FULL
    if getattr(district, "full_sync_due", None):  # records kept by a partial approval or a rejection
        return Mode.FULL
    selection = selection_fingerprint or Selection.from_config(config).fingerprint()
    if district.synced_selection_hash != selection:
        return Mode.FULL
    every = timedelta(days=float(config.full_sync_every_days or DEFAULT_FULL_SYNC_EVERY_DAYS))
    if interval_checked and now - district.last_full_sync_at >= every:
        return Mode.FULL
    return Mode.DELTA


def start(ctx: RunContext) -> str | None:
    """A new run: fix its plan and save its first checkpoint. A failure text when the district
    cannot be synced at all."""
    district = ctx.loaded_district()
    if district.connection is None:
        return "The district has no SIS connection any more."
    version: str | None = None
    if is_csv(district.connection):
        failure = csv_bundle_failure(district, ctx.now)
        if failure is not None:
            return failure
    else:
        try:
            version = current_secret_version(ctx.district_id)
        except SecretNotFound:
            return "The district's SIS secret is missing; connect the SIS again."
    plan = ctx.review.plan(RunPlan.of_district(district, version))
    if plan is None:
        return "This preview's proposed configuration is gone; start the preview again."
    mode = effective_mode(ctx, plan)
    bundle = planned_bundle(plan.connection)
    if bundle is not None and bundle.is_delta and mode != Mode.DELTA:
        return (
            f"The bundle is a delta ({', '.join(f'{name}.csv' for name in bundle.delta_files())}), but this run "
            "must be a full sync (a first sync, a changed selection, or a full sync due after a review); "
            "deliver a bundle whose files are all bulk."
        )
    ctx.use(fresh_state(ctx, mode, plan=plan, started_at=ctx.now.isoformat()))
    ctx.save_checkpoint()
    return None


def csv_bundle_failure(district: DistrictModel, now: datetime) -> str | None:
    """Why a CSV district's run cannot start: no bundle staged yet, or the latest one is past the
    district's retention (its objects are deleted or about to be)."""
    staged = district.csv_bundle
    if not staged or not staged.get("prefix"):
        return (
            "No CSV bundle has been delivered yet: upload one (console: Upload bundle, or POST csv-uploads) "
            "or deliver it over SFTP; a sync runs once it is checked."
        )
    days = csv_retention_days(district.connection)
    staged_at = datetime.fromisoformat(staged["stagedAt"].replace("Z", "+00:00"))
    if now - staged_at > timedelta(days=days):
        return (
            f"The latest CSV bundle arrived on {staged_at:%d %B %Y}, more than the district's {days} days of "
            "retention ago, and is deleted: deliver a new bundle."
        )
    return None


def effective_mode(ctx: RunContext, plan: RunPlan) -> Mode:
    """A delta only where one can be exact; otherwise full (see choose_mode). A CSV bundle says
    itself what it is: bulk files a full sync, delta files a delta (whenever one can be exact:
    the full-sync interval does not apply, the bundle's own rows say what was deleted)."""
    if ctx.requested_mode == Mode.PREVIEW:
        return Mode.PREVIEW
    selection = plan.selection_rules().fingerprint()
    bundle = planned_bundle(plan.connection)
    if bundle is not None and not bundle.is_delta:
        return Mode.FULL
    if ctx.requested_mode == Mode.DELTA or bundle is not None:
        district = ctx.loaded_district()
        if choose_mode(district, ctx.now, interval_checked=False, selection_fingerprint=selection) == Mode.DELTA:
            return Mode.DELTA
    return Mode.FULL


def fresh_state(
    ctx: RunContext, mode: Mode, *, plan: RunPlan, started_at: str, counts: Counts | None = None, error_total: int = 0
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
        if mode == Mode.DELTA
        else {table.name: ctx.roster.has_items(table) for table in ctx.roster.tables},
    )
    ctx.matching.prepare(state)
    if mode == Mode.DELTA:
        last_success = ctx.loaded_district().last_success_started_at
        if last_success is None:  # choose_mode chooses a delta only after a successful sync
            raise ValueError("a delta run needs a previous successful sync")
        state.delta = DeltaState(since=(last_success - CURSOR_OVERLAP).isoformat())
    return state


def as_full(ctx: RunContext) -> RunState:
    """A delta that cannot be exact continues as a full run: everything written so far is right,
    the counts go on, the plan and start stay."""
    state = ctx.state
    return fresh_state(
        ctx, Mode.FULL, plan=state.plan, started_at=state.started_at, counts=state.counts, error_total=state.error_total
    )


def finish_district(ctx: RunContext) -> None:
    """A successful run's end: what the district remembers of it (a preview changes nothing)."""
    state = ctx.state
    if state.mode == Mode.PREVIEW:
        return
    district = ctx.loaded_district()
    actions = [
        *ctx.review.finish_actions(),
        DistrictModel.last_success_started_at.set(state.started),
        DistrictModel.synced_selection_hash.set(ctx.selection.fingerprint()),
    ]
    counts = state.counts
    if state.mode == Mode.FULL:
        active = {t: c["created"] + c["updated"] + c["unchanged"] for t, c in counts.items()}
    else:
        before = ctx.previous_active_counts()
        active = {t: max(0, int(before.get(t, 0)) + c["created"] - c["deactivated"]) for t, c in counts.items()}
    actions.append(DistrictModel.active_counts.set(active))
    if state.mode == Mode.FULL:
        actions.append(DistrictModel.last_full_sync_at.set(state.started))
        # A full sync has read everything the step-4 page offers: refresh its cache.
        options = SyncOptionsCollector()
        for school in state.sis_schools:
            options.add_school(school["sisSourcedId"], school["name"])
        options.add_class(state.grades, state.subjects, course_id=None)
        options.class_terms = state.terms.class_terms if state.terms is not None and state.terms.read else None
        actions.append(DistrictModel.sync_options.set(options.options(refreshed_at=ctx.now)))
    district.update(actions=actions)
