"""The query string of the list routes: ?limit=, ?cursor=, ?status= and other choices, ids, and
?updatedSince= (a change read), read after authorization; and how they are documented.

Every paged route reads ?limit= through `limit_of` (http_io.query_limit: ASCII digits only);
a bad cursor is 400 invalid_cursor (rostersync.store.roster_queries checks it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from rostersync.api.errors import bad_request, not_found, unprocessable
from rostersync.api.http_io import query_limit
from rostersync.api.route_docs import QueryParameter
from rostersync.store import change_keys
from rostersync.store import roster_queries as queries


def query_of(event: dict) -> dict:
    return event.get("queryStringParameters") or {}


@overload
def choice(event: dict, name: str, choices: tuple[str, ...], default: str) -> str: ...
@overload
def choice(event: dict, name: str, choices: tuple[str, ...], default: None) -> str | None: ...
def choice(event: dict, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = query_of(event).get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise unprocessable("invalid_request", f"{name} must be one of {', '.join(choices)}.")
    return value


def limit_of(event: dict, default: int = queries.DEFAULT_LIMIT, maximum: int = queries.MAX_LIMIT) -> int:
    """?limit=, 1..maximum (ASCII digits only), `default` without it."""
    return query_limit(query_of(event).get("limit"), default, maximum)


def query_id(event: dict, name: str) -> str | None:
    value = query_of(event).get(name)
    if value is None or value == "":
        return None
    if len(value) > 255:
        raise unprocessable("invalid_request", f"{name} is too long.")
    return value


def school_id_of(event: dict) -> str | None:
    return query_id(event, "schoolId")


def cursor_of(event: dict) -> str | None:
    value = query_of(event).get("cursor")
    return None if value in (None, "") else value


def updated_since_of(event: dict) -> str | None:
    """?updatedSince= as stored time text, or None."""
    value = query_of(event).get("updatedSince")
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 64 else None
    except ValueError:
        moment = None
    message = "updatedSince must be an ISO 8601 time with a zone, such as 2026-12-01T08:00:00Z."
    if moment is None or moment.tzinfo is None:
        raise unprocessable("invalid_request", message)
    try:
        # Nothing was written before 1970: earlier times read from the beginning (and stay fixed-width text).
        return change_keys.time_text(max(moment.astimezone(UTC), _EPOCH))
    except (OverflowError, ValueError):  # a year 1 or 9999 moved out of range by its offset
        raise unprocessable("invalid_request", message) from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def change_read(event: dict) -> tuple[bool, str | None]:
    """(whether this is a change read, its updatedSince): ?updatedSince= or a change cursor."""
    since = updated_since_of(event)
    return since is not None or queries.is_change_cursor(cursor_of(event)), since


def invalid_cursor():
    return bad_request(
        "invalid_cursor", "The cursor is not one this list gave out for this query; start from the first page."
    )


def paged(read):
    try:
        return read()
    except queries.InvalidCursor:
        raise invalid_cursor() from None


def path_id(value: str, what: str) -> str:
    if len(value) > 255:
        raise not_found(what)
    return value


# Documented parameters (api/route_docs.py), shared by the list routes.

STATUS = QueryParameter("status", "active (default; `all` on a change read) | inactive | all", enum=queries.STATUSES)
LIMIT = QueryParameter(
    "limit",
    f"Items a page, 1..{queries.MAX_LIMIT} (default {queries.DEFAULT_LIMIT})",
    type="integer",
    minimum=1,
    maximum=queries.MAX_LIMIT,
)
CURSOR = QueryParameter(
    "cursor",
    "The nextCursor (or, for a change read, changesCursor) of a previous answer "
    "to this same query; 400 invalid_cursor for any other",
)
SINCE = QueryParameter(
    "updatedSince",
    "ISO 8601 time with a zone: answer only records created, changed or deactivated at or after "
    "it, oldest change first, with a changesCursor to resume from. Changes show once they are "
    f"{change_keys.DEFAULT_CHANGE_LAG_S // 60} minutes old (the change horizon)",
    format="date-time",
)
SCHOOL = QueryParameter("schoolId", "An app school id")
PAGING = (STATUS, LIMIT, CURSOR)
LIST_ERRORS = (400, 401, 403, 404, 422)
