"""A CSV district's bundle uploads: a presigned S3 POST for the browser (or a script) to send the
zip straight to the bundles bucket, and what became of each bundle (sync/csv_arrival.py checks and
stages it when S3 announces it). SFTP deliveries show here too."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync import aws_clients
from rostersync.api.access import district_for_admin
from rostersync.api.errors import conflict, not_found
from rostersync.api.http_io import respond
from rostersync.api.route_docs import documented
from rostersync.api.schemas.csv_uploads import CsvUploadResponse, CsvUploadsResponse, CsvUploadTicket
from rostersync.api.schemas.sis_connection import csv_delivery_response
from rostersync.ids import new_id
from rostersync.observability import logger
from rostersync.sources import csv_delivery
from rostersync.store import csv_uploads
from rostersync.store.districts import DistrictModel, csv_retention_days, is_csv
from rostersync.times import now_iso_z

router = APIGatewayHttpRouter()

PATH = "/districts/<district_id>/csv-uploads"
TAG = "CSV bundles"


def _csv_district(district_id: str) -> DistrictModel:
    district = district_for_admin(router.current_event.raw_event, district_id)
    if not is_csv(district.connection):
        raise conflict(
            "not_csv",
            "This district's SIS connection is not OneRoster CSV files: choose them at step 2 (PUT sis/connection "
            '{"kind": "oneroster_csv"}).',
        )
    return district


@router.post(
    PATH,
    **documented(
        "Get a presigned S3 POST to upload one OneRoster CSV bundle (a zip)",
        operation_id="createCsvUpload",
        tag=TAG,
        response=CsvUploadTicket,
        status=201,
        errors=(401, 403, 404, 409),
        description="Send the zip straight to S3 as a multipart form: every field of `fields`, then `file`. The form "
        "is good for 15 minutes and for at most `maxBytes`. When it arrives the bundle is checked (GET "
        "csv-uploads/{uploadId} says staged or rejected, and why) and synced as the connection's csvSchedule says. "
        "409 not_csv when the district's connection is not CSV files.",
    ),
)
def create_upload(district_id: str):
    district = _csv_district(district_id)
    upload_id = new_id("upl")
    ticket = csv_delivery.presigned_upload(district_id, upload_id)
    csv_uploads.put_upload(
        aws_clients.dynamodb(),
        district_id,
        upload_id,
        {"state": csv_uploads.AWAITING, "key": ticket["key"], "createdAt": now_iso_z()},
        csv_retention_days(district.connection),
    )
    logger.info("CSV upload form handed out", extra={"districtId": district_id, "uploadId": upload_id})
    return respond(
        CsvUploadTicket(
            upload_id=upload_id,
            url=ticket["url"],
            fields=ticket["fields"],
            key=ticket["key"],
            max_bytes=ticket["maxBytes"],
            expires_at=ticket["expiresAt"],
        ),
        201,
    )


@router.get(
    PATH,
    **documented(
        "The district's latest CSV bundle uploads and the bundle the next sync reads",
        operation_id="listCsvUploads",
        tag=TAG,
        response=CsvUploadsResponse,
        errors=(401, 403, 404, 409),
        description="Newest first, the last 20 (console uploads, POST csv-uploads and SFTP deliveries).",
    ),
)
def list_uploads(district_id: str):
    district = _csv_district(district_id)
    uploads = csv_uploads.list_uploads(aws_clients.dynamodb(), district_id)
    connection = district.connection
    if connection is None:  # _csv_district saw one; gone since
        raise conflict("not_csv", "The district's SIS connection was removed.")
    return respond(
        CsvUploadsResponse(
            uploads=[_upload(record) for record in uploads],
            latest_bundle=csv_delivery_response(connection, district.csv_bundle).latest_bundle,
        )
    )


@router.get(
    PATH + "/<upload_id>",
    **documented(
        "One CSV bundle upload: awaiting, staged (and the sync it queued) or rejected (and why)",
        operation_id="getCsvUpload",
        tag=TAG,
        response=CsvUploadResponse,
        errors=(401, 403, 404, 409),
    ),
)
def get_upload(district_id: str, upload_id: str):
    _csv_district(district_id)
    record = csv_uploads.get_upload(aws_clients.dynamodb(), district_id, upload_id)
    if record is None:
        raise not_found("upload")
    return respond(_upload(record))


def _upload(record: dict) -> CsvUploadResponse:
    return CsvUploadResponse(
        upload_id=record["uploadId"],
        state=record["state"],
        created_at=record.get("createdAt"),
        received_at=record.get("receivedAt"),
        key=record.get("key"),
        size=record.get("size"),
        bundle_id=record.get("bundleId"),
        error=record.get("error"),
        next=record.get("next"),
        run_id=record.get("runId"),
    )
