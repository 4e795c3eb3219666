"""Bodies of the notification routes: who hears of what, what was sent, and a test message."""

from __future__ import annotations

from pydantic import Field

from rostersync.api.schemas.base import ResponseModel


class NotificationEventResponse(ResponseModel):
    kind: str = Field(description="sync_failed, sync_held or connection_unhealthy")
    when: str = Field(description="When it is sent, in words")


class SentNotificationResponse(ResponseModel):
    kind: str = Field(description="One of the events' kinds, or test")
    night: str = Field(description="The district's local date it belongs to (one message per kind and night)")
    subject: str
    recipients: list[str]
    status: str = Field(description="sent, no_contacts, no_sender, failed (or sending, for a moment)")
    detail: str | None = Field(description="Why it was not sent, or the mail service's message id")
    run_id: str | None = None
    created_at: str


class NotificationsResponse(ResponseModel):
    contacts: list[str] = Field(description="Every contact hears of every event (PATCH /districts/{id} sets them)")
    events: list[NotificationEventResponse]
    recent: list[SentNotificationResponse] = Field(description="The district's latest messages, newest first")


class TestNotificationResponse(ResponseModel):
    message: SentNotificationResponse
    next_test_at: str = Field(description="The earliest time another test message may be sent")
