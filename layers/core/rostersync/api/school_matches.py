"""Setup step 3: which SIS school is which existing app school.

GET sis/schools reads the SIS's active schools live (a CSV district's: from its latest bundle) and
suggests, for each unmatched one, the unmatched app school it most probably is
(rostersync.school_suggestions explains the scoring).
PUT school-matches saves the whole set of matches, one to one; SIS schools left unmatched
become new schools when a sync selects them.
"""

from __future__ import annotations

from collections import Counter

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api import audit_trail
from rostersync.api.access import district_for_admin, district_for_reader
from rostersync.api.errors import unprocessable
from rostersync.api.http_io import read_body, respond
from rostersync.api.list_queries import CURSOR, LIMIT, SINCE, change_read, choice, cursor_of, limit_of, paged
from rostersync.api.route_docs import QueryParameter, documented
from rostersync.api.schemas.districts import SchoolResponse, SchoolsResponse
from rostersync.api.schemas.rosters import SchoolChangeResponse, SchoolChangesResponse
from rostersync.api.schemas.school_matches import (
    SchoolMatchesRequest,
    SchoolMatchesResponse,
    SchoolMatchResponse,
    SisSchoolResponse,
    SisSchoolsResponse,
)
from rostersync.api.sis_reads import active_sis_schools, require_connection
from rostersync.observability import logger
from rostersync.school_suggestions import Candidate, suggest
from rostersync.store import roster_queries as queries
from rostersync.store.schools import ORIGIN_APP, SchoolModel, active_schools, set_match

router = APIGatewayHttpRouter()

TAG = "Setup step 3: schools"
MAX_IDS_IN_MESSAGE = 5


def _listed(ids: list[str]) -> str:
    shown = ", ".join(sorted(ids)[:MAX_IDS_IN_MESSAGE])
    return shown + (f" and {len(ids) - MAX_IDS_IN_MESSAGE} more" if len(ids) > MAX_IDS_IN_MESSAGE else "")


def _matchable(schools: list[SchoolModel]) -> list[SchoolModel]:
    """App schools an SIS school may be matched to: those people created, not those a sync made."""
    return [s for s in schools if s.origin == ORIGIN_APP]


SCHOOL_CHANGE_QUERY = (
    QueryParameter("status", "On a change read: active | inactive | all (default)", enum=queries.STATUSES),
    LIMIT,
    CURSOR,
    SINCE,
)


def _school_changes(event: dict, district_id: str):
    """GET /districts/{id}/schools?updatedSince=...: the schools written since, in change order."""
    _, since = change_read(event)
    status = choice(event, "status", queries.STATUSES, "all")
    limit, cursor = limit_of(event), cursor_of(event)
    page = paged(lambda: queries.change_page(district_id, queries.school_changes(status), since, limit, cursor))
    schools = [
        SchoolChangeResponse(
            school_id=s.school_id,
            name=s.name,
            identifier=s.identifier,
            sis_sourced_id=s.sis_sourced_id,
            status=s.status,
            updated_at=s.updated_at,
        )
        for s in page.items
    ]
    return respond(
        SchoolChangesResponse(schools=schools, next_cursor=page.next_cursor, changes_cursor=page.changes_cursor)
    )


@router.get(
    "/districts/<district_id>/schools",
    **documented(
        "The district's active schools",
        operation_id="listSchools",
        tag=TAG,
        response=SchoolsResponse,
        errors=(400, 401, 403, 404, 422),
        query=SCHOOL_CHANGE_QUERY,
        description="By name. With updatedSince (or a change cursor): the schools created, changed or "
        "deactivated since, in change order, paged (SchoolChangesResponse).",
    ),
)
def get_schools(district_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)  # API clients read schools too
    if change_read(event)[0]:
        return _school_changes(event, district_id)
    schools = [
        SchoolResponse(school_id=s.school_id, name=s.name, identifier=s.identifier, sis_sourced_id=s.sis_sourced_id)
        for s in active_schools(district_id)
    ]
    return respond(SchoolsResponse(schools=schools))


