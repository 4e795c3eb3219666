"""Sync runs: one item per run, newest last by runId (time-ordered ids)."""

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from rostersync.settings import get_settings
from rostersync.store.base import model_meta

RECORD_TYPES = ("schools", "teachers", "students", "classes", "enrollments")
COUNT_KINDS = ("created", "updated", "unchanged", "deactivated", "skipped")
MAX_STORED_ERRORS = 200  # per run; errorTotal keeps counting past it


class RunError(MapAttribute):
    type = UnicodeAttribute()
    sis_sourced_id = UnicodeAttribute(attr_name="sisSourcedId", null=True)
    code = UnicodeAttribute()
    message = UnicodeAttribute()


class SyncRunModel(Model):
    Meta = model_meta(get_settings().sync_runs_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    run_id = UnicodeAttribute(range_key=True, attr_name="runId")
    trigger = UnicodeAttribute()  # nightly | manual | replay
    mode = UnicodeAttribute()  # full | delta
    status = UnicodeAttribute()  # queued | running | succeeded | failed | needs_review
    queued_at = UTCDateTimeAttribute(attr_name="queuedAt")
    started_at = UTCDateTimeAttribute(attr_name="startedAt", null=True)
    finished_at = UTCDateTimeAttribute(attr_name="finishedAt", null=True)
    # {type: {created, updated, unchanged, deactivated, skipped}}
    counts = MapAttribute(default=dict)
    errors = ListAttribute(of=RunError, default=list)
    error_total = NumberAttribute(attr_name="errorTotal", default=0)
    invocations = NumberAttribute(default=0)  # how many worker invocations the run took
    night = UnicodeAttribute(null=True)  # nightly runs: the district-local date of the night
    failure = UnicodeAttribute(null=True)  # why a failed run failed, for people
    # Deactivations held back by the guard: {type: n}, applied on approval.
    held_deactivations = MapAttribute(attr_name="heldDeactivations", null=True)
