"""POST /districts and POST/GET /districts/{id}/schools: provisioning by platform admins."""

import pytest


def test_platform_admin_creates_a_district_with_its_time_zone(api, aws):
    answer = api.call("POST", "/districts", body={"name": " Springfield USD ", "timezone": "America/Denver"})
    assert answer.status == 201
    assert answer.body == {
        "districtId": answer.body["districtId"],
        "name": "Springfield USD",
        "timezone": "America/Denver",
    }
    assert answer.body["districtId"].startswith("dst_")
    from rostersync.store.districts import get_district

    stored = get_district(answer.body["districtId"])
    assert (stored.name, stored.timezone, stored.connection) == ("Springfield USD", "America/Denver", None)


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus", "localtime", "Factory", "", "america/chicago", "../../etc/passwd", "EST+5"]
)
def test_a_time_zone_that_is_not_an_iana_name_is_422_invalid_timezone(api, timezone):
    answer = api.call("POST", "/districts", body={"name": "D", "timezone": timezone})
    assert (answer.status, answer.code) == (422, "invalid_timezone")
    assert "timezone" in answer.message


@pytest.mark.parametrize(
    "body, field",
    [
        ({"timezone": "America/Chicago"}, "name"),  # missing
        ({"name": 5, "timezone": "America/Chicago"}, "name"),  # wrong type
        ({"name": "   ", "timezone": "America/Chicago"}, "name"),  # blank
        ({"name": "D", "timezone": "America/Chicago", "region": "x"}, "region"),  # unknown field
        ({"name": "D", "time_zone": "America/Chicago"}, "time_zone"),  # snake_case is not the API's spelling
    ],
)
def test_unacceptable_values_are_422_naming_the_field(api, body, field):
    answer = api.call("POST", "/districts", body=body)
    assert (answer.status, answer.code) == (422, "invalid_request")
    assert field in answer.message


@pytest.mark.parametrize("role, district", [("district_admin", "dst_x"), ("teacher", "dst_x"), (None, None)])
def test_only_platform_admins_create_districts(api, role, district):
    answer = api.call("POST", "/districts", role=role, district=district, body={"name": "D", "timezone": "UTC"})
    assert answer.status == (401 if role is None else 403)
    assert answer.code == ("unauthorized" if role is None else "forbidden")


def test_platform_admin_creates_a_school_and_lists_it(api):
    district_id = api.new_district()
    answer = api.call(
        "POST", f"/districts/{district_id}/schools", body={"name": "Lincoln Elementary", "identifier": "100"}
    )
    assert answer.status == 201
    assert answer.body == {
        "schoolId": answer.body["schoolId"],
        "name": "Lincoln Elementary",
        "identifier": "100",
        "sisSourcedId": None,
    }
    plain = api.call("POST", f"/districts/{district_id}/schools", body={"name": "Adams Middle"})
    assert plain.status == 201 and plain.body["identifier"] is None

    listed = api.call("GET", f"/districts/{district_id}/schools", role="district_admin", district=district_id)
    assert listed.status == 200
    assert listed.body == {
        "schools": [
            {"schoolId": plain.body["schoolId"], "name": "Adams Middle", "identifier": None, "sisSourcedId": None},
            {
                "schoolId": answer.body["schoolId"],
                "name": "Lincoln Elementary",
                "identifier": "100",
                "sisSourcedId": None,
            },
        ]
    }


def test_a_second_school_with_the_same_identifier_is_409(api):
    district_id = api.new_district()
    api.new_school(district_id, "Lincoln Elementary", "0100")
    answer = api.call("POST", f"/districts/{district_id}/schools", body={"name": "Other", "identifier": "100"})
    assert (answer.status, answer.code) == (409, "school_exists")


def test_district_admins_do_not_provision_schools_even_in_their_district(api):
    district_id = api.new_district()
    answer = api.call(
        "POST",
        f"/districts/{district_id}/schools",
        role="district_admin",
        district=district_id,
        body={"name": "Sneaky School"},
    )
    assert (answer.status, answer.code) == (403, "forbidden")


def test_a_school_for_an_unknown_district_is_404(api):
    answer = api.call("POST", "/districts/dst_nope/schools", body={"name": "Lost School"})
    assert (answer.status, answer.code) == (404, "not_found")


def test_authorization_comes_before_existence_and_existence_before_validation(api):
    # A teacher with a malformed body: 403, not 400.
    assert api.call("POST", "/districts", role="teacher", district="d", raw_body="{not json").status == 403
    # Another district's admin asking about a district that does not exist: 403, not 404 (no existence leak).
    assert api.call("GET", "/districts/dst_missing/schools", role="district_admin", district="dst_mine").status == 403
    # The platform admin, an unknown district and a malformed body: 404 before 400.
    assert api.call("POST", "/districts/dst_missing/schools", raw_body="{not json").status == 404
    # Without a token nothing else is looked at.
    assert api.call("POST", "/districts/dst_missing/schools", role=None, raw_body="{not json").status == 401
