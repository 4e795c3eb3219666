"""A district's notifications: who hears of what, what was sent lately, and a test message.

- GET  /districts/{id}/notifications: the contacts, the events they hear of, the latest messages;
- POST /districts/{id}/notifications/test: a test message to the contacts now, through the same
  path as the real ones (notify/notifications.py: SES, the outbox locally), once in ten minutes.
Who: the district's admins and platform admins. Contacts are set with PATCH /districts/{id}.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api import audit_trail
from rostersync.api.access import district_for_admin, principal_from_event
from rostersync.api.errors import ApiError
from rostersync.api.http_io import respond
from rostersync.api.route_docs import documented
from rostersync.api.schemas.notifications import (
    NotificationEventResponse,
    NotificationsResponse,
    SentNotificationResponse,
    TestNotificationResponse,
)
from rostersync.notify import notifications

router = APIGatewayHttpRouter()

TAG = "Notifications"
RECENT = 20


def _sent(item: notifications.NotificationModel) -> SentNotificationResponse:
    return SentNotificationResponse(
        kind=item.kind,
        night=item.night,
        subject=item.subject,
        recipients=list(item.recipients or []),
        status=item.status,
        detail=item.detail,
        run_id=item.run_id,
        created_at=item.created_at.isoformat().replace("+00:00", "Z"),
    )


@router.get(
    "/districts/<district_id>/notifications",
    **documented(
        "Who hears of what: the district's contacts, the events they are told of, and the latest messages",
        operation_id="getNotifications",
        tag=TAG,
        response=NotificationsResponse,
        description=f"The latest {RECENT} messages, newest first, with how each went.",
    ),
)
def get_notifications(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    return respond(
        NotificationsResponse(
            contacts=list(district.contacts or []),
            events=[NotificationEventResponse(kind=k, when=notifications.KIND_WORDS[k]) for k in notifications.KINDS],
            recent=[_sent(item) for item in notifications.recent(district_id, RECENT)],
        )
    )


@router.post(
    "/districts/<district_id>/notifications/test",
    **documented(
        "Send a test message to the district's contacts now",
        operation_id="sendTestNotification",
        tag=TAG,
        response=TestNotificationResponse,
        errors=(401, 403, 404, 429),
        description="The message goes the way real ones do; its status says how it went: sent, no_contacts (the "
        "district has none), no_sender (the stack has no sender address) or failed. One test a district every "
        f"{int(notifications.TEST_EVERY.total_seconds() // 60)} minutes: 429 test_too_soon with retryAfterSeconds "
        "before then.",
    ),
)
def send_test(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    asked_by = principal_from_event(event).sub or "an administrator"
    try:
        item = notifications.send_test(district, asked_by)
    except notifications.TestTooSoon as soon:
        raise ApiError(
            429,
            "test_too_soon",
            f"A test message was sent less than {int(notifications.TEST_EVERY.total_seconds() // 60)} minutes ago; "
            f"try again in {soon.retry_after_s} seconds.",
            retryAfterSeconds=soon.retry_after_s,
        ) from None
    audit_trail.record_event(
        event,
        district_id,
        "notifications.test",
        after={"status": item.status, "recipients": list(item.recipients or [])},
    )
    next_at = item.created_at + notifications.TEST_EVERY
    return respond(
        TestNotificationResponse(message=_sent(item), next_test_at=next_at.isoformat().replace("+00:00", "Z"))
    )