@router.get(
    "/districts/<district_id>/sis/schools",
    **documented(
        "The SIS's active schools, with their matches and suggested matches",
        operation_id="listSisSchools",
        tag=TAG,
        response=SisSchoolsResponse,
        errors=(401, 403, 404, 409),
        description="Read live from the SIS (a CSV district: from orgs.csv of its latest staged bundle). 409 "
        "not_connected without a connection; 409 with the connection's error code (invalid_credentials, "
        "unreachable_host, ...) when the saved connection no longer works; for a CSV district 409 no_bundle_yet "
        "before a bundle is staged, bundle_expired past its retention.",
    ),
)
def get_sis_schools(district_id: str):
    district = district_for_admin(router.current_event.raw_event, district_id)
    orgs = active_sis_schools(district)
    app_schools = _matchable(active_schools(district_id))
    matched_to = {s.sis_sourced_id: s.school_id for s in app_schools if s.sis_sourced_id}
    suggestions = suggest(
        [Candidate(o.sourced_id, o.name, o.identifier) for o in orgs if o.sourced_id not in matched_to],
        [Candidate(s.school_id, s.name, s.identifier) for s in app_schools if not s.sis_sourced_id],
    )
    schools = [
        SisSchoolResponse(
            sis_sourced_id=o.sourced_id,
            name=o.name or o.sourced_id,
            identifier=o.identifier,
            matched_school_id=matched_to.get(o.sourced_id),
            suggested_school_id=suggestions.get(o.sourced_id),
        )
        for o in sorted(orgs, key=lambda o: ((o.name or "").casefold(), o.sourced_id))
    ]
    return respond(SisSchoolsResponse(schools=schools))


@router.put(
    "/districts/<district_id>/school-matches",
    **documented(
        "Save the school matches (replaces the previous ones)",
        operation_id="putSchoolMatches",
        tag=TAG,
        body=SchoolMatchesRequest,
        response=SchoolMatchesResponse,
        errors=(400, 401, 403, 404, 409, 422),
        description="One to one. 422 duplicate_match when an SIS school or an app school appears twice; "
        "422 unknown_school for an id that is not an active SIS school or an app school of the district.",
    ),
)
def put_school_matches(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    request = read_body(event, SchoolMatchesRequest)
    require_connection(district)
    matches = request.matches

    for field, ids in (
        ("sisSourcedId", [m.sis_sourced_id for m in matches]),
        ("schoolId", [m.school_id for m in matches]),
    ):
        repeated = [value for value, n in Counter(ids).items() if n > 1]
        if repeated:
            raise unprocessable(
                "duplicate_match", f"Each school may be matched once; {field} repeated: {_listed(repeated)}."
            )

    app_schools = {s.school_id: s for s in _matchable(active_schools(district_id))}
    unknown_app = [m.school_id for m in matches if m.school_id not in app_schools]
    if unknown_app:
        raise unprocessable(
            "unknown_school", f"No active app school of this district has schoolId {_listed(unknown_app)}."
        )
    sis_ids = {org.sourced_id for org in active_sis_schools(district)}
    unknown_sis = [m.sis_sourced_id for m in matches if m.sis_sourced_id not in sis_ids]
    if unknown_sis:
        raise unprocessable("unknown_school", f"The SIS has no active school with sisSourcedId {_listed(unknown_sis)}.")

    # The request is the whole set: matched schools take their SIS id, the others lose theirs.
    wanted = {m.school_id: m.sis_sourced_id for m in matches}
    before = {s.school_id: s.sis_sourced_id for s in app_schools.values() if s.sis_sourced_id}
    for school in app_schools.values():
        target = wanted.get(school.school_id)
        if school.sis_sourced_id != target:
            set_match(school, target)
    audit_trail.record_event(event, district_id, "school_matches.update", before=before, after=wanted)
    logger.info("School matches saved", extra={"districtId": district_id, "matches": len(matches)})
    saved = sorted(
        (SchoolMatchResponse(sis_sourced_id=m.sis_sourced_id, school_id=m.school_id) for m in matches),
        key=lambda m: (m.sis_sourced_id, m.school_id),
    )
    return respond(SchoolMatchesResponse(matches=saved))
