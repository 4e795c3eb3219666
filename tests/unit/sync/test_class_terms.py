"""The SIS's classes by their terms (sync/class_terms.py): step 4 and the preview's numbers."""

from types import SimpleNamespace

from rostersync.sync.class_terms import ClassTerms, class_over, count, read_term_ends
from rostersync.sync.term_state import TermState

ENDS = {"fall": "2025-01-20", "spring": "2025-06-10", "next": "2027-06-10", "undated": None}
TODAY = "2026-12-06"


def test_a_class_is_over_when_every_term_is_known_dated_and_past():
    assert class_over(["fall", "spring"], ENDS, TODAY) == "2025-06-10"
    assert class_over(["spring", "next"], ENDS, TODAY) is None  # one still to come
    assert class_over(["spring", "undated"], ENDS, TODAY) is None  # an undated term never ends a class
    assert class_over(["spring", "unknown"], ENDS, TODAY) is None
    assert class_over([], ENDS, TODAY) is None
    assert class_over(["spring"], ENDS, "2025-06-10") is None  # its last day is still current


def test_counts_and_the_latest_end():
    outlook = ClassTerms()
    for term_ids in (["fall"], ["spring"], ["next"], []):
        outlook.add(term_ids, ENDS, TODAY)
    assert outlook.to_json() == {"current": 2, "ended": 2, "lastEnded": "2025-06-10"}
    assert ClassTerms.from_json(outlook.to_json()) == outlook


def test_the_engine_counts_against_the_runs_calendar_only_when_it_has_one():
    terms = TermState(today=TODAY, read=True, sessions={sid: [None, None, None, end] for sid, end in ENDS.items()})
    count(terms, SimpleNamespace(term_ids=("spring",)))
    count(terms, SimpleNamespace(term_ids=("next",)))
    assert terms.class_terms == {"current": 1, "ended": 1, "lastEnded": "2025-06-10"}
    assert TermState.from_json(terms.to_json()).class_terms == terms.class_terms  # saved with the checkpoint
    unread = TermState(today=TODAY)
    count(unread, SimpleNamespace(term_ids=("spring",)))
    assert unread.class_terms == {}


class FakeClient:
    def __init__(self, offered: dict):
        self.offered = offered

    def stream(self, collection):
        from rostersync.oneroster.errors import NotOneRoster

        if collection not in self.offered:
            raise NotOneRoster("not offered")
        return iter(self.offered[collection])


def test_the_calendar_is_read_from_terms_where_academic_sessions_are_not_offered():
    from datetime import date

    from rostersync.oneroster import AcademicSession

    session = AcademicSession.__new__(AcademicSession)
    object.__setattr__(session, "sourced_id", "spring")
    object.__setattr__(session, "end_date", date(2025, 6, 10))
    assert read_term_ends(FakeClient({"terms": [session]})) == {"spring": "2025-06-10"}
    assert read_term_ends(FakeClient({"academicSessions": []})) is None
    assert read_term_ends(FakeClient({})) is None
