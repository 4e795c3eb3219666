"""Filter grammar, RFC 3986 encoding, local re-checks and server-precision cursors."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rostersync.oneroster.filters import DateStyle, changed_since, encode_query, parse_filter, where


def test_rendering_and_joining():
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert str(where("dateLastModified", ">", since)) == "dateLastModified>'2026-11-01T00:00:00Z'"
    both = where("role", "=", "teacher") & where("status", "!=", "tobedeleted")
    assert str(both) == "role='teacher' AND status!='tobedeleted'"
    assert (
        str(where("familyName", "~", "O'Brien") | where("givenName", "=", "Ann"))
        == "familyName~'O''Brien' OR givenName='Ann'"
    )
    with pytest.raises(ValueError):
        both & where("a", "=", "b")  # OneRoster 1.1 allows one AND/OR
    with pytest.raises(ValueError):
        where("role", "like", "x")
    with pytest.raises(ValueError):
        where("role; drop", "=", "x")


def test_query_encoding_is_rfc3986():
    query = encode_query([("filter", "givenName='A B' AND x>='1+1&2'"), ("limit", "10")])
    assert query == "filter=givenName%3D%27A%20B%27%20AND%20x%3E%3D%271%2B1%262%27&limit=10"


@pytest.mark.parametrize(
    "text",
    [
        "dateLastModified>'2026-11-01T00:00:00Z'",
        "role='teacher' AND status='active'",
        "familyName~'O''Brien' OR givenName='Ann'",
        "  role = 'x'  ",
        "a>='' or b<'z'",
    ],
)
def test_parse_round_trips(text):
    parsed = parse_filter(text)
    assert parse_filter(str(parsed)) == parsed


@pytest.mark.parametrize("text", ["role=teacher", "role='x' AND", "role='x' AND b='y' OR c='z'", "'x'", ""])
def test_malformed_filters_are_refused(text):
    with pytest.raises(ValueError):
        parse_filter(text)


@given(st.text(min_size=0, max_size=30))
def test_any_value_survives_rendering_and_parsing(value):
    rendered = str(where("title", "=", value))
    assert parse_filter(rendered).clauses[0].value == value


@pytest.mark.parametrize(
    "filter_text, record, expected",
    [
        ("dateLastModified>'2026-11-01T00:00:00Z'", {"dateLastModified": "2026-11-01T00:00:00.001Z"}, True),
        ("dateLastModified>'2026-11-01T00:00:00Z'", {"dateLastModified": "2026-11-01T00:00:00.000Z"}, False),
        ("dateLastModified>'2026-11-01T00:00:00.000Z'", {"dateLastModified": "2026-11-01T01:00:00+01:00"}, False),
        ("role='teacher'", {"role": "Teacher"}, True),
        ("role='teacher'", {"role": "student"}, False),
        ("role='teacher'", {"name": "x"}, None),  # cannot tell
        ("status!='tobedeleted'", {"status": "active"}, True),
        ("familyName~'bri'", {"familyName": "O'Brien"}, True),
        ("grades='05'", {"grades": ["04", "05"]}, True),
        ("school.sourcedId='s1'", {"school": {"sourcedId": "s1", "type": "org"}}, True),
        ("orgs='s2'", {"orgs": [{"sourcedId": "s1"}, {"sourcedId": "s2"}]}, True),
        ("role='teacher' AND status='active'", {"role": "teacher", "status": "tobedeleted"}, False),
        ("role='teacher' OR status='active'", {"role": "student", "status": "active"}, True),
        ("enabledUser='true'", {"enabledUser": True}, True),
    ],
)
def test_local_re_check(filter_text, record, expected):
    assert parse_filter(filter_text).matches(record) is expected


@pytest.mark.parametrize(
    "sample, instant, rendered",
    [
        ("2026-07-04T12:00:00.000Z", datetime(2026, 11, 1, 8, 30, 15, 987654, tzinfo=UTC), "2026-11-01T08:30:15.987Z"),
        ("2026-07-04T12:00:04.35Z", datetime(2026, 11, 1, 8, 30, 15, 987654, tzinfo=UTC), "2026-11-01T08:30:15.98Z"),
        ("2026-07-04T12:00:04Z", datetime(2026, 11, 1, 8, 30, 15, 987654, tzinfo=UTC), "2026-11-01T08:30:15Z"),
        (
            "2026-07-04T12:00:04.123456+00:00",
            datetime(2026, 11, 1, 8, 30, 15, 987654, tzinfo=UTC),
            "2026-11-01T08:30:15.987654+00:00",
        ),
        (
            "2026-07-04T12:00:04",
            datetime(2026, 11, 1, 10, 30, 15, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-01T08:30:15",
        ),
    ],
)
def test_cursors_in_the_servers_precision_truncated(sample, instant, rendered):
    style = DateStyle.of(sample)
    assert style.format(instant) == rendered
    assert str(changed_since(instant, style)) == f"dateLastModified>'{rendered}'"


def test_unknown_date_style_defaults_to_seconds_and_z():
    assert DateStyle.of("not a date") is None
    assert DateStyle().format(datetime(2026, 1, 2, 3, 4, 5, 600000)) == "2026-01-02T03:04:05Z"
