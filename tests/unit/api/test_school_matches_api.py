"""Step 3: GET sis/schools (with suggestions), PUT school-matches, GET schools."""

import pytest

from rostersync.oneroster import InvalidCredentials
from tests.unit.api.fake_sis import bad_record, org


@pytest.fixture
def district(api, fake_sis):
    """A connected district with three app schools; the SIS has four schools and a district org."""
    district_id = api.new_district()
    schools = {
        "lincoln": api.new_school(district_id, "Lincoln Elem.", "0100"),  # identifier matches org-1 ("100")
        "roosevelt": api.new_school(district_id, "Roosevelt High School"),  # name matches org-2
        "kennedy": api.new_school(district_id, "Kennedy Middle School"),  # no SIS counterpart
    }
    fake_sis.orgs = [
        org("org-1", "Abraham Lincoln Elementary", "100"),
        org("org-2", "Roosevelt High", "200"),
        org("org-3", "Washington Middle", "300"),
        org("org-4", "Closed Elementary", "400", status="tobedeleted"),
        org("org-d", "Springfield District", type="district"),
        bad_record("orgs"),
    ]
    assert api.connect(district_id).status == 200
    return district_id, schools


def _as_admin(api, method, district_id, path, **options):
    return api.call(method, f"/districts/{district_id}{path}", role="district_admin", district=district_id, **options)


def test_sis_schools_lists_active_school_orgs_with_suggestions(api, district):
    district_id, schools = district
    answer = _as_admin(api, "GET", district_id, "/sis/schools")
    assert answer.status == 200
    assert answer.body == {
        "schools": [
            {
                "sisSourcedId": "org-1",
                "name": "Abraham Lincoln Elementary",
                "identifier": "100",
                "matchedSchoolId": None,
                "suggestedSchoolId": schools["lincoln"],
            },
            {
                "sisSourcedId": "org-2",
                "name": "Roosevelt High",
                "identifier": "200",
                "matchedSchoolId": None,
                "suggestedSchoolId": schools["roosevelt"],
            },
            {
                "sisSourcedId": "org-3",
                "name": "Washington Middle",
                "identifier": "300",
                "matchedSchoolId": None,
                "suggestedSchoolId": None,
            },
        ]
    }


def test_matches_are_saved_replaced_and_shown(api, district):
    district_id, schools = district
    first = _as_admin(
        api,
        "PUT",
        district_id,
        "/school-matches",
        body={
            "matches": [
                {"sisSourcedId": "org-1", "schoolId": schools["lincoln"]},
                {"sisSourcedId": "org-3", "schoolId": schools["kennedy"]},
            ]
        },
    )
    assert first.status == 200
    assert first.body == {
        "matches": [
            {"sisSourcedId": "org-1", "schoolId": schools["lincoln"]},
            {"sisSourcedId": "org-3", "schoolId": schools["kennedy"]},
        ]
    }
    listed = {s["schoolId"]: s["sisSourcedId"] for s in _as_admin(api, "GET", district_id, "/schools").body["schools"]}
    assert listed == {schools["lincoln"]: "org-1", schools["kennedy"]: "org-3", schools["roosevelt"]: None}

    sis = {s["sisSourcedId"]: s for s in _as_admin(api, "GET", district_id, "/sis/schools").body["schools"]}
    assert sis["org-1"]["matchedSchoolId"] == schools["lincoln"] and sis["org-1"]["suggestedSchoolId"] is None
    assert sis["org-2"]["suggestedSchoolId"] == schools["roosevelt"]

    # The second PUT is the whole set: Kennedy loses its match, Roosevelt gains one.
    second = _as_admin(
        api,
        "PUT",
        district_id,
        "/school-matches",
        body={
            "matches": [
                {"sisSourcedId": "org-1", "schoolId": schools["lincoln"]},
                {"sisSourcedId": "org-2", "schoolId": schools["roosevelt"]},
            ]
        },
    )
    assert second.status == 200
    listed = {s["schoolId"]: s["sisSourcedId"] for s in _as_admin(api, "GET", district_id, "/schools").body["schools"]}
    assert listed == {schools["lincoln"]: "org-1", schools["kennedy"]: None, schools["roosevelt"]: "org-2"}

    cleared = _as_admin(api, "PUT", district_id, "/school-matches", body={"matches": []})
    assert cleared.status == 200 and cleared.body == {"matches": []}
    assert all(s["sisSourcedId"] is None for s in _as_admin(api, "GET", district_id, "/schools").body["schools"])


@pytest.mark.parametrize(
    "matches, code, named",
    [
        ([("org-1", "lincoln"), ("org-1", "kennedy")], "duplicate_match", "org-1"),
        ([("org-1", "lincoln"), ("org-2", "lincoln")], "duplicate_match", "schoolId"),
        ([("org-9", "lincoln")], "unknown_school", "org-9"),
        ([("org-4", "lincoln")], "unknown_school", "org-4"),  # tobedeleted in the SIS
        ([("org-d", "lincoln")], "unknown_school", "org-d"),  # a district org, not a school
        ([("org-1", "sch_unknown")], "unknown_school", "sch_unknown"),
    ],
)
def test_duplicate_and_unknown_matches_are_422_and_change_nothing(api, district, matches, code, named):
    district_id, schools = district
    body = {"matches": [{"sisSourcedId": sis, "schoolId": schools.get(app, app)} for sis, app in matches]}
    answer = _as_admin(api, "PUT", district_id, "/school-matches", body=body)
    assert (answer.status, answer.code) == (422, code)
    assert named in answer.message
    assert all(s["sisSourcedId"] is None for s in _as_admin(api, "GET", district_id, "/schools").body["schools"])


@pytest.mark.parametrize("body", [{"matches": [{"sisSourcedId": "org-1"}]}, {"matches": "org-1"}, {"match": []}, {}])
def test_malformed_match_requests_are_422(api, district, body):
    district_id, _ = district
    answer = _as_admin(api, "PUT", district_id, "/school-matches", body=body)
    assert (answer.status, answer.code) == (422, "invalid_request")


def test_without_a_connection_step_3_is_409_not_connected(api, fake_sis):
    district_id = api.new_district()
    assert _as_admin(api, "GET", district_id, "/sis/schools").code == "not_connected"
    answer = _as_admin(api, "PUT", district_id, "/school-matches", body={"matches": []})
    assert (answer.status, answer.code) == (409, "not_connected")


def test_a_saved_connection_that_stopped_working_is_409_with_its_code(api, district, fake_sis):
    district_id, _ = district
    fake_sis.error = InvalidCredentials("refused", status=401)
    answer = _as_admin(api, "GET", district_id, "/sis/schools")
    assert (answer.status, answer.code) == (409, "invalid_credentials")
