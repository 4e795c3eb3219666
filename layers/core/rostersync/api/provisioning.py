"""Provisioning, as support does it today: platform admins create districts (with the time
zone their nights are in) and the schools that exist in the app before any SIS is connected."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api.auth import principal_from_event
from rostersync.api.errors import conflict, not_found
from rostersync.api.models import (
    CreateDistrictRequest,
    CreateSchoolRequest,
    DistrictResponse,
    SchoolResponse,
)
from rostersync.api.openapi import documented
from rostersync.api.validation import read_body, respond
from rostersync.matching import normalise_identifier
from rostersync.observability import logger
from rostersync.store.districts import create_district, get_district
from rostersync.store.schools import active_schools, create_app_school

router = APIGatewayHttpRouter()

TAG = "Provisioning (platform admins)"


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
    logger.info("District created", extra={"district_id": district.district_id})
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
                f"School {clash.school_id} already has identifier {clash.identifier!r}; identifiers tell schools apart.",
            )
    school = create_app_school(district_id, request.name, request.identifier)
    logger.info("School created", extra={"district_id": district_id, "school_id": school.school_id})
    return respond(
        SchoolResponse(school_id=school.school_id, name=school.name, identifier=school.identifier, sis_sourced_id=None),
        201,
    )
