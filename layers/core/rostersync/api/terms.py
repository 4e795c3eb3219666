"""Academic sessions: a district's terms, a school's terms, and a school's current term.

Readers as for every roster list (api/rosters.py): the district's admins, platform admins and
API clients granted the district. Lists page like the other roster lists and take
?updatedSince= / a change cursor the same way.

The current term (GET .../schools/{schoolId}/terms/current): the active sessions of the asked
types (default term and semester) that belong to the school (or to no school in particular)
and run on the date (default: today in the district's time zone): startDate <= date <= endDate.
- none: 200 with `term: null` (between terms, the summer) and `nextTerm`, the next to start;
- several (overlapping semesters, a year-long term next to a semester): `term` is the one that
  started last (the most specific), ties broken by the earliest end then the termId, and
  `terms` lists every one running, in that order.
"""

from __future__ import annotations

from datetime import date

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api.access import district_for_reader
from rostersync.api.errors import not_found, unprocessable
from rostersync.api.http_io import respond
from rostersync.api.list_queries import (
    CURSOR,
    LIMIT,
    LIST_ERRORS,
    SINCE,
    STATUS,
    change_read,
    choice,
    cursor_of,
    limit_of,
    paged,
    path_id,
    query_of,
)
from rostersync.api.route_docs import QueryParameter, documented
from rostersync.api.schemas.terms import CurrentTermResponse, TermResponse, TermsResponse, term_response
from rostersync.store import roster_queries as queries
from rostersync.store import terms as term_store
from rostersync.store.schools import SchoolModel
from rostersync.times import local_date, utc_now

router = APIGatewayHttpRouter()

TAG = "Rosters"


def _types(event: dict, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    value = query_of(event).get("type")
    if value is None or value == "":
        return default
    types = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [t for t in types if t not in term_store.SESSION_TYPES]
    if not types or unknown:
        raise unprocessable(
            "invalid_request", f"type must be one or more of {', '.join(term_store.SESSION_TYPES)} (comma-separated)."
        )
    return types


def _date(event: dict, district) -> date:
    value = query_of(event).get("date")
    if value is None or value == "":
        return local_date(utc_now(), district.timezone)
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise unprocessable("invalid_request", "date must be YYYY-MM-DD.")


def _school(district_id: str, school_id: str) -> None:
    try:
        SchoolModel.get(district_id, path_id(school_id, "school"))
    except SchoolModel.DoesNotExist:
        raise not_found("school") from None


_TYPE = QueryParameter("type", f"Only sessions of these types, comma-separated: {', '.join(term_store.SESSION_TYPES)}")
_LIST_QUERY = (_TYPE, STATUS, LIMIT, CURSOR, SINCE)


def _list(district_id: str, school_id: str | None):
    event = terms_event()
    changes, since = change_read(event)
    types = _types(event, None)
    status = choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, cursor = limit_of(event), cursor_of(event)
    if changes:
        query = term_store.term_changes(school_id, types, status)
        page = paged(lambda: queries.change_page(district_id, query, since, limit, cursor))
    else:
        page = paged(
            lambda: term_store.list_terms(
                district_id, school_id=school_id, types=types, status=status, limit=limit, cursor=cursor
            )
        )
    return respond(
        TermsResponse(
            terms=[term_response(t) for t in page.items],
            next_cursor=page.next_cursor,
            changes_cursor=page.changes_cursor,
        )
    )


def terms_event() -> dict:
    return router.current_event.raw_event


@router.get(
    "/districts/<district_id>/terms",
    **documented(
        "Academic sessions (school years, terms, semesters, grading periods)",
        operation_id="listTerms",
        tag=TAG,
        response=TermsResponse,
        errors=LIST_ERRORS,
        query=_LIST_QUERY,
        description="The district's sessions as the SIS lists them, by termId; with updatedSince (or a "
        "change cursor), in change order. schoolIds: the app schools whose synced classes use "
        "the session (or a child or parent of it); empty for a session no synced class uses.",
    ),
)
def list_terms(district_id: str):
    district_for_reader(terms_event(), district_id)
    return _list(district_id, None)


@router.get(
    "/districts/<district_id>/terms/<term_id>",
    **documented(
        "One academic session",
        operation_id="getTerm",
        tag=TAG,
        response=TermResponse,
        description="Any status. 404 for an unknown term.",
    ),
)
def get_term(district_id: str, term_id: str):
    district_for_reader(terms_event(), district_id)
    item = term_store.get_term(district_id, path_id(term_id, "term"))
    if item is None:
        raise not_found("term")
    return respond(term_response(item))


@router.get(
    "/districts/<district_id>/schools/<school_id>/terms",
    **documented(
        "A school's academic sessions",
        operation_id="listSchoolTerms",
        tag=TAG,
        response=TermsResponse,
        errors=LIST_ERRORS,
        query=_LIST_QUERY,
        description="Sessions with the school in schoolIds, and those of no school in particular (a "
        "district-wide calendar). A page may hold fewer than limit; follow nextCursor. "
        "404 for an unknown school.",
    ),
)
def list_school_terms(district_id: str, school_id: str):
    district_for_reader(terms_event(), district_id)
    _school(district_id, school_id)
    return _list(district_id, school_id)


@router.get(
    "/districts/<district_id>/schools/<school_id>/terms/current",
    **documented(
        "A school's current term",
        operation_id="getCurrentTerm",
        tag=TAG,
        response=CurrentTermResponse,
        errors=(401, 403, 404, 422),
        query=(
            QueryParameter("date", "YYYY-MM-DD (default: today in the district's time zone)", format="date"),
            QueryParameter(
                "type",
                "Session types that count, comma-separated (default term,semester; "
                f"any of {', '.join(term_store.SESSION_TYPES)})",
            ),
        ),
        description="The active sessions running on the date (startDate <= date <= endDate) that belong "
        "to the school or to no school. term: the one that started last (then the earliest "
        "end, then termId), null when none runs; terms: every one running, in that order; "
        "nextTerm: the next to start after the date, or null. 404 for an unknown school.",
    ),
)
def current_term(district_id: str, school_id: str):
    event = terms_event()
    district = district_for_reader(event, district_id)
    _school(district_id, school_id)
    on = _date(event, district)
    types = _types(event, term_store.TERM_TYPES)
    running, upcoming = term_store.terms_at(district_id, on, school_id, types)
    return respond(
        CurrentTermResponse(
            school_id=school_id,
            date=on.isoformat(),
            term=term_response(running[0]) if running else None,
            terms=[term_response(t) for t in running],
            next_term=term_response(upcoming) if upcoming else None,
        )
    )
