"""Where a CSV district's bundles are delivered and kept, in the bundles bucket (template.yaml
RawBundlesBucket: private, encrypted, objects expire after DEFAULT_CSV_RETENTION_DAYS):

- `raw/<districtId>/<name>.zip`: a bundle as delivered, by a presigned POST from the console or a
  script (`<name>` is the upload id) or by the district's SFTP user (whatever name its SIS gives);
- `staged/<districtId>/<bundleId>/<file>.csv`: a checked bundle split into one object per file
  (sources/csv_files.py), what a sync reads.

A new raw object is announced by S3 on EventBridge; sync/csv_arrival.py checks and stages it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rostersync import aws_clients
from rostersync.settings import get_settings

RAW, STAGED = "raw", "staged"
MAX_UPLOAD_BYTES = 2 * 1024**3  # compressed; the staging Lambda's /tmp holds it while checking
UPLOAD_EXPIRES_S = 900  # a presigned POST is good for 15 minutes
DELETE_BATCH = 1000  # S3 DeleteObjects' limit


class NotDeliveryKey(ValueError):
    """An object key outside raw/<districtId>/."""


def bucket() -> str:
    name = get_settings().bundles_bucket
    if not name:
        raise RuntimeError("BUNDLES_BUCKET is not set")
    return name


def raw_prefix(district_id: str) -> str:
    return f"{RAW}/{district_id}/"


def upload_key(district_id: str, upload_id: str) -> str:
    return f"{raw_prefix(district_id)}{upload_id}.zip"


def staged_prefix(district_id: str, bundle_id: str) -> str:
    return f"{STAGED}/{district_id}/{bundle_id}"


def district_of_key(key: str) -> tuple[str, str]:
    """(districtId, file name) of a raw object's key; NotDeliveryKey otherwise."""
    parts = key.split("/", 2)
    if len(parts) != 3 or parts[0] != RAW or not parts[1] or not parts[2] or parts[2].endswith("/"):
        raise NotDeliveryKey(key)
    return parts[1], parts[2]


def presigned_upload(district_id: str, upload_id: str) -> dict:
    """A presigned S3 POST for one bundle: this key only, at most MAX_UPLOAD_BYTES, for
    UPLOAD_EXPIRES_S. {url, fields, key, maxBytes, expiresAt}."""
    key = upload_key(district_id, upload_id)
    post = aws_clients.client("s3").generate_presigned_post(
        Bucket=bucket(),
        Key=key,
        Conditions=[["content-length-range", 1, MAX_UPLOAD_BYTES]],
        ExpiresIn=UPLOAD_EXPIRES_S,
    )
    expires_at = datetime.now(UTC) + timedelta(seconds=UPLOAD_EXPIRES_S)
    return {
        "url": post["url"],
        "fields": dict(post["fields"]),
        "key": key,
        "maxBytes": MAX_UPLOAD_BYTES,
        "expiresAt": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def delete_older_than(district_id: str, days: int, now: datetime | None = None) -> int:
    """Delete the district's raw and staged objects last written more than `days` ago (a district
    that keeps bundles for less than the bucket's lifecycle rule); how many went."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    return _delete(district_id, lambda obj: obj["LastModified"] < cutoff)


def delete_all(district_id: str) -> int:
    """Every raw and staged object of the district (purge); how many went."""
    return _delete(district_id, lambda obj: True)


def _delete(district_id: str, chosen) -> int:
    s3 = aws_clients.client("s3")
    name, count = bucket(), 0
    for prefix in (raw_prefix(district_id), f"{STAGED}/{district_id}/"):
        keys: list[dict] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix):
            keys += [{"Key": obj["Key"]} for obj in page.get("Contents", []) if chosen(obj)]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            s3.delete_objects(Bucket=name, Delete={"Objects": batch, "Quiet": True})
            count += len(batch)
    return count
