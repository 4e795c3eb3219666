"""A run's notices: what a person should know about a run that is not an error.

Notices sit apart from `errors` (records that really failed) and never raise `errorTotal`: a
healthy rollover or a re-key is news, not a failure. Each is {code, severity, message, counts}
(and `type`, `sisSourcedId` where it is about one record). `warning` notices are the ones the
console shows prominently (a run that leaves the district with no current classes).

Codes (docs/design.md, "Notices"):
- no_current_term (warning): most or all of the SIS's classes belong to terms that are over;
- school_year_ended: a sweep ended records because their terms are over;
- terms_unavailable: the SIS lists no academic sessions (nothing is ended by date);
- rekeyed: records changed their SIS ids and kept their ids in the app;
- match_conflict: an SIS record that could not be linked to the app's own record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from rostersync.store.sync_runs import MAX_STORED_NOTICES

MAX_MESSAGE_CHARS = 1000

INFO = "info"
WARNING = "warning"


class NoticeCode(StrEnum):
    NO_CURRENT_TERM = "no_current_term"
    SCHOOL_YEAR_ENDED = "school_year_ended"
    TERMS_UNAVAILABLE = "terms_unavailable"
    REKEYED = "rekeyed"
    MATCH_CONFLICT = "match_conflict"


WARNING_CODES = frozenset({NoticeCode.NO_CURRENT_TERM})


@dataclass
class Notice:
    code: str
    message: str
    counts: dict[str, int] = field(default_factory=dict)
    type: str | None = None
    sis_sourced_id: str | None = None

    @property
    def severity(self) -> str:
        return WARNING if self.code in WARNING_CODES else INFO

    def to_json(self) -> dict:
        return {
            "code": str(self.code),
            "severity": self.severity,
            "message": self.message[:MAX_MESSAGE_CHARS],
            "counts": {k: int(v) for k, v in self.counts.items()},
            "type": self.type,
            "sisSourcedId": self.sis_sourced_id[:255] if self.sis_sourced_id else None,
        }


class Notices:
    """The notices one invocation of a run adds (the run record keeps the first MAX_STORED_NOTICES)."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, notice: Notice) -> None:
        if len(self.items) < MAX_STORED_NOTICES:
            self.items.append(notice.to_json())

    def add_if(self, notice: Notice | None) -> None:
        if notice is not None:
            self.add(notice)

    def codes(self) -> list[str]:
        return [n["code"] for n in self.items]


# ---------------------------------------------------------------- messages


def date_in_words(iso_day: str) -> str:
    """2025-06-10 -> 10 June 2025 (unambiguous wherever the admin is)."""
    day = date.fromisoformat(iso_day)
    return f"{day.day} {day:%B} {day.year}"


def no_current_term(
    listed_classes: int, ended_classes: int, last_end: str | None, active_classes: int, before_sync: bool = False
) -> Notice | None:
    """The prominent notice: the run leaves the district with no active class because terms are
    over, or leaves out more than half of the classes the SIS lists because their terms are over.
    None when neither is so."""
    if listed_classes <= 0 or ended_classes <= 0:
        return None
    if not (ended_classes * 2 > listed_classes or active_classes == 0):
        return None
    counts = {"listed": listed_classes, "termEnded": ended_classes, "active": active_classes}
    noun = "class" if listed_classes == 1 else "classes"
    if ended_classes >= listed_classes:
        which = "it belongs" if listed_classes == 1 else "all belong"
        ended = f"{which} to terms that ended{_on(last_end)}"
    else:
        others = listed_classes - ended_classes
        ended = f"{ended_classes:,} belong to terms that ended{_on(last_end, latest=True)}"
        if active_classes == 0:
            verb = "is" if others == 1 else "are"
            ended += f"; the other {others:,} {verb} left out for other reasons (the counts say why)"
        else:
            ended += " and will not sync" if before_sync else " and were left out"
    advice = (
        "Nothing will sync until the SIS's new school year is set up."
        if active_classes == 0
        else "Check that the SIS's new school year is set up."
    )
    message = f"The SIS lists {listed_classes:,} {noun}; {ended}. {advice}"
    return Notice(NoticeCode.NO_CURRENT_TERM, message, counts, type="classes")


def _on(last_end: str | None, latest: bool = False) -> str:
    if not last_end:
        return ""
    return f" (the latest on {date_in_words(last_end)})" if latest else f" on {date_in_words(last_end)}"


def school_year_ended(ended: dict[str, int]) -> Notice | None:
    """A sweep that ends records because their terms are over."""
    counts = {t: int(n) for t, n in sorted(ended.items()) if n}
    if not counts:
        return None
    listed = ", ".join(f"{n:,} {t}" for t, n in counts.items())
    return Notice(
        NoticeCode.SCHOOL_YEAR_ENDED,
        f"Ending {listed}: every term of these classes is over (the SIS's calendar), so they, their "
        "enrollments and the people left without a class go inactive (held records say term_ended). "
        "The deactivation guard does not count them as losses.",
        counts,
        type="classes",
    )


def terms_unavailable() -> Notice:
    return Notice(
        NoticeCode.TERMS_UNAVAILABLE,
        "The SIS listed no academic sessions (/academicSessions, /terms): classes keep their term ids, "
        "no class is ended by date and stored terms are kept.",
        type="terms",
    )


def no_current_term_health(last_end: str | None) -> str:
    """What the connection's health says when every term the SIS lists is over."""
    if last_end:
        return f"The SIS has no current term: its last term ended on {date_in_words(last_end)}."
    return "The SIS has no current term."


def last_ended_term(sessions: dict[str, list], today: str) -> str | None:
    """The latest end date (YYYY-MM-DD) of the sessions that are over by `today`, if any."""
    from rostersync.sync.term_state import END

    ended = [s[END] for s in sessions.values() if s[END] and s[END] < today]
    return max(ended) if ended else None


def end_of_run(state) -> Notice | None:
    """The notice a full (or preview) run ends with when terms that are over left out most of the
    SIS's classes, or all that would be active (a run state: sync/run_state.py)."""
    if state.mode == "delta" or state.approved:
        return None  # a delta reads only changes; an approval finishes a run that already said so
    classes = state.counts["classes"]
    ended = int((classes.get("skippedBy") or {}).get("term_ended", 0))
    listed = sum(int(classes.get(k, 0)) for k in ("created", "updated", "unchanged", "skipped"))
    active = sum(int(classes.get(k, 0)) for k in ("created", "updated", "unchanged"))
    terms = state.terms
    last_end = last_ended_term(terms.sessions, terms.today) if terms is not None and terms.read else None
    return no_current_term(listed, ended, last_end, active)


def class_terms_message(current: int, ended: int, last_end: str | None) -> str | None:
    """Step 4 and the preview, before saving: said when more than half of the SIS's active classes
    (or all) are in terms that are over."""
    notice = no_current_term(current + ended, ended, last_end, current, before_sync=True)
    return None if notice is None else notice.message
