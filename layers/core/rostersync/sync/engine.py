"""The sync engine: one district's SIS roster into the store, correct, bounded and resumable.

Phases, each a stream of SIS pages (see docs/design.md):
  schools -> courses -> classes -> users (parked) -> enrollments -> write users -> sweep
Each page is diffed against the store by deterministic keys (BatchGet) and only what changed
is written (BatchWrite, several requests in flight, overlapping the next page's fetch).
Nothing is deactivated until every phase has read the SIS completely; the sweep then sets
inactive whatever was not seen as in, unless that is more than the district's guard allows
(then the run stops as needs_review and approval applies it). Progress is checkpointed at
every phase boundary and whenever the invocation runs short of time.
"""

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from rostersync.ids import record_id
from rostersync.notify import announce
from rostersync.oneroster import BadRecord, ConnectionSettings, OneRosterClient
from rostersync.oneroster.errors import OneRosterError
from rostersync.settings import get_settings
from rostersync.store.batch import BatchStore
from rostersync.store.codec import from_item
from rostersync.store.districts import DistrictModel, SyncOptionsCollector
from rostersync.store.roster import ACTIVE, INACTIVE
from rostersync.store.runs import COUNT_KINDS, MAX_STORED_ERRORS, RECORD_TYPES
from rostersync.store.schools import SchoolModel
from rostersync.sync import mapping, validity
from rostersync.sync.checkpoint import CheckpointStore
from rostersync.sync.delta import DeltaNotEnough, DeltaPhases, delta_state
from rostersync.sync.fingerprints import FingerprintSet, fingerprint
from rostersync.sync.selection import Selection, class_is_in, enrollment_counts, is_active, user_is_eligible
from rostersync.sync.spill import UserSpill, spill_path

logger = logging.getLogger(__name__)

FULL_PHASES = ("schools", "courses", "classes", "users", "enrollments", "write_users", "sweep", "done")
# A delta reads only what changed since the last successful sync (see sync/delta.py).
DELTA_PHASES = ("schools", "courses", "delta_classes", "delta_users", "delta_enrollments", "delta_finish", "done")
CURSOR_OVERLAP = timedelta(minutes=10)  # clock skew between us and the SIS
SETS = ("schools_in", "classes_all", "classes_in", "users_all", "users_eligible", "users_in",
        "enrollments_all", "enrollments_in",
        # "kind:sourcedId" of records the SIS listed but this run could not use (bad records, and
        # what depends on them): their stored copies are kept, never deactivated by the sweep
        "kept")
GUARDED_TYPES = ("teachers", "students", "classes")
KEPT_KINDS = {"schools": "school", "classes": "class", "teachers": "user", "students": "user",
              "enrollments": "enrollment"}
SWEEP_MEMORY_ITEMS = 50_000  # leaving items held between the guard's count and the writes


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    NEEDS_REVIEW = "needs_review"
    CONTINUE = "continue"
    FAILED = "failed"


@dataclass(frozen=True)
class SyncRequest:
    district_id: str
    run_id: str
    mode: str = "full"  # full | delta (requested)
    approve: bool = False  # apply the deactivations a needs_review run held back


@dataclass
class SyncResult:
    outcome: Outcome
    mode: str
    counts: dict
    errors: list[dict] = field(default_factory=list)
    error_total: int = 0
    failure: str | None = None
    held_deactivations: dict | None = None


@dataclass
class Tuning:
    page_limit: int = 1000  # asked of the SIS; servers cap it silently
    sis_in_flight: int = 4
    store_in_flight: int = 4

    @classmethod
    def from_env(cls) -> "Tuning":
        env = os.environ
        return cls(
            page_limit=int(env.get("ROSTERSYNC_SIS_PAGE_LIMIT", 1000)),
            sis_in_flight=int(env.get("ROSTERSYNC_SIS_IN_FLIGHT", 4)),
            store_in_flight=int(env.get("ROSTERSYNC_STORE_IN_FLIGHT", 4)),
        )


def empty_counts() -> dict:
    return {t: {k: 0 for k in COUNT_KINDS} for t in RECORD_TYPES}


