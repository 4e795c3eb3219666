"""Delta syncs: read only what changed since the last successful sync, and apply it exactly.

Each collection is read with `filter=dateLastModified>'<cursor>'` (the cursor is the start of
the last successful sync minus an overlap for clock skew). Changed records that are in are
written as in a full sync. What went out (tobedeleted, out of the filters) is deactivated at
the end, after every read succeeded, with its consequences: a class's enrollments, and users
left without an enrollment that counts. Users touched by any change are re-evaluated.

Where a delta cannot be exact the run turns into a full sync (DeltaNotEnough): the server did
not honour the filter, or a class or user came back into scope (their unchanged enrollments
would not be in the delta). Hard deletes never show in a delta; the periodic full sync
(default weekly) catches them.

DeltaPhases is handed the run's context (sync/context.py): it reads through the source reader's
change cursor (sources/port.py), takes the record steps every reading phase takes
(sync/record_steps.py) and keeps what it learns in the run state's `delta`. A source without a
change cursor (a CSV bundle) cannot be read as a delta: the run continues as a full sync.
"""

from datetime import datetime
from typing import TypeGuard

from rostersync.oneroster import BadRecord
from rostersync.sources.port import Collection, SourcePage
from rostersync.store.roster import ACTIVE
from rostersync.sync import deactivation, mapping, record_steps, user_pass
from rostersync.sync.context import RunContext
from rostersync.sync.fingerprints import fingerprint
from rostersync.sync.record_checks import record_problem
from rostersync.sync.run_state import Held
from rostersync.sync.selection import ROSTER_ROLES, enrollment_counts
from rostersync.sync.skip_counts import SkipReason, delta_enrollment_reason


class DeltaNotEnough(Exception):
    """A delta sync met a change it cannot apply exactly (the run continues as a full sync)."""


def _user_type(item: dict) -> str:
    return "teachers" if item.get("role") == "teacher" else "students"


