"""The reading phases of a full sync (schools and courses also begin a delta): each reads one
collection from the source reader a page at a time (sync/record_steps.py), decides what is in,
and writes what is new or changed. Users are sync/user_pass.py's, sessions sync/terms.py's.
"""

from __future__ import annotations

from rostersync import sis_access
from rostersync.sources.port import Collection
from rostersync.store.schools import SchoolModel
from rostersync.sync import class_terms, mapping, record_steps
from rostersync.sync.context import RunContext
from rostersync.sync.fingerprints import ReferenceMemo
from rostersync.sync.selection import enrollment_counts, is_active
from rostersync.sync.skip_counts import SkipReason, enrollment_left_out, enrollment_reason


def read_schools(ctx: RunContext) -> None:
    state = ctx.state
    if state.offset == 0:
        # Matches as they stand when this run reads schools; kept in the state so a
        # continued read maps every page the same way.
        state.app_matches = {
            s.sis_sourced_id: s.school_id
            for s in SchoolModel.query(ctx.district_id)
            if s.origin == "app" and s.sis_sourced_id
        }
        state.school_map, state.sis_schools, state.matched_schools = {}, [], []
    matched = state.app_matches
    for page in record_steps.pages(ctx, Collection.SCHOOLS, "schools"):
        items = []
        for org in page:
            if not record_steps.first_sight(ctx, "schools_all", "schools", org):
                continue
            if not sis_access.is_active_school(org, listed_as_school=True):
                ctx.skips.count("schools", SkipReason.INACTIVE)
                continue
            state.sis_schools.append({"sisSourcedId": org.sourced_id, "name": org.name or org.sourced_id})
            if not ctx.selection.school_selected(org.sourced_id):
                ctx.skips.count("schools", SkipReason.FILTER)
                continue
            state.sets["schools_in"].add(org.sourced_id)
            if org.sourced_id in matched:
                # A SIS school matched to an app school since a sync created one of its
                # own: the sync-created one goes (the sweep), the match carries the rest.
                state.school_map[org.sourced_id] = matched[org.sourced_id]
                state.matched_schools.append(org.sourced_id)
                ctx.count("schools", "unchanged")
                continue
            item = record_steps.map_record(ctx, "schools", mapping.school_item, org, ctx.run_id, ctx.now, ctx.now)
            if item is not None:
                state.school_map[org.sourced_id] = item["schoolId"]
                items.append(item)
        created = {
            i["schoolId"]: i.get("createdAt")
            for i in ctx.roster.by_keys(
                ctx.roster.schools, [item["schoolId"] for item in items], projection=["schoolId", "createdAt"]
            )
        }
        for item in items:  # keep a school's creation time across syncs
            item["createdAt"] = created.get(item["schoolId"]) or ctx.now
        record_steps.apply(ctx, ctx.roster.schools, items, lambda item: "schools")


def read_courses(ctx: RunContext) -> None:
    state = ctx.state
    offered_grades, offered_subjects = set(state.grades), set(state.subjects)
    for page in record_steps.pages(ctx, Collection.COURSES, "classes"):
        for course in page:
            if course.subjects:
                state.course_subjects[course.sourced_id] = list(course.subjects)
            if is_active(course):  # the sync options offer what active courses carry too
                offered_grades.update(course.grades)
                offered_subjects.update(course.subjects)
        state.grades, state.subjects = sorted(offered_grades), sorted(offered_subjects)


def read_classes(ctx: RunContext) -> None:
    state = ctx.state
    grades, subjects = set(state.grades), set(state.subjects)
    for page in record_steps.pages(ctx, Collection.CLASSES, "classes"):
        items = []
        for cls in page:
            if not record_steps.first_sight(ctx, "classes_all", "classes", cls):
                continue
            class_subjects = record_steps.class_subjects(ctx, cls)
            if is_active(cls):
                grades.update(cls.grades)
                subjects.update(class_subjects)
                class_terms.count(state.terms, cls)  # step 4's current / ended classes
            is_in, school_id = record_steps.class_decision(ctx, cls)
            if not is_in:
                continue
            item = record_steps.map_record(
                ctx, "classes", mapping.class_item, cls, school_id, class_subjects, ctx.run_id, ctx.now
            )
            if item is None:
                continue
            state.sets["classes_in"].add(cls.sourced_id)
            items.append(item)
        # A possible re-key first: a re-keyed class linked to an app class keeps its id instead
        # of meeting its own app class as a conflict; then matching by code, then by title.
        items = ctx.rekeys.hold_back_classes(items)
        ctx.matching.match_classes(items)
        items = ctx.class_titles.hold_back(items)
        record_steps.apply(ctx, ctx.roster.classes, items, lambda item: "classes")
        state.grades, state.subjects = sorted(grades), sorted(subjects)


def read_enrollments(ctx: RunContext) -> None:
    sets = ctx.state.sets
    classes_all, classes_in = sets["classes_all"], sets["classes_in"]
    users_all, users_eligible = sets["users_all"], sets["users_eligible"]
    # A class has some 30 enrollments and a user 6: what the sets above (fixed by now) say
    # about each is remembered for the phase, not looked up again (bounded).
    classes, users = ReferenceMemo(classes_all, classes_in), ReferenceMemo(users_all, users_eligible)
    kept = sets["kept"]  # nearly always empty
    for page in record_steps.pages(ctx, Collection.ENROLLMENTS, "enrollments"):
        items = []
        for enrollment in page:
            own_fp = record_steps.sighted(ctx, "enrollments_all", "enrollments", enrollment)
            if own_fp is None:
                continue
            if not enrollment_counts(enrollment):
                ctx.skips.count("enrollments", enrollment_reason(enrollment))
                continue
            if kept and (ctx.kept("class", enrollment.class_id) or ctx.kept("user", enrollment.user_id)):
                # Its class or user could not be read this time: kept as stored, as they are.
                ctx.keep("enrollment", enrollment.sourced_id)
                ctx.keep("user", enrollment.user_id)
                ctx.skips.count("enrollments", SkipReason.INVALID_REFERENCE)
                continue
            class_fp, class_listed, class_in = classes.of(enrollment.class_id)
            user_fp, user_listed, user_eligible = users.of(enrollment.user_id)
            if not class_listed:
                ctx.error(
                    "enrollments",
                    enrollment.sourced_id,
                    "unknown_class",
                    f"The enrollment points at class {enrollment.class_id!r}, which the SIS does not list.",
                    record=enrollment,
                )
                continue
            if not user_listed:
                ctx.error(
                    "enrollments",
                    enrollment.sourced_id,
                    "unknown_user",
                    f"The enrollment points at user {enrollment.user_id!r}, which the SIS does not list.",
                    record=enrollment,
                )
                continue
            if not class_in or not user_eligible:
                ctx.terms.enrolled_in_ended(class_fp, user_fp, users_eligible)
                ctx.skips.count("enrollments", enrollment_left_out(sets, class_fp, class_in))
                continue
            item = record_steps.map_record(ctx, "enrollments", mapping.enrollment_item, enrollment, ctx.run_id, ctx.now)
            if item is None:
                continue
            sets["enrollments_in"].add_fingerprint(own_fp)
            sets["users_in"].add_fingerprint(user_fp)
            items.append(item)
        ctx.rekeys.pair_enrollments(items)
        items = ctx.class_titles.hold_enrollments(items)
        record_steps.apply(ctx, ctx.roster.enrollments, items, lambda item: "enrollments")
