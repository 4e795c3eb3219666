"""Who is calling: the JWT claims API Gateway's authorizer (or the local adapter) verified.

The authorizer has already checked signature, issuer, audience and expiry; this module
only reads the claims and decides what the principal may reach.

Two layers, so that a route that forgets a check still cannot leak another district:
- `authorize_request` runs on every request before routing: 401 without claims, and 403 for
  any path under /districts/{id} that is not the caller's district (unknown routes there
  too, so not even the route list leaks);
- routes call `district_for_admin` (or `Principal.require_platform_admin`) for their own rule,
  then 404 for an unknown district, and only then read the request (400/422).
"""

import re
from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from rostersync.api.errors import forbidden, not_found, unauthorized
from rostersync.store.districts import DistrictModel, get_district

ROLES = ("platform_admin", "district_admin", "teacher")


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    district_id: str | None

    def require_platform_admin(self) -> None:
        if self.role != "platform_admin":
            raise forbidden("Only platform administrators (support) provision districts and schools.")

    def require_district_admin(self, district_id: str) -> None:
        """District admins of this district, and platform admins, reach /districts/{id}/..."""
        if self.role == "platform_admin":
            return
        if self.role != "district_admin":
            raise forbidden("Only a district administrator may do this.")
        if self.district_id != district_id:
            raise forbidden("This district is not yours.")


def principal_from_event(event: dict) -> Principal:
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims")
    if not isinstance(claims, dict) or not claims.get("sub"):
        raise unauthorized()
    role = claims.get("custom:role")
    if role not in ROLES:
        raise forbidden("Your account has no Roster Sync role.")
    return Principal(sub=str(claims["sub"]), role=role, district_id=claims.get("custom:district_id") or None)


_DISTRICT_PATH = re.compile(r"^/districts/(?P<district_id>[^/]+)(?:/.*)?$")


def request_path(event: dict) -> str:
    """The path the routes see: without the stage prefix a named API Gateway stage adds."""
    return APIGatewayProxyEventV2(event).path


def authorize_request(event: dict) -> Principal | None:
    """The check every request passes before routing; None for CORS preflights (no token)."""
    if (((event.get("requestContext") or {}).get("http") or {}).get("method") or "").upper() == "OPTIONS":
        return None
    principal = principal_from_event(event)
    match = _DISTRICT_PATH.match(request_path(event))
    if match:
        principal.require_district_admin(match.group("district_id"))
    return principal


def district_for_admin(event: dict, district_id: str) -> DistrictModel:
    """The district, for its own admins and platform admins: 401, then 403, then 404."""
    principal_from_event(event).require_district_admin(district_id)
    district = get_district(district_id)
    if district is None:
        raise not_found("district")
    return district
