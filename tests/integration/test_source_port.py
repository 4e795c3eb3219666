"""The engine reads only through the source-reader port (sources/port.py): a source that is not
a OneRoster server, here the sandbox SIS's records held in memory and parsed as a CSV reader
would parse its files, syncs exactly the roster the oracle expects, resumes from its page
cursor, and, having no change cursor, turns a delta into a full sync."""

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from rostersync.oneroster.records import BadRecord, Class, User, parse_records
from rostersync.sources import SourcePage, SourceReader
from rostersync.sync.engine import Outcome, SyncRequest, SyncResult, run_sync
from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_sync_engine import assert_matches

PAGE = 37  # not a divisor of anything the sandbox holds: pages end mid-way through everything


class HeldRecords:
    """A SourceReader over parsed records held in memory; no change cursor."""

    has_change_cursor = False

    def __init__(self, data: dict):
        orgs = [o for o in data["orgs"] if o.get("type") == "school"]
        self.collections = {
            "schools": parse_records("schools", orgs),
            "courses": parse_records("courses", data["courses"]),
            "academicSessions": parse_records("academicSessions", data["academicSessions"]),
            "classes": parse_records("classes", data["classes"]),
            "users": parse_records("users", data["users"]),
            "enrollments": parse_records("enrollments", data["enrollments"]),
        }
        self.starts: list[tuple[str, int]] = []
        self.closed = 0

    def _pages(self, name: str, start: int) -> Iterator[SourcePage]:
        self.starts.append((name, start))
        records = self.collections[name]
        for offset in range(start, len(records), PAGE):
            yield SourcePage(records[offset : offset + PAGE], offset)

    def set_time_left(self, time_left: Callable[[], float] | None) -> None:
        pass

    def schools(self, *, start=0):
        return self._pages("schools", start)

    def courses(self, *, start=0):
        return self._pages("courses", start)

    def academic_sessions(self):
        return self._pages("academicSessions", 0)

    def classes(self, *, start=0, changed_since: datetime | None = None):
        assert changed_since is None  # never asked of a source without a change cursor
        return self._pages("classes", start)

    def users(self, *, start=0, changed_since: datetime | None = None):
        assert changed_since is None
        return self._pages("users", start)

    def enrollments(self, *, start=0, changed_since: datetime | None = None):
        assert changed_since is None
        return self._pages("enrollments", start)

    def _one(self, name: str, sourced_id: str):
        return next((r for r in self.collections[name] if r.sourced_id == sourced_id), None)

    def user(self, sourced_id: str) -> User | BadRecord | None:
        return self._one("users", sourced_id)

    def class_(self, sourced_id: str) -> Class | BadRecord | None:
        return self._one("classes", sourced_id)

    def close(self) -> None:
        self.closed += 1


def _sync(district: str, run_id: str, source: HeldRecords, mode: str = "full", time_left=lambda: 1e9) -> SyncResult:
    invocations = 0
    while True:
        invocations += 1
        result = run_sync(SyncRequest(district, run_id, mode=mode), time_left, source=source)
        if result.outcome != Outcome.CONTINUE:
            result.invocations = invocations
            return result


def test_a_source_that_is_not_oneroster_syncs_the_expected_roster_through_the_port(sandbox_sis, connected_district):
    raw = sandbox_sis.state()
    district = connected_district(sandbox_sis)
    source = HeldRecords(raw["data"])
    assert isinstance(source, SourceReader)
    stats_before = sandbox_sis.stats()
    result = _sync(district, "run_port_full", source)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert_matches(district, expected_roster(raw))
    assert sandbox_sis.stats() == stats_before  # the engine read nothing but the port
    assert source.closed == result.invocations  # the engine closes the reader it was handed


def test_a_sliced_run_resumes_each_collection_from_its_saved_page(sandbox_sis, connected_district):
    raw = sandbox_sis.state()
    district = connected_district(sandbox_sis)
    source = HeldRecords(raw["data"])
    clock = iter([1e9] * 3 + [0] * 10**6)  # each invocation gets three looks at the clock
    result = _sync(district, "run_port_sliced", source, time_left=lambda: next(clock, 0))
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.invocations > 3
    assert_matches(district, expected_roster(raw))
    resumed = [(name, start) for name, start in source.starts if start]
    assert resumed and all(start % PAGE == 0 for _name, start in resumed)  # one page early, on a page edge


def test_a_delta_from_a_source_without_a_change_cursor_continues_as_a_full_sync(
    sandbox_sis, connected_district, caplog
):
    caplog.set_level(logging.INFO, logger="rostersync.sync.engine")
    raw = sandbox_sis.state()
    district = connected_district(sandbox_sis)
    source = HeldRecords(raw["data"])
    assert _sync(district, "run_port_first", source).outcome == Outcome.SUCCEEDED
    result = _sync(district, "run_port_delta", source, mode="delta")
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert result.mode == "full"
    assert "continues as a full sync: the source cannot list only what changed" in caplog.text
    assert_matches(district, expected_roster(raw))
    assert sum(c["created"] + c["updated"] + c["deactivated"] for c in result.counts.values()) == 0
