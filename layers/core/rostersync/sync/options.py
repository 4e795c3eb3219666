"""The sync options: what the SIS offers to filter a sync on (setup step 4's choices), read
from the SIS by the setup API (GET sync-options?refresh=true) and refreshed by every full sync.

The rules, in one place: the schools are the SIS's active schools (rostersync.sis_access); the
grades and subjects are those of its active classes and of its active courses (a class without
subjects of its own offers its course's). Memory holds the sets, never the records
(store.districts.SyncOptionsCollector).
"""

from __future__ import annotations

from datetime import datetime

from rostersync.oneroster import Class, Course, OneRosterClient
from rostersync.sis_access import active_sis_schools
from rostersync.store.districts import SyncOptions, SyncOptionsCollector


def collect_sync_options(client: OneRosterClient, refreshed_at: datetime) -> SyncOptions:
    """Stream the SIS once: its active schools, classes and courses."""
    collector = SyncOptionsCollector()
    for org in active_sis_schools(client):
        collector.add_school(org.sourced_id, org.name)
    for record in client.stream("classes"):
        if isinstance(record, Class) and record.status == "active":
            collector.add_class(record.grades, record.subjects, record.course_id)
    for record in client.stream("courses"):
        if isinstance(record, Course):
            collector.add_course(record.sourced_id, record.status == "active", record.grades, record.subjects)
    return collector.options(refreshed_at=refreshed_at)
