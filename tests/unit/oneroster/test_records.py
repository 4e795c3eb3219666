"""Tolerant record parsing: every shape real servers send, and BadRecord for the rest."""

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rostersync.oneroster import AcademicSession, BadRecord, Class, Course, Enrollment, Org, User
from rostersync.oneroster.records import parse_bool, parse_datetime, parse_record, parse_records, ref_id


def test_a_full_user():
    user = parse_record(
        "users",
        {
            "sourcedId": "u1",
            "status": "active",
            "dateLastModified": "2026-07-04T12:00:00.000Z",
            "metadata": None,
            "role": "student",
            "username": "jdoe",
            "givenName": "Jane",
            "familyName": "Doe",
            "middleName": "Q",
            "email": "jane@example.org",
            "identifier": "12345",
            "enabledUser": "true",
            "userIds": [{"type": "LDAP", "identifier": "jdoe1"}],
            "orgs": [{"href": "/orgs/s1", "sourcedId": "s1", "type": "org"}],
            "grades": ["05"],
            "agents": [],
        },
    )
    assert user == User(
        "u1",
        "active",
        datetime(2026, 7, 4, 12, tzinfo=UTC),
        "student",
        "jdoe",
        "Jane",
        "Doe",
        "Q",
        "jane@example.org",
        "12345",
        True,
        ("s1",),
        ("05",),
        (("LDAP", "jdoe1"),),
    )


def test_records_are_frozen_slotted_values():
    org = parse_record("orgs", {"sourcedId": "o1", "name": "North", "type": "school"})
    with pytest.raises(AttributeError):
        org.name = "South"
    assert not hasattr(org, "__dict__")
    assert org == Org("o1", "active", None, "North", "school", None, None)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("False", False),
        (True, True),
        (False, False),
        (None, None),
        ("maybe", None),
        ("", None),
        (1, True),
        (0, False),
    ],
)
def test_booleans(value, expected):
    assert parse_bool(value) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-07-04T12:00:00.000Z", datetime(2026, 7, 4, 12, 0, 0, tzinfo=UTC)),
        ("2026-07-04T12:00:04.35Z", datetime(2026, 7, 4, 12, 0, 4, 350000, tzinfo=UTC)),
        ("2026-07-04T12:00:04Z", datetime(2026, 7, 4, 12, 0, 4, tzinfo=UTC)),
        ("2026-07-04T12:00:04", datetime(2026, 7, 4, 12, 0, 4, tzinfo=UTC)),
        ("2026-07-04T14:00:04+02:00", datetime(2026, 7, 4, 12, 0, 4, tzinfo=UTC)),
        ("2026-07-04T12:00:04.1234567Z", datetime(2026, 7, 4, 12, 0, 4, 123456, tzinfo=UTC)),
        ("2026-07-04t12:00:04z", datetime(2026, 7, 4, 12, 0, 4, tzinfo=UTC)),
        ("2026-07-04", datetime(2026, 7, 4, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (12345, None),
    ],
)
def test_date_times_of_any_precision(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value, expected",
    [
        ({"sourcedId": "c1", "href": "/classes/c1", "type": "class"}, "c1"),
        ({"sourcedId": "c1", "type": "course"}, "c1"),  # mismatched type: the id is what counts
        ({"href": "https://sis/ims/oneroster/v1p1/classes/c%202"}, "c 2"),
        ({"href": "classes/c3/"}, "c3"),
        ("c4", "c4"),
        ("/classes/c5", "c5"),
        (42, "42"),
        ({"sourcedId": 7}, "7"),
        (None, None),
        ({}, None),
        ("", None),
        ([], None),
    ],
)
def test_references(value, expected):
    assert ref_id(value) == expected


def test_enrollment_with_quirks():
    enrollment = parse_record(
        "enrollments",
        {
            "sourcedId": "e1",
            "status": "toBeDeleted",
            "dateLastModified": "2026-07-04T12:00:00Z",
            "user": "u1",
            "class": {"href": "/classes/c1"},
            "school": {"sourcedId": "s1", "type": "school"},
            "role": "Student",
            "primary": None,
            "beginDate": "2025-08-15",
            "endDate": "2026-06-01T00:00:00Z",
        },
    )
    assert enrollment == Enrollment(
        "e1",
        "tobedeleted",
        datetime(2026, 7, 4, 12, tzinfo=UTC),
        "student",
        "u1",
        "c1",
        "s1",
        None,
        date(2025, 8, 15),
        date(2026, 6, 1),
    )


