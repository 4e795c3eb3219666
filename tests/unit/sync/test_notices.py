"""A run's notices (sync/notices.py): apart from errors, and the prominent one when terms are over."""

from rostersync.sync.notices import (
    INFO,
    WARNING,
    Notices,
    date_in_words,
    end_of_run,
    last_ended_term,
    no_current_term,
    no_current_term_health,
    school_year_ended,
)
from rostersync.sync.run_state import RunPlan, RunState
from rostersync.sync.skip_counts import SkipCounts, SkipReason
from rostersync.sync.term_state import TermState


def test_every_class_over_says_so_with_the_date_in_words():
    notice = no_current_term(listed_classes=6, ended_classes=6, last_end="2025-06-10", active_classes=0)
    assert notice is not None and notice.severity == WARNING
    assert notice.message == (
        "The SIS lists 6 classes; all belong to terms that ended on 10 June 2025. "
        "Nothing will sync until the SIS's new school year is set up."
    )
    assert notice.to_json()["counts"] == {"listed": 6, "termEnded": 6, "active": 0}


def test_more_than_half_over_warns_and_half_or_less_does_not():
    most = no_current_term(listed_classes=10, ended_classes=6, last_end="2025-06-10", active_classes=4)
    assert most is not None
    assert most.message.startswith(
        "The SIS lists 10 classes; 6 belong to terms that ended (the latest on 10 June 2025)"
    )
    assert no_current_term(listed_classes=10, ended_classes=5, last_end="2025-06-10", active_classes=5) is None
    # No active class left, though fewer than half ended (the rest filtered out): still said.
    none_left = no_current_term(listed_classes=10, ended_classes=2, last_end=None, active_classes=0)
    assert none_left is not None and none_left.message == (
        "The SIS lists 10 classes; 2 belong to terms that ended; the other 8 are left out for other reasons "
        "(the counts say why). Nothing will sync until the SIS's new school year is set up."
    )
    assert no_current_term(listed_classes=0, ended_classes=0, last_end=None, active_classes=0) is None
    assert no_current_term(listed_classes=4, ended_classes=0, last_end=None, active_classes=0) is None


def test_informational_notices_and_the_bound():
    notice = school_year_ended({"classes": 3, "enrollments": 40, "students": 0})
    assert notice is not None and notice.severity == INFO
    assert notice.counts == {"classes": 3, "enrollments": 40}
    assert school_year_ended({"classes": 0}) is None
    notices = Notices()
    for _ in range(500):
        notices.add(notice)
    assert len(notices.items) == 100 and notices.codes()[0] == "school_year_ended"


def test_dates_and_health_text():
    assert date_in_words("2025-06-10") == "10 June 2025"
    assert last_ended_term(
        {"a": [None, None, None, "2025-06-10"], "b": [None, None, None, "2026-06-10"]}, "2026-01-01"
    ) == ("2025-06-10")
    assert last_ended_term({"a": [None, None, None, None]}, "2026-01-01") is None
    assert no_current_term_health("2025-06-10") == "The SIS has no current term: its last term ended on 10 June 2025."


def _state(mode: str) -> RunState:
    plan = RunPlan(
        selection={"schools": None, "grades": None, "subjects": None},
        guard_max_share=0.2,
        guard_min_records=20,
        connection={},
    )
    state = RunState(mode=mode, plan=plan, started_at="2026-12-06T10:00:00+00:00")
    state.terms = TermState(today="2026-12-06", read=True, sessions={"t1": ["T", "term", "2024-09-01", "2025-06-10"]})
    return state


def test_a_run_ends_with_the_notice_only_when_full_and_terms_are_over():
    state = _state("full")
    SkipCounts(state.counts).count("classes", SkipReason.TERM_ENDED, 6)
    notice = end_of_run(state)
    assert notice is not None and "ended on 10 June 2025" in notice.message
    state.counts["classes"]["unchanged"] = 20  # most classes current: nothing to say
    assert end_of_run(state) is None
    delta = _state("delta")
    SkipCounts(delta.counts).count("classes", SkipReason.TERM_ENDED, 6)
    assert end_of_run(delta) is None


def test_the_run_record_keeps_a_notice_said_again_once():
    from rostersync.store.sync_runs import MAX_STORED_NOTICES, bounded_notices

    first = school_year_ended({"classes": 3}).to_json()
    other = no_current_term(6, 6, "2025-06-10", 0).to_json()
    assert bounded_notices([first], [first, other]) == [first, other]
    many = [dict(first, sisSourcedId=str(n)) for n in range(MAX_STORED_NOTICES + 5)]
    assert len(bounded_notices(None, many)) == MAX_STORED_NOTICES
