"""The academic-session routes (api/terms.py) and ?termId= on /classes: shapes, a school's
terms, the current term (none, one, several overlapping), paging and change reads, readers."""

from datetime import UTC, datetime

import pytest

from rostersync.ids import record_id
from tests.unit.api.test_roster_readers import ask, machine

CALENDAR = [  # sourcedId, type, start, end, parent, schools ("A", "B" or none)
    ("year", "schoolYear", "2026-08-18", "2027-06-11", None, "AB"),
    ("fall", "term", "2026-08-18", "2026-12-18", "year", "AB"),
    ("spring", "term", "2027-01-05", "2027-06-11", "year", "AB"),
    ("fall-b-block", "semester", "2026-10-01", "2026-12-18", "year", "B"),  # overlaps fall at school B only
    ("q1", "gradingPeriod", "2026-08-18", "2026-10-16", "fall", "AB"),
    ("summer", "term", "2027-07-01", "2027-07-31", None, ""),  # no school: the district's
    ("old", "term", "2025-08-18", "2025-12-18", None, "A"),
]


def seed(district_id: str, schools: dict) -> dict:
    from rostersync.store.roster import ClassModel, index_key
    from rostersync.store.terms import TermModel

    now = datetime.now(UTC)
    ids = {}
    for sid, kind, start, end, parent, at in CALENDAR:
        ids[sid] = record_id(district_id, "term", sid)
        TermModel(
            district_id,
            ids[sid],
            sis_sourced_id=sid,
            type=kind,
            title=sid.title(),
            start_date=start,
            end_date=end,
            parent_id=record_id(district_id, "term", parent) if parent else None,
            school_ids=[schools[s] for s in at] or None,
            status="active",
            content_hash="h",
            updated_at=now,
        ).save()
    for sid, terms in (("class-fall", ["fall"]), ("class-year", ["fall", "spring"]), ("class-spring", ["spring"])):
        ids[sid] = record_id(district_id, "class", sid)
        ClassModel(
            district_id,
            ids[sid],
            district_school=index_key(district_id, schools["A"]),
            school_id=schools["A"],
            sis_sourced_id=sid,
            content_hash="h",
            updated_at=now,
            title=sid,
            status="active",
            term_ids=[ids[t] for t in terms],
        ).save()
    return ids


@pytest.fixture
def district(api):
    district_id = api.new_district()
    schools = {"A": api.new_school(district_id, "Alpha"), "B": api.new_school(district_id, "Beta")}
    return district_id, schools, seed(district_id, schools)


def get(api, path, query=None):
    return api.call("GET", path, query=query)


