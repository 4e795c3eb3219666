"""Messages to a district's contacts: a failed night, a held run, a connection that turned
unhealthy. One message per kind, district and night (the district's local date), however
often the worker retries or a message is delivered.

Sent with Amazon SES (docs/design.md says why not SNS). Before sending, the message is put in
the NotificationsTable on the condition that no item for (district, night#kind) exists: the
one writer that wins sends; the item then says what was sent, to whom and how it went (sent,
no_contacts, no_sender, failed). Locally the table is the outbox `rostersync local outbox`
lists. Messages say what happened and what to do, from fixed text and the run's or the
connection's words (which never carry a secret), redacted once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from rostersync import aws_clients
from rostersync.observability import redact
from rostersync.settings import get_settings
from rostersync.store.attributes import string_list, table_meta
from rostersync.store.districts import DistrictModel

SYNC_FAILED = "sync_failed"
SYNC_HELD = "sync_held"
CONNECTION_UNHEALTHY = "connection_unhealthy"
KINDS = (SYNC_FAILED, SYNC_HELD, CONNECTION_UNHEALTHY)
KIND_WORDS = {
    SYNC_FAILED: "a sync fails",
    SYNC_HELD: "a sync is held for review (it would deactivate more than the district's limit)",
    CONNECTION_UNHEALTHY: "the SIS connection stops working",
}
TEST = "test"  # an admin's test message (POST .../notifications/test): one item a district, the latest
TEST_EVERY = timedelta(minutes=10)  # one test a district in this time: a button pressed twice mails once
KEEP_DAYS = 90

SENT, NO_CONTACTS, NO_SENDER, FAILED, SENDING = "sent", "no_contacts", "no_sender", "failed", "sending"


class NotificationModel(Model):
    Meta = table_meta(get_settings().notifications_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    notification_key = UnicodeAttribute(range_key=True, attr_name="notificationKey")  # "<night>#<kind>"
    kind = UnicodeAttribute()
    night = UnicodeAttribute()
    run_id = UnicodeAttribute(attr_name="runId", null=True)
    subject = UnicodeAttribute()
    body = UnicodeAttribute()
    recipients = string_list(default=list)
    status = UnicodeAttribute()  # sending | sent | no_contacts | no_sender | failed
    detail = UnicodeAttribute(null=True)  # why it failed, or SES's message id
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    expires_at = NumberAttribute(attr_name="expiresAt")


@dataclass(frozen=True)
class Message:
    kind: str
    subject: str
    body: str
    run_id: str | None = None


def night_of(district: DistrictModel, run_night: str | None = None, now: datetime | None = None) -> str:
    """The night a message belongs to: a nightly run's own night, else the district's local date."""
    if run_night:
        return run_night
    now = now or datetime.now(UTC)
    zone: tzinfo
    try:
        zone = ZoneInfo(district.timezone)
    except Exception:
        zone = UTC
    return now.astimezone(zone).date().isoformat()


def send_once(district: DistrictModel, night: str, message: Message, now: datetime | None = None) -> bool:
    """Send `message` to the district's contacts unless this kind was sent for `night` already.
    True when this call sent (or recorded) it, False for a duplicate."""
    now = now or datetime.now(UTC)
    recipients = list(district.contacts or [])
    item = NotificationModel(
        district.district_id,
        f"{night}#{message.kind}",
        kind=message.kind,
        night=night,
        run_id=message.run_id,
        subject=redact(message.subject),
        body=redact(message.body),
        recipients=recipients,
        status=SENDING,
        created_at=now,
        expires_at=int((now + timedelta(days=KEEP_DAYS)).timestamp()),
    )
    try:
        item.save(condition=NotificationModel.notification_key.does_not_exist())
    except PutError as error:
        if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise
    try:
        status, detail = _deliver(item, recipients)
    except Exception:
        # The mark goes, so the next event of this kind tonight may try again; announce logs
        # the error and counts it (AnnounceFailures alarm).
        item.delete()
        raise
    _finish(item, status, detail)
    return True


class TestTooSoon(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"a test message was sent less than {TEST_EVERY} ago")
        self.retry_after_s = retry_after_s


def send_test(district: DistrictModel, asked_by: str, now: datetime | None = None) -> NotificationModel:
    """Send a test message to the district's contacts now, as the real messages go (SES, the
    outbox locally), at most once in TEST_EVERY; TestTooSoon otherwise. The stored item says how
    it went: sent, no_contacts, no_sender or failed (a failure is kept, and counts as the test)."""
    now = now or datetime.now(UTC)
    recipients = list(district.contacts or [])
    message = test_message(district, asked_by)
    item = NotificationModel(
        district.district_id,
        TEST,
        kind=TEST,
        night=night_of(district, now=now),
        subject=redact(message.subject),
        body=redact(message.body),
        recipients=recipients,
        status=SENDING,
        created_at=now,
        expires_at=int((now + timedelta(days=KEEP_DAYS)).timestamp()),
    )
    try:
        item.save(
            condition=NotificationModel.notification_key.does_not_exist()
            | (NotificationModel.created_at <= now - TEST_EVERY)
        )
    except PutError as error:
        if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        last = NotificationModel.get(district.district_id, TEST, consistent_read=True)
        raise TestTooSoon(max(1, int((last.created_at + TEST_EVERY - now).total_seconds()))) from None
    try:
        status, detail = _deliver(item, recipients)
    except Exception as error:  # the admin sees that it failed and the kind of error, never its text
        status, detail = FAILED, f"The mail service refused the message ({type(error).__name__})."
    _finish(item, status, detail)
    return item


def _deliver(item: NotificationModel, recipients: list[str]) -> tuple[str, str | None]:
    """Send a saved message (SES; the outbox locally): (status, detail) of how it went, no_contacts,
    no_sender or sent. A refused send raises; each caller decides what the failure leaves."""
    sender = get_settings().notify_from
    if not recipients:
        return NO_CONTACTS, "The district has no contacts (PATCH /districts/{districtId})."
    if not sender:
        return NO_SENDER, "No NotificationSender is configured for the stack."
    answer = aws_clients.ses().send_email(
        Source=sender,
        Destination={"ToAddresses": recipients},
        Message={
            "Subject": {"Data": item.subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": item.body, "Charset": "UTF-8"}},
        },
    )
    return SENT, answer.get("MessageId")


def _finish(item: NotificationModel, status: str, detail: str | None) -> None:
    item.update(actions=[NotificationModel.status.set(status), NotificationModel.detail.set(detail or status)])


def recent(district_id: str | None = None, limit: int = 50) -> list[NotificationModel]:
    """Newest first: one district's (query), or every district's (scan; the local outbox)."""
    items = list(NotificationModel.query(district_id) if district_id else NotificationModel.scan())
    items.sort(key=lambda n: n.created_at, reverse=True)
    return items[:limit]


# ---------------------------------------------------------------- what the messages say


def _when(value: datetime | None, district: DistrictModel) -> str:
    if value is None:
        return "unknown time"
    zone: tzinfo
    try:
        zone = ZoneInfo(district.timezone)
    except Exception:
        zone = UTC
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def sync_failed(district: DistrictModel, run, failure: str | None) -> Message:
    return Message(
        SYNC_FAILED,
        f"Roster Sync: the {run.trigger} sync of {district.name} failed",
        "\n".join(
            [
                f"The {run.trigger} roster sync of {district.name} (run {run.run_id}) failed at "
                f"{_when(run.finished_at or datetime.now(UTC), district)}.",
                "",
                f"What happened: {failure or 'no detail was recorded'}",
                "",
                "Nothing was deactivated: a sync that fails part-way never deactivates records, and your rosters "
                "stay as the last successful sync left them.",
                "What to do: if the reason above names the SIS connection, fix it in step 2 (SIS connection); "
                "otherwise start a new sync (POST /districts/{id}/syncs) or wait for tonight's. Our on-call team "
                "was alerted too.",
            ]
        ),
        run.run_id,
    )


def sync_held(district: DistrictModel, run, held: dict | None) -> Message:
    what = ", ".join(f"{n} {t}" for t, n in sorted((held or {}).items()) if n) or "many records"
    return Message(
        SYNC_HELD,
        f"Roster Sync: a sync of {district.name} waits for your review",
        "\n".join(
            [
                f"The {run.trigger} roster sync of {district.name} (run {run.run_id}) would deactivate {what}: more "
                "than the district's safety limit allows in one sync. It stopped before deactivating anything; new "
                "and changed records were written.",
                "",
                "What to do: check in your SIS that these records really left (a school, grade or subject filter, or "
                "an SIS export problem, can look like this). If it is right, approve the run "
                f"(POST /districts/{district.district_id}/syncs/{run.run_id}/approve); if not, fix the SIS or the sync "
                "settings and the next sync will read it again.",
            ]
        ),
        run.run_id,
    )


def test_message(district: DistrictModel, asked_by: str) -> Message:
    return Message(
        TEST,
        f"Roster Sync: a test message for {district.name}",
        "\n".join(
            [
                f"This is a test message from Roster Sync, sent because {asked_by} asked for one in the console.",
                "",
                f"This address is a notification contact of {district.name}. Roster Sync writes to it when:",
                *(f"- {KIND_WORDS[kind]}" for kind in KINDS),
                "",
                "Nothing needs doing.",
            ]
        ),
    )


def connection_unhealthy(
    district: DistrictModel, health: str, error: str | None, advice: str, run_id: str | None = None
) -> Message:
    return Message(
        CONNECTION_UNHEALTHY,
        f"Roster Sync: action needed on {district.name}'s SIS connection",
        "\n".join(
            [
                f"Roster Sync could not use {district.name}'s SIS connection ({health.replace('_', ' ')}).",
                f"What happened: {error or health}",
                "",
                f"What to do: {advice}",
                "Until then nightly syncs fail and your rosters stay as the last successful sync left them. The next "
                "successful connection test or sync restores the connection.",
            ]
        ),
        run_id,
    )
