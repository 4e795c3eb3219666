"""Who is calling: the JWT claims API Gateway's authorizer (or the local adapter) verified.

The authorizer has already checked signature, issuer, audience and expiry; this module
only reads the claims and decides what the principal may reach.
"""

from dataclasses import dataclass

from rostersync.api.errors import forbidden, unauthorized

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
