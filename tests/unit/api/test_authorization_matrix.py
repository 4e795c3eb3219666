"""Every route of the contract, called by every kind of caller: 401 without a valid token,
403 for teachers, for admins of another district (whether or not the district exists) and
for district admins on provisioning; everyone else gets past authorization."""

import datetime as _dt

import pytest

from tests.unit.api.handler_client import claims, make_event

# A start date the API accepts: after today, within the 2 years it allows.
SOON = (_dt.date.today() + _dt.timedelta(days=300)).isoformat()

PLATFORM_ONLY = "platform admins"
DISTRICT = "district admins of the district and platform admins"

# (method, path, body, who may call it) for every route of the outside contract (docs/design.md names it).
ROUTES = [
    ("POST", "/districts", {"name": "Matrix USD", "timezone": "UTC"}, PLATFORM_ONLY),
    ("POST", "/districts/{d}/schools", {"name": "Matrix School"}, PLATFORM_ONLY),
    ("GET", "/districts/{d}/schools", None, DISTRICT),
    (
        "PUT",
        "/districts/{d}/sis/connection",
        {"hostUrl": "https://sis.example.org", "clientId": "c", "clientSecret": "s3cret-matrix"},
        DISTRICT,
    ),
    ("GET", "/districts/{d}/sis/connection", None, DISTRICT),
    ("DELETE", "/districts/{d}/sis/connection", None, DISTRICT),
    ("GET", "/districts/{d}/sis/schools", None, DISTRICT),
    ("PUT", "/districts/{d}/school-matches", {"matches": []}, DISTRICT),
    ("GET", "/districts/{d}/sync-options", None, DISTRICT),
    ("PUT", "/districts/{d}/sync-config", {"startDate": SOON, "enabled": True}, DISTRICT),
    ("GET", "/districts/{d}/sync-config", None, DISTRICT),
    ("POST", "/districts/{d}/syncs", {"mode": "full"}, DISTRICT),
    ("GET", "/districts/{d}/syncs", None, DISTRICT),
    ("GET", "/districts/{d}/syncs/run_missing", None, DISTRICT),
    ("POST", "/districts/{d}/syncs/run_missing/approve", None, DISTRICT),
    ("GET", "/districts/{d}/users?role=teacher", None, DISTRICT),
    ("GET", "/districts/{d}/classes", None, DISTRICT),
    ("GET", "/districts/{d}/classes/cls_missing/roster", None, DISTRICT),
    ("GET", "/districts/{d}/app-records", None, DISTRICT),
    ("GET", "/districts/{d}/audit?action=sync&by=u", None, DISTRICT),
    ("GET", "/districts/{d}/notifications", None, DISTRICT),
    ("POST", "/districts/{d}/notifications/test", None, DISTRICT),
]

# (caller, claims for district d) -> who they are
CALLERS = {
    "no token": lambda d: None,
    "token without subject": lambda d: {"custom:role": "platform_admin"},
    "token without a role": lambda d: {"sub": "u"},
    "teacher of the district": lambda d: claims("teacher", d),
    "admin of another district": lambda d: claims("district_admin", "dst_someone_else"),
    "district admin without a district": lambda d: claims("district_admin"),
    "district admin of the district": lambda d: claims("district_admin", d),
    "platform admin": lambda d: claims("platform_admin"),
}


def expected(caller: str, rule: str) -> int | None:
    """401 or 403 as the contract says, or None: past authorization."""
    if caller in ("no token", "token without subject"):
        return 401
    if caller in (
        "token without a role",
        "teacher of the district",
        "admin of another district",
        "district admin without a district",
    ):
        return 403
    if caller == "district admin of the district" and rule == PLATFORM_ONLY:
        return 403
    return None


def _call(handle, method, path, body, caller_claims, query=None):
    path, _, query_text = path.partition("?")
    query = dict(part.split("=", 1) for part in query_text.split("&")) if query_text else None
    event = make_event(method, path, body=body, claims=caller_claims, query=query)
    return handle(event, None)


@pytest.fixture
def districts(api, fake_sis):
    """A connected district, and an id no district has."""
    district_id = api.new_district()
    assert api.connect(district_id).status == 200
    return {"existing": district_id, "missing": "dst_does_not_exist"}


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("method, path, body, rule", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_each_route_answers_each_caller_as_the_contract_says(aws, districts, caller, method, path, body, rule):
    from rostersync.api.app import handle

    for which, district_id in districts.items():
        response = handle_for(handle, method, path, body, caller, district_id)
        want = expected(caller, rule)
        if want is not None:
            assert response["statusCode"] == want, (which, response["body"])
        else:
            # Past authorization: whatever the route answers next (404 for the missing district,
            # 400/409/422, success), never 401/403 and never a failure of ours.
            assert response["statusCode"] not in (401, 403), (which, response["body"])
            assert response["statusCode"] < 500, (which, response["body"])
            if which == "missing" and path.startswith("/districts/{d}"):
                assert response["statusCode"] == 404, response["body"]


def handle_for(handle, method, path, body, caller, district_id):
    return _call(handle, method, path.format(d=district_id), body, CALLERS[caller](district_id))


def test_an_unknown_route_under_another_district_is_403_not_404(aws):
    from rostersync.api.app import handle

    response = _call(handle, "GET", "/districts/dst_b/secret-admin-page", None, claims("district_admin", "dst_a"))
    assert response["statusCode"] == 403
