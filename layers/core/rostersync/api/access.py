"""Who is calling: the JWT claims API Gateway's authorizer (or the local adapter) verified.

The authorizer has already checked signature, issuer, audience (or an access token's
client_id) and expiry; this module only reads the claims and decides what the principal may
reach. Three kinds of caller:
- people, with Cognito ID tokens carrying `custom:role` (platform_admin, district_admin,
  teacher) and `custom:district_id`;
- machine clients (the app's backend), with Cognito access tokens from the client-credentials
  flow: `token_use` "access" and the resource server's scopes, `roster/read` (every district)
  or `roster/read:<districtId>` (one district) to read rosters (GET on ROSTER_READS), and
  `roster/write` (or `roster/write:<districtId>`) to register the app's own users and classes
  (POST on APP_RECORD_WRITES, api/app_records.py). Each scope allows its routes only (a client
  that does both asks for both); any other route under /districts/{id} is 403;
- teachers reach only /me/... (their own classes, api/me.py) under /districts nothing.

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
from rostersync.times import now_iso_z

ROLES = ("platform_admin", "district_admin", "teacher")
MACHINE_CLIENT = "machine_client"  # the role of a client-credentials access token
READ_SCOPE = "roster/read"
DISTRICT_READ_SCOPE_PREFIX = "roster/read:"
WRITE_SCOPE = "roster/write"
DISTRICT_WRITE_SCOPE_PREFIX = "roster/write:"

# The routes a machine client may call (GET only), below /districts/{districtId}.
ROSTER_READS = re.compile(
    r"^/districts/[^/]+/(?:schools(?:/[^/]+/terms(?:/current)?)?|users(?:/[^/]+(?:/classes)?)?|"
    r"classes(?:/[^/]+(?:/roster|/teachers|/students)?)?|enrollments(?:/[^/]+)?|terms(?:/[^/]+)?)/?$"
)
# The routes a machine client with a write scope may call (POST only): the app's own records.
APP_RECORD_WRITES = re.compile(r"^/districts/[^/]+/(?:app-users|app-classes)(?:/bulk)?/?$")


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    district_id: str | None
    scopes: frozenset[str] = frozenset()
    email: str | None = None  # a person's, when Cognito has verified it
    sis_sourced_id: str | None = None  # an explicit link to a synced teacher (custom:sis_sourced_id)

    @property
    def is_machine(self) -> bool:
        return self.role == MACHINE_CLIENT

    def _granted(self, scope: str, district_prefix: str, district_id: str) -> bool:
        """A machine client by its scope (every district, or this one); a person by role."""
        if self.is_machine:
            return scope in self.scopes or f"{district_prefix}{district_id}" in self.scopes
        return self.role == "platform_admin" or (self.role == "district_admin" and self.district_id == district_id)

    def may_read_rosters(self, district_id: str) -> bool:
        return self._granted(READ_SCOPE, DISTRICT_READ_SCOPE_PREFIX, district_id)

    def may_write_app_records(self, district_id: str) -> bool:
        return self._granted(WRITE_SCOPE, DISTRICT_WRITE_SCOPE_PREFIX, district_id)

    def require_app_record_writer(self, district_id: str) -> None:
        """District admins of this district, platform admins, and machine clients granted writing it."""
        if self.is_machine:
            if not self.may_write_app_records(district_id):
                raise forbidden(
                    "This API client may not register app records in this district (scope roster/write "
                    f"or {DISTRICT_WRITE_SCOPE_PREFIX}<districtId>)."
                )
            return
        self.require_district_admin(district_id)

    def require_roster_reader(self, district_id: str) -> None:
        """District admins of this district, platform admins, and machine clients granted it."""
        if self.is_machine:
            if not self.may_read_rosters(district_id):
                raise forbidden(
                    "This API client is not granted this district (scope roster/read or "
                    f"{DISTRICT_READ_SCOPE_PREFIX}<districtId>)."
                )
            return
        self.require_district_admin(district_id)

    def require_platform_admin(self) -> None:
        if self.role != "platform_admin":
            raise forbidden("Only platform administrators (support) provision districts and schools.")

    def require_district_admin(self, district_id: str) -> None:
        """District admins of this district, and platform admins, reach /districts/{id}/..."""
        if self.role == "platform_admin":
            return
        if self.is_machine:
            raise forbidden("An API client reads rosters; it never changes or reads configuration.")
        if self.role != "district_admin":
            raise forbidden("Only a district administrator may do this.")
        if self.district_id != district_id:
            raise forbidden("This district is not yours.")


def _scopes(jwt: dict, claims: dict) -> frozenset[str]:
    """requestContext.authorizer.jwt.scopes, or the `scope` claim (a string, as API Gateway passes it)."""
    scopes = jwt.get("scopes")
    if isinstance(scopes, list):
        return frozenset(str(s) for s in scopes)
    scope = claims.get("scope")
    return frozenset(scope.strip("[]").split()) if isinstance(scope, str) else frozenset()


def principal_from_event(event: dict) -> Principal:
    jwt = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims")
    if not isinstance(claims, dict) or not claims.get("sub"):
        raise unauthorized()
    if claims.get("token_use") == "access":
        scopes = _scopes(jwt, claims)
        if any(
            s in (READ_SCOPE, WRITE_SCOPE) or s.startswith((DISTRICT_READ_SCOPE_PREFIX, DISTRICT_WRITE_SCOPE_PREFIX))
            for s in scopes
        ):
            return Principal(
                sub=str(claims.get("client_id") or claims["sub"]), role=MACHINE_CLIENT, district_id=None, scopes=scopes
            )
        raise forbidden("Send an ID token, or an API client's access token with a roster/read or roster/write scope.")
    role = claims.get("custom:role")
    if role not in ROLES:
        raise forbidden("Your account has no Roster Sync role.")
    verified = str(claims.get("email_verified", "")).lower() == "true"
    return Principal(
        sub=str(claims["sub"]),
        role=role,
        district_id=claims.get("custom:district_id") or None,
        email=(claims.get("email") or None) if verified else None,
        sis_sourced_id=claims.get("custom:sis_sourced_id") or None,
    )


_DISTRICT_PATH = re.compile(r"^/districts/(?P<district_id>[^/]+)(?:/.*)?$")
_ME_PATH = re.compile(r"^/me(?:/.*)?$")
# Served without a token (template.yaml gives these routes no authorizer).
PUBLIC_PATHS = ("/openapi.json", "/docs")


def request_path(event: dict) -> str:
    """The path the routes see: without the stage prefix a named API Gateway stage adds."""
    return APIGatewayProxyEventV2(event).path


def authorize_request(event: dict) -> Principal | None:
    """The check every request passes before routing; None for CORS preflights (no token)."""
    method = (((event.get("requestContext") or {}).get("http") or {}).get("method") or "").upper()
    if method == "OPTIONS":
        return None
    path = request_path(event)
    if path in PUBLIC_PATHS and method in ("GET", "HEAD"):
        return None
    principal = principal_from_event(event)
    match = _DISTRICT_PATH.match(path)
    if match:
        if principal.is_machine and method == "GET" and ROSTER_READS.match(path):
            principal.require_roster_reader(match.group("district_id"))
        elif principal.is_machine and method == "POST" and APP_RECORD_WRITES.match(path):
            principal.require_app_record_writer(match.group("district_id"))
        else:
            principal.require_district_admin(match.group("district_id"))
    elif _ME_PATH.match(path) and principal.role != "teacher":
        raise forbidden("Only a teacher has classes of their own here.")
    return principal


def district_for_reader(event: dict, district_id: str) -> DistrictModel:
    """The district, for whoever may read its rosters: 401, then 403, then 404."""
    principal_from_event(event).require_roster_reader(district_id)
    district = get_district(district_id)
    if district is None:
        raise not_found("district")
    return district


def district_for_app_writer(event: dict, district_id: str) -> DistrictModel:
    """The district, for whoever may register its app records: 401, then 403, then 404."""
    principal_from_event(event).require_app_record_writer(district_id)
    district = get_district(district_id)
    if district is None:
        raise not_found("district")
    return district


def district_for_admin(event: dict, district_id: str) -> DistrictModel:
    """The district, for its own admins and platform admins: 401, then 403, then 404."""
    principal_from_event(event).require_district_admin(district_id)
    district = get_district(district_id)
    if district is None:
        raise not_found("district")
    return district


def reviewer(event: dict) -> dict:
    """Who decides a held run, and when: {by, role, at} (stored with the run's review)."""
    principal = principal_from_event(event)
    return {"by": principal.sub, "role": principal.role, "at": now_iso_z()}
