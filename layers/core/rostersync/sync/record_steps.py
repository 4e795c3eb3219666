"""The steps every reading phase takes with a SIS record: read its page from the source reader,
drop what is bad or seen before, decide whether a class is in, map it to a store item, and
write it when it is new or changed. Each takes the run's context (sync/context.py).

Phases call these through the module (`record_steps.pages(...)`), so a test can wrap one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from rostersync.oneroster.errors import OutOfTime
from rostersync.oneroster.records import BadRecord, Class
from rostersync.sources.port import Collection, SourcePage
from rostersync.store.roster import ACTIVE
from rostersync.store.roster_scan import RosterTable
from rostersync.sync import record_checks
from rostersync.sync.context import RunContext
from rostersync.sync.fingerprints import fingerprint
from rostersync.sync.selection import class_is_in, is_active
from rostersync.sync.skip_counts import SkipReason


def _stream(
    ctx: RunContext, collection: Collection, start: int, changed_since: datetime | None, resume: dict | None
) -> Iterator[Any]:
    source = ctx.source
    at: dict[str, Any] = {"start": start} if resume is None else {"start": start, "resume": resume}
    if collection is Collection.SCHOOLS:
        return source.schools(**at)
    if collection is Collection.COURSES:
        return source.courses(**at)
    if collection is Collection.CLASSES:
        return source.classes(changed_since=changed_since, **at)
    if collection is Collection.USERS:
        return source.users(changed_since=changed_since, **at)
    if collection is Collection.ENROLLMENTS:
        return source.enrollments(changed_since=changed_since, **at)
    raise ValueError(f"{collection} is not read a page at a time from a saved position")


def pages(
    ctx: RunContext,
    collection: Collection,
    record_type: str,
    changed_since: datetime | None = None,
    on_page: Callable[[SourcePage], None] | None = None,
) -> Iterator[list]:
    """The collection's pages from the saved offset on; bad records reported and dropped.

    A resumed read starts one page early: records deleted from the SIS meanwhile shift
    the rest down, and a record skipped here would be deactivated wrongly by the sweep.
    Where the source gave that page's position (a CSV bundle's byte offset) the read starts
    there rather than reading past the records before it.
    The caller's work on a page is done when it asks for the next one: the offset moves
    then, and a pause saves it. `on_page` sees each page as the source gave it, before its
    records are handed on.
    """
    state, invocation = ctx.state, ctx.invocation
    saved = state.offset
    start = max(0, saved - state.last_page_size) if saved else 0
    stream = _stream(ctx, collection, start, changed_since, state.position if saved else None)
    while True:
        try:
            page = next(stream)
        except StopIteration:
            invocation.located = {}
            return
        except OutOfTime:
            ctx.pause()  # between pages: the state is whole at the last page handled
        invocation.overlap = page.offset < saved  # records seen before are expected here
        invocation.located = (
            {id(r): (r, where) for r, where in zip(page.records, page.where, strict=False)} if page.where else {}
        )
        if ctx.out_of_time():
            state.offset = page.offset
            if page.position is not None:  # a seekable source resumes at this very page: no early page
                state.last_page_size, state.position = 0, page.position
            ctx.pause()
        good = []
        for record in page.records:
            if isinstance(record, BadRecord):
                ctx.refuse(record_type, record, record.code, record.message)
                continue
            problem = record_checks.record_problem(record)
            if problem is not None:
                ctx.refuse(record_type, record, problem.code, problem.message)
                continue
            good.append(record)
        if on_page is not None:
            on_page(page)
        yield good
        if not invocation.overlap:
            ctx.moved()
        state.offset = page.offset + len(page.records)
        state.last_page_size = len(page.records)
        state.position = page.position
        invocation.overlap, invocation.located = False, {}
        ctx.on_progress(state.counts)


def sighted(ctx: RunContext, set_name: str, record_type: str, record) -> int | None:
    """The record's fingerprint, first time this collection delivers its sourcedId in this run;
    None (and an error) for one seen before."""
    seen, fp = ctx.state.sets[set_name], fingerprint(record.sourced_id)
    if seen.contains_fingerprint(fp):
        if ctx.invocation.overlap:
            return None
        ctx.error(
            record_type,
            record.sourced_id,
            "duplicate_sourced_id",
            "The SIS sent this sourcedId more than once; the first record was used.",
            record=record,
        )
        return None
    seen.add_fingerprint(fp)
    return fp


def first_sight(ctx: RunContext, set_name: str, record_type: str, record) -> bool:
    return sighted(ctx, set_name, record_type, record) is not None


def map_record(ctx: RunContext, record_type: str, build: Callable, record, *args) -> dict | None:
    """mapping's item for `record`, or None when it cannot be stored (refused and kept)."""
    try:
        return ctx.matching.builder(build)(ctx.district_id, record, *args)
    except record_checks.Refused as refused:
        ctx.refuse(record_type, record, refused.code, refused.message)
        return None


