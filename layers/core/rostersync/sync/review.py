"""What people see of a run before it changes anything: held records, decisions, previews.

ReviewRecords is handed the run's context (sync/context.py), as DeltaPhases is:
- when the run's one deactivation step holds (sync/deactivation.py), every record
  it would deactivate is written to RunRecordsTable, one small item each, with its name,
  role, school, class and why (store/run_records.py); GET .../syncs/{runId}/held lists them;
- on approval it reads the admin's decision: everything, or the chosen records only (the rest
  stay active and the next run is a full one, so they are re-evaluated);
- after a rejection the district holds every deactivation (whatever the guard says) until an
  admin approves a held run: creations and updates go on;
- a preview run (mode `preview`) reads the SIS as a full sync does through the same phases;
  its store drops roster writes (PreviewStore) and this class samples the records per type
  and change, so the preview's counts are the next sync's.
"""

from collections.abc import Iterable

from pynamodb.expressions.update import Action

from rostersync.store import run_records
from rostersync.store.batch import BatchStore
from rostersync.store.districts import DistrictModel
from rostersync.sync.context import RunContext
from rostersync.sync.terms import TERM_ENDED

PREVIEW = "preview"
PREVIEW_SAMPLES = 50  # per record type and change, unless the preview asked for every record
HELD_CHUNK = 200  # held records looked up (names of enrollments' users and classes) and written at a time

# Why a record would be deactivated (GET held's `reason`).
GONE = "gone_from_sis"  # the SIS no longer lists it
DISABLED = "disabled"  # the SIS lists the user as inactive/tobedeleted, or no longer as teacher or student
OUT = "out_of_selection"  # inactive or tobedeleted in the SIS, or outside the selected schools, grades, subjects
NO_CLASS = "no_class_in_selection"  # the user has no active enrollment in a class that is in
CLASS_LEAVING = "class_leaving"  # an enrollment whose class goes
USER_LEAVING = "user_leaving"  # an enrollment whose user goes
REKEYED = "rekeyed"  # a school the sync created, replaced by a match to an app school


class PreviewStore(BatchStore):
    """A batch store whose writes to the roster tables are counted, not sent: a preview runs
    the sync's own phases and writes nothing an app reads."""

    def __init__(self, roster_tables: Iterable[str], **kwargs):
        super().__init__(**kwargs)
        self.roster_tables = frozenset(roster_tables)
        self.writes_dropped = 0

    def put(self, table: str, values: dict) -> None:
        if table in self.roster_tables:
            self.writes_dropped += 1
            return
        super().put(table, values)


def preview_store(max_in_flight: int) -> PreviewStore:
    from rostersync.settings import get_settings

    st = get_settings()
    return PreviewStore(
        (st.schools_table, st.classes_table, st.users_table, st.enrollments_table, st.terms_table),
        max_in_flight=max_in_flight,
    )


