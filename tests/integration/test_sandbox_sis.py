"""The sandbox SIS as a client meets it: paging, envelopes, filters, auth, faults, days, determinism."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests_oauthlib import OAuth1

from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS
from rostersync_tools.sandbox_sis.generator import generate_district
from rostersync_tools.sandbox_sis.timestamps import parse_instant
from tests.fixtures.sandbox import bearer_session

# Seconds a request to a loopback server may take: a hung one fails its test, not the whole run.
TIMEOUT = 30

CLIENT = ("sandbox-client", "sandbox-secret")
GRANT = {"grant_type": "client_credentials"}


def links(response) -> dict[str, str]:
    return {rel: link["url"] for rel, link in response.links.items()}


def ids(records) -> list[str]:
    return [r["sourcedId"] for r in records]


def imsx_minor(response) -> str:
    return response.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]


@pytest.fixture
def api(sandbox_sis):
    """(sis, session with a bearer token)."""
    return sandbox_sis, bearer_session(sandbox_sis)


# -- paging


def test_paging_follows_next_links_to_every_record_once(api):
    sis, session = api
    every_user = ids(sis.state()["data"]["users"])
    reply = session.get(f"{sis.base_url}/users", params={"limit": 50})
    assert reply.status_code == 200
    assert reply.headers["X-Total-Count"] == str(len(every_user))
    first_links = links(reply)
    last_offset = (len(every_user) - 1) // 50 * 50
    assert parse_qs(urlsplit(first_links["last"]).query) == {"limit": ["50"], "offset": [str(last_offset)]}
    seen, pages = ids(reply.json()["users"]), 1
    while "next" in links(reply):
        assert links(reply)["next"].startswith(sis.base_url + "/users?")  # absolute
        reply = session.get(links(reply)["next"])
        seen += ids(reply.json()["users"])
        pages += 1
    assert seen == every_user
    assert pages == last_offset // 50 + 1
    assert 0 < len(reply.json()["users"]) <= 50  # the last page, without a next link
    past_end = session.get(f"{sis.base_url}/users", params={"limit": 50, "offset": len(every_user) + 10})
    assert past_end.json()["users"] == [] and "next" not in links(past_end)


def test_default_limit_is_100_and_offset_pages(api):
    sis, session = api
    every_class = ids(sis.state()["data"]["classes"])
    assert len(session.get(f"{sis.base_url}/enrollments").json()["enrollments"]) == 100
    page = session.get(f"{sis.base_url}/classes", params={"limit": 7, "offset": 3}).json()["classes"]
    assert ids(page) == every_class[3:10]


def test_limit_is_capped_silently(make_sandbox_sis):
    sis = make_sandbox_sis(page_cap=25)
    session = bearer_session(sis)
    reply = session.get(f"{sis.base_url}/enrollments", params={"limit": 500})
    assert len(reply.json()["enrollments"]) == 25
    assert parse_qs(urlsplit(links(reply)["next"]).query)["limit"] == ["25"]
    sis.set_quirks(page_cap=10)  # a runtime switch too
    assert len(session.get(f"{sis.base_url}/enrollments", params={"limit": 500}).json()["enrollments"]) == 10


def test_links_keep_the_other_query_parameters(api):
    sis, session = api
    params = {"filter": "role='student' AND status='active'", "sort": "familyName", "limit": 20, "offset": 20}
    reply = session.get(f"{sis.base_url}/users", params=params)
    query = parse_qs(urlsplit(links(reply)["next"]).query)
    assert query == {
        "filter": ["role='student' AND status='active'"],
        "sort": ["familyName"],
        "limit": ["20"],
        "offset": ["40"],
    }
    assert "%20AND%20" in links(reply)["next"] and "+" not in links(reply)["next"]  # RFC 3986
    assert parse_qs(urlsplit(links(reply)["prev"]).query)["offset"] == ["0"]


def test_no_total_count_no_link_and_repeat_pages_quirks(api):
    sis, session = api
    sis.set_quirks(no_total_count=True, no_link=True)
    reply = session.get(f"{sis.base_url}/users", params={"limit": 10})
    assert "X-Total-Count" not in reply.headers and "Link" not in reply.headers
    sis.set_quirks(repeat_pages=True)
    first = session.get(f"{sis.base_url}/users", params={"limit": 10}).json()["users"]
    again = session.get(f"{sis.base_url}/users", params={"limit": 10, "offset": 10}).json()["users"]
    assert ids(first) == ids(again)


def test_sort_and_fields(api):
    sis, session = api
    teachers = session.get(
        f"{sis.base_url}/teachers", params={"sort": "familyName", "orderBy": "desc", "limit": 1000}
    ).json()["users"]
    names = [t["familyName"] for t in teachers]
    assert names == sorted(names, reverse=True) and len(names) == 12
    slim = session.get(f"{sis.base_url}/classes", params={"fields": "sourcedId,title", "limit": 3}).json()
    assert all(set(c) == {"sourcedId", "title"} for c in slim["classes"])
    bad = session.get(f"{sis.base_url}/classes", params={"sort": "nonsense"})
    assert bad.status_code == 400


# -- what each endpoint answers


def test_envelope_keys_and_what_each_endpoint_holds(api):
    sis, session = api
    data = sis.state()["data"]

    def listed(path, key):
        body = session.get(f"{sis.base_url}{path}", params={"limit": 1000}).json()
        assert list(body) == [key], f"{path}: {list(body)}"
        return body[key]

    assert ids(listed("/orgs", "orgs")) == ids(data["orgs"])
    schools = listed("/schools", "orgs")
    assert len(schools) == 3 and {s["type"] for s in schools} == {"school"}
    district = next(o for o in data["orgs"] if o["type"] == "district")
    assert all(s["parent"]["sourcedId"] == district["sourcedId"] for s in schools)
    assert {t["type"] for t in listed("/terms", "academicSessions")} == {"term"}
    assert {s["type"] for s in listed("/academicSessions", "academicSessions")} >= {"schoolYear", "term"}
    assert {u["role"] for u in listed("/students", "users")} == {"student"}
    assert {u["role"] for u in listed("/teachers", "users")} == {"teacher"}
    assert {u["role"] for u in listed("/users", "users")} >= {"student", "teacher", "administrator", "aide", "guardian"}
    assert len(listed("/courses", "courses")) == len(data["courses"])
    assert len(listed("/demographics", "demographics")) == len(data["demographics"])
    user = data["users"][0]
    assert session.get(f"{sis.base_url}/users/{user['sourcedId']}").json() == {"user": user}
    klass = data["classes"][0]
    assert session.get(f"{sis.base_url}/classes/{klass['sourcedId']}").json() == {"class": klass}
    assert list(session.get(f"{sis.base_url}/schools/{schools[0]['sourcedId']}").json()) == ["org"]

    sis.set_quirks(endpoint_envelopes=True)
    assert listed("/schools", "schools") and listed("/students", "students") and listed("/terms", "terms")
    assert listed("/users", "users")  # unchanged where the name is the specified key
    sis.set_quirks(endpoint_envelopes=False, wrong_collection=True)
    assert ids(listed("/users", "classes")) == ids(data["classes"])


def test_nested_collections(api):
    sis, session = api
    data = sis.state()["data"]
    school = next(o for o in data["orgs"] if o["type"] == "school")["sourcedId"]

    def get(path):
        reply = session.get(f"{sis.base_url}{path}", params={"limit": 1000})
        assert reply.status_code == 200, path
        return ids(next(iter(reply.json().values())))

    assert get(f"/schools/{school}/classes") == [
        c["sourcedId"] for c in data["classes"] if c["school"]["sourcedId"] == school
    ]
    assert set(get(f"/schools/{school}/students")) == {
        u["sourcedId"]
        for u in data["users"]
        if u["role"] == "student" and school in {o["sourcedId"] for o in u["orgs"]}
    }
    assert set(get(f"/schools/{school}/enrollments")) == {
        e["sourcedId"] for e in data["enrollments"] if e["school"]["sourcedId"] == school
    }
    klass = data["classes"][0]["sourcedId"]
    for role in ("student", "teacher"):
        assert set(get(f"/classes/{klass}/{role}s")) == {
            e["user"]["sourcedId"]
            for e in data["enrollments"]
            if e["class"]["sourcedId"] == klass and e["role"] == role
        }
    assert get(f"/classes/{klass}/teachers")  # every class has a teacher


def test_unknown_ids_and_paths_are_404_with_imsx(api):
    sis, session = api
    for path in ("/users/nobody", "/classes/nope/students", "/schools/org-district/classes"):
        reply = session.get(f"{sis.base_url}{path}")
        assert reply.status_code == 404, path
        assert reply.json()["imsx_codeMajor"] == "failure" and imsx_minor(reply) == "unknownobject"
    assert session.get(f"{sis.base_url}/widgets").status_code == 404


def test_day1_district_is_realistic():
    district = generate_district(SandboxConfig(seed=3))
    data = district.collections
    schools = [o for o in data["orgs"] if o["type"] == "school"]
    assert len(schools) == 5
    grades_by_school = {s["sourcedId"]: set() for s in schools}
    for c in data["classes"]:
        grades_by_school[c["school"]["sourcedId"]].update(c["grades"])
    assert {"KG", "05"} <= set().union(*grades_by_school.values()) and "12" in set().union(*grades_by_school.values())
    assert any(g == {"06", "07", "08"} for g in grades_by_school.values())  # a middle school
    users = data["users"]
    assert sum(u["role"] == "student" for u in users) == 2000 and sum(u["role"] == "teacher" for u in users) == 120
    assert 9500 <= len(data["enrollments"]) <= 10000
    assert any(u["status"] == "tobedeleted" and u["role"] == "student" for u in users)
    dropped_class = next(c for c in data["classes"] if c["status"] == "tobedeleted")
    assert any(
        e["class"]["sourcedId"] == dropped_class["sourcedId"] and e["status"] == "active" for e in data["enrollments"]
    )
    assert any("subjects" not in c for c in data["classes"])
    assert any(e["primary"] is None for e in data["enrollments"] if e["role"] == "teacher")
    assert {type(u["enabledUser"]) for u in users} == {str, bool}
    assert any(r["metadata"] is None for r in users)
    shapes = {len(r["dateLastModified"]) for r in data["enrollments"]}
    assert shapes == {20, 23, 24}  # no fraction, ".35Z", ".000Z"
    students = {u["sourcedId"]: u for u in users if u["role"] == "student"}
    for e in data["enrollments"]:
        if e["role"] == "student":
            klass_grades = next(c for c in data["classes"] if c["sourcedId"] == e["class"]["sourcedId"])["grades"]
            assert set(students[e["user"]["sourcedId"]]["grades"]) & set(klass_grades)
            break
    for ref in (data["classes"][0]["course"], data["enrollments"][0]["user"]):
        assert set(ref) == {"href", "sourcedId", "type"}


# -- filters


def test_filters(api):
    sis, session = api
    data = sis.state()["data"]

    def matching(path, text):
        reply = session.get(f"{sis.base_url}{path}", params={"filter": text, "limit": 1000})
        assert reply.status_code == 200, (text, reply.text)
        return set(ids(next(iter(reply.json().values()))))

    users = data["users"]
    assert matching("/users", "role='teacher'") == {u["sourcedId"] for u in users if u["role"] == "teacher"}
    assert matching("/users", "status='tobedeleted'") == {u["sourcedId"] for u in users if u["status"] == "tobedeleted"}
    assert matching("/users", "role='teacher' AND status='active'") == {
        u["sourcedId"] for u in users if u["role"] == "teacher" and u["status"] == "active"
    }
    assert matching("/users", "role='aide' OR role='administrator'") == {
        u["sourcedId"] for u in users if u["role"] in ("aide", "administrator")
    }
    some = users[5]["familyName"][1:4]
    assert matching("/users", f"familyName~'{some.upper()}'") == {
        u["sourcedId"] for u in users if some.lower() in u["familyName"].lower()
    }
    school = data["classes"][0]["school"]["sourcedId"]
    assert matching("/classes", f"school.sourcedId='{school}'") == {
        c["sourcedId"] for c in data["classes"] if c["school"]["sourcedId"] == school
    }
    assert matching("/users", "enabledUser='true'") == {u["sourcedId"] for u in users}  # booleans too
    assert matching("/classes", "grades='09'") == {c["sourcedId"] for c in data["classes"] if "09" in c["grades"]}
    # Instants, whatever the precision: the median record, compared as a moment.
    moments = sorted(parse_instant(e["dateLastModified"]) for e in data["enrollments"])
    middle = moments[len(moments) // 2]
    later = matching("/enrollments", f"dateLastModified>'{middle.isoformat().replace('+00:00', 'Z')}'")
    assert later == {e["sourcedId"] for e in data["enrollments"] if parse_instant(e["dateLastModified"]) > middle}
    assert 0 < len(later) < len(data["enrollments"])
    assert matching("/enrollments", "dateLastModified<='2000-01-01'") == set()


def test_invalid_filters_are_400_invalid_filter_field(api):
    sis, session = api
    for text in (
        "role='teacher",
        "nosuchfield='x'",
        "role=='x'",
        "role='a' AND role='b' AND role='c'",
        "dateLastModified>'yesterday'",
        "role='a' XOR role='b'",
    ):
        reply = session.get(f"{sis.base_url}/users", params={"filter": text})
        assert reply.status_code == 400, text
        assert reply.json()["imsx_codeMajor"] == "failure" and imsx_minor(reply) == "invalid_filter_field"


def test_filter_quirks(api):
    sis, session = api
    total = len(sis.state()["data"]["users"])
    sis.set_quirks(ignore_filters=True)
    reply = session.get(f"{sis.base_url}/users", params={"filter": "role='teacher'", "limit": 1000})
    assert len(reply.json()["users"]) == total
    sis.set_quirks(ignore_filters=False, filters_return_empty=True)
    reply = session.get(f"{sis.base_url}/users", params={"filter": "role='teacher'"})
    assert reply.json()["users"] == [] and reply.headers["X-Total-Count"] == "0"
    assert session.get(f"{sis.base_url}/users").json()["users"]  # unfiltered still answers


def test_empty_students_quirk(api):
    sis, session = api
    sis.set_quirks(empty_students=True)
    assert session.get(f"{sis.base_url}/students").json()["users"] == []
    roles = {u["role"] for u in session.get(f"{sis.base_url}/users", params={"limit": 1000}).json()["users"]}
    assert "student" not in roles and "teacher" in roles
    enrollments = session.get(f"{sis.base_url}/enrollments", params={"limit": 1000}).json()["enrollments"]
    assert enrollments and {e["role"] for e in enrollments} <= {"teacher", "aide", "administrator"}


# -- auth


@pytest.mark.parametrize("method", ["HMAC-SHA256", "HMAC-SHA1"])
def test_oauth1_signatures_with_a_query_string(sandbox_sis, method):
    sis = sandbox_sis
    auth = OAuth1(*CLIENT, signature_method=method, signature_type="AUTH_HEADER")
    params = {"filter": "role='teacher' AND status='active'", "limit": 5, "offset": 2, "sort": "sourcedId"}
    reply = requests.get(f"{sis.base_url}/users", params=params, auth=auth, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["users"]) == 5
    following = requests.get(links(reply)["next"], auth=auth, timeout=TIMEOUT)  # the next link, signed as it stands
    assert following.status_code == 200 and len(following.json()["users"]) == 5


def test_oauth1_refusals(sandbox_sis):
    sis = sandbox_sis
    url = f"{sis.base_url}/users"
    wrong = requests.get(
        url,
        params={"limit": 1},
        auth=OAuth1(CLIENT[0], "not-the-secret", signature_method="HMAC-SHA256"),
        timeout=TIMEOUT,
    )
    assert wrong.status_code == 401 and imsx_minor(wrong) == "unauthorisedrequest"
    assert "not-the-secret" not in wrong.text and CLIENT[1] not in wrong.text
    unknown_key = requests.get(
        url, auth=OAuth1("someone-else", CLIENT[1], signature_method="HMAC-SHA256"), timeout=TIMEOUT
    )
    assert unknown_key.status_code == 401
    old = requests.get(
        url,
        auth=OAuth1(*CLIENT, signature_method="HMAC-SHA256", timestamp=str(int(time.time()) - 3600)),
        timeout=TIMEOUT,
    )
    assert old.status_code == 401 and "timestamp" in old.json()["imsx_description"]
    fixed = dict(signature_method="HMAC-SHA256", nonce="same-nonce-twice", timestamp=str(int(time.time())))
    assert requests.get(url, auth=OAuth1(*CLIENT, **fixed), timeout=TIMEOUT).status_code == 200
    assert requests.get(url, auth=OAuth1(*CLIENT, **fixed), timeout=TIMEOUT).status_code == 401  # replayed
    assert requests.get(url, timeout=TIMEOUT).status_code == 401  # no credentials at all
    sis.set_quirks(oauth1_sha1_only=True)
    assert requests.get(url, auth=OAuth1(*CLIENT, signature_method="HMAC-SHA256"), timeout=TIMEOUT).status_code == 401
    assert requests.get(url, auth=OAuth1(*CLIENT, signature_method="HMAC-SHA1"), timeout=TIMEOUT).status_code == 200
    sis.set_quirks(only_oauth2=True)
    assert requests.get(url, auth=OAuth1(*CLIENT, signature_method="HMAC-SHA1"), timeout=TIMEOUT).status_code == 401


def test_oauth2_token_at_both_paths_and_bearer_use(make_sandbox_sis):
    sis = make_sandbox_sis(path_prefix="/district42")
    assert sis.base_url == f"{sis.host_url}/district42/ims/oneroster/v1p1"
    for token_url in (f"{sis.host_url}/district42/token", f"{sis.base_url}/token"):
        reply = requests.post(token_url, auth=CLIENT, data=GRANT, timeout=TIMEOUT)
        assert reply.status_code == 200, token_url
        body = reply.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["scope"]
        page = requests.get(
            f"{sis.base_url}/classes", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=TIMEOUT
        )
        assert page.status_code == 200 and page.json()["classes"]
    in_form = requests.post(
        sis.token_url, data={**GRANT, "client_id": CLIENT[0], "client_secret": CLIENT[1]}, timeout=TIMEOUT
    )
    assert in_form.status_code == 200
    wrong = requests.post(sis.token_url, auth=(CLIENT[0], "wrong"), data=GRANT, timeout=TIMEOUT)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert (
        requests.post(sis.token_url, auth=CLIENT, data={"grant_type": "password"}, timeout=TIMEOUT).status_code == 400
    )
    assert (
        requests.get(
            f"{sis.base_url}/classes", headers={"Authorization": "Bearer made-up"}, timeout=TIMEOUT
        ).status_code
        == 401
    )
    assert (
        requests.post(f"{sis.host_url}/token", auth=CLIENT, data=GRANT, timeout=TIMEOUT).status_code == 404
    )  # prefix needed


def test_expired_token_is_refused(make_sandbox_sis):
    sis = make_sandbox_sis(token_ttl_s=1.5)
    session = bearer_session(sis)
    assert session.get(f"{sis.base_url}/orgs").status_code == 200
    time.sleep(1.6)
    expired = session.get(f"{sis.base_url}/orgs")
    assert expired.status_code == 401 and "expired" in expired.json()["imsx_description"]


def test_scope_and_method_quirks(sandbox_sis):
    sis = sandbox_sis
    scope = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly"
    granted = requests.post(sis.token_url, auth=CLIENT, data={**GRANT, "scope": scope}, timeout=TIMEOUT)
    assert granted.status_code == 200 and granted.json()["scope"] == scope
    sis.set_quirks(reject_scope=True)
    refused = requests.post(sis.token_url, auth=CLIENT, data={**GRANT, "scope": scope}, timeout=TIMEOUT)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    assert requests.post(sis.token_url, auth=CLIENT, data=GRANT, timeout=TIMEOUT).status_code == 200
    sis.set_quirks(reject_scope=False, require_scope=True)
    assert requests.post(sis.token_url, auth=CLIENT, data=GRANT, timeout=TIMEOUT).status_code == 400
    assert requests.post(sis.token_url, auth=CLIENT, data={**GRANT, "scope": scope}, timeout=TIMEOUT).status_code == 200
    sis.set_quirks(require_scope=False, only_oauth1=True)
    assert requests.post(sis.token_url, auth=CLIENT, data=GRANT, timeout=TIMEOUT).status_code == 404
    assert requests.get(
        f"{sis.base_url}/orgs", auth=OAuth1(*CLIENT, signature_method="HMAC-SHA256"), timeout=TIMEOUT
    ).ok


def test_nested_routes_can_require_the_roster_scope(sandbox_sis):
    sis = sandbox_sis
    sis.set_quirks(nested_requires_roster_scope=True)
    core = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly"
    token = requests.post(sis.token_url, auth=CLIENT, data={**GRANT, "scope": core}, timeout=TIMEOUT).json()[
        "access_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    klass = sis.state()["data"]["classes"][0]["sourcedId"]
    assert requests.get(f"{sis.base_url}/classes/{klass}", headers=headers, timeout=TIMEOUT).status_code == 200
    nested = requests.get(f"{sis.base_url}/classes/{klass}/students", headers=headers, timeout=TIMEOUT)
    assert nested.status_code == 403 and imsx_minor(nested) == "forbidden"
    assert "insufficient_scope" in nested.json()["imsx_description"]
    both = bearer_session(sis)  # no scope asked: every read scope granted
    assert both.get(f"{sis.base_url}/classes/{klass}/students").status_code == 200


def test_revoked_credentials_refuse_everything(sandbox_sis):
    sis = sandbox_sis
    session = bearer_session(sis)
    sis.set_quirks(revoke_credentials=True)
    assert session.get(f"{sis.base_url}/orgs").status_code == 401
    assert (
        requests.get(
            f"{sis.base_url}/orgs", auth=OAuth1(*CLIENT, signature_method="HMAC-SHA256"), timeout=TIMEOUT
        ).status_code
        == 401
    )
    assert requests.post(sis.token_url, auth=CLIENT, data=GRANT, timeout=TIMEOUT).status_code == 401
    sis.set_quirks(revoke_credentials=False)
    assert session.get(f"{sis.base_url}/orgs").status_code == 401  # the old token stays dead
    assert bearer_session(sis).get(f"{sis.base_url}/orgs").status_code == 200


# -- injected faults


def test_429_with_retry_after_for_the_matching_path_only(api):
    sis, session = api
    sis.inject("429", count=3, path="/users", retry_after=1)
    assert session.get(f"{sis.base_url}/classes").status_code == 200  # another path: untouched
    for _ in range(3):
        reply = session.get(f"{sis.base_url}/users")
        assert reply.status_code == 429 and reply.headers["Retry-After"] == "1"
    assert session.get(f"{sis.base_url}/users").status_code == 200
    assert sis.stats()["faultsInjected"] == 3


@pytest.mark.parametrize(
    "kind,status,content_type",
    [("500", 500, "application/json"), ("503", 503, "application/json"), ("html", 502, "text/html")],
)
def test_error_status_faults(api, kind, status, content_type):
    sis, session = api
    sis.inject(kind)
    reply = session.get(f"{sis.base_url}/orgs")
    assert reply.status_code == status and reply.headers["Content-Type"].startswith(content_type)
    assert session.get(f"{sis.base_url}/orgs").status_code == 200


def test_body_faults(api):
    sis, session = api
    sis.inject("truncate")
    cut = session.get(f"{sis.base_url}/users")
    assert cut.status_code == 200
    with pytest.raises(ValueError):
        cut.json()
    sis.inject("invalid_json")
    broken = session.get(f"{sis.base_url}/users")
    assert broken.status_code == 200 and broken.text.startswith('{"users":[')
    with pytest.raises(ValueError):
        json.loads(broken.text)
    sis.inject("drop", path="/enrollments")
    with pytest.raises(requests.exceptions.RequestException):
        session.get(f"{sis.base_url}/enrollments")
    assert session.get(f"{sis.base_url}/enrollments").status_code == 200


def test_slow_and_imsx_failure_faults(api):
    sis, session = api
    sis.inject("slow", ms=400)
    started = time.monotonic()
    assert session.get(f"{sis.base_url}/orgs").status_code == 200
    assert time.monotonic() - started >= 0.4
    for status in (200, 500):
        sis.inject("imsx_failure", status=status)
        reply = session.get(f"{sis.base_url}/orgs")
        assert reply.status_code == status
        assert "orgs" not in reply.json() and reply.json()["imsx_statusInfo"]["imsx_codeMajor"] == "failure"


def test_faults_leave_token_requests_alone_unless_asked(sandbox_sis):
    sis = sandbox_sis
    sis.inject("500")
    assert requests.post(sis.token_url, auth=CLIENT, data=GRANT, timeout=TIMEOUT).status_code == 200
    sis.inject("503", path="/token", retry_after=2)
    refused = requests.post(sis.token_url, auth=CLIENT, data=GRANT, timeout=TIMEOUT)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"


def test_latency_quirk(make_sandbox_sis):
    sis = make_sandbox_sis(latency_ms=150)
    session = bearer_session(sis)
    started = time.monotonic()
    session.get(f"{sis.base_url}/orgs")
    assert time.monotonic() - started >= 0.15


# -- admin endpoints


def test_admin_endpoints_at_the_root_and_under_the_prefix(make_sandbox_sis):
    sis = make_sandbox_sis(path_prefix="district42")
    for admin in (f"{sis.host_url}/_admin", f"{sis.host_url}/district42/_admin"):
        state = requests.get(f"{admin}/state", timeout=TIMEOUT).json()
        assert state["day"] == 1 and set(state["data"]) >= {
            "orgs",
            "academicSessions",
            "courses",
            "classes",
            "users",
            "enrollments",
        }
        assert requests.post(f"{admin}/quirks", json={"no_link": True}, timeout=TIMEOUT).json()["no_link"] is True
        assert requests.post(f"{admin}/quirks", json={"no_such_quirk": True}, timeout=TIMEOUT).status_code == 400
        assert requests.post(f"{admin}/inject", json={"kind": "bogus"}, timeout=TIMEOUT).status_code == 400
    requests.post(f"{sis.host_url}/_admin/inject", json={"kind": "429", "count": 1, "retry_after": 5}, timeout=TIMEOUT)
    session = bearer_session(sis)
    assert session.get(f"{sis.base_url}/orgs").headers.get("Retry-After") == "5"
    stats = requests.get(f"{sis.host_url}/_admin/stats", timeout=TIMEOUT).json()
    assert stats["requests"] == 2 and stats["tokenRequests"] == 1 and stats["byPath"] == {"/token": 1, "/orgs": 1}
    requests.post(f"{sis.host_url}/_admin/stats/reset", timeout=TIMEOUT)
    assert sis.stats()["requests"] == 0
    advanced = requests.post(f"{sis.host_url}/_admin/advance", json={"day": 3}, timeout=TIMEOUT).json()
    assert advanced["day"] == 3 and advanced["changes"]
    assert requests.post(f"{sis.host_url}/_admin/advance", json={}, timeout=TIMEOUT).json()["day"] == 4
    assert [h["day"] for h in sis.state()["history"]] == [2, 3, 4]


# -- days


def test_advance_day_changes_the_district(api):
    sis, session = api
    before = sis.state()["data"]
    result = sis.advance_day()
    after = sis.state()["data"]
    assert result["day"] == 2 and sis.state()["day"] == 2
    by_kind: dict[str, list[str]] = {}
    for change in result["changes"]:
        by_kind.setdefault(change["change"], []).append(change["sourcedId"])
    old_users = {u["sourcedId"]: u for u in before["users"]}
    new_users = {u["sourcedId"]: u for u in after["users"]}
    old_classes = {c["sourcedId"]: c for c in before["classes"]}
    new_classes = {c["sourcedId"]: c for c in after["classes"]}
    enrolled = {e["user"]["sourcedId"] for e in after["enrollments"]}

    for sid in by_kind["added student"]:
        assert sid not in old_users and new_users[sid]["role"] == "student" and sid in enrolled
    assert [sid for sid in by_kind["added class"] if sid not in old_classes]
    for sid in by_kind["hard-deleted student"]:
        assert sid in old_users and sid not in new_users and sid not in enrolled
    for sid in by_kind["tobedeleted student"]:
        assert old_users[sid]["status"] == "active" and new_users[sid]["status"] == "tobedeleted"
    for sid in by_kind["tobedeleted class"]:
        assert old_classes[sid]["status"] == "active" and new_classes[sid]["status"] == "tobedeleted"
    assert len(by_kind["tobedeleted enrollment"]) == 3
    (teacher,) = by_kind["changed teacher email and familyName"]
    assert new_users[teacher]["email"] != old_users[teacher]["email"]
    assert new_users[teacher]["familyName"] != old_users[teacher]["familyName"]
    (renamed,) = by_kind["changed class title"]
    assert new_classes[renamed]["title"] != old_classes[renamed]["title"]
    (regraded,) = by_kind["changed student grade"]
    assert new_users[regraded]["grades"] != old_users[regraded]["grades"]

    changed = [teacher, renamed, regraded] + by_kind["tobedeleted student"] + by_kind["tobedeleted class"]
    for sid in changed:
        old = (old_users.get(sid) or old_classes[sid])["dateLastModified"]
        new = (new_users.get(sid) or new_classes[sid])["dateLastModified"]
        assert parse_instant(new) > parse_instant(old)
    untouched = next(sid for sid in old_users if sid in new_users and sid not in changed)
    assert new_users[untouched] == old_users[untouched]
    # A delta read finds exactly what the day touched.
    cursor = max(parse_instant(u["dateLastModified"]) for u in before["users"])
    delta = session.get(
        f"{sis.base_url}/users",
        params={"filter": f"dateLastModified>'{cursor.isoformat().replace('+00:00', 'Z')}'", "limit": 1000},
    ).json()["users"]
    assert set(ids(delta)) == set(by_kind["added student"]) | {teacher, regraded} | set(by_kind["tobedeleted student"])


def test_same_seed_same_district_other_seed_another():
    config = dict(seed=11, schools=3, students=150, teachers=10, classes=30, enrollments=700)
    one, two = SandboxSIS(SandboxConfig(**config)), SandboxSIS(SandboxConfig(**config))
    assert one.state() == two.state()
    changes_one, changes_two = one.advance_day(3), two.advance_day(3)
    assert changes_one == changes_two

    def without_stamps(state):
        return [
            {k: v for k, v in r.items() if k != "dateLastModified"}
            for name in state["data"]
            for r in state["data"][name]
        ]

    assert without_stamps(one.state()) == without_stamps(two.state())
    other = SandboxSIS(SandboxConfig(**{**config, "seed": 12}))
    assert other.state()["data"]["users"] != one.state()["data"]["users"]


def test_a_large_district_generates(make_sandbox_sis):
    sis = make_sandbox_sis(schools=12, students=10_000, teachers=600, classes=2_000, enrollments=60_000)
    data = sis.state()["data"]
    assert sum(u["role"] == "student" for u in data["users"]) == 10_000
    assert 58_000 <= len(data["enrollments"]) <= 60_000
    session = bearer_session(sis)
    reply = session.get(f"{sis.base_url}/enrollments", params={"limit": 1000, "offset": 59_000})
    assert reply.status_code == 200 and reply.headers["X-Total-Count"] == str(len(data["enrollments"]))


# -- the command line


def test_cli_prints_where_it_listens_and_never_the_secret():
    secret = "cli-secret-5d1f"
    env = dict(os.environ, ROSTERSYNC_SANDBOX_CLIENT_ID="cli-client", ROSTERSYNC_SANDBOX_CLIENT_SECRET=secret)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rostersync_tools.sandbox_sis.cli",
            "--port",
            "0",
            "--students",
            "50",
            "--classes",
            "10",
            "--enrollments",
            "200",
            "--teachers",
            "4",
            "--schools",
            "2",
            "--no-link",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first, second = process.stdout.readline(), process.stdout.readline()
        assert first.startswith("sandbox-sis listening on http://127.0.0.1:")
        host_url = first.split()[-1]
        assert f"{host_url}/ims/oneroster/v1p1" in second and "cli-client" in second
        token = requests.post(f"{host_url}/token", auth=("cli-client", secret), data=GRANT, timeout=5)
        assert token.status_code == 200
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert "Link" not in requests.get(f"{host_url}/ims/oneroster/v1p1/orgs", headers=headers, timeout=5).headers
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert secret not in first + second + out + err
    assert base64.b64encode(secret.encode()).decode() not in out + err
