"""What became of each CSV bundle a district delivered (console upload, POST csv-uploads or SFTP):
one small item per upload in RunRecordsTable under runKey `<districtId>#uploads`, recordKey
`upload#<uploadId>` (upload ids sort by time: newest first is a backward query). Items expire
with the bundles they describe (the district's retention), and a district purge deletes them.

States: `awaiting` (a presigned POST was handed out; nothing arrived yet), `staged` (checked and
split; `bundleId` names it, `runId` the sync it queued when the district syncs on arrival),
`rejected` (`error` says which file and what is wrong, from the bundle check).
"""

from __future__ import annotations

import time

from rostersync.store.codec import from_item, to_item
from rostersync.store.run_records import delete_run, run_key, table

UPLOADS = "uploads"  # the pseudo run id the uploads live under
AWAITING, STAGED, REJECTED = "awaiting", "staged", "rejected"
LIST_LIMIT = 20


def _key(district_id: str, upload_id: str) -> dict:
    return {"runKey": {"S": run_key(district_id, UPLOADS)}, "recordKey": {"S": f"upload#{upload_id}"}}


def put_upload(client, district_id: str, upload_id: str, fields: dict, keep_days: int) -> dict:
    """Write the upload's whole record (a later state replaces an earlier one)."""
    record = {"uploadId": upload_id, **{k: v for k, v in fields.items() if v is not None}}
    item = {
        "runKey": run_key(district_id, UPLOADS),
        "recordKey": f"upload#{upload_id}",
        "expiresAt": int(time.time()) + keep_days * 86400,
        **record,
    }
    client.put_item(TableName=table(), Item=to_item(item))
    return record


def get_upload(client, district_id: str, upload_id: str) -> dict | None:
    item = client.get_item(TableName=table(), Key=_key(district_id, upload_id), ConsistentRead=True).get("Item")
    return _public(from_item(item)) if item else None


def list_uploads(client, district_id: str, limit: int = LIST_LIMIT) -> list[dict]:
    """The district's latest uploads, newest first."""
    answer = client.query(
        TableName=table(),
        KeyConditionExpression="runKey = :k AND begins_with(recordKey, :p)",
        ExpressionAttributeValues={":k": {"S": run_key(district_id, UPLOADS)}, ":p": {"S": "upload#"}},
        ScanIndexForward=False,
        Limit=limit,
        ConsistentRead=True,
    )
    return [_public(from_item(item)) for item in answer.get("Items", [])]


def delete_uploads(client, district_id: str) -> int:
    """Every upload record of the district (purge)."""
    return delete_run(client, district_id, UPLOADS)


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("runKey", "recordKey", "expiresAt")}