class ReviewRecords:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self._chosen: set[str] | bool | None = False  # False: not read yet
        self._complete: bool | None = None

    @property
    def preview(self) -> bool:
        return self.ctx.state is not None and self.ctx.state.mode == PREVIEW

    # ------------------------------------------------------------------ plan of a preview
    def plan(self, plan):
        """A preview's plan takes the proposed selection (and guard) saved with its run; None
        when the proposal is gone (a replayed preview: previews are started again instead)."""
        if self.ctx.requested_mode != PREVIEW:
            return plan
        proposal = run_records.get_proposal(self.ctx.store.client, self.ctx.district_id, self.ctx.run_id)
        if proposal is None:
            return None
        plan.selection = {name: proposal.get(name) for name in ("schools", "grades", "subjects")}
        guard = proposal.get("deactivationGuard") or {}
        if guard.get("maxShare") is not None:
            plan.guard_max_share = float(guard["maxShare"])
        if guard.get("minRecords") is not None:
            plan.guard_min_records = int(guard["minRecords"])
        return plan

    # ------------------------------------------------------------------ preview samples
    def saw(self, record_type: str, change: str, item: dict, key: str) -> None:
        """A record counted as `change` (created, updated, unchanged, deactivated)."""
        if not self.preview:
            return
        state = self.ctx.state
        if state.counts[record_type][change] > PREVIEW_SAMPLES and not self._every_record():
            return
        self.ctx.store.put(
            run_records.table(),
            run_records.preview_item(
                self.ctx.district_id, self.ctx.run_id, record_type, change, item[key], describe(record_type, item)
            ),
        )

    def would_hold(self, held: dict) -> None:
        """A preview whose sync would stop for review says so (GET .../preview)."""
        self.ctx.store.put(
            run_records.table(),
            run_records.summary_item(self.ctx.district_id, self.ctx.run_id, {"wouldHold": held}),
        )

    def _every_record(self) -> bool:
        if self._complete is None:
            proposal = run_records.get_proposal(self.ctx.store.client, self.ctx.district_id, self.ctx.run_id)
            self._complete = bool((proposal or {}).get("complete"))
        return self._complete

    # ------------------------------------------------------------------ holding
    def hold_everything(self, leaving: dict) -> dict | None:
        """After a rejection, every deactivation waits for an admin (not only a large one)."""
        if not getattr(self.ctx.district, "deactivation_hold", None):
            return None
        return {t: n for t, n in leaving.items() if n} or None

    def write_held(self, items: Iterable[tuple]) -> None:
        """One item per record the run would deactivate, with why (bounded chunks). A large hold
        may take several invocations: the state's offset counts the records written (the sweep
        lists them in the same order each time), and the run pauses between chunks."""
        ctx, state = self.ctx, self.ctx.state
        chunk, seen = [], 0
        for entry in items:
            seen += 1
            if seen <= state.offset:
                continue  # written by an earlier invocation
            chunk.append(entry)
            if len(chunk) >= HELD_CHUNK:
                self._write_held_chunk(chunk)
                chunk = []
                ctx.moved()
                if ctx.out_of_time():
                    state.offset = seen
                    ctx.pause()  # saves the state (and flushes the writes) and continues later
        if chunk:
            self._write_held_chunk(chunk)
        state.offset = 0
        ctx.store.flush()

    def _write_held_chunk(self, chunk: list[tuple]) -> None:
        ctx = self.ctx
        roster = ctx.roster
        enrollments = [item for _table, record_type, item in chunk if record_type == "enrollments"]
        users, classes = {}, {}
        if enrollments:
            users = {
                u["userId"]: u
                for u in roster.by_keys(
                    roster.users, {e["userId"] for e in enrollments}, projection=["userId", "givenName", "familyName"]
                )
            }
            classes = {
                c["classId"]: c
                for c in roster.by_keys(
                    roster.classes, {e["classId"] for e in enrollments}, projection=["classId", "title"]
                )
            }
        for table, record_type, item in chunk:
            fields = describe(record_type, item)
            if record_type == "enrollments":
                user, klass = users.get(item.get("userId"), {}), classes.get(item.get("classId"), {})
                fields["name"] = full_name(user) or item.get("userSourcedId")
                fields["classTitle"] = klass.get("title") or item.get("classSourcedId")
            fields["reason"] = self.reason(record_type, item)
            ctx.store.put(
                run_records.table(),
                run_records.held_item(ctx.district_id, ctx.run_id, record_type, item[table.key], fields),
            )

    def reason(self, record_type: str, item: dict) -> str:
        state = self.ctx.state
        sid: str = item.get("sisSourcedId") or ""
        if record_type == "classes" and self.ctx.terms.item_ended(item):
            return TERM_ENDED
        if state.delta is not None and state.mode == "delta":
            delta = state.delta
            if record_type == "classes":
                return OUT
            if record_type == "enrollments":
                if sid in delta.out_enrollments:
                    return OUT
                if delta.changed_classes.get(item.get("classSourcedId") or "") is False:
                    return CLASS_LEAVING
                return USER_LEAVING
            if record_type in ("teachers", "students"):
                return DISABLED if delta.changed_users.get(sid) is False else NO_CLASS
            return OUT
        sets = state.sets
        if record_type == "schools":
            if sid in state.matched_schools:
                return REKEYED
            return OUT if sid in sets["schools_all"] else GONE
        if record_type == "classes":
            return OUT if sid in sets["classes_all"] else GONE
        if record_type == "enrollments":
            if sid not in sets["enrollments_all"]:
                return GONE
            if sid not in sets["enrollments_in"]:
                return OUT
            return USER_LEAVING
        if sid not in sets["users_all"]:
            return GONE
        if sid not in sets["users_eligible"]:
            return DISABLED
        return NO_CLASS

    # ------------------------------------------------------------------ approving
    def chosen(self) -> set[str] | None:
        """The record ids an approval applies, or None for everything held."""
        if self._chosen is False:
            decision = run_records.get_decision(self.ctx.store.client, self.ctx.district_id, self.ctx.run_id)
            ids = (decision or {}).get("recordIds")
            self._chosen = None if ids is None else set(ids)
        return self._chosen if isinstance(self._chosen, set) else None

    def approves(self, record_type: str, item_id: str) -> bool:
        chosen = self.chosen()
        return chosen is None or run_records.held_record_id(record_type, item_id) in chosen

    def finish_actions(self) -> list[Action]:
        """District updates at the end of a successful run: an approval ends a hold after a
        rejection; a partial approval makes the next run full (the records kept are re-evaluated)."""
        state = self.ctx.state
        actions: list[Action] = []
        if state.approved:
            actions.append(DistrictModel.deactivation_hold.remove())
        if state.approved and self.chosen() is not None:
            actions.append(DistrictModel.full_sync_due.set(True))
        elif state.mode == "full":
            actions.append(DistrictModel.full_sync_due.remove())
        return actions


def full_name(item: dict) -> str | None:
    name = " ".join(part for part in (item.get("givenName"), item.get("familyName")) if part)
    return name or None


def describe(record_type: str, item: dict) -> dict:
    """What people recognise a record by (never more than its roster item shows)."""
    if record_type in ("teachers", "students"):
        return {
            "name": full_name(item) or item.get("username") or item.get("sisSourcedId"),
            "role": item.get("role"),
            "sisSourcedId": item.get("sisSourcedId"),
            "schoolIds": item.get("schoolIds"),
        }
    if record_type == "classes":
        return {
            "name": item.get("title") or item.get("classCode") or item.get("sisSourcedId"),
            "sisSourcedId": item.get("sisSourcedId"),
            "schoolIds": [item["schoolId"]] if item.get("schoolId") else None,
            "classCode": item.get("classCode"),
        }
    if record_type == "enrollments":
        return {
            "name": item.get("userSourcedId"),
            "role": item.get("role"),
            "sisSourcedId": item.get("sisSourcedId"),
            "userId": item.get("userId"),
            "classId": item.get("classId"),
            "classTitle": item.get("classSourcedId"),
        }
    return {"name": item.get("name") or item.get("sisSourcedId"), "sisSourcedId": item.get("sisSourcedId")}
