"""Provisioning, as support does it today: platform admins create districts (with the time
zone their nights are in) and the schools that exist in the app before any SIS is connected.
Also the district's profile (name, time zone) and, for platform admins, the list of districts:
what the console shows before the setup steps."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api.access import principal_from_event
from rostersync.api.errors import bad_request, conflict, not_found
from rostersync.api.http_io import read_body, respond
from rostersync.api.list_queries import limit_of
from rostersync.api.route_docs import documented, page_parameters
from rostersync.api.schemas.districts import (
    CreateDistrictRequest,
    CreateSchoolRequest,
    DistrictResponse,
    DistrictsResponse,
    SchoolResponse,
)
from rostersync.observability import logger
from rostersync.school_suggestions import normalise_identifier
from rostersync.store.districts import create_district, get_district, list_districts
from rostersync.store.roster_queries import InvalidCursor, decode_cursor, encode_cursor
from rostersync.store.schools import active_schools, create_app_school

router = APIGatewayHttpRouter()

TAG = "Provisioning (platform admins)"
DEFAULT_DISTRICTS_LIMIT = 50
MAX_DISTRICTS_LIMIT = 100
_CURSOR_SCOPE = "*"  # the districts list belongs to no one district
_CURSOR_QUERY = "districts"


def _district_out(district) -> DistrictResponse:
    return DistrictResponse(district_id=district.district_id, name=district.name, timezone=district.timezone)


@router.get(
    "/districts",
    **documented(
        "The districts (platform admins; a district admin sees their own)",
        operation_id="listDistricts",
        tag=TAG,
        response=DistrictsResponse,
        errors=(400, 401, 403, 422),
        description="A district admin's answer is their own district, on one page.",
        query=page_parameters(DEFAULT_DISTRICTS_LIMIT, MAX_DISTRICTS_LIMIT),
    ),
)
def get_districts():
    event = router.current_event.raw_event
    principal = principal_from_event(event)
    if principal.role == "district_admin":
        own = get_district(principal.district_id) if principal.district_id else None
        return respond(DistrictsResponse(districts=[_district_out(own)] if own else [], next_cursor=None))
    principal.require_platform_admin()
    query = event.get("queryStringParameters") or {}
    limit = limit_of(event, DEFAULT_DISTRICTS_LIMIT, MAX_DISTRICTS_LIMIT)
    after = None
    if query.get("cursor") is not None:
        try:
            after = decode_cursor(query["cursor"], _CURSOR_SCOPE, _CURSOR_QUERY, {"districtId": None})["districtId"]
        except InvalidCursor:
            raise bad_request(
                "invalid_cursor", "The cursor is not one this list gave out; start from the first page."
            ) from None
    page, next_after = list_districts(limit, after)
    next_cursor = encode_cursor(_CURSOR_SCOPE, _CURSOR_QUERY, {"districtId": next_after}) if next_after else None
    districts = sorted(page, key=lambda d: (d.name.casefold(), d.district_id))
    return respond(DistrictsResponse(districts=[_district_out(d) for d in districts], next_cursor=next_cursor))


@router.post(
    "/districts",
    **documented(
        "Create a district",
        operation_id="createDistrict",
        tag=TAG,
        body=CreateDistrictRequest,
        response=DistrictResponse,
        status=201,
        errors=(400, 401, 403, 422),
        description="422 invalid_timezone when the time zone is not an IANA name.",
    ),
)
def post_district():
    event = router.current_event.raw_event
    principal_from_event(event).require_platform_admin()
    request = read_body(event, CreateDistrictRequest)
    district = create_district(request.name, request.timezone)
    logger.info("District created", extra={"districtId": district.district_id})
    return respond(
        DistrictResponse(district_id=district.district_id, name=district.name, timezone=district.timezone), 201
    )


@router.post(
    "/districts/<district_id>/schools",
    **documented(
        "Create a school that exists in the app before the SIS is connected",
        operation_id="createSchool",
        tag=TAG,
        body=CreateSchoolRequest,
        response=SchoolResponse,
        status=201,
        errors=(400, 401, 403, 404, 409, 422),
        description="409 school_exists when an active school of the district already has this identifier.",
    ),
)
def post_school(district_id: str):
    event = router.current_event.raw_event
    principal_from_event(event).require_platform_admin()
    if get_district(district_id) is None:
        raise not_found("district")
    request = read_body(event, CreateSchoolRequest)
    if request.identifier is not None:
        wanted = normalise_identifier(request.identifier)
        clash = next((s for s in active_schools(district_id) if normalise_identifier(s.identifier) == wanted), None)
        if clash is not None:
            raise conflict(
                "school_exists",
                f"School {clash.school_id} already has identifier {clash.identifier!r}; identifiers tell schools "
                "apart.",
            )
    school = create_app_school(district_id, request.name, request.identifier)
    logger.info("School created", extra={"districtId": district_id, "schoolId": school.school_id})
    return respond(
        SchoolResponse(school_id=school.school_id, name=school.name, identifier=school.identifier, sis_sourced_id=None),
        201,
    )