def test_a_districts_terms_page_and_filter_by_type(api, district):
    district_id, schools, ids = district
    seen, cursor = [], None
    while True:
        answer = get(api, f"/districts/{district_id}/terms", {"limit": "3", **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200, answer.body
        seen += answer.body["terms"]
        cursor = answer.body["nextCursor"]
        if not cursor:
            break
    assert sorted(t["sisSourcedId"] for t in seen) == sorted(c[0] for c in CALENDAR)
    fall = next(t for t in seen if t["sisSourcedId"] == "fall")
    assert fall.pop("updatedAt")
    assert fall == {
        "termId": ids["fall"],
        "sisSourcedId": "fall",
        "title": "Fall",
        "type": "term",
        "startDate": "2026-08-18",
        "endDate": "2026-12-18",
        "parentId": ids["year"],
        "schoolYear": None,
        "schoolIds": sorted(schools.values()),
        "status": "active",
    }
    years = get(api, f"/districts/{district_id}/terms", {"type": "schoolYear,gradingPeriod"}).body["terms"]
    assert sorted(t["sisSourcedId"] for t in years) == ["q1", "year"]
    assert get(api, f"/districts/{district_id}/terms", {"type": "quarter"}).status == 422
    one = get(api, f"/districts/{district_id}/terms/{ids['spring']}")
    assert one.status == 200 and one.body["sisSourcedId"] == "spring"
    assert get(api, f"/districts/{district_id}/terms/nope").status == 404


def test_a_schools_terms_are_its_own_and_the_districts(api, district):
    district_id, schools, _ = district
    a = get(api, f"/districts/{district_id}/schools/{schools['A']}/terms").body["terms"]
    b = get(api, f"/districts/{district_id}/schools/{schools['B']}/terms").body["terms"]
    assert sorted(t["sisSourcedId"] for t in a) == ["fall", "old", "q1", "spring", "summer", "year"]
    assert sorted(t["sisSourcedId"] for t in b) == ["fall", "fall-b-block", "q1", "spring", "summer", "year"]
    assert get(api, f"/districts/{district_id}/schools/nope/terms").status == 404


@pytest.mark.parametrize(
    "on, school, expected, running, upcoming",
    [
        ("2026-09-01", "A", "fall", ["fall"], "spring"),
        ("2026-11-01", "B", "fall-b-block", ["fall-b-block", "fall"], "spring"),  # the one that started last
        ("2026-12-25", "A", None, [], "spring"),  # between terms
        ("2027-06-20", "A", None, [], "summer"),
        ("2027-07-15", "B", "summer", ["summer"], None),  # a term of no school counts for every school
    ],
)
def test_the_current_term_of_a_school(api, district, on, school, expected, running, upcoming):
    district_id, schools, _ids = district
    answer = get(api, f"/districts/{district_id}/schools/{schools[school]}/terms/current", {"date": on})
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["date"] == on and body["schoolId"] == schools[school]
    assert (body["term"] or {}).get("sisSourcedId") == expected
    assert [t["sisSourcedId"] for t in body["terms"]] == running
    assert (body["nextTerm"] or {}).get("sisSourcedId") == upcoming


def test_the_current_term_by_other_types_and_bad_input(api, district):
    district_id, schools, _ = district
    path = f"/districts/{district_id}/schools/{schools['A']}/terms/current"
    body = get(api, path, {"date": "2026-09-01", "type": "schoolYear"}).body
    assert body["term"]["sisSourcedId"] == "year"
    assert get(api, path, {"date": "2026-9-1"}).status == 422
    assert get(api, path, {"type": "term,bogus"}).status == 422
    today = get(api, path).body["date"]  # the district's own today
    assert len(today) == 10


def test_classes_by_term(api, district):
    district_id, _, ids = district
    for term, expected in (
        ("fall", ["class-fall", "class-year"]),
        ("spring", ["class-spring", "class-year"]),
        ("q1", []),
    ):
        body = get(api, f"/districts/{district_id}/classes", {"termId": ids[term]}).body
        assert sorted(c["sisSourcedId"] for c in body["classes"]) == expected
    one = get(api, f"/districts/{district_id}/classes/{ids['class-year']}").body
    assert one["termIds"] == [ids["fall"], ids["spring"]]
    assert get(api, f"/districts/{district_id}/classes", {"termId": ids["fall"], "teacherId": "x"}).status == 422


def test_terms_changes_since(api, district, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    district_id, _, _ = district
    # Items saved through the model have no changeSeq: a change read sees none of them (docs: backfill).
    answer = get(api, f"/districts/{district_id}/terms", {"updatedSince": "2000-01-01T00:00:00Z"})
    assert answer.status == 200 and answer.body["changesCursor"]


def test_an_api_client_reads_terms(api, district):
    from rostersync.api.app import handle

    district_id, schools, ids = district
    claims, scopes = machine(f"roster/read:{district_id}")
    for path in (
        "/terms",
        f"/terms/{ids['fall']}",
        f"/schools/{schools['A']}/terms",
        f"/schools/{schools['A']}/terms/current",
    ):
        status, body = ask(handle, "GET", f"/districts/{district_id}{path}", claims, scopes)
        assert status == 200, (path, body)
    other, _ = machine("roster/read:dst_other")
    assert ask(handle, "GET", f"/districts/{district_id}/terms", other, ["roster/read:dst_other"])[0] == 403
