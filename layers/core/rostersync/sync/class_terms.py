"""How many of the SIS's active classes are in a current or future term, and how many are over
(setup step 4 and the preview say it before the admin saves: a SIS whose year has ended syncs
no class). The rule is the sync's (sync/terms.py): a class is over when it names at least one
term, every one of them is known with an end date, and the last of those is before today.
Anything else (no terms, an unknown or undated term) counts as current, as the sync keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rostersync.oneroster import AcademicSession
from rostersync.oneroster.errors import InsufficientScope, NotOneRoster, RequestRejected

END = 3  # a session as kept in TermState.sessions: [title, type, start, end, ...] (sync/term_state.py)


def class_over(term_ids: list[str] | tuple[str, ...] | None, ends: dict[str, str | None], today: str) -> str | None:
    """The last end date of the class's terms when they are all over, else None."""
    if not term_ids:
        return None
    last = ""
    for sid in term_ids:
        end = ends.get(sid)
        if not end:
            return None
        last = max(last, end)
    return last if last < today else None


@dataclass
class ClassTerms:
    current: int = 0
    ended: int = 0
    last_ended: str | None = None  # the latest end date among the ended classes' terms

    def add(self, term_ids, ends: dict[str, str | None], today: str) -> None:
        over = class_over(term_ids, ends, today)
        if over is None:
            self.current += 1
            return
        self.ended += 1
        self.last_ended = max(self.last_ended or "", over)

    def to_json(self) -> dict:
        return {"current": self.current, "ended": self.ended, "lastEnded": self.last_ended}

    @classmethod
    def from_json(cls, data: dict | None) -> ClassTerms:
        data = data or {}
        return cls(int(data.get("current", 0)), int(data.get("ended", 0)), data.get("lastEnded"))


def count(terms, cls) -> None:
    """The engine's classes phase: one active SIS class, against the run's calendar (TermState,
    whose `class_terms` holds the counts). Nothing is counted when the run has no calendar."""
    if terms is None or not terms.read:
        return
    outlook = ClassTerms.from_json(terms.class_terms)
    outlook.add(cls.term_ids, _ends(terms), terms.today)
    terms.class_terms = outlook.to_json()


def _ends(terms) -> dict[str, str | None]:
    """sourcedId -> end date of the run's sessions (kept on the TermState while it lives)."""
    cache = getattr(terms, "_ends", None)
    if cache is None or len(cache) != len(terms.sessions):
        cache = {sid: session[END] for sid, session in terms.sessions.items()}
        terms._ends = cache
    return cache


SESSION_COLLECTIONS = ("academicSessions", "terms")  # the second where a server lacks the first (sync/terms.py)
NOT_OFFERED = (NotOneRoster, InsufficientScope, RequestRejected)


def read_term_ends(client) -> dict[str, str | None] | None:
    """sourcedId -> end date (YYYY-MM-DD) of every session the SIS lists; None when it lists none."""
    for collection in SESSION_COLLECTIONS:
        ends: dict[str, str | None] = {}
        try:
            for record in client.stream(collection):
                if isinstance(record, AcademicSession):
                    ends[record.sourced_id] = record.end_date.isoformat() if record.end_date else None
        except NOT_OFFERED:
            continue
        return ends or None
    return None


def source_term_ends(source) -> dict[str, str | None] | None:
    """read_term_ends through a source reader (sources/port.py): its sessions, None when it has none."""
    ends: dict[str, str | None] = {}
    try:
        for page in source.academic_sessions():
            for record in page.records:
                if isinstance(record, AcademicSession):
                    ends[record.sourced_id] = record.end_date.isoformat() if record.end_date else None
    except NOT_OFFERED:
        return None
    return ends or None
