"""The naive sync the benchmark compares against: what a first version would do.

- one OAuth 2 token, then every collection read page after page with plain `requests`
  (limit/offset, one request at a time, until the offset reaches X-Total-Count or a page
  comes back empty);
- every record held in memory until the end (selection needs users and enrollments together);
- every record that is in written with its own PutItem, one after another; no diff reads,
  so an unchanged record is written again every night.

The records chosen and the items' shape are the engine's (same selection rules, same
mapping), so both write the same items; only the way of reading and writing differs.
Run by bench/worker_child.py (task "naive") in its own process.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import boto3
import requests

from rostersync.oneroster.records import BadRecord, parse_records
from rostersync.settings import get_settings
from rostersync.sis_secrets import get_client_secret
from rostersync.store.codec import to_item
from rostersync.store.districts import DistrictModel
from rostersync.sync import mapping
from rostersync.sync.selection import Selection, class_is_in, enrollment_counts, is_active, user_is_eligible

BASE_PATH = "/ims/oneroster/v1p1"
PAGE_LIMIT = 1000


def read_all(session: requests.Session, base_url: str, collection: str, stats: dict) -> list:
    records, offset, total = [], 0, math.inf
    while offset < total:
        reply = session.get(f"{base_url}/{collection}", params={"limit": PAGE_LIMIT, "offset": offset}, timeout=60)
        stats["sis_requests"] += 1
        reply.raise_for_status()
        body = reply.json()
        page = body["orgs" if collection == "schools" else collection]
        if not page:
            break
        total = int(reply.headers.get("x-total-count", math.inf))
        records += [r for r in parse_records(collection, page) if not isinstance(r, BadRecord)]
        offset += len(page)
    return records


def naive_sync(district_id: str, run_id: str) -> dict:
    settings = get_settings()
    district = DistrictModel.get(district_id)
    connection, selection = district.connection, Selection.from_config(district.sync_config)
    stats = {"sis_requests": 0, "items_written": 0, "write_requests": 0}
    host = connection.host_url.rstrip("/")
    token = requests.post(
        connection.token_url or f"{host}/token",
        auth=(connection.client_id, get_client_secret(district_id)),
        data={"grant_type": "client_credentials"},
        timeout=30,
    )
    stats["sis_requests"] += 1
    token.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    base_url = host + BASE_PATH
    data = {c: read_all(session, base_url, c, stats) for c in ("schools", "courses", "classes", "users", "enrollments")}

    now = datetime.now(UTC)
    dynamodb = boto3.client("dynamodb")

    def put(table: str, item: dict) -> None:
        dynamodb.put_item(TableName=table, Item=to_item(item))
        stats["items_written"] += 1
        stats["write_requests"] += 1

    school_map = {}
    for org in data["schools"]:
        if org.type in (None, "school") and is_active(org) and selection.school_selected(org.sourced_id):
            item = mapping.school_item(district_id, org, run_id, now, now)
            school_map[org.sourced_id] = item["schoolId"]
            put(settings.schools_table, item)
    course_subjects = {c.sourced_id: tuple(c.subjects) for c in data["courses"] if c.subjects}
    classes_in = set()
    for cls in data["classes"]:
        subjects = course_subjects.get(cls.course_id or "", ())
        if class_is_in(cls, subjects, selection) and cls.school_id in school_map:
            classes_in.add(cls.sourced_id)
            put(
                settings.classes_table,
                mapping.class_item(district_id, cls, school_map[cls.school_id], cls.subjects or subjects, run_id, now),
            )
    eligible = {u.sourced_id: u for u in data["users"] if user_is_eligible(u)}
    users_in = set()
    for enrollment in data["enrollments"]:
        if enrollment_counts(enrollment) and enrollment.class_id in classes_in and enrollment.user_id in eligible:
            users_in.add(enrollment.user_id)
            put(settings.enrollments_table, mapping.enrollment_item(district_id, enrollment, run_id, now))
    for sourced_id in users_in:
        user = eligible[sourced_id]
        schools = [school_map[o] for o in user.org_ids if o in school_map]
        put(settings.users_table, mapping.user_item(district_id, user, schools, run_id, now))
    return stats
