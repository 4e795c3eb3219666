"""A sync run's persisted state: the one truth about a run between invocations.

Everything a run has accumulated lives here and is saved with the page it has reached
(sync/checkpoint.py); no phase keeps anything across a pause that is not in this object.
The run's plan (selection, guard, connection) is fixed when the run starts, so a change an
admin makes during a run takes effect on the next run, and an approval applies what was held
under the selection that produced it.

The checkpoint format is defined here once: `to_json` / `from_json` for the scalar and map
parts, and the fingerprint sets (`SETS`) saved beside them as binary parts.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rostersync.sis_access import plan_connection
from rostersync.store.districts import DEFAULT_GUARD_MAX_SHARE, DEFAULT_GUARD_MIN_RECORDS, ONEROSTER_CSV, is_csv
from rostersync.store.sync_runs import COUNT_KINDS, RECORD_TYPES
from rostersync.sync.fingerprints import FingerprintSet
from rostersync.sync.selection import Selection
from rostersync.sync.term_state import TermState

SETS = (
    "schools_all",
    "schools_in",
    "classes_all",
    "classes_in",
    "users_all",
    "users_eligible",
    "users_in",
    "enrollments_all",
    "enrollments_in",
    # "kind:sourcedId" of records the SIS listed but this run could not use (bad records, and
    # what depends on them): their stored copies are kept, never deactivated
    "kept",
    # classes whose terms are all over, and users whose counting enrollments were all in such
    # classes: their leaving is the school year's end, not a loss (sync/terms.py)
    "classes_ended",
    "users_term_ended",
    # issue 13 (sync/account_matching.py): sourcedIds stored under an app record's id, and the
    # ids of separate copies an admin's link replaced (the sweep deactivates them)
    "linked_users",
    "linked_classes",
    "linked_enrollments",
    "superseded",
    # users and classes re-keyed in this run (sync/rekeys.py): their enrollments are paired too
    "rekeyed_users",
    "rekeyed_classes",
    # the old items a re-key pairing pass has claimed so far (each is paired once; the pass
    # may pause and go on in a later invocation: sync/rekeys.py)
    "rekey_claimed",
    # SIS classes set aside until their teachers are known (matching by title: sync/class_titles.py)
    "classes_title_held",
)


class Mode(StrEnum):
    """What a run does (saved as its value: a checkpoint written before the enum loads as is)."""

    FULL = "full"  # reads everything, sweeps what it did not find
    DELTA = "delta"  # reads what changed since the last successful sync (sync/delta.py)
    PREVIEW = "preview"  # a full read that writes no roster item (sync/review.py)


class Phase(StrEnum):
    """Where a run is (saved as its value). Which phases a mode runs, and in what order, is
    sync/phases.py's; REVIEW is where a run waits for an admin, DONE is past the last phase."""

    SCHOOLS = "schools"
    COURSES = "courses"
    TERMS = "terms"
    CLASSES = "classes"
    PAIR_CLASSES = "pair_classes"
    USERS = "users"
    PAIR_USERS = "pair_users"
    ENROLLMENTS = "enrollments"
    CLASS_TITLES = "class_titles"
    WRITE_USERS = "write_users"
    WRITE_TERMS = "write_terms"
    SWEEP = "sweep"
    DELTA_CLASSES = "delta_classes"
    DELTA_USERS = "delta_users"
    DELTA_ENROLLMENTS = "delta_enrollments"
    DELTA_FINISH = "delta_finish"
    REVIEW = "review"
    DONE = "done"


Counts = dict[str, dict[str, int]]  # record type (RECORD_TYPES) -> kind (COUNT_KINDS) -> how many
Held = dict[str, int]  # record type -> deactivations held for an admin's approval


def empty_counts() -> Counts:
    return {t: dict.fromkeys(COUNT_KINDS, 0) for t in RECORD_TYPES}


@dataclass
class RunPlan:
    """What a run syncs, and from where, fixed at its start."""

    selection: dict  # {"schools", "grades", "subjects"}: each a list, or None for everything
    guard_max_share: float
    guard_min_records: int
    # REST: hostUrl, clientId, authMethod, tokenUrl, scope, version, secretVersion (never the secret);
    # CSV: {"kind": "oneroster_csv", "bundle": {bucket, prefix, bundleId, manifest}} (the latest staged bundle)
    connection: dict

    @classmethod
    def of_district(cls, district, secret_version: str | None) -> "RunPlan":
        config, connection = district.sync_config, district.connection
        share = getattr(config, "guard_max_share", None) if config else None
        least = getattr(config, "guard_min_records", None) if config else None
        return cls(
            selection={
                "schools": _list(config, "schools"),
                "grades": _list(config, "grades"),
                "subjects": _list(config, "subjects"),
            },
            guard_max_share=float(DEFAULT_GUARD_MAX_SHARE if share is None else share),
            guard_min_records=int(DEFAULT_GUARD_MIN_RECORDS if least is None else least),
            connection=csv_plan_connection(district)
            if is_csv(connection)
            else plan_connection(connection, secret_version),
        )

    def selection_rules(self) -> Selection:
        return Selection.from_lists(**self.selection)

    def to_json(self) -> dict:
        return {
            "selection": self.selection,
            "guardMaxShare": self.guard_max_share,
            "guardMinRecords": self.guard_min_records,
            "connection": self.connection,
        }

    @classmethod
    def from_json(cls, data: dict) -> "RunPlan":
        return cls(
            selection=data["selection"],
            guard_max_share=float(data["guardMaxShare"]),
            guard_min_records=int(data["guardMinRecords"]),
            connection=data["connection"],
        )