def choose_mode(district: DistrictModel, now: datetime, interval_checked: bool = True) -> str:
    """Delta when the last successful sync used the same selection and (for nightly runs) a
    full one ran recently enough: hard deletes only show in a full sync's diff."""
    config = district.sync_config
    if config is None or district.last_success_started_at is None or district.last_full_sync_at is None:
        return "full"
    if district.synced_selection_hash != Selection.from_config(config).fingerprint():
        return "full"
    every = timedelta(days=float(config.full_sync_every_days or 7))
    if interval_checked and now - district.last_full_sync_at >= every:
        return "full"
    return "delta"


class Paused(Exception):
    """Raised inside a phase when the invocation is out of time; the checkpoint is saved."""


class SyncInterrupted(RuntimeError):
    """The SIS failed in a way that may pass (unreachable, 5xx, bad bodies after retries).

    Raised out of run_sync so the queue message fails and SQS retries it later; the saved
    checkpoint lets the retry resume. After the queue's retries it lands in the dead-letter
    queue for on-call. The message names the endpoint and never the secret.
    """


# Failures no retry can fix: the district admin has to change the connection.
PERMANENT_SIS_ERRORS = ("invalid_credentials", "insufficient_scope", "not_oneroster", "invalid_host_url")


class SyncEngine(DeltaPhases):
    def __init__(self, request: SyncRequest, time_left: Callable[[], float],
                 on_progress: Callable[[dict], None] | None = None, tuning: Tuning | None = None,
                 client: OneRosterClient | None = None, store: BatchStore | None = None):
        self.request = request
        self.district_id = request.district_id
        self.run_id = request.run_id
        self.time_left = time_left
        self.on_progress = on_progress or (lambda counts: None)
        self.tuning = tuning or Tuning.from_env()
        self.settings = get_settings()
        self.store = store or BatchStore(max_in_flight=self.tuning.store_in_flight)
        self.checkpoints = CheckpointStore(self.store)
        self._client = client
        self.errors: list[dict] = []
        self.state: dict = {"mode": request.mode, "counts": empty_counts(), "errorTotal": 0}
        self.pages_this_invocation = 0
        self._overlap = False  # inside the page re-read when resuming
        self.now = datetime.now(timezone.utc)

    # ------------------------------------------------------------------ entry point
    def run(self) -> SyncResult:
        self.district = DistrictModel.get(self.district_id)
        self.selection = Selection.from_config(self.district.sync_config)
        checkpoint = self.checkpoints.load(self.district_id, self.run_id)
        if checkpoint:
            self._restore(checkpoint)
        else:
            self._fresh_state()
        if self.request.approve:
            if self.state["phase"] != "review":
                return self._result(Outcome.FAILED, failure="This run holds no deactivations to approve.")
            newer = self.district.last_success_started_at
            if newer is not None and newer > datetime.fromisoformat(self.state["startedAt"]):
                return self._result(Outcome.FAILED, failure="A newer sync has run since; run a new sync instead.")
            self.state["approved"] = True
            self.state["phase"] = "sweep" if self.state["mode"] == "full" else "delta_finish"
        elif self.state["phase"] == "review":
            return self._result(Outcome.NEEDS_REVIEW, held=self.state.get("held"))
        try:
            return self._run_phases()
        except Paused:
            return self._result(Outcome.CONTINUE)
        except OneRosterError as error:
            # A failed or partial read: nothing has been deactivated (deactivation comes last).
            announce.sis_check(self.district_id, error, run_id=self.run_id)  # the connection's health (never raises)
            self.store.flush()
            if error.code in PERMANENT_SIS_ERRORS:
                self.checkpoints.delete(self.district_id, self.run_id)
                return self._result(Outcome.FAILED, failure=f"The SIS refused the sync: {error}")
            self._save_checkpoint_quietly()
            raise SyncInterrupted(f"The SIS could not be read completely: {error}") from None
        finally:
            if self._client is not None:
                self._client.close()

    def _run_phases(self) -> SyncResult:
        while self.state["phase"] != "done":
            try:
                outcome = getattr(self, f"_phase_{self.state['phase']}")()
            except DeltaNotEnough as reason:
                # Everything written so far is right; a full sync finishes the run exactly.
                logger.info("delta sync continues as a full sync: %s", reason)
                self.store.flush()
                self._fresh_state(mode="full", counts=self.state["counts"], error_total=self.state["errorTotal"])
                self._save_checkpoint()
                continue
            if outcome is not None:
                return outcome
            self.store.flush()
            phases = DELTA_PHASES if self.state["mode"] == "delta" else FULL_PHASES
            self.state["phase"] = phases[phases.index(self.state["phase"]) + 1]
            self.state["offset"] = 0
            if self.state["phase"] != "done":
                self._save_checkpoint()
        self._finish_district()
        self.checkpoints.delete(self.district_id, self.run_id)
        self._spill(create=False, remove=True)
        return self._result(Outcome.SUCCEEDED)

    # ------------------------------------------------------------------ state
    def _fresh_state(self, mode: str | None = None, counts: dict | None = None, error_total: int = 0) -> None:
        mode = mode or self._effective_mode()
        self.state = {
            "phase": "schools", "offset": 0, "mode": mode, "startedAt": self.now.isoformat(),
            "counts": counts or empty_counts(), "errorTotal": error_total, "schoolMap": {}, "courseSubjects": {},
            "grades": [], "subjects": [], "sisSchools": [], "approved": False,
            # Tables that held nothing for this district when the run began need no diff
            # reads and no sweep: a first sync only writes.
            "hadItems": {table: self._district_has_items(table) for table in self._roster_tables()},
        }
        if mode == "delta":
            since = self.district.last_success_started_at - CURSOR_OVERLAP
            self.state.update(delta_state(since))
        self.sets = {name: FingerprintSet() for name in SETS}

    def _effective_mode(self) -> str:
        """A delta only where one can be exact; otherwise full (see choose_mode)."""
        if self.request.mode == "delta" and choose_mode(self.district, self.now, interval_checked=False) == "delta":
            return "delta"
        return "full"

    def _roster_tables(self) -> tuple[str, ...]:
        st = self.settings
        return (st.schools_table, st.classes_table, st.users_table, st.enrollments_table)

    def _district_has_items(self, table: str) -> bool:
        response = self.store.client.query(
            TableName=table, KeyConditionExpression="districtId = :d",
            ExpressionAttributeValues={":d": {"S": self.district_id}}, Limit=1, ProjectionExpression="districtId")
        return bool(response["Items"])

    def _restore(self, checkpoint) -> None:
        self.state = checkpoint.state
        self.sets = {name: FingerprintSet.from_bytes(checkpoint.blobs[name]) if name in checkpoint.blobs
                     else FingerprintSet() for name in SETS}

    def _save_checkpoint(self) -> None:
        self.store.flush()  # what the checkpoint says is written must be written
        self.checkpoints.save(self.district_id, self.run_id, self.state,
                              {name: s.to_bytes() for name, s in self.sets.items()})

    def _save_checkpoint_quietly(self) -> None:
        try:
            self._save_checkpoint()
        except Exception:  # the run is failing anyway; the previous checkpoint stays valid
            logger.exception("could not save the checkpoint of a failing run")

    def _result(self, outcome: Outcome, failure: str | None = None, held: dict | None = None) -> SyncResult:
        return SyncResult(outcome=outcome, mode=self.state["mode"], counts=self.state["counts"], errors=self.errors,
                          error_total=self.state["errorTotal"], failure=failure, held_deactivations=held)

    def _count(self, record_type: str, kind: str, n: int = 1) -> None:
        self.state["counts"][record_type][kind] += n

    def _error(self, record_type: str, sourced_id: str | None, code: str, message: str) -> None:
        self.state["errorTotal"] += 1
        self._count(record_type, "skipped")
        if len(self.errors) < MAX_STORED_ERRORS:
            if sourced_id is not None:  # shown to people: bounded, and always encodable text
                sourced_id = sourced_id[:validity.MAX_ID_CHARS].encode("utf-8", "replace").decode("utf-8")
            self.errors.append({"type": record_type, "sisSourcedId": sourced_id, "code": code, "message": message[:500]})

    # ------------------------------------------------------------------ records kept as stored
    def _keep(self, kind: str, sourced_id: str | None) -> None:
        if sourced_id and validity.record_id_ok(sourced_id):
            self.sets["kept"].add(f"{kind}:{sourced_id}")

    def _kept(self, kind: str, sourced_id: str | None) -> bool:
        kept = self.sets["kept"]
        return bool(sourced_id) and bool(kept) and f"{kind}:{sourced_id}" in kept  # nearly always empty

    def _refuse(self, record_type: str, record, code: str, message: str) -> None:
        """Report a record the SIS listed but this run cannot use, and keep its stored copy (and,
        for an enrollment, its user's) as they are."""
        if not self._overlap:
            self._error(record_type, record.sourced_id, code, message)
        kind = KEPT_KINDS.get(record_type, record_type)
        self._keep(kind, record.sourced_id)
        if kind == "enrollment" and getattr(record, "user_id", None):
            self._keep("user", record.user_id)

    def _map(self, record_type: str, build: Callable, record, *args) -> dict | None:
        """mapping's item for `record`, or None when it cannot be stored (refused and kept)."""
        try:
            return build(self.district_id, record, *args)
        except validity.Refused as refused:
            self._refuse(record_type, record, refused.code, refused.message)
            return None

    # ------------------------------------------------------------------ SIS reading
    @property
    def client(self) -> OneRosterClient:
        if self._client is None:
            from rostersync.secrets import get_client_secret

            connection = self.district.connection
            settings = ConnectionSettings(host_url=connection.host_url, client_id=connection.client_id,
                                          auth_method=connection.auth_method, token_url=connection.token_url,
                                          scope=connection.scope)
            self._client = OneRosterClient(settings, get_client_secret(self.district_id),
                                           allow_private=self.settings.allow_private_sis_hosts,
                                           page_limit=self.tuning.page_limit, max_in_flight=self.tuning.sis_in_flight)
        return self._client

    def _pages(self, collection: str, record_type: str, filter: str | None = None):
        """The collection's pages from the saved offset on; bad records reported and dropped.

        A resumed read starts one page early: records deleted from the SIS meanwhile shift
        the rest down, and a record skipped here would be deactivated wrongly by the sweep.
        """
        saved = self.state["offset"]
        start = max(0, saved - self.state.get("lastPageSize", 0)) if saved else 0
        stream = self._stream = self.client.stream(collection, filter=filter, start_offset=start)
        for page in stream.pages():
            self._overlap = page.offset < saved  # records seen before are expected here
            if self.pages_this_invocation > 0 and self.time_left() <= 0:
                self.state["offset"] = page.offset
                self._save_checkpoint()
                raise Paused()
            good = []
            for record in page.records:
                if isinstance(record, BadRecord):
                    self._refuse(record_type, record, record.code, record.message)
                    continue
                problem = validity.record_problem(record)
                if problem is not None:
                    self._refuse(record_type, record, problem.code, problem.message)
                    continue
                good.append(record)
            yield good
            if not self._overlap:
                self.pages_this_invocation += 1
            self.state["offset"] = page.offset + len(page.records)
            self.state["lastPageSize"] = len(page.records)
            self._overlap = False
            self.on_progress(self.state["counts"])

    def _first_sight(self, set_name: str, record_type: str, record) -> bool:
        """False (and an error) for a sourcedId this collection already delivered in this run."""
        seen, fp = self.sets[set_name], fingerprint(record.sourced_id)
        if seen.contains_fingerprint(fp):
            if self._overlap:
                return False
            self._error(record_type, record.sourced_id, "duplicate_sourced_id",
                        "The SIS sent this sourcedId more than once; the first record was used.")
            return False
        seen.add_fingerprint(fp)
        return True

    # ------------------------------------------------------------------ diff and write
    def _apply(self, table: str, key_name: str, items: list[dict], type_of: Callable[[dict], str],
               on_reentry: Callable[[dict], None] | None = None) -> None:
        """Write the items that are new or changed; count each as created, updated or unchanged."""
        if not items:
            return
        stored_by_key = {}
        if self.state["hadItems"].get(table, True):
            stored = self.store.get_many(
                table, [{"districtId": self.district_id, key_name: item[key_name]} for item in items],
                projection=[key_name, "contentHash", "status"])
            stored_by_key = {s[key_name]: s for s in stored}
        for item in items:
            before = stored_by_key.get(item[key_name])
            record_type = type_of(item)
            if before is None:
                self._count(record_type, "created")
            elif before.get("contentHash") == item["contentHash"] and before.get("status") == ACTIVE:
                self._count(record_type, "unchanged")
                continue
            else:
                if on_reentry is not None and before.get("status") != ACTIVE:
                    on_reentry(item)
                self._count(record_type, "updated")
            self.store.put(table, item)

    # ------------------------------------------------------------------ phases
    def _phase_schools(self):
        existing = list(SchoolModel.query(self.district_id))
        matched = {s.sis_sourced_id: s.school_id for s in existing if s.origin == "app" and s.sis_sourced_id}
        school_map, sis_schools, items = {}, [], []
        for page in self._pages("schools", "schools"):
            for org in page:
                if org.type not in (None, "school") or not is_active(org):
                    continue
                sis_schools.append({"sisSourcedId": org.sourced_id, "name": org.name or org.sourced_id})
                if not self.selection.school_selected(org.sourced_id):
                    continue
                self.sets["schools_in"].add(org.sourced_id)
                if org.sourced_id in matched:
                    school_map[org.sourced_id] = matched[org.sourced_id]
                    self._count("schools", "unchanged")
                else:
                    item = self._map("schools", mapping.school_item, org, self.run_id, self.now, self.now)
                    if item is None:
                        continue
                    school_map[org.sourced_id] = item["schoolId"]
                    items.append(item)
        created_at = {s.school_id: s.created_at for s in existing}
        for item in items:  # keep a school's creation time across syncs
            item["createdAt"] = created_at.get(item["schoolId"], self.now)
        self._apply(self.settings.schools_table, "schoolId", items, lambda item: "schools")
        self.state["schoolMap"] = school_map
        self.state["sisSchools"] = sis_schools
        # SIS schools matched to an app school since a sync created one of their own: the
        # sync-created one goes (the sweep), the match carries the classes and users.
        self.state["matchedSchools"] = sorted(matched)

    def _phase_courses(self):
        subjects = self.state["courseSubjects"]
        offered_grades, offered_subjects = set(self.state["grades"]), set(self.state["subjects"])
        for page in self._pages("courses", "classes"):
            for course in page:
                if course.subjects:
                    subjects[course.sourced_id] = list(course.subjects)
                if is_active(course):  # the sync options offer what active courses carry too
                    offered_grades.update(course.grades)
                    offered_subjects.update(course.subjects)
        self.state["grades"], self.state["subjects"] = sorted(offered_grades), sorted(offered_subjects)

    def _phase_classes(self):
        grades, subjects = set(self.state["grades"]), set(self.state["subjects"])
        for page in self._pages("classes", "classes"):
            items = []
            for cls in page:
                if not self._first_sight("classes_all", "classes", cls):
                    continue
                course_subjects = tuple(self.state["courseSubjects"].get(cls.course_id or "", ()))
                class_subjects = cls.subjects or course_subjects
                if is_active(cls):
                    grades.update(cls.grades)
                    subjects.update(class_subjects)
                if not class_is_in(cls, course_subjects, self.selection):
                    continue
                school_id = self.state["schoolMap"].get(cls.school_id)
                if school_id is None and self._kept("school", cls.school_id):
                    self._keep("class", cls.sourced_id)  # its school could not be read this time
                    continue
                if school_id is None:
                    self._error("classes", cls.sourced_id, "unknown_school",
                                f"The class's school {cls.school_id!r} is not an active school of the SIS.")
                    continue
                item = self._map("classes", mapping.class_item, cls, school_id, class_subjects, self.run_id, self.now)
                if item is None:
                    continue
                self.sets["classes_in"].add(cls.sourced_id)
                items.append(item)
            self._apply(self.settings.classes_table, "classId", items, lambda item: "classes")
        self.state["grades"], self.state["subjects"] = sorted(grades), sorted(subjects)

    def _spill(self, create: bool = True, remove: bool = False) -> UserSpill | None:
        path = spill_path(self.district_id, self.run_id)
        if not create and not os.path.exists(path):
            return None
        spill = UserSpill(path)
        if remove:
            spill.close(remove=True)
            return None
        return spill

    def _phase_users(self):
        if self.state["offset"] > 0 and not os.path.exists(spill_path(self.district_id, self.run_id)):
            # Resumed on a fresh container: the users parked so far are gone; read them again.
            self.sets["users_all"], self.sets["users_eligible"] = FingerprintSet(), FingerprintSet()
            self.state["offset"] = 0
        spill = self._spill()
        if self.state["offset"] == 0:
            spill.clear()
        try:
            for page in self._pages("users", "students"):
                self._park_users(spill, page, count=True)
                spill._db.commit()
            spill.mark_complete()
        finally:
            spill.close()

    def _park_users(self, spill: UserSpill, page, count: bool) -> None:
        rows = []
        for user in page:
            record_type = "teachers" if user.role == "teacher" else "students"
            if count and not self._first_sight("users_all", record_type, user):
                continue
            if not user_is_eligible(user):
                continue
            school_ids = [self.state["schoolMap"][o] for o in user.org_ids if o in self.state["schoolMap"]]
            if count:
                item = self._map(record_type, mapping.user_item, user, school_ids, self.run_id, self.now)
            else:  # parked again on a fresh container: reported already
                try:
                    item = mapping.user_item(self.district_id, user, school_ids, self.run_id, self.now)
                except validity.Refused:
                    self._keep("user", user.sourced_id)
                    item = None
            if item is None:
                continue
            if count:
                self.sets["users_eligible"].add(user.sourced_id)
            del item["updatedAt"]  # stamped when written
            rows.append((fingerprint(user.sourced_id), item))
        spill.add_many(rows)

    def _ensure_spill(self) -> None:
        """A continuation on a fresh container has no parked users: read them again."""
        spill = self._spill()
        try:
            if spill.complete:
                return
            spill.clear()
            for page in self.client.stream("users").pages():
                self._park_users(spill, [r for r in page.records if not isinstance(r, BadRecord)
                                         and validity.record_problem(r) is None], count=False)
                spill._db.commit()
            spill.mark_complete()
        finally:
            spill.close()

    def _phase_enrollments(self):
        self._ensure_spill()
        classes_all, classes_in = self.sets["classes_all"], self.sets["classes_in"]
        users_all, users_eligible = self.sets["users_all"], self.sets["users_eligible"]
        for page in self._pages("enrollments", "enrollments"):
            items = []
            for enrollment in page:
                if not self._first_sight("enrollments_all", "enrollments", enrollment):
                    continue
                if not enrollment_counts(enrollment):
                    continue
                if self._kept("class", enrollment.class_id) or self._kept("user", enrollment.user_id):
                    # Its class or user could not be read this time: kept as stored, as they are.
                    self._keep("enrollment", enrollment.sourced_id)
                    self._keep("user", enrollment.user_id)
                    continue
                class_fp, user_fp = fingerprint(enrollment.class_id), fingerprint(enrollment.user_id)
                if not classes_all.contains_fingerprint(class_fp):
                    self._error("enrollments", enrollment.sourced_id, "unknown_class",
                                f"The enrollment points at class {enrollment.class_id!r}, which the SIS does not list.")
                    continue
                if not users_all.contains_fingerprint(user_fp):
                    self._error("enrollments", enrollment.sourced_id, "unknown_user",
                                f"The enrollment points at user {enrollment.user_id!r}, which the SIS does not list.")
                    continue
                if not classes_in.contains_fingerprint(class_fp) or not users_eligible.contains_fingerprint(user_fp):
                    continue
                item = self._map("enrollments", mapping.enrollment_item, enrollment, self.run_id, self.now)
                if item is None:
                    continue
                self.sets["enrollments_in"].add(enrollment.sourced_id)
                self.sets["users_in"].add_fingerprint(user_fp)
                items.append(item)
            self._apply(self.settings.enrollments_table, "enrollmentId", items, lambda item: "enrollments")

    def _phase_write_users(self):
        self._ensure_spill()
        spill = self._spill()
        users_in = self.sets["users_in"]
        try:
            for rows in spill.iterate():
                items = []
                for fp, item in rows:
                    if users_in.contains_fingerprint(fp):
                        item["updatedAt"] = self.now
                        items.append(item)
                self._apply(self.settings.users_table, "userId", items,
                            lambda item: "teachers" if item["role"] == "teacher" else "students")
                self.on_progress(self.state["counts"])
        finally:
            spill.close()

    # ------------------------------------------------------------------ sweep
    def _stored_active(self, table: str):
        """Every active item of the district in `table`, page by page (filtered here: moto's
        FilterExpression is slow, and DynamoDB reads the same items either way)."""
        paginator = self.store.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=table, KeyConditionExpression="districtId = :d",
            ExpressionAttributeValues={":d": {"S": self.district_id}},
        ):
            yield [item for item in map(from_item, page["Items"]) if item.get("status") == ACTIVE]

    def _sweep_plan(self):
        """(table, record type of an item, whether an active item goes) for each roster table."""
        s, kept = self.sets, self._kept
        matched = set(self.state.get("matchedSchools", ()))

        def enrollment_goes(i) -> bool:
            if kept("enrollment", i["sisSourcedId"]):
                self._keep("user", i["userSourcedId"])  # users are swept after enrollments
                return False
            return i["sisSourcedId"] not in s["enrollments_in"] or i["userSourcedId"] not in s["users_in"]

        plan = (
            (self.settings.classes_table, lambda i: "classes",
             lambda i: i["sisSourcedId"] not in s["classes_in"] and not kept("class", i["sisSourcedId"])),
            (self.settings.enrollments_table, lambda i: "enrollments", enrollment_goes),
            (self.settings.users_table, lambda i: "teachers" if i.get("role") == "teacher" else "students",
             lambda i: i["sisSourcedId"] not in s["users_in"] and not kept("user", i["sisSourcedId"])),
            (self.settings.schools_table, lambda i: "schools",
             lambda i: i.get("origin") == "sis" and not kept("school", i.get("sisSourcedId"))
             and (i.get("sisSourcedId") not in s["schools_in"] or i.get("sisSourcedId") in matched)),
        )
        return [step for step in plan if self.state["hadItems"].get(step[0], True)]

    def _phase_sweep(self):
        """Deactivate what the complete read did not find in; one pass unless very many leave."""
        active, leaving, held_items, overflow = {}, {}, [], False
        for table, type_of, goes in self._sweep_plan():
            for page in self._stored_active(table):
                for item in page:
                    record_type = type_of(item)
                    active[record_type] = active.get(record_type, 0) + 1
                    if goes(item):
                        leaving[record_type] = leaving.get(record_type, 0) + 1
                        if len(held_items) < SWEEP_MEMORY_ITEMS:
                            held_items.append((table, record_type, item))
                        else:
                            overflow = True  # too many to hold: read them again below
        if not self.state.get("approved"):
            held = self._guard(active, leaving)
            if held:
                self.state["phase"] = "review"
                self.state["held"] = held
                self._save_checkpoint()
                return self._result(Outcome.NEEDS_REVIEW, held=held)
        if overflow:
            held_items = ((table, type_of(item), item) for table, type_of, goes in self._sweep_plan()
                          for page in self._stored_active(table) for item in page if goes(item))
        for table, record_type, item in held_items:
            item["status"] = INACTIVE
            item["updatedAt"] = self.now
            item["lastRunId"] = self.run_id
            self._count(record_type, "deactivated")
            self.store.put(table, item)
        return None

    def _guard(self, active: dict, leaving: dict) -> dict | None:
        """The deactivations to hold back for a person's approval, or None when within bounds."""
        config = self.district.sync_config
        max_share = float(config.guard_max_share if config else 0.2)
        min_records = int(config.guard_min_records if config else 20)
        over = {t: leaving.get(t, 0) for t in GUARDED_TYPES
                if leaving.get(t, 0) > min_records and leaving.get(t, 0) > max_share * active.get(t, 0)}
        return {t: leaving.get(t, 0) for t in RECORD_TYPES if leaving.get(t)} if over else None

    def _previous_active_counts(self) -> dict:
        counts = self.district.active_counts
        return {k: int(v) for k, v in counts.as_dict().items()} if counts is not None else {}

    # ------------------------------------------------------------------ finish
    def _finish_district(self) -> None:
        started = datetime.fromisoformat(self.state["startedAt"])
        actions = [
            DistrictModel.last_success_started_at.set(started),
            DistrictModel.synced_selection_hash.set(self.selection.fingerprint()),
        ]
        counts = self.state["counts"]
        if self.state["mode"] == "full":
            active = {t: c["created"] + c["updated"] + c["unchanged"] for t, c in counts.items()}
        else:
            before = self._previous_active_counts()
            active = {t: max(0, int(before.get(t, 0)) + c["created"] - c["deactivated"]) for t, c in counts.items()}
        actions.append(DistrictModel.active_counts.set(active))
        if self.state["mode"] == "full":
            actions.append(DistrictModel.last_full_sync_at.set(started))
            # A full sync has read everything the step-4 page offers: refresh its cache.
            options = SyncOptionsCollector()
            for school in self.state["sisSchools"]:
                options.add_school(school["sisSourcedId"], school["name"])
            options.add_class(self.state["grades"], self.state["subjects"], course_id=None)
            actions.append(DistrictModel.sync_options.set(options.options(refreshed_at=self.now)))
        self.district.update(actions=actions)


def run_sync(request: SyncRequest, time_left: Callable[[], float],
             on_progress: Callable[[dict], None] | None = None, **kwargs) -> SyncResult:
    return SyncEngine(request, time_left, on_progress, **kwargs).run()
