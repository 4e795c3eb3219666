"""What a run learns about the SIS's academic sessions (part of RunState, saved with it).

Sessions are few (a district's calendar: tens to a few thousand), so the whole calendar the
SIS listed this run is kept here, read once in the `terms` phase, used by the classes phase
(which classes' terms have all ended; which schools use which session) and written in the
`write_terms` phase after every other read.
"""

from dataclasses import dataclass, field

# A session as kept: [title, type, startDate, endDate, parent sourcedId, schoolYear, status, dateLastModified]
TITLE, TYPE, START, END, PARENT, SCHOOL_YEAR, STATUS, MODIFIED = range(8)


@dataclass
class TermState:
    today: str  # the district's local date when the run started (YYYY-MM-DD): what "ended" is measured by
    read: bool = False  # the SIS's sessions were read completely this run
    sessions: dict[str, list] = field(default_factory=dict)  # sourcedId -> the session as kept
    links: dict[str, list[str]] = field(default_factory=dict)  # sourcedId -> app schoolIds of classes in
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0, "deactivated": 0, "skipped": 0}
    )
    # the SIS's active classes by their terms: {current, ended, lastEnded} (sync/class_terms.py)
    class_terms: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "today": self.today,
            "read": self.read,
            "sessions": self.sessions,
            "links": self.links,
            "counts": self.counts,
            "classTerms": self.class_terms,
        }

    @classmethod
    def from_json(cls, data: dict) -> "TermState":
        return cls(
            today=data["today"],
            read=data["read"],
            sessions=data["sessions"],
            links=data["links"],
            counts=data["counts"],
            class_terms=data.get("classTerms") or {},
        )
