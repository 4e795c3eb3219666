"""The body of the purge routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rostersync.api.schemas.base import ResponseModel


class PurgeResponse(ResponseModel):
    district_id: str
    status: Literal["requested", "queued", "running", "done"]
    purge_id: str | None = None
    requested_by: dict | None = Field(default=None, description="{sub, role, at} of the admin who asked")
    confirmed_by: dict | None = Field(default=None, description="{sub, role, at} of the platform admin who confirmed")
    finished_at: str | None = None
    message: str | None = None
