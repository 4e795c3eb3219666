"""Users in a sync: parked when read, written once their enrollments say who is in.

Whether a user is in depends on their enrollments, read after users; so the users phase parks
each eligible user's item (sync/parked_users.py) and the write_users phase, after enrollments,
writes the parked users that turned out to be in. A delta parks the users it reads or fetches
the same way (sync/delta.py).
"""

from __future__ import annotations

from dataclasses import replace

from rostersync.oneroster.records import User
from rostersync.sources.port import Collection
from rostersync.sync import mapping, record_checks, record_steps
from rostersync.sync.context import RunContext
from rostersync.sync.fingerprints import fingerprint
from rostersync.sync.selection import is_active, user_is_eligible
from rostersync.sync.skip_counts import SkipReason, user_left_out


def read_users(ctx: RunContext) -> None:
    """Phase users (full): every user of the SIS, the eligible ones parked."""
    if ctx.state.offset == 0:
        ctx.parked.clear()
    for page in record_steps.pages(ctx, Collection.USERS, "students"):
        park_users(ctx, page)
        ctx.parked.flush()


def write_users(ctx: RunContext) -> None:
    """Phase write_users: the parked users that turned out to be in, a chunk at a time (the
    offset counts chunks written)."""
    state = ctx.state
    users_in = state.sets["users_in"]
    for number, rows in ctx.parked.iterate(start=state.offset):
        if ctx.out_of_time():
            ctx.pause()
        items = []
        for fp, item in rows:
            if users_in.contains_fingerprint(fp):
                item["updatedAt"] = ctx.now
                items.append(item)
            else:
                ctx.skips.count(record_steps.user_type(item), user_left_out(state.sets, fp))
        record_steps.apply(ctx, ctx.roster.users, items, record_steps.user_type)
        state.offset = number + 1
        ctx.moved()
        ctx.on_progress(state.counts)


def park_users(ctx: RunContext, page: list[User]) -> list[User]:
    """Park the eligible users of a page (first sight only); returns the users parked."""
    state, parked, rows = ctx.state, [], []
    for listed in page:
        record_type = "teachers" if listed.role == "teacher" else "students"
        if not record_steps.first_sight(ctx, "users_all", record_type, listed):
            continue
        user = role_at_selected_schools(ctx, listed)
        ctx.same_place(user, listed)  # its errors name the row of the user as listed (1.2: a copy)
        if user is None or not user_is_eligible(user):
            ctx.skips.count(record_type, SkipReason.INACTIVE if not is_active(listed) else SkipReason.ROLE)
            continue
        record_type = "teachers" if user.role == "teacher" else "students"
        item = record_steps.map_record(
            ctx, record_type, mapping.user_item, user, user_schools(ctx, user), ctx.run_id, ctx.now
        )
        if item is None:
            continue
        state.sets["users_eligible"].add(user.sourced_id)
        del item["updatedAt"]  # stamped when written
        rows.append((fingerprint(user.sourced_id), item))
        parked.append(user)
    # A possible re-key first (see full_read.read_classes); matching for the others.
    pending = ctx.rekeys.look_for_users([item for _fp, item in rows])
    ctx.matching.match_users([item for _fp, item in rows if item["sisSourcedId"] not in pending])
    ctx.parked.add_many(rows)
    return parked


def role_at_selected_schools(ctx: RunContext, user: User) -> User | None:
    """The user as this run sees it. A OneRoster 1.2 user holds a role per org (roles[]): only
    the roles at the run's selected schools count, the primary one of them (else the first), and
    the user's schools are those where it holds that role; None when it holds no role at any
    selected school (skipped: skippedBy.role). A 1.1 user (one role for all its orgs) as it is."""
    if user.roles is None:
        return user
    school_map = ctx.state.school_map
    here = [(role, kind, org) for role, kind, org in user.roles if org is not None and org in school_map]
    if not here:
        return None
    role = next((r for r, kind, _ in here if kind == "primary"), here[0][0])
    orgs = tuple(dict.fromkeys(org for r, _, org in here if r == role and org is not None))
    first = [o for o in user.org_ids if o in orgs]  # primaryOrg first, as the record reads it
    return replace(user, role=role, org_ids=tuple(dict.fromkeys([*first, *orgs])))


def eligible_here(ctx: RunContext, user: User) -> bool:
    """user_is_eligible for the user as this run sees it (role_at_selected_schools)."""
    seen = role_at_selected_schools(ctx, user)
    return seen is not None and user_is_eligible(seen)


def park_fetched_user(ctx: RunContext, user: User) -> dict | None:
    """Park one user fetched on its own (a delta's); its item, or None when refused."""
    user = role_at_selected_schools(ctx, user) or user  # not eligible then: parked, never written
    try:
        item = ctx.matching.builder(mapping.user_item)(
            ctx.district_id, user, user_schools(ctx, user), ctx.run_id, ctx.now
        )
    except record_checks.Refused:
        ctx.keep("user", user.sourced_id)
        return None
    del item["updatedAt"]
    ctx.parked.add_many([(fingerprint(user.sourced_id), item)])
    return item


def user_schools(ctx: RunContext, user: User) -> list[str]:
    school_map = ctx.state.school_map
    return [school_map[o] for o in user.org_ids if o in school_map]