def class_subjects(ctx: RunContext, cls: Class) -> tuple[str, ...]:
    return tuple(cls.subjects or ctx.state.course_subjects.get(cls.course_id or "", ()))


def class_decision(ctx: RunContext, cls: Class) -> tuple[bool, str | None]:
    """(in, app schoolId) for a class: in when the selection takes it and its school is one
    of the run's schools. A class whose school was refused in this run is kept as stored
    (neither in nor out: (False, None) after keep); one whose school is unknown is an error."""
    state = ctx.state
    course_subjects = tuple(state.course_subjects.get(cls.course_id or "", ()))
    if not class_is_in(cls, course_subjects, ctx.selection):
        ctx.skips.count("classes", SkipReason.FILTER if is_active(cls) else SkipReason.INACTIVE)
        return False, None
    school_id = state.school_map.get(cls.school_id)
    if school_id is None and ctx.kept("school", cls.school_id):
        ctx.keep("class", cls.sourced_id)  # its school could not be read this time
        ctx.skips.count("classes", SkipReason.INVALID_REFERENCE)
        return False, None
    if school_id is None:
        if not ctx.invocation.overlap:
            ctx.error(
                "classes",
                cls.sourced_id,
                "unknown_school",
                f"The class's school {cls.school_id!r} is not an active school of the SIS.",
                record=cls,
            )
        return False, None
    ctx.terms.link(cls, school_id)
    if ctx.terms.class_ended(cls):
        state.sets["classes_ended"].add(cls.sourced_id)
        ctx.skips.count("classes", SkipReason.TERM_ENDED)
        return False, None  # its school year is over: the sweep ends it (sync/terms.py)
    return True, school_id


def apply(
    ctx: RunContext,
    table: RosterTable,
    items: list[dict],
    type_of: Callable[[dict], str],
    on_reentry: Callable[[dict], None] | None = None,
) -> None:
    """Write the items that are new or changed; count each as created, updated or unchanged."""
    if not items:
        return
    ctx.matching.before_apply(table, items, type_of)
    stored_by_key = {}
    if ctx.state.had_items.get(table.name, True):
        stored = ctx.roster.by_keys(
            table, [item[table.key] for item in items], projection=[table.key, "contentHash", "status"]
        )
        stored_by_key = {s[table.key]: s for s in stored}
    for item in items:
        before = stored_by_key.get(item[table.key])
        record_type = type_of(item)
        if before is None:
            change = "created"
        elif before.get("contentHash") == item["contentHash"] and before.get("status") == ACTIVE:
            ctx.count(record_type, "unchanged")
            ctx.review.saw(record_type, "unchanged", item, table.key)
            continue
        else:
            if on_reentry is not None and before.get("status") != ACTIVE:
                on_reentry(item)
            change = "updated"
        ctx.count(record_type, change)
        ctx.review.saw(record_type, change, item, table.key)
        item["lastChange"] = change  # what this run did to it, for Roster Changed (not hashed)
        ctx.store.put(table.name, item)


def user_type(item: dict) -> str:
    return "teachers" if item.get("role") == "teacher" else "students"
