"""?limit= on every paged route: ASCII digits only, in range; anything else a 422, never a 500."""

import pytest

from rostersync.api.http_io import query_limit

PAGED = ["/users", "/classes", "/syncs"]
# Digits int() would accept but a limit must not: superscripts, Arabic-Indic, fullwidth, CJK.
NOT_LIMITS = ["²", "٣", "１０", "1²", "+5", "-1", " 5", "5 ", "1e2", "0", "201", "9" * 5000, "0x10", "五"]  # noqa: RUF001


@pytest.mark.parametrize("value", NOT_LIMITS)
def test_only_ascii_digits_in_range_are_a_limit(value):
    with pytest.raises(Exception) as raised:
        query_limit(value, 50, 200)
    assert getattr(raised.value, "status", None) == 422


@pytest.mark.parametrize("value, wanted", [(None, 50), ("", 50), ("1", 1), ("007", 7), ("200", 200)])
def test_a_limit_is_read(value, wanted):
    assert query_limit(value, 50, 200) == wanted


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000])
def test_every_paged_route_answers_422_for_a_non_ascii_limit(api, path, value):
    district = api.new_district()
    answer = api.call("GET", f"/districts/{district}{path}", query={"limit": value})
    assert answer.status == 422, answer.body
    assert answer.code == "invalid_request" and "limit" in answer.message


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "0"])
def test_the_district_list_reads_its_limit_with_the_same_parser(api, value):
    answer = api.call("GET", "/districts", query={"limit": value}, role="platform_admin")
    assert answer.status == 422, answer.body
    assert answer.code == "invalid_request" and "limit" in answer.message
