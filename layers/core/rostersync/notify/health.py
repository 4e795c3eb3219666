"""The SIS connection's health, as the last use of it found it.

Every sync attempt (the engine's read succeeded or raised the client's typed error) and every
connection test records a check on the district's connection: `health`, `lastCheckedAt`,
`lastError` (the client's words, never the secret) and `lastOkAt`. A check that changes the
health is a transition: ok -> not ok is "Connection Unhealthy", not ok -> ok "Connection
Restored" (announce.py puts the events and tells the contacts). Transitions are found with a
conditional write on the health read before, so two workers recording at once see one each.

Apart from whether the SIS answers, `calendar_note` says when the SIS's calendar (the sessions
the last sync stored) has no term running or to come: the connection works, yet nothing will
sync until the SIS's new school year is set up. It is not a health value (no event, no message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from rostersync.observability import redact
from rostersync.store.attributes import path_of
from rostersync.store.districts import DistrictModel, get_district

OK = "ok"
CREDENTIALS_REJECTED = "credentials_rejected"
ACCESS_DENIED = "access_denied"  # the credentials work but may not read rosters
NOT_ONEROSTER = "not_oneroster"
INVALID_HOST = "invalid_host"
UNREACHABLE = "unreachable"
SIS_ERROR = "sis_error"  # the SIS answered, but with server errors or bodies we cannot read
UNHEALTHY = (CREDENTIALS_REJECTED, ACCESS_DENIED, NOT_ONEROSTER, INVALID_HOST, UNREACHABLE, SIS_ERROR)
HEALTH_VALUES = (OK, *UNHEALTHY)
# Only the district's admin can fix these (new credentials, scopes or host): their contacts
# hear at once. Unreachable and SIS errors may pass; the worker retries, and a night that
# fails for them is told as a failed night.
NEEDS_ADMIN = (CREDENTIALS_REJECTED, ACCESS_DENIED, NOT_ONEROSTER, INVALID_HOST)

_BY_ERROR_CODE = {
    "invalid_credentials": CREDENTIALS_REJECTED,
    "insufficient_scope": ACCESS_DENIED,
    "not_oneroster": NOT_ONEROSTER,
    "invalid_host_url": INVALID_HOST,
    "unreachable_host": UNREACHABLE,
    "server_error": SIS_ERROR,
    "bad_response": SIS_ERROR,
    "request_rejected": SIS_ERROR,
}

# What to do, per health, in the words the notifications and the overview use.
ADVICE = {
    OK: "Nothing to do.",
    CREDENTIALS_REJECTED: "The SIS refused the saved client id and secret (revoked, expired or changed). Ask your SIS "
    "administrator for working OneRoster credentials and save them in step 2 (PUT sis/connection).",
    ACCESS_DENIED: "The credentials are accepted but may not read rosters. Ask your SIS administrator to grant the "
    "OneRoster 1.1 roster read scopes, then save the connection again in step 2.",
    NOT_ONEROSTER: "The SIS no longer answers like a OneRoster 1.1 server at the saved address. Check the host URL "
    "with your SIS vendor and save the connection again in step 2.",
    INVALID_HOST: "The saved host URL is not allowed or not valid. Save the connection again with the SIS's "
    "public https address in step 2.",
    UNREACHABLE: "The SIS could not be reached. Syncs retry on their own; if this lasts, check with your SIS "
    "administrator that the SIS is up and reachable from the internet.",
    SIS_ERROR: "The SIS answered with errors or unreadable data. Syncs retry on their own; if this lasts, contact "
    "your SIS vendor.",
}


def health_of_error(code: str | None) -> str:
    return _BY_ERROR_CODE.get(code or "", SIS_ERROR)


@dataclass(frozen=True)
class Transition:
    district_id: str
    previous: str | None  # None: never checked since the connection was saved
    current: str
    checked_at: datetime
    error: str | None

    @property
    def turned_unhealthy(self) -> bool:
        return self.current != OK and self.current != self.previous

    @property
    def restored(self) -> bool:
        return self.current == OK and self.previous is not None and self.previous != OK


def record_check(
    district_id: str, health: str, error: str | None = None, now: datetime | None = None
) -> Transition | None:
    """Record what a use of the connection found. None when the district has no connection
    (removed meanwhile): there is nothing to mark."""
    if health not in HEALTH_VALUES:
        raise ValueError(health)
    now = now or datetime.now(UTC)
    text = None if health == OK else (redact(error or "").strip()[:500] or None)
    for _ in range(5):
        district = get_district(district_id)
        if district is None or district.connection is None:
            return None
        previous = district.connection.health
        health_path = path_of(DistrictModel.connection.health)
        last_error = path_of(DistrictModel.connection.last_error)
        actions: list[Action] = [health_path.set(health), path_of(DistrictModel.connection.last_checked_at).set(now)]
        if health == OK:
            actions += [path_of(DistrictModel.connection.last_ok_at).set(now), last_error.remove()]
        else:
            actions.append(last_error.set(text or health))
        # Unchanged since we read it: the same connection (not replaced meanwhile) and health.
        condition = path_of(DistrictModel.connection.connected_at) == district.connection.connected_at
        condition &= health_path.does_not_exist() if previous is None else health_path == previous
        try:
            district.update(actions=actions, condition=condition)
        except UpdateError as error:
            if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
                continue  # someone recorded a check (or saved a connection) meanwhile: read again
            raise
        return Transition(district_id, previous, health, now, text)
    return None


def calendar_note(district_id: str, timezone: str | None, today: date | None = None) -> str | None:
    """ "The SIS has no current term: ..." when the sessions the last sync stored are all over; None
    when one is running or to come, or when no session was stored (nothing can be said)."""
    from rostersync.store.terms import TermModel, terms_at
    from rostersync.sync.notices import no_current_term_health
    from rostersync.times import local_date

    today = today or local_date(datetime.now(UTC), timezone)
    running, upcoming = terms_at(district_id, today, None, None, max_items=200)
    if running or upcoming:
        return None
    day = today.isoformat()
    last = next(
        iter(
            TermModel.by_end.query(
                district_id,
                range_key_condition=TermModel.end_date < day,
                filter_condition=TermModel.status == "active",
                scan_index_forward=False,
                limit=1,
            )
        ),
        None,
    )
    return None if last is None else no_current_term_health(last.end_date)