def csv_plan_connection(district) -> dict:
    """A CSV district's planned connection: its latest staged bundle (sync/csv_arrival.py), fixed
    for the run, so a bundle arriving meanwhile waits for the next run."""
    staged = district.csv_bundle or {}
    return {
        "kind": ONEROSTER_CSV,
        "bundle": {key: staged[key] for key in ("bucket", "prefix", "bundleId", "manifest")},
    }


def _list(config, name: str) -> list[str] | None:
    value = getattr(config, name, None) if config is not None else None
    return None if value is None else list(value)


@dataclass
class DeltaState:
    """What a delta run has learnt so far (sync/delta.py)."""

    since: str
    changed_classes: dict[str, bool] = field(default_factory=dict)  # sourcedId -> in
    changed_users: dict[str, bool] = field(default_factory=dict)  # sourcedId -> eligible
    out_enrollments: list[str] = field(default_factory=list)  # changed enrollments that no longer count
    enrolled_users: list[str] = field(default_factory=list)  # users with an enrollment written as counting
    recheck_users: list[str] = field(default_factory=list)  # users whose in/out may have changed

    def to_json(self) -> dict:
        return {
            "since": self.since,
            "changedClasses": self.changed_classes,
            "changedUsers": self.changed_users,
            "outEnrollments": self.out_enrollments,
            "enrolledUsers": self.enrolled_users,
            "recheckUsers": self.recheck_users,
        }

    @classmethod
    def from_json(cls, data: dict) -> "DeltaState":
        return cls(
            since=data["since"],
            changed_classes=data["changedClasses"],
            changed_users=data["changedUsers"],
            out_enrollments=data["outEnrollments"],
            enrolled_users=data["enrolledUsers"],
            recheck_users=data["recheckUsers"],
        )


@dataclass
class RunState:
    mode: Mode
    plan: RunPlan
    started_at: str  # ISO instant the run's first invocation began
    phase: Phase = Phase.SCHOOLS
    offset: int = 0  # records of the current collection handled (or parked chunks written)
    last_page_size: int = 0  # a resumed read starts this many records early
    position: dict | None = None  # where that early page starts, from a source that can seek (sources/port.py)
    cursor: str | None = None  # a pass over the run's records: the last recordKey done (sync/record_pass.py)
    counts: Counts = field(default_factory=empty_counts)
    error_total: int = 0
    school_map: dict[str, str] = field(default_factory=dict)  # SIS school -> app schoolId (selected ones)
    sis_schools: list[dict] = field(default_factory=list)  # every active SIS school: {sisSourcedId, name}
    matched_schools: list[str] = field(default_factory=list)
    app_matches: dict[str, str] = field(default_factory=dict)  # SIS school -> app school, as matched at the start
    course_subjects: dict[str, list[str]] = field(default_factory=dict)
    grades: list[str] = field(default_factory=list)  # what the SIS offers (refreshes the step-4 options)
    subjects: list[str] = field(default_factory=list)
    had_items: dict[str, bool] = field(default_factory=dict)  # table -> held items when the run began
    parked: list[list] = field(default_factory=list)  # parked-user chunks: [token, parts]
    approved: bool = False
    held: Held | None = None
    delta: DeltaState | None = None
    matching: dict = field(default_factory=dict)  # {"users", "classes"}: the district has app records to match
    terms: TermState | None = None  # the SIS's academic sessions this run (sync/terms.py)
    sets: dict[str, FingerprintSet] = field(default_factory=lambda: {name: FingerprintSet() for name in SETS})

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)

    def count(self, record_type: str, kind: str, n: int = 1) -> None:
        self.counts[record_type][kind] += n

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "plan": self.plan.to_json(),
            "startedAt": self.started_at,
            "phase": self.phase,
            "offset": self.offset,
            "lastPageSize": self.last_page_size,
            "position": self.position,
            "cursor": self.cursor,
            "counts": self.counts,
            "errorTotal": self.error_total,
            "schoolMap": self.school_map,
            "sisSchools": self.sis_schools,
            "matchedSchools": self.matched_schools,
            "appMatches": self.app_matches,
            "courseSubjects": self.course_subjects,
            "grades": self.grades,
            "subjects": self.subjects,
            "hadItems": self.had_items,
            "parked": self.parked,
            "approved": self.approved,
            "held": self.held,
            "delta": None if self.delta is None else self.delta.to_json(),
            "matching": self.matching,
            "terms": None if self.terms is None else self.terms.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict, sets: dict[str, FingerprintSet]) -> "RunState":
        return cls(
            mode=Mode(data["mode"]),
            plan=RunPlan.from_json(data["plan"]),
            started_at=data["startedAt"],
            phase=Phase(data["phase"]),
            offset=data["offset"],
            last_page_size=data["lastPageSize"],
            position=data.get("position"),
            cursor=data.get("cursor"),
            counts=data["counts"],
            error_total=data["errorTotal"],
            school_map=data["schoolMap"],
            sis_schools=data["sisSchools"],
            matched_schools=data["matchedSchools"],
            app_matches=data["appMatches"],
            course_subjects=data["courseSubjects"],
            grades=data["grades"],
            subjects=data["subjects"],
            had_items=data["hadItems"],
            parked=data["parked"],
            approved=data["approved"],
            held=data["held"],
            delta=None if data["delta"] is None else DeltaState.from_json(data["delta"]),
            terms=None if data.get("terms") is None else TermState.from_json(data["terms"]),
            matching=data.get("matching") or {},
            sets={name: sets.get(name) or FingerprintSet() for name in SETS},
        )