def test_class_course_session_and_unknown_enums():
    klass = parse_record(
        "classes",
        {
            "sourcedId": "c1",
            "status": "inactive",
            "title": "Math 5",
            "classCode": "M5",
            "classType": "SECTION",
            "course": {"sourcedId": "co1"},
            "school": {"sourcedId": "s1"},
            "terms": [{"sourcedId": "t1"}, {"sourcedId": "t2"}],
            "grades": "05,06",
            "subjects": ["Math"],
            "subjectCodes": ["02001"],
            "periods": ["1", "2"],
        },
    )
    assert klass == Class(
        "c1",
        "inactive",
        None,
        "Math 5",
        "M5",
        "SECTION",
        "co1",
        "s1",
        ("t1", "t2"),
        ("05", "06"),
        ("Math",),
        ("02001",),
        ("1", "2"),
    )
    course = parse_record(
        "courses", {"sourcedId": "co1", "title": "Math", "grades": ["05"], "org": "s1", "subjects": None}
    )
    assert course == Course("co1", "active", None, "Math", None, ("05",), (), (), "s1")
    term = parse_record(
        "terms",
        {
            "sourcedId": "t1",
            "title": "Fall",
            "type": "Term",
            "startDate": "2025-08-01",
            "endDate": "2025-12-20",
            "parent": {"sourcedId": "y1"},
            "schoolYear": "2026",
        },
    )
    assert term == AcademicSession(
        "t1", "active", None, "Fall", "term", date(2025, 8, 1), date(2025, 12, 20), "y1", "2026"
    )
    odd = parse_record("users", {"sourcedId": "u1", "role": "counselor", "status": "archived", "enabledUser": False})
    assert odd.role == "counselor" and odd.status == "archived" and odd.enabled_user is False


def test_users_with_1_2_style_roles():
    user = parse_record(
        "users",
        {
            "sourcedId": "u1",
            "roles": [{"roleType": "secondary", "role": "aide"}, {"roleType": "primary", "role": "teacher"}],
        },
    )
    assert user.role == "teacher"


@pytest.mark.parametrize(
    "collection, raw, code",
    [
        ("users", {"status": "active"}, "missing_sourced_id"),
        ("users", {"sourcedId": ""}, "missing_sourced_id"),
        ("enrollments", {"sourcedId": "e1", "class": {"sourcedId": "c1"}}, "missing_reference"),
        ("enrollments", {"sourcedId": "e1", "user": {"sourcedId": "u1"}, "class": {}}, "missing_reference"),
        ("classes", {"sourcedId": "c1", "title": "x"}, "missing_reference"),
        ("users", "not an object", "invalid_record"),
        ("users", None, "invalid_record"),
    ],
)
def test_bad_records(collection, raw, code):
    bad = parse_record(collection, raw)
    assert isinstance(bad, BadRecord) and bad.code == code and bad.collection == collection
    assert bad.message and bad.raw_excerpt


def test_a_bad_record_does_not_stop_the_page():
    records = parse_records(
        "enrollments",
        [
            {"sourcedId": "e1", "user": "u1", "class": "c1"},
            {"sourcedId": "e2"},
            17,
            {"sourcedId": "e3", "user": "u1", "class": "c2"},
        ],
    )
    assert [type(r).__name__ for r in records] == ["Enrollment", "BadRecord", "BadRecord", "Enrollment"]
    assert records[1].sourced_id == "e2"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)
FIELDS = [
    "sourcedId",
    "status",
    "dateLastModified",
    "role",
    "user",
    "class",
    "school",
    "orgs",
    "grades",
    "enabledUser",
    "primary",
    "beginDate",
    "terms",
    "course",
    "subjects",
    "name",
    "type",
    "parent",
]


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["users", "classes", "enrollments", "orgs", "courses", "terms"]),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=12),
)
def test_parsing_never_raises(collection, raw):
    record = parse_record(collection, raw)
    assert isinstance(record, (User, Class, Enrollment, Org, Course, AcademicSession, BadRecord))
    if not isinstance(record, BadRecord):
        assert isinstance(record.sourced_id, str) and record.sourced_id
        assert record.date_last_modified is None or record.date_last_modified.tzinfo is UTC
