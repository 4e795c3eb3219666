"""The OneRoster 1.1 adapter of the source-reader port (sources/oneroster_rest.py), over a scripted
client: pages keep their records and offsets, a resumed stream starts where asked, the change
filter is the client's own, off-filter records are counted per page, and sessions fall back to
/terms on a server without /academicSessions."""

from datetime import UTC, datetime

import pytest

from rostersync.oneroster.errors import NotOneRoster, ServerError
from rostersync.oneroster.paging import Page
from rostersync.oneroster.records import BadRecord, Class, User
from rostersync.sources import Collection, OneRosterRestReader, SourcePage, SourceReader


def _user(sid: str) -> User:
    return User(sid, "active", None, "student", None, None, None, None, None, None, None, ("sch",), (), ())


def _class(sid: str) -> Class:
    return Class(sid, "active", None, "T", None, None, None, "sch", (), (), (), (), ())


class ScriptedStream:
    def __init__(self, pages, mismatches_after_page, error=None):
        self._pages, self._mismatches, self._error = pages, mismatches_after_page, error
        self.filter_mismatches = 0

    def pages(self):
        if self._error is not None:
            raise self._error
        for page, mismatches in zip(self._pages, self._mismatches, strict=True):
            self.filter_mismatches = mismatches
            yield page


class ScriptedClient:
    def __init__(self, collections=None, errors=None, records=None):
        self.collections, self.errors, self.records = collections or {}, errors or {}, records or {}
        self.asked: list[tuple] = []
        self.time_left = None
        self.closed = False

    def stream(self, collection, filter=None, start_offset=0):
        self.asked.append((collection, filter, start_offset))
        pages, mismatches = self.collections.get(collection, ([], []))
        return ScriptedStream(pages, mismatches, self.errors.get(collection))

    def changed_since(self, instant, collection="users"):
        return f"dateLastModified>'{instant:%Y-%m-%d}' on {collection}"

    def get(self, collection, sourced_id):
        return self.records.get((collection, sourced_id))

    def set_time_left(self, time_left):
        self.time_left = time_left

    def close(self):
        self.closed = True


def test_the_adapter_is_a_source_reader():
    assert isinstance(OneRosterRestReader(ScriptedClient()), SourceReader)


def test_pages_keep_their_records_and_offsets_and_a_resumed_read_starts_where_asked():
    users = [Page([_user("u1"), _user("u2")], 200, None), Page([_user("u3")], 202, None)]
    client = ScriptedClient({"users": (users, [0, 0])})
    pages = list(OneRosterRestReader(client).users(start=200))
    assert [p.offset for p in pages] == [200, 202]
    assert [[r.sourced_id for r in p.records] for p in pages] == [["u1", "u2"], ["u3"]]
    assert all(isinstance(p, SourcePage) and p.off_filter == 0 for p in pages)
    assert client.asked == [("users", None, 200)]


def test_changed_since_reads_with_the_clients_filter_and_counts_off_filter_records_per_page():
    classes = [Page([_class("c1")], 0, None), Page([_class("c2")], 1, None), Page([_class("c3")], 2, None)]
    client = ScriptedClient({"classes": (classes, [0, 2, 2])})  # the stream's running count
    since = datetime(2026, 12, 1, tzinfo=UTC)
    pages = list(OneRosterRestReader(client).classes(changed_since=since))
    assert [p.off_filter for p in pages] == [0, 2, 0]
    assert client.asked == [("classes", "dateLastModified>'2026-12-01' on classes", 0)]


def test_nothing_is_read_until_a_stream_is_iterated():
    client = ScriptedClient()
    stream = OneRosterRestReader(client).enrollments(changed_since=datetime(2026, 1, 1, tzinfo=UTC))
    assert client.asked == []
    assert list(stream) == []
    assert client.asked[0][0] == "enrollments"


def test_sessions_come_from_terms_where_academic_sessions_is_not_offered():
    terms = [Page([], 0, None)]
    client = ScriptedClient(
        {"terms": (terms, [0])}, errors={"academicSessions": NotOneRoster("no such endpoint", endpoint="x")}
    )
    assert [p.offset for p in OneRosterRestReader(client).academic_sessions()] == [0]
    assert [a[0] for a in client.asked] == ["academicSessions", "terms"]


def test_sessions_offered_nowhere_raise_the_last_refusal_and_other_failures_are_not_a_fallback():
    refusal = NotOneRoster("no such endpoint", endpoint="x")
    client = ScriptedClient(errors={"academicSessions": refusal, "terms": refusal})
    with pytest.raises(NotOneRoster):
        list(OneRosterRestReader(client).academic_sessions())
    down = ScriptedClient(errors={"academicSessions": ServerError("502", endpoint="x")})
    with pytest.raises(ServerError):
        list(OneRosterRestReader(down).academic_sessions())
    assert [a[0] for a in down.asked] == ["academicSessions"]


def test_single_records_are_typed_and_the_client_is_the_readers_to_close():
    bad = BadRecord("users", "u9", "invalid_record", "bad", "{}")
    client = ScriptedClient(
        records={("users", "u1"): _user("u1"), ("users", "u9"): bad, ("classes", "c1"): _class("c1")}
    )
    reader = OneRosterRestReader(client)
    assert reader.user("u1") == _user("u1")
    assert reader.user("u9") is bad
    assert reader.user("nobody") is None
    assert reader.class_("c1") == _class("c1")
    assert reader.user("c1") is None  # a record of another kind is not a user
    reader.set_time_left(lambda: 5.0)
    assert client.time_left() == 5.0
    reader.close()
    assert client.closed
    assert Collection.ACADEMIC_SESSIONS == "academicSessions"
