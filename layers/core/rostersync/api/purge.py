"""Removing a district completely: asked for by its admin, carried out by a platform admin.

DELETE /districts/{id}
- by a district admin: records the request (202, status requested); nothing is erased;
- by a platform admin without ?confirm=<districtId>: 409 confirmation_required (the explicit
  confirmation step: nothing is erased by a bare DELETE);
- by a platform admin with ?confirm=<districtId>: stops the district's syncs and queues the
  purge (202, status queued); sync/purge.py erases everything and leaves a tombstone.
GET /districts/{id}/purge says where it stands (requested, queued, running, done).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync import audit, aws_clients
from rostersync.api.access import principal_from_event
from rostersync.api.errors import ApiError, conflict, not_found
from rostersync.api.http_io import respond
from rostersync.api.route_docs import documented
from rostersync.api.schemas.purge import PurgeResponse
from rostersync.ids import new_id
from rostersync.observability import logger
from rostersync.store.districts import DistrictModel, get_district, remove_connection
from rostersync.sync import purge as purging
from rostersync.times import now_iso_z

router = APIGatewayHttpRouter()

TAG = "Purge"


def _out(district_id: str, purge: dict, message: str | None = None) -> PurgeResponse:
    return PurgeResponse(
        district_id=district_id,
        status=purge["state"],
        purge_id=purge.get("purgeId"),
        requested_by=purge.get("requestedBy"),
        confirmed_by=purge.get("confirmedBy"),
        message=message,
    )


@router.delete(
    "/districts/<district_id>",
    **documented(
        "Purge the district: erase its rosters, runs, checkpoints, audit and secret",
        tag=TAG,
        response=PurgeResponse,
        status=202,
        errors=(401, 403, 404, 409),
        description="A district admin's DELETE asks for the purge (status requested; nothing is erased). A "
        "platform admin carries it out with ?confirm=<districtId> (without it: 409 confirmation_required): the "
        "district's syncs stop and a queued job erases every item of the district, leaving a minimal tombstone "
        "(who asked, who confirmed, when); the SIS secret is scheduled for deletion. GET /districts/{districtId}/"
        "purge reports when it is done. This is the only operation that erases data.",
    ),
)
def delete_district(
    district_id: str, confirm: Annotated[str | None, Query(description="The districtId again (platform admins)")] = None
):
    event = router.current_event.raw_event
    principal = principal_from_event(event)
    principal.require_district_admin(district_id)
    district = get_district(district_id)
    if district is None:
        raise not_found("district")
    current = district.purge or {}
    actor = {"sub": principal.sub, "role": principal.role, "at": now_iso_z()}
    if current.get("state") in (purging.QUEUED, purging.RUNNING):
        if principal.role == "platform_admin" and confirm == district_id:
            purging.send(district_id, current["purgeId"])  # a lost message is sent again; duplicates are harmless
        return respond(_out(district_id, current, "The purge is under way."), status=202)
    if principal.role != "platform_admin":
        if current.get("state") != purging.REQUESTED:
            requested = {"state": purging.REQUESTED, "requestedBy": actor}
            DistrictModel(district_id).update(
                actions=[DistrictModel.purge.set(requested)], condition=DistrictModel.district_id.exists()
            )
            audit.record(district_id, principal, "purge.request", after={"state": purging.REQUESTED})
            current = requested
        return respond(
            _out(district_id, current, "A platform administrator will confirm and carry out the purge."), status=202
        )
    if confirm != district_id:
        raise conflict(
            "confirmation_required",
            "A purge erases every record of this district and cannot be undone. "
            f"Repeat the request with ?confirm={district_id} to carry it out.",
        )
    purge_id = new_id("prg")
    queued = {
        "state": purging.QUEUED,
        "purgeId": purge_id,
        "requestedBy": current.get("requestedBy") or actor,
        "confirmedBy": actor,
    }
    DistrictModel(district_id).update(
        actions=[DistrictModel.purge.set(queued)], condition=DistrictModel.district_id.exists()
    )
    if district.connection is not None:
        remove_connection(district)  # no new sync starts: the dispatcher and POST syncs need a connection
    audit.record(district_id, principal, "purge.confirm", after={"state": purging.QUEUED, "purgeId": purge_id})
    try:
        purging.send(district_id, purge_id)
    except Exception:
        logger.exception("could not queue a purge", extra={"districtId": district_id})
        raise ApiError(
            503, "unavailable", "The purge is confirmed but could not be queued; repeat the request."
        ) from None
    logger.info("district purge queued", extra={"districtId": district_id, "purgeId": queued["purgeId"]})
    return respond(_out(district_id, queued, "The purge is queued."), status=202)


@router.get(
    "/districts/<district_id>/purge",
    **documented(
        "Where a district's purge stands",
        tag=TAG,
        response=PurgeResponse,
        errors=(401, 403, 404),
        description="404 when no purge was asked for. After the purge only this answer remains.",
    ),
)
def get_purge(district_id: str):
    event = router.current_event.raw_event
    principal_from_event(event).require_district_admin(district_id)
    district = get_district(district_id)
    if district is not None:
        if not district.purge:
            raise not_found("purge")
        return respond(_out(district_id, district.purge))
    stone = purging.tombstone(aws_clients.dynamodb(), district_id)
    if stone is None:
        raise not_found("district")
    import json

    facts = json.loads(stone.get("after") or "{}")
    return respond(
        PurgeResponse(
            district_id=district_id,
            status="done",
            purge_id=facts.get("purgeId"),
            requested_by=facts.get("requestedBy"),
            confirmed_by=facts.get("confirmedBy"),
            finished_at=stone.get("at"),
        )
    )
