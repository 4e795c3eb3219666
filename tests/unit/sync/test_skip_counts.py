"""Why a run left records out (sync/skip_counts.py): counted by reason into the run's counts."""

from types import SimpleNamespace

from rostersync.store.sync_runs import normalised_counts
from rostersync.sync.fingerprints import FingerprintSet, fingerprint
from rostersync.sync.run_state import empty_counts
from rostersync.sync.skip_counts import (
    SkipCounts,
    SkipReason,
    delta_enrollment_reason,
    enrollment_left_out,
    listed,
    reason_of_error,
    skipped_adds_up,
    user_left_out,
)


def test_each_skip_raises_skipped_and_its_reason():
    counts = empty_counts()
    skips = SkipCounts(counts)
    skips.count("classes", SkipReason.TERM_ENDED)
    skips.count("classes", SkipReason.TERM_ENDED, 4)
    skips.count("classes", SkipReason.FILTER)
    skips.count("classes", SkipReason.FILTER, 0)  # nothing to count: no key either
    counts["classes"]["created"] = 3
    assert counts["classes"]["skipped"] == 6
    assert skips.by_reason("classes") == {"term_ended": 5, "filter": 1}
    assert listed(counts["classes"]) == 9
    assert skipped_adds_up(counts) == []
    counts["teachers"]["skipped"] = 2  # skipped without a reason: the check says which type
    assert skipped_adds_up(counts) == ["teachers"]


def test_error_codes_name_their_reason():
    assert reason_of_error("unknown_class") == SkipReason.UNKNOWN_REFERENCE
    assert reason_of_error("unknown_school") == SkipReason.UNKNOWN_REFERENCE
    assert reason_of_error("duplicate_sourced_id") == SkipReason.DUPLICATE
    assert reason_of_error("missing_field") == SkipReason.INVALID


def test_an_enrollment_or_user_out_says_whether_terms_ended():
    ended_class, other_class, user = fingerprint("cls-old"), fingerprint("cls-x"), fingerprint("usr-1")
    sets = {"classes_ended": FingerprintSet(), "users_term_ended": FingerprintSet()}
    sets["classes_ended"].add_fingerprint(ended_class)
    assert enrollment_left_out(sets, ended_class, class_in=False) == SkipReason.TERM_ENDED
    assert enrollment_left_out(sets, other_class, class_in=False) == SkipReason.CLASS_LEFT_OUT
    assert enrollment_left_out(sets, other_class, class_in=True) == SkipReason.USER_LEFT_OUT
    assert user_left_out(sets, user) == SkipReason.NO_ENROLLMENT
    sets["users_term_ended"].add_fingerprint(user)
    assert user_left_out(sets, user) == SkipReason.TERM_ENDED


def test_a_delta_enrollment_out_by_status_role_class_or_user():
    def enrollment(status="active", role="student"):
        return SimpleNamespace(status=status, role=role)

    assert delta_enrollment_reason(enrollment(status="tobedeleted"), True, True) == SkipReason.INACTIVE
    assert delta_enrollment_reason(enrollment(role="guardian"), True, True) == SkipReason.ROLE
    assert delta_enrollment_reason(enrollment(), False, True) == SkipReason.CLASS_LEFT_OUT
    assert delta_enrollment_reason(enrollment(), True, False) == SkipReason.USER_LEFT_OUT


def test_the_stored_counts_keep_the_reasons():
    counts = empty_counts()
    SkipCounts(counts).count("students", SkipReason.NO_ENROLLMENT, 7)
    normalised = normalised_counts(counts)
    assert normalised["students"]["skipped"] == 7
    assert normalised["students"]["skippedBy"] == {"no_enrollment": 7}
    assert normalised["classes"]["skippedBy"] == {}


def test_an_enrollment_that_does_not_count_is_out_by_status_then_role():
    from rostersync.sync.skip_counts import enrollment_reason

    assert enrollment_reason(SimpleNamespace(status="tobedeleted", role="student")) == SkipReason.INACTIVE
    assert enrollment_reason(SimpleNamespace(status="active", role="guardian")) == SkipReason.ROLE
