"""Matching conflicts a sync found, and an admin's resolution of each (RecordLinksTable).

A conflict (`conflict#<kind>#<sourcedId>`) stays open until resolved: `link` writes the SIS
link to the named app record (its id wins; the copy the sync had created separately is named in
`replaces`, and the next sync deactivates it and moves its enrollments over); `separate` writes
`decision#...` and matching leaves that SIS record alone from then on.
"""

import base64
import binascii
from http import HTTPStatus

from rostersync import aws_clients
from rostersync.ids import record_id
from rostersync.settings import get_settings
from rostersync.store.record_links import (
    RecordLinks,
    app_key,
    conflict_key,
    decision_key,
    decode,
    now_text,
    sis_key,
)


class InvalidCursor(ValueError):
    pass


class ResolutionRefused(ValueError):
    def __init__(self, status: HTTPStatus, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _client():
    return aws_clients.dynamodb()


def conflict_item(
    kind: str,
    sourced_id: str,
    *,
    reason: str,
    message: str,
    sis_record: dict,
    candidates: list,
    sis_item_id: str,
    run_id: str,
) -> dict:
    return {
        "linkKey": conflict_key(kind, sourced_id),
        "type": kind,
        "sisSourcedId": sourced_id,
        "reason": reason,
        "message": message[:500],
        "sisRecord": sis_record,
        "candidates": candidates[:10],
        "sisItemId": sis_item_id,
        "runId": run_id,
        "at": now_text(),
    }


def list_conflicts(district_id: str, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
    links = RecordLinks(_client(), district_id)
    start = None
    if cursor:
        try:
            start = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidCursor(cursor) from None
        if not start.startswith("conflict#"):
            raise InvalidCursor(cursor)
    page = next(links.query_prefix("conflict#", limit=limit + 1, start_key=start))
    items, more = page[:limit], len(page) > limit
    next_cursor = base64.urlsafe_b64encode(items[-1]["linkKey"].encode()).decode().rstrip("=") if more else None
    return items, next_cursor


def _table_and_key(kind: str) -> tuple[str, str]:
    st = get_settings()
    return (st.users_table, "userId") if kind == "user" else (st.classes_table, "classId")


def resolve(district_id: str, kind: str, sourced_id: str, action: str, app_id: str | None) -> dict:
    client = _client()
    links = RecordLinks(client, district_id)
    table, key = _table_and_key(kind)
    existing = links.get(sis_key(kind, sourced_id))
    open_conflict = links.get(conflict_key(kind, sourced_id))
    sis_copy_id = record_id(district_id, kind, sourced_id)
    sis_copy = client.get_item(
        TableName=table, ConsistentRead=True, Key={"districtId": {"S": district_id}, key: {"S": sis_copy_id}}
    ).get("Item")
    before = {
        "link": existing.get("itemId") if existing else None,
        "conflict": open_conflict.get("reason") if open_conflict else None,
    }
    if action == "separate":
        if existing is not None:
            raise ResolutionRefused(
                HTTPStatus.CONFLICT,
                "already_linked",
                f"SIS {kind} {sourced_id!r} is already linked to {existing['itemId']}.",
            )
        links.put({"linkKey": decision_key(kind, sourced_id), "action": "separate", "at": now_text()})
        links.delete(conflict_key(kind, sourced_id))
        return {
            "itemId": sis_copy_id,
            "before": before,
            "message": f"SIS {kind} {sourced_id!r} stays a record of its own; matching will not ask again.",
        }
    if app_id is None:  # the API's request schema asks for it with "link"
        raise ResolutionRefused(
            HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request", "Linking needs the app record's id (appId)."
        )
    app_item = client.get_item(
        TableName=table, ConsistentRead=True, Key={"districtId": {"S": district_id}, key: {"S": app_id}}
    ).get("Item")
    if app_item is None:
        raise ResolutionRefused(HTTPStatus.NOT_FOUND, "not_found", f"No app {kind} has the id {app_id!r}.")
    if app_item.get("origin", {}).get("S") != "app":
        raise ResolutionRefused(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "not_an_app_record",
            f"{app_id} is a record the SIS sync made, not one of the app's.",
        )
    linked = links.get(app_key(kind, app_id))
    if linked is not None and linked.get("sisSourcedId") != sourced_id:
        raise ResolutionRefused(
            HTTPStatus.CONFLICT,
            "already_linked",
            f"App {kind} {app_id} is linked to SIS {kind} {linked.get('sisSourcedId')!r}.",
        )
    if existing is not None and existing.get("itemId") != app_id:
        raise ResolutionRefused(
            HTTPStatus.CONFLICT,
            "already_linked",
            f"SIS {kind} {sourced_id!r} is already linked to {existing['itemId']}.",
        )
    if kind == "user":
        sis_role = ((open_conflict or {}).get("sisRecord") or {}).get("role") or (sis_copy or {}).get("role", {}).get(
            "S"
        )
        app_role = app_item.get("role", {}).get("S")
        if sis_role and app_role and sis_role != app_role:
            raise ResolutionRefused(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "role_mismatch",
                f"The SIS user is a {sis_role} and app user {app_id} a {app_role}; "
                "only records of one role are linked.",
            )
    from rostersync.store.districts import DistrictModel

    # The next sync follows links only where the district says it has some; then it must be full.
    DistrictModel(district_id).update(
        actions=[DistrictModel.has_sis_links.set(True), DistrictModel.full_sync_due.set(True)]
    )
    links.link(kind, sourced_id, app_id, reason="resolved", replaces=sis_copy_id if sis_copy else None)
    links.delete(conflict_key(kind, sourced_id))
    links.delete(decision_key(kind, sourced_id))
    return {
        "itemId": app_id,
        "before": before,
        "message": f"From the next sync on, SIS {kind} {sourced_id!r} is app {kind} {app_id}"
        + (" (the separate copy is deactivated and its enrollments move over)." if sis_copy else "."),
    }


def run_matching(district_id: str, run_id: str, limit: int, after: str | None) -> tuple[dict, list[dict], str | None]:
    """What a run's matching did (or a preview's would do): counts per type and result, and
    one page of its records (`match#<type>#<result>#<sourcedId>` in RunRecordsTable)."""
    from rostersync.store import run_records

    client = _client()
    spec = {
        "TableName": run_records.table(),
        "ConsistentRead": True,
        "KeyConditionExpression": "runKey = :k AND begins_with(recordKey, :p)",
        "ExpressionAttributeValues": {":k": {"S": run_records.run_key(district_id, run_id)}, ":p": {"S": "match#"}},
    }
    counts: dict[str, dict[str, int]] = {}
    page: list[dict] = []
    more = False
    summary = client.get_item(
        TableName=run_records.table(),
        ConsistentRead=True,
        Key={"runKey": {"S": run_records.run_key(district_id, run_id)}, "recordKey": {"S": "rekeys"}},
    ).get("Item")
    for record_type, n in ((decode(summary).get("counts") or {}) if summary else {}).items():
        counts.setdefault(record_type, {"linked": 0, "conflicts": 0})["rekeyed"] = int(n)
    for response in client.get_paginator("query").paginate(**spec):
        for raw in response.get("Items", []):
            item = decode(raw)
            by_type = counts.setdefault(item["type"], {"linked": 0, "conflicts": 0})
            by_type["linked" if item["result"] == "linked" else "conflicts"] += 1
            if after is not None and item["recordKey"] <= after:
                continue
            if len(page) < limit:
                page.append(item)
            else:
                more = True
    next_key = page[-1]["recordKey"] if more and page else None
    return counts, page, next_key
