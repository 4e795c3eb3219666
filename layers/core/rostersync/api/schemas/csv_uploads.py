"""Bodies of the CSV upload routes (a district whose connection is OneRoster CSV files)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rostersync.api.schemas.base import ResponseModel
from rostersync.api.schemas.sis_connection import CsvBundleSummary

UploadState = Literal["awaiting", "staged", "rejected"]


class CsvUploadTicket(ResponseModel):
    upload_id: str
    url: str = Field(description="POST the form here: every field of `fields`, then the zip as the field `file`")
    fields: dict[str, str] = Field(description="The presigned form fields (key, policy, signature, ...), as given")
    key: str = Field(description="Where the bundle lands in the bundles bucket")
    max_bytes: int = Field(description="The largest bundle S3 accepts (the policy's content-length-range)")
    expires_at: str = Field(description="The form is refused after this (UTC, ISO 8601)")


class CsvUploadResponse(ResponseModel):
    upload_id: str
    state: UploadState = Field(
        description="awaiting: nothing arrived yet; staged: checked and ready for a sync; rejected: see error"
    )
    created_at: str | None = Field(default=None, description="When the upload form was handed out (none for SFTP)")
    received_at: str | None = Field(default=None, description="When the bundle arrived and was checked")
    key: str | None = None
    size: int | None = Field(default=None, description="The zip's size in bytes")
    bundle_id: str | None = Field(default=None, description="The staged bundle (state staged)")
    error: str | None = Field(default=None, description="Which file and what is wrong (state rejected)")
    next: Literal["queued", "tonight", "after_current_run"] | None = Field(
        default=None,
        description="What syncs it: queued (runId, the district syncs on arrival), tonight (nightly, or the sync "
        "could not be queued), after_current_run (a run was under way: the next run reads it)",
    )
    run_id: str | None = Field(default=None, description="The sync it queued")


class CsvUploadsResponse(ResponseModel):
    uploads: list[CsvUploadResponse] = Field(description="The latest uploads, newest first")
    latest_bundle: CsvBundleSummary | None = Field(description="What the next sync reads")