class DeltaPhases:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    @property
    def delta(self):
        return self.ctx.state.delta

    def _changed_pages(self, collection: Collection, record_type: str):
        ctx = self.ctx
        if not ctx.source.has_change_cursor:
            raise DeltaNotEnough("the source cannot list only what changed")
        since = datetime.fromisoformat(self.delta.since)

        def honoured(page: SourcePage) -> None:
            if page.off_filter:
                raise DeltaNotEnough(f"the SIS did not honour the dateLastModified filter on {collection}")

        yield from record_steps.pages(ctx, collection, record_type, changed_since=since, on_page=honoured)

    # ------------------------------------------------------------------ reading
    def classes(self):
        ctx, changed = self.ctx, self.delta.changed_classes
        for page in self._changed_pages(Collection.CLASSES, "classes"):
            items = []
            for cls in page:
                if not record_steps.first_sight(ctx, "classes_all", "classes", cls):
                    continue
                is_in, school_id = record_steps.class_decision(ctx, cls)
                if ctx.kept("class", cls.sourced_id):
                    continue  # its school was refused in this run: neither in nor out
                if is_in:
                    item = record_steps.map_record(
                        ctx,
                        "classes",
                        mapping.class_item,
                        cls,
                        school_id,
                        record_steps.class_subjects(ctx, cls),
                        ctx.run_id,
                        ctx.now,
                    )
                    if item is None:
                        continue  # refused: neither in nor out, its stored copy stays as it is
                    items.append(item)
                changed[cls.sourced_id] = is_in
            items = ctx.rekeys.hold_back_classes(items)  # a possible re-key: continues as a full sync
            ctx.matching.match_classes(items)
            items = ctx.class_titles.hold_back(items)  # needs the class's teachers: continues as a full sync
            record_steps.apply(
                ctx,
                ctx.roster.classes,
                items,
                lambda item: "classes",
                on_reentry=lambda item: self._reentry("class", item),
            )

    def users(self):
        ctx, changed = self.ctx, self.delta.changed_users
        if ctx.state.offset == 0:
            ctx.parked.clear()
        for page in self._changed_pages(Collection.USERS, "students"):
            fresh = [u for u in page if u.sourced_id not in changed]
            user_pass.park_users(ctx, fresh)
            ctx.parked.flush()
            for user in fresh:
                if not ctx.kept("user", user.sourced_id):  # refused ones stay as stored
                    changed[user.sourced_id] = user_pass.eligible_here(ctx, user)

    def enrollments(self):
        ctx, delta = self.ctx, self.delta
        changed_classes, changed_users = delta.changed_classes, delta.changed_users
        enrolled, recheck, out = set(delta.enrolled_users), set(delta.recheck_users), delta.out_enrollments
        roster = ctx.roster
        for page in self._changed_pages(Collection.ENROLLMENTS, "enrollments"):
            page = [e for e in page if record_steps.first_sight(ctx, "enrollments_all", "enrollments", e)]
            class_active = roster.by_sourced_ids(
                roster.classes, {e.class_id for e in page if e.class_id not in changed_classes}, projection=["status"]
            )
            users = roster.by_sourced_ids(roster.users, {e.user_id for e in page if e.user_id not in changed_users})
            items = []
            for enrollment in page:
                class_in = changed_classes.get(
                    enrollment.class_id, class_active.get(enrollment.class_id, {}).get("status") == ACTIVE
                )
                eligible = self._eligible(enrollment.user_id, users)
                if eligible is None:
                    ctx.error(
                        "enrollments",
                        enrollment.sourced_id,
                        "unknown_user",
                        f"The enrollment points at user {enrollment.user_id!r}, which the SIS does not list.",
                        record=enrollment,
                    )
                    continue
                recheck.add(enrollment.user_id)
                if enrollment_counts(enrollment) and class_in and eligible:
                    item = record_steps.map_record(
                        ctx, "enrollments", mapping.enrollment_item, enrollment, ctx.run_id, ctx.now
                    )
                    if item is None:
                        continue
                    enrolled.add(enrollment.user_id)
                    items.append(item)
                else:
                    out.append(enrollment.sourced_id)
                    ctx.skips.count("enrollments", delta_enrollment_reason(enrollment, class_in, eligible))
            record_steps.apply(ctx, roster.enrollments, items, lambda item: "enrollments")
            ctx.parked.flush()  # users fetched for this page are saved with it
            delta.enrolled_users, delta.recheck_users = sorted(enrolled), sorted(recheck)

    def _eligible(self, user_sourced_id: str, stored_users: dict[str, dict]) -> bool | None:
        """Whether the user may be synced; None for a user the SIS does not know."""
        changed = self.delta.changed_users
        if user_sourced_id in changed:
            return changed[user_sourced_id]
        stored = stored_users.get(user_sourced_id)
        if self._was_active(stored):
            # Unchanged in the SIS since the cursor, so the stored facts still hold.
            return stored.get("sisStatus") == ACTIVE and stored.get("role") in ROSTER_ROLES
        eligible, _item = self._fetch_user(user_sourced_id)
        return eligible

    def _fetch_user(self, user_sourced_id: str) -> tuple[bool | None, dict | None]:
        """A user the store holds no current copy of: ask the SIS, and park it for writing.
        (eligible or None for a user the SIS does not know, the parked item)."""
        ctx = self.ctx
        user = ctx.source.user(user_sourced_id)
        if user is None or isinstance(user, BadRecord) or record_problem(user) is not None:
            return None, None
        item = user_pass.park_fetched_user(ctx, user)
        if item is None:  # refused: kept as stored
            return None, None
        self.delta.changed_users[user_sourced_id] = user_pass.eligible_here(ctx, user)
        return self.delta.changed_users[user_sourced_id], item

    def _reentry(self, kind: str, item: dict) -> None:
        raise DeltaNotEnough(
            f"a {kind} came back into scope ({item['sisSourcedId']}); its unchanged records are not in the delta"
        )

    # ------------------------------------------------------------------ applying what went out
    def finish(self) -> Held | None:
        plan = self._deactivations()
        leaving: dict[str, int] = {}
        for _table, record_type, _item in plan:
            leaving[record_type] = leaving.get(record_type, 0) + 1
        return deactivation.hold_or_deactivate(self.ctx, self.ctx.previous_active_counts(), leaving, lambda: plan)

    def _was_active(self, item: dict | None) -> TypeGuard[dict]:
        """Active when this run's finish began: active now, or deactivated by this very run. A
        worker killed half way through the finish's writes leaves some of its plan applied; the
        redelivery plans again from the store and must reach the same plan (a user goes out
        because an enrollment leaves, and takes its other enrollments along)."""
        return item is not None and (item.get("status") == ACTIVE or item.get("deactivatedBy") == self.ctx.run_id)

    def _deactivations(self) -> list[tuple]:
        """What goes: classes gone out and their enrollments, changed enrollments that no longer
        count, users left without an enrollment that counts; writes users that came in."""
        ctx, delta = self.ctx, self.delta
        roster = ctx.roster
        plan, leaving_enrollments = [], set()
        recheck = set(delta.recheck_users) | set(delta.changed_users)

        def enrollment_leaves(enrollment: dict) -> bool:
            if not self._was_active(enrollment) or enrollment["enrollmentId"] in leaving_enrollments:
                return False
            leaving_enrollments.add(enrollment["enrollmentId"])
            plan.append((roster.enrollments, "enrollments", enrollment))
            return True

        out_classes = [sid for sid, is_in in delta.changed_classes.items() if not is_in]
        for klass in self._active(roster.classes, out_classes):
            plan.append((roster.classes, "classes", klass))
            for page in roster.enrollments_of_class(klass["classId"]):
                for enrollment in page:
                    if enrollment_leaves(enrollment):
                        recheck.add(enrollment["userSourcedId"])
        for enrollment in self._active(roster.enrollments, delta.out_enrollments):
            enrollment_leaves(enrollment)

        enrolled = set(delta.enrolled_users)
        losing = {item["userSourcedId"] for _table, kind, item in plan if kind == "enrollments"}
        stored_users = roster.by_sourced_ids(roster.users, recheck)
        parked = ctx.parked.find({fingerprint(sid) for sid in recheck})
        items = []
        for sid in sorted(recheck):
            eligible = self._eligible(sid, stored_users)
            user_id = ctx.matching.item_id("user", sid)
            stored = stored_users.get(sid)
            # An active user had an enrollment that counts after the last sync (the sweep and the
            # delta's finish keep that true); unless one of theirs leaves now, they still have it.
            # Only users losing enrollments, or not active before, need the index.
            kept_by_stored = self._was_active(stored) and sid not in losing
            is_in = bool(eligible) and (
                sid in enrolled or kept_by_stored or self._still_enrolled(user_id, leaving_enrollments)
            )
            if not is_in and eligible and parked.get(fingerprint(sid)) is not None:  # read this run, left out
                ctx.skips.count(_user_type(parked[fingerprint(sid)]), SkipReason.NO_ENROLLMENT)
            if is_in:
                item = parked.get(fingerprint(sid))
                if item is None and stored is not None and not self._was_active(stored):
                    _eligible, item = self._fetch_user(sid)  # back in scope: its stored copy may be stale
                if item is not None:
                    item["updatedAt"] = ctx.now
                    items.append(item)
            elif self._was_active(stored):
                plan.append((roster.users, _user_type(stored), stored))
                # A user going out takes their remaining enrollments along (as the full sweep does).
                for page in roster.enrollments_of_user(user_id):
                    for enrollment in page:
                        enrollment_leaves(enrollment)
        record_steps.apply(ctx, roster.users, items, _user_type)
        return plan

    def _active(self, table, sourced_ids) -> list[dict]:
        return [item for item in self.ctx.roster.by_sourced_ids(table, sourced_ids).values() if self._was_active(item)]

    def _still_enrolled(self, user_id: str, leaving: set[str]) -> bool:
        """An active enrollment that counts, other than those leaving in this run (the index
        may lag behind this run's own writes, so those are excluded by id)."""
        for page in self.ctx.roster.enrollments_of_user(user_id):
            for enrollment in page:
                if enrollment.get("status") == ACTIVE and enrollment["enrollmentId"] not in leaving:
                    return True
        return False
