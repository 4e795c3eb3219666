"""GET/PATCH /districts/{districtId} and the connection's health through the API's handler, on
the embedded AWS with the sandbox SIS and the real worker: the overview follows a district from
creation through a good night, a rejected credential, a held run and recovery."""

import pytest

from tests.integration.test_alerts import CONTACTS, alerts_district, alerts_domain, kept, outbox, run_to_end
from tests.integration.test_sync_runs_api import admin, call


@pytest.fixture
def domain(clean_aws, monkeypatch):
    return alerts_domain(clean_aws, monkeypatch)


@pytest.fixture
def district(domain, make_sandbox_sis, connected_district):
    return alerts_district(domain, make_sandbox_sis, connected_district)


def overview(district_id: str) -> dict:
    answer = admin(district_id)("GET", f"/districts/{district_id}")
    assert answer.status == 200, answer.body
    return answer.body


def steps(body: dict) -> dict[str, bool]:
    return {s["step"]: s["done"] for s in body["setup"]}


def test_a_new_district_has_done_no_step(domain):
    created = call("POST", "/districts", role="platform_admin", body={"name": "Fresh", "timezone": "America/Denver"})
    assert created.status == 201
    district_id = created.body["districtId"]
    body = overview(district_id)
    assert (body["name"], body["timezone"], body["contacts"]) == ("Fresh", "America/Denver", [])
    assert steps(body) == {"connection": False, "school_matching": False, "sync_config": False, "first_sync": False}
    assert body["connection"] is None and body["lastRun"] is None and body["heldRun"] is None
    assert body["nextSyncAt"] is None and body["syncEnabled"] is False


def test_admins_change_name_time_zone_and_contacts_and_nobody_else_may(domain):
    district_id = call("POST", "/districts", role="platform_admin", body={"name": "A", "timezone": "UTC"}).body[
        "districtId"
    ]
    other = call("POST", "/districts", role="platform_admin", body={"name": "B", "timezone": "UTC"}).body["districtId"]
    as_admin = admin(district_id)
    changed = as_admin(
        "PATCH",
        f"/districts/{district_id}",
        body={
            "name": "  Springfield USD ",
            "timezone": "America/Chicago",
            "contacts": ["IT@Springfield.Example.org", "it@springfield.example.org", "roster@springfield.example.org"],
        },
    )
    assert changed.status == 200, changed.body
    # Trimmed; the domain part lower-cased and duplicates dropped (local parts are kept as typed).
    assert (changed.body["name"], changed.body["timezone"]) == ("Springfield USD", "America/Chicago")
    assert changed.body["contacts"] == [
        "IT@springfield.example.org",
        "it@springfield.example.org",
        "roster@springfield.example.org",
    ]
    assert overview(district_id)["contacts"] == changed.body["contacts"]
    # Fields left out stay; [] clears the contacts.
    assert as_admin("PATCH", f"/districts/{district_id}", body={"contacts": []}).body["contacts"] == []
    assert overview(district_id)["name"] == "Springfield USD"

    bad = as_admin("PATCH", f"/districts/{district_id}", body={"contacts": ["not an address"]})
    assert (bad.status, bad.body["error"]["code"]) == (422, "invalid_email")
    assert "not an address" not in bad.body["error"]["message"]
    bad_zone = as_admin("PATCH", f"/districts/{district_id}", body={"timezone": "Mars/Olympus"})
    assert (bad_zone.status, bad_zone.body["error"]["code"]) == (422, "invalid_timezone")
    too_many = as_admin("PATCH", f"/districts/{district_id}", body={"contacts": [f"a{i}@x.org" for i in range(21)]})
    assert too_many.status == 422
    typo = as_admin("PATCH", f"/districts/{district_id}", body={"contact": ["a@x.org"]})
    assert typo.status == 422
    assert as_admin("PATCH", f"/districts/{district_id}", raw_body="{").status == 400

    assert call("PATCH", f"/districts/{district_id}", district=other, body={"name": "x"}).status == 403
    assert call("GET", f"/districts/{district_id}", district=other).status == 403
    assert (
        call("PATCH", f"/districts/{district_id}", role="teacher", district=district_id, body={"name": "x"}).status
        == 403
    )
    by_support = call("PATCH", f"/districts/{district_id}", role="platform_admin", body={"name": "By support"})
    assert by_support.status == 200 and by_support.body["name"] == "By support"
    assert call("GET", "/districts/dst_nope", role="platform_admin").status == 404
    assert overview(district_id)["name"] == "By support"


