"""A bench-only change injector: a given share of a sandbox district's records changed overnight.

The sandbox's own `advance_day()` makes a school day's worth of changes (a few dozen records);
the benchmark's "1% night" needs a chosen share instead. This changes, in the sandbox's store,
that share of each collection a sync writes, picking only records a sync brings in (so every
change is a write the delta must make) and changing a field the app shows (so the content hash
moves):
  users        a student's or teacher's familyName
  classes      the title
  enrollments  the endDate (a day earlier)
Each changed record gets dateLastModified = now (milliseconds), as the sandbox's daily changes do.
Deterministic for a seed.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from rostersync_tools.sandbox_sis.timestamps import format_instant, utc_now

ROSTER_ROLES = ("teacher", "student")


def _ref(record: dict, name: str) -> str | None:
    return (record.get(name) or {}).get("sourcedId")


def in_records(data: dict) -> dict[str, list[dict]]:
    """The users, classes and enrollments a full sync of everything writes (all schools selected)."""
    schools = {o["sourcedId"] for o in data["orgs"] if o.get("type") == "school" and o.get("status") == "active"}
    classes = [c for c in data["classes"] if c.get("status") == "active" and _ref(c, "school") in schools]
    class_ids = {c["sourcedId"] for c in classes}
    eligible = {u["sourcedId"] for u in data["users"] if u.get("status") == "active" and u.get("role") in ROSTER_ROLES}
    enrollments = [
        e
        for e in data["enrollments"]
        if e.get("status") == "active"
        and e.get("role") in ROSTER_ROLES
        and _ref(e, "class") in class_ids
        and _ref(e, "user") in eligible
    ]
    enrolled = {_ref(e, "user") for e in enrollments}
    users = [u for u in data["users"] if u["sourcedId"] in eligible and u["sourcedId"] in enrolled]
    return {"users": users, "classes": classes, "enrollments": enrollments}


def change_share(sis, share: float = 0.01, seed: int = 1) -> dict[str, list[str]]:
    """Change `share` of the in users, classes and enrollments; {collection: [sourcedIds changed]}."""
    rng = random.Random(f"bench-changes:{seed}")
    store = sis.app.store  # DistrictStore: put() swaps in a changed copy, as the daily changes do
    stamp = format_instant(utc_now(), "milliseconds")
    changed: dict[str, list[str]] = {}
    with store.lock:
        candidates = in_records(sis.state()["data"])
        for collection, records in candidates.items():
            picked = rng.sample(records, round(share * len(records)))
            for record in picked:
                current = store.get(collection, record["sourcedId"])
                store.put(collection, dict(current, dateLastModified=stamp, **_change(collection, current)))
            changed[collection] = [r["sourcedId"] for r in picked]
    return changed


def _change(collection: str, record: dict) -> dict:
    if collection == "users":
        return {"familyName": (record.get("familyName") or "") + "-Changed"}
    if collection == "classes":
        return {"title": (record.get("title") or "") + " (renamed)"}
    end = record.get("endDate")
    moved = (date.fromisoformat(end[:10]) - timedelta(days=1)).isoformat() if end else "2027-06-01"
    return {"endDate": moved}
