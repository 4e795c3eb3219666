"""A CSV bundle arrived in the bundles bucket (S3 "Object Created" on EventBridge, for keys under
raw/): check it, stage it, remember it as the district's latest bundle, and, when the district
syncs on arrival, queue a full sync through the run lifecycle (sync/launch.py).

- A bad bundle stages nothing and leaves the district's latest bundle as it was; the upload's
  record says which file and what is wrong (the BundleError's words), read with GET csv-uploads.
- A bundle that arrives while a run is queued or running waits: it is the latest bundle, and the
  next run (tonight's, or the next manual one) reads it; the upload's record says so.
- A nightly district's bundle waits for tonight's run.
- Bundles older than the district's retention are deleted here too (the bucket's lifecycle rule
  deletes at the default; a district that keeps them for less is trimmed on each arrival, and a
  run refuses a latest bundle past the retention: sync/run_start.py).
An event delivered twice stages the bundle twice under two bundle ids: harmless (the later is
the latest; the earlier expires with the retention).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from rostersync import aws_clients
from rostersync.ids import new_id
from rostersync.observability import logger
from rostersync.sources import csv_delivery
from rostersync.sources.csv_bundle import BundleError
from rostersync.sources.csv_files import stage_bundle
from rostersync.store import csv_uploads
from rostersync.store.districts import DistrictModel, csv_retention_days, get_district, is_csv
from rostersync.sync import launch, run_lifecycle
from rostersync.times import iso_z, utc_now

SPOOL_IN_MEMORY = 64 * 1024**2  # a bundle up to this stays in memory while it is checked


@dataclass(frozen=True)
class Arrival:
    bucket: str
    key: str
    size: int | None = None


def from_event(event: dict) -> Arrival:
    """The object an S3 "Object Created" EventBridge event names."""
    detail = event["detail"]
    return Arrival(detail["bucket"]["name"], detail["object"]["key"], detail["object"].get("size"))


def upload_id_of(name: str) -> str:
    """A console or API upload is named by its upload id; an SFTP delivery gets a new one."""
    stem = name[: -len(".zip")] if name.endswith(".zip") else name
    return stem if stem.startswith("upl_") and "/" not in stem else new_id("upl")


def handle(arrival: Arrival) -> dict:
    """Stage one arrived bundle; what became of it (the upload's record), or {"ignored": why}."""
    try:
        district_id, name = csv_delivery.district_of_key(arrival.key)
    except csv_delivery.NotDeliveryKey:
        logger.warning("bundle arrival outside raw/<districtId>/: ignored", extra={"key": arrival.key})
        return {"ignored": "not a delivery key"}
    district = get_district(district_id)
    if district is None or (district.purge or {}).get("state") in ("queued", "running", "done"):
        logger.warning("bundle for an unknown or purged district: deleted", extra={"districtId": district_id})
        aws_clients.client("s3").delete_object(Bucket=arrival.bucket, Key=arrival.key)
        return {"ignored": "no such district"}
    upload_id = upload_id_of(name)
    keep_days = csv_retention_days(district.connection)
    client = aws_clients.dynamodb()
    asked = csv_uploads.get_upload(client, district_id, upload_id) or {}
    base = {
        "key": arrival.key,
        "size": arrival.size,
        "createdAt": asked.get("createdAt"),
        "receivedAt": iso_z(utc_now()),
    }
    if not is_csv(district.connection):
        return csv_uploads.put_upload(
            client,
            district_id,
            upload_id,
            {
                **base,
                "state": csv_uploads.REJECTED,
                "error": "The district's SIS connection is not OneRoster CSV files.",
            },
            keep_days,
        )
    bundle_id = new_id("bnd")
    prefix = csv_delivery.staged_prefix(district_id, bundle_id)
    try:
        manifest = _stage(arrival, prefix)
    except BundleError as error:
        logger.info("CSV bundle rejected", extra={"districtId": district_id, "problem": str(error)})
        return csv_uploads.put_upload(
            client, district_id, upload_id, {**base, "state": csv_uploads.REJECTED, "error": str(error)}, keep_days
        )
    staged = {
        "bundleId": bundle_id,
        "bucket": arrival.bucket,
        "prefix": prefix,
        "manifest": manifest,
        "uploadId": upload_id,
        "stagedAt": iso_z(utc_now()),
    }
    district.update(actions=[DistrictModel.csv_bundle.set(staged)], condition=DistrictModel.district_id.exists())
    record = {**base, "state": csv_uploads.STAGED, "bundleId": bundle_id, **_queue(district)}
    record = csv_uploads.put_upload(client, district_id, upload_id, record, keep_days)
    expire_old_bundles(district)
    logger.info("CSV bundle staged", extra={"districtId": district_id, "bundleId": bundle_id, **record})
    return record


def _stage(arrival: Arrival, prefix: str) -> dict:
    s3 = aws_clients.client("s3")
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        s3.download_fileobj(arrival.bucket, arrival.key, spool)
        spool.seek(0)
        return stage_bundle(spool, arrival.bucket, prefix).to_json()


def _queue(district: DistrictModel) -> dict:
    """Queue a full sync when the district syncs on arrival; what the upload's record says of it."""
    connection = district.connection
    if connection is None or connection.csv_schedule != "on_arrival":
        return {"next": "tonight"}
    try:
        run = launch.start_sync(district.district_id, "full", trigger="csv_arrival")
    except run_lifecycle.RunInProgress as busy:
        return {"next": "after_current_run", "busyRunId": busy.args[0] if busy.args else None}
    except launch.NotQueued:
        return {"next": "tonight", "queueError": "The sync could not be queued; start one from the console."}
    return {"next": "queued", "runId": run.run_id}


def expire_old_bundles(district: DistrictModel) -> int:
    """Delete the district's bundles older than its retention, when that is shorter than the
    bucket's lifecycle rule (which deletes at the default)."""
    days = csv_retention_days(district.connection)
    if days >= csv_retention_days(None):
        return 0
    return csv_delivery.delete_older_than(district.district_id, days)