def test_the_overview_follows_good_and_bad_nights_and_recovery(domain, district):
    body = overview(district.id)
    assert steps(body) == {"connection": True, "school_matching": True, "sync_config": True, "first_sync": False}
    assert body["connection"]["health"]["status"] is None and body["contacts"] == CONTACTS
    assert body["syncEnabled"] is True and body["nextSyncAt"]

    good = run_to_end(domain, district.id)
    body = overview(district.id)
    assert steps(body)["first_sync"] is True
    assert body["connection"]["health"]["status"] == "ok" and body["connection"]["health"]["lastOkAt"]
    assert body["lastRun"]["runId"] == good.run_id and body["lastRun"]["status"] == "succeeded"
    assert body["lastRun"]["finishedAt"] and body["lastRun"]["counts"]["students"]["created"] > 0
    assert body["heldRun"] is None

    district.sis.set_quirks(revoke_credentials=True)
    bad = run_to_end(domain, district.id)
    body = overview(district.id)
    assert body["lastRun"]["runId"] == bad.run_id and body["lastRun"]["status"] == "failed"
    assert body["lastRun"]["failure"].startswith("The SIS refused the sync")
    connection_health = body["connection"]["health"]
    assert (
        connection_health["status"] == "credentials_rejected"
        and "client id and secret" in connection_health["lastError"]
    )
    assert "step 2" in connection_health["whatToDo"] and connection_health["lastOkAt"]
    shown = admin(district.id)("GET", f"/districts/{district.id}/sis/connection")
    assert shown.status == 200 and shown.body["status"] == "connected"  # the contract's field stays
    assert shown.body["health"]["status"] == "credentials_rejected"
    assert district.sis.config.client_secret not in str(shown.body) + str(body)

    # A connection test with the saved credentials: still rejected (nothing new to tell) ...
    tested = admin(district.id)("POST", f"/districts/{district.id}/sis/connection/test")
    assert tested.status == 200 and tested.body["health"]["status"] == "credentials_rejected"
    assert len(kept(domain, district.id)["Connection Unhealthy"]) == 1
    # ... and once the SIS accepts them again, the test restores the connection.
    district.sis.set_quirks(revoke_credentials=False)
    tested = admin(district.id)("POST", f"/districts/{district.id}/sis/connection/test")
    assert (
        tested.status == 200 and tested.body["health"]["status"] == "ok" and tested.body["health"]["lastError"] is None
    )
    assert len(kept(domain, district.id)["Connection Restored"]) == 1
    assert [m.kind for m in outbox(domain, district.id)] == ["connection_unhealthy"]


def test_a_connection_test_that_finds_rejected_credentials_tells_the_contacts(domain, district):
    assert run_to_end(domain, district.id).status == "succeeded"
    district.sis.set_quirks(revoke_credentials=True)
    tested = admin(district.id)("POST", f"/districts/{district.id}/sis/connection/test")
    assert tested.status == 200 and tested.body["health"]["status"] == "credentials_rejected"
    assert [m.kind for m in outbox(domain, district.id)] == ["connection_unhealthy"]
    assert kept(domain, district.id)["Connection Unhealthy"][0]["previousHealth"] == "ok"


def test_the_overview_shows_a_held_run_until_it_is_approved(domain, district):
    from rostersync.store.districts import DistrictModel
    from rostersync.store.schools import SchoolModel

    assert run_to_end(domain, district.id).status == "succeeded"
    schools = sorted(s.sis_sourced_id for s in SchoolModel.query(district.id))
    DistrictModel(district.id).update(actions=[DistrictModel.sync_config.schools.set(schools[:1])])
    held = run_to_end(domain, district.id)
    body = overview(district.id)
    assert body["heldRun"]["runId"] == held.run_id and body["heldRun"]["status"] == "needs_review"
    assert body["heldRun"]["heldDeactivations"] and body["lastRun"]["runId"] == held.run_id
    assert body["connection"]["health"]["status"] == "ok"
    # A newer run supersedes the held one: nothing is held any more.
    DistrictModel(district.id).update(actions=[DistrictModel.sync_config.schools.set(None)])
    assert run_to_end(domain, district.id).status == "succeeded"
    assert overview(district.id)["heldRun"] is None
