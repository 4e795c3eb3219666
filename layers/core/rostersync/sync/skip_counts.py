"""Why a sync left a record out: the run's `counts[type].skipped` and `counts[type].skippedBy`.

Every record a source lists is either in (created, updated or unchanged) or skipped, and each
skip has one reason, so a run's counts add up per type: listed = in + skipped (`listed`). The
counts live in the run state's `counts` map (sync/run_state.py), saved with every checkpoint,
so a resumed run goes on counting where it stopped. Call sites count each record once, after
the run's first sight of it (a resumed read's overlap is never counted twice).

The reasons (README, "What a run's counts say"):
- filter: outside the selected schools, grades or subjects (or an enrollment in such a class);
- term_ended: every term of its class is over (a class, its enrollments, their only-such users);
- role: a user or enrollment whose role is not synced (administrator, aide, guardian, ...);
- inactive: the SIS marks it tobedeleted (or an enrollment's user is not active);
- no_enrollment: an eligible user with no enrollment that counts in a class that is in;
- unknown_reference: it points at a school, class or user the SIS does not list;
- duplicate: the SIS sent its sourcedId more than once (the first record was used);
- invalid: the SIS sent a record that cannot be stored (missing fields, bad values);
- invalid_reference: it depends on a record this run could not use (a class of a refused school,
  an enrollment of a refused class or user): its stored copy is kept as it is;
- class_left_out / user_left_out: an enrollment whose class (outside the selection, inactive,
  refused) or whose user (not active, or of a role not synced) is left out.
"""

from __future__ import annotations

from enum import StrEnum

from rostersync.store.sync_runs import RECORD_TYPES
from rostersync.sync.selection import ROSTER_ROLES

SKIPPED = "skipped"
SKIPPED_BY = "skippedBy"
IN_KINDS = ("created", "updated", "unchanged")


class SkipReason(StrEnum):
    FILTER = "filter"
    TERM_ENDED = "term_ended"
    ROLE = "role"
    INACTIVE = "inactive"
    NO_ENROLLMENT = "no_enrollment"
    UNKNOWN_REFERENCE = "unknown_reference"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    INVALID_REFERENCE = "invalid_reference"
    CLASS_LEFT_OUT = "class_left_out"
    USER_LEFT_OUT = "user_left_out"


# A record error's code -> why the record is left out (anything else is an invalid record).
_REASON_OF_ERROR = {
    "unknown_class": SkipReason.UNKNOWN_REFERENCE,
    "unknown_user": SkipReason.UNKNOWN_REFERENCE,
    "unknown_school": SkipReason.UNKNOWN_REFERENCE,
    "duplicate_sourced_id": SkipReason.DUPLICATE,
}


def reason_of_error(code: str) -> SkipReason:
    return _REASON_OF_ERROR.get(code, SkipReason.INVALID)


class SkipCounts:
    """Counts skips into a run's counts map ({type: {created, ..., skipped, skippedBy}}), in place."""

    def __init__(self, counts: dict):
        self.counts = counts

    def count(self, record_type: str, reason: SkipReason | str, n: int = 1) -> None:
        if n <= 0:
            return
        counts = self.counts[record_type]
        counts[SKIPPED] = counts.get(SKIPPED, 0) + n
        by = counts.setdefault(SKIPPED_BY, {})
        by[str(reason)] = by.get(str(reason), 0) + n

    def by_reason(self, record_type: str) -> dict[str, int]:
        return dict(self.counts.get(record_type, {}).get(SKIPPED_BY) or {})


def listed(type_counts: dict) -> int:
    """How many records of a type the source listed (and this run looked at): in + skipped."""
    return sum(int(type_counts.get(kind, 0) or 0) for kind in IN_KINDS) + int(type_counts.get(SKIPPED, 0) or 0)


def normalised_skipped_by(type_counts: dict | None) -> dict[str, int]:
    """{reason: n} with positive ints only (what the API, events and the store keep)."""
    by = (type_counts or {}).get(SKIPPED_BY) or {}
    if hasattr(by, "as_dict"):
        by = by.as_dict()
    return {str(reason): int(n) for reason, n in sorted(by.items()) if int(n or 0) > 0}


def skipped_adds_up(counts: dict) -> list[str]:
    """The record types whose skippedBy does not add up to skipped (empty: consistent)."""
    wrong = []
    for record_type in RECORD_TYPES:
        type_counts = counts.get(record_type) or {}
        if sum(normalised_skipped_by(type_counts).values()) != int(type_counts.get(SKIPPED, 0) or 0):
            wrong.append(record_type)
    return wrong


def enrollment_left_out(sets: dict, class_fp: int, class_in: bool) -> SkipReason:
    """Why a counting enrollment whose class or user is out is left out (the run's fingerprint sets)."""
    if class_in:
        return SkipReason.USER_LEFT_OUT
    ended = sets["classes_ended"]
    if ended and ended.contains_fingerprint(class_fp):
        return SkipReason.TERM_ENDED
    return SkipReason.CLASS_LEFT_OUT


def user_left_out(sets: dict, user_fp: int) -> SkipReason:
    """Why an eligible user is not written: no counting enrollment in a class that is in, or only
    enrollments in classes whose terms are over."""
    ended = sets["users_term_ended"]
    if ended and ended.contains_fingerprint(user_fp):
        return SkipReason.TERM_ENDED
    return SkipReason.NO_ENROLLMENT


def delta_enrollment_reason(enrollment, class_in: bool, user_eligible: bool) -> SkipReason:
    """Why a changed enrollment a delta read is left out (a delta that finds terms over continues
    as a full sync, so term_ended is a full run's reason)."""
    if enrollment.status != "active":
        return SkipReason.INACTIVE
    if enrollment.role not in ROSTER_ROLES:
        return SkipReason.ROLE
    return SkipReason.CLASS_LEFT_OUT if not class_in else SkipReason.USER_LEFT_OUT


def enrollment_reason(enrollment) -> SkipReason:
    """Why an enrollment that does not count is left out: its status, else its role."""
    return SkipReason.ROLE if enrollment.status == "active" else SkipReason.INACTIVE
