"""The one step where records go inactive, shared by full and delta runs, and the full sync's
sweep that feeds it.

Nothing is deactivated until every phase has read the SIS completely. Then what goes out is
deactivated in one step, unless that is more than the run's guard allows (or the district holds
every deactivation after a rejection): the records are then written out for review and the step
answers what it held, which ends the run as needs_review (sync/engine.py); approval applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import cast

from rostersync.store.roster import INACTIVE
from rostersync.store.roster_scan import RosterTable
from rostersync.store.sync_runs import RECORD_TYPES
from rostersync.sync.context import RunContext
from rostersync.sync.record_steps import user_type
from rostersync.sync.run_state import Held, Mode

GUARDED_TYPES = ("teachers", "students", "classes", "enrollments")
SWEEP_MEMORY_ITEMS = 50_000  # leaving items held between the guard's count and the writes

Leaving = tuple[RosterTable, str, dict]  # (table, record type, stored item)


def hold_or_deactivate(
    ctx: RunContext,
    active: dict[str, int],
    leaving: dict[str, int],
    items: Callable[[], Iterable[Leaving]],
    ended: dict[str, int] | None = None,
) -> Held | None:
    """Held for review when more leave than the run's guard allows (and the run was not
    approved): the held counts, after writing every held record for the admin. Else deactivated
    now, and None. `ended`: how many of those leaving go because their terms are over, which
    the guard does not count."""
    state = ctx.state
    if ended:
        ctx.terms.year_end_notice(ended)
    if not state.approved:
        ctx.rekeys.summary(leaving)
        held = guard(ctx, active, leaving, ended) or ctx.review.hold_everything(leaving)
        if held and state.mode == Mode.PREVIEW:
            ctx.review.would_hold(held)  # what the sync would hold; the preview counts on
        elif held:
            ctx.review.write_held(items())  # listed record by record for the admin
            return held
    for table, record_type, item in items():
        if state.approved and not ctx.review.approves(record_type, item[table.key]):
            continue  # an approval in part: the rest stay active, re-evaluated by the next run
        item["status"] = INACTIVE
        item["updatedAt"] = ctx.now
        item["lastRunId"] = ctx.run_id
        # A delta's finish re-plans from the store after a crash: it must see what this run
        # already took out as leaving still (sync/delta.py, _was_active).
        item["deactivatedBy"] = ctx.run_id
        ctx.count(record_type, "deactivated")
        ctx.review.saw(record_type, "deactivated", item, table.key)
        ctx.store.put(table.name, item)
    ctx.store.flush()
    return None


def guard(
    ctx: RunContext, active: dict[str, int], leaving: dict[str, int], ended: dict[str, int] | None = None
) -> Held | None:
    """The deactivations to hold back for a person's approval, or None when within bounds.
    Records leaving because their terms are over (`ended`) are expected, not a loss."""
    plan, ended = ctx.state.plan, ended or {}
    losses = {t: leaving.get(t, 0) - ended.get(t, 0) for t in GUARDED_TYPES}
    over = {
        t: losses[t]
        for t in GUARDED_TYPES
        if losses[t] > plan.guard_min_records and losses[t] > plan.guard_max_share * active.get(t, 0)
    }
    return {t: leaving.get(t, 0) for t in RECORD_TYPES if leaving.get(t)} if over else None


# ---------------------------------------------------------------------- the full sync's sweep
SweepStep = tuple[RosterTable, Callable[[dict], str], Callable[[dict], bool]]


def sweep_plan(ctx: RunContext) -> list[SweepStep]:
    """(table, record type of an item, whether an active item goes) for each roster table."""
    state, kept, roster = ctx.state, ctx.kept, ctx.roster
    sets = state.sets
    matched = set(state.matched_schools)

    def enrollment_goes(i: dict) -> bool:
        if kept("enrollment", i["sisSourcedId"]):
            ctx.keep("user", i["userSourcedId"])  # users are swept after enrollments
            return False
        return i["sisSourcedId"] not in sets["enrollments_in"] or i["userSourcedId"] not in sets["users_in"]

    def school_goes(i: dict) -> bool:
        sid = cast(str, i.get("sisSourcedId"))  # a sync's own school always has one
        return (
            i.get("origin") == "sis" and not kept("school", sid) and (sid not in sets["schools_in"] or sid in matched)
        )

    superseded = ctx.matching.superseded  # copies an admin's link replaced (issue 13)
    plan: tuple[SweepStep, ...] = (
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
        (roster.schools, lambda i: "schools", school_goes),
    )
    return [step for step in plan if state.had_items.get(step[0].name, True)]


def sweep(ctx: RunContext) -> Held | None:
    """Phase sweep: deactivate what the complete read did not find in; one pass unless very
    many leave."""
    active: dict[str, int] = {}
    leaving: dict[str, int] = {}
    ended: dict[str, int] = {}  # of those leaving, how many because their school year is over (sync/terms.py)
    held_items: list[Leaving] = []
    overflow = False
    for table, type_of, goes in sweep_plan(ctx):
        for page in ctx.roster.active_items(table):
            for item in page:
                if table.kind != "school" and not item.get("sisSourcedId"):
                    continue  # an app-made record no sync has linked: never the sync's to deactivate
                record_type = type_of(item)
                active[record_type] = active.get(record_type, 0) + 1
                if goes(item):
                    leaving[record_type] = leaving.get(record_type, 0) + 1
                    if ctx.terms.leaves_with_term(record_type, item):
                        ended[record_type] = ended.get(record_type, 0) + 1
                    if len(held_items) < SWEEP_MEMORY_ITEMS:
                        held_items.append((table, record_type, item))
                    else:
                        overflow = True  # too many to hold: read them again below

    def items() -> Iterable[Leaving]:
        if not overflow:
            return held_items
        return (
            (table, type_of(item), item)
            for table, type_of, goes in sweep_plan(ctx)
            for page in ctx.roster.active_items(table)
            for item in page
            if (table.kind == "school" or item.get("sisSourcedId")) and goes(item)
        )

    return hold_or_deactivate(ctx, active, leaving, items, ended=ended)
