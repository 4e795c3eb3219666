"""Delta syncs: read only what changed since the last successful sync, and apply it exactly.

Each collection is read with `filter=dateLastModified>'<cursor>'` (the cursor is the start of
the last successful sync minus an overlap for clock skew). Changed records that are in are
written as in a full sync. What went out (tobedeleted, out of the filters) is deactivated at
the end, after every read succeeded, with its consequences: a class's enrollments, and users
left without an enrollment that counts. Users touched by any change are re-evaluated.

Where a delta cannot be exact the run turns into a full sync (DeltaNotEnough): the server did
not honour the filter, or a class or user came back into scope (their unchanged enrollments
would not be in the delta). Hard deletes never show in a delta; the periodic full sync
(default weekly) catches them.
"""

from datetime import datetime

from rostersync.ids import record_id
from rostersync.store.roster import ACTIVE, INACTIVE
from rostersync.sync import mapping
from rostersync.sync.selection import ROSTER_ROLES, class_is_in, enrollment_counts, user_is_eligible


class DeltaNotEnough(Exception):
    """A delta sync met a change it cannot apply exactly (the run continues as a full sync)."""


def delta_state(since: datetime) -> dict:
    return {
        "since": since.isoformat(),
        "changedClasses": {},  # sourcedId -> in (bool)
        "changedUsers": {},  # sourcedId -> eligible (bool)
        "outEnrollments": [],  # sourcedIds of changed enrollments that no longer count
        "enrolledUsers": [],  # users with an enrollment written as counting in this run
        "recheckUsers": [],  # users whose in/out may have changed
    }


class DeltaPhases:
    """Mixed into SyncEngine: the phases a delta run uses after schools and courses."""

    def _changed_pages(self, collection: str, record_type: str):
        since = datetime.fromisoformat(self.state["since"])
        for page in self._pages(collection, record_type, filter=self.client.changed_since(since, collection)):
            if self._stream.filter_mismatches:
                raise DeltaNotEnough(f"the SIS did not honour the dateLastModified filter on {collection}")
            yield page

    # ------------------------------------------------------------------ reading
    def _phase_delta_classes(self):
        changed = self.state["changedClasses"]
        for page in self._changed_pages("classes", "classes"):
            items = []
            for cls in page:
                if not self._first_sight("classes_all", "classes", cls):
                    continue
                course_subjects = tuple(self.state["courseSubjects"].get(cls.course_id or "", ()))
                school_id = self.state["schoolMap"].get(cls.school_id)
                is_in = class_is_in(cls, course_subjects, self.selection) and school_id is not None
                if is_in:
                    item = self._map("classes", mapping.class_item, cls, school_id, cls.subjects or course_subjects,
                                     self.run_id, self.now)
                    if item is None:
                        continue  # refused: neither in nor out, its stored copy stays as it is
                    items.append(item)
                changed[cls.sourced_id] = is_in
            self._apply(self.settings.classes_table, "classId", items, lambda item: "classes",
                        on_reentry=lambda item: self._reentry("class", item))

    def _phase_delta_users(self):
        spill = self._spill()
        if self.state["offset"] == 0:
            spill.clear()
        try:
            for page in self._changed_pages("users", "students"):
                fresh = [u for u in page if u.sourced_id not in self.state["changedUsers"]]
                self._park_users(spill, fresh, count=True)
                spill._db.commit()
                for user in fresh:
                    if not self._kept("user", user.sourced_id):  # refused ones stay as stored
                        self.state["changedUsers"][user.sourced_id] = user_is_eligible(user)
        finally:
            spill.close()

    def _phase_delta_enrollments(self):
        changed_classes, changed_users = self.state["changedClasses"], self.state["changedUsers"]
        enrolled, recheck, out = set(self.state["enrolledUsers"]), set(self.state["recheckUsers"]), \
            self.state["outEnrollments"]
        for page in self._changed_pages("enrollments", "enrollments"):
            page = [e for e in page if self._first_sight("enrollments_all", "enrollments", e)]
            class_active = self._stored_status(self.settings.classes_table, "classId", "class",
                                               {e.class_id for e in page if e.class_id not in changed_classes})
            users = self._stored_users({e.user_id for e in page if e.user_id not in changed_users})
            items = []
            for enrollment in page:
                class_in = changed_classes.get(enrollment.class_id, class_active.get(enrollment.class_id) == ACTIVE)
                eligible = self._eligible(enrollment.user_id, users)
                if eligible is None:
                    self._error("enrollments", enrollment.sourced_id, "unknown_user",
                                f"The enrollment points at user {enrollment.user_id!r}, which the SIS does not list.")
                    continue
                recheck.add(enrollment.user_id)
                if enrollment_counts(enrollment) and class_in and eligible:
                    item = self._map("enrollments", mapping.enrollment_item, enrollment, self.run_id, self.now)
                    if item is None:
                        continue
                    enrolled.add(enrollment.user_id)
                    items.append(item)
                else:
                    out.append(enrollment.sourced_id)
            self._apply(self.settings.enrollments_table, "enrollmentId", items, lambda item: "enrollments")
            self.state["enrolledUsers"], self.state["recheckUsers"] = sorted(enrolled), sorted(recheck)

    def _stored_status(self, table: str, key_name: str, kind: str, sourced_ids: set[str]) -> dict[str, str]:
        """sourcedId -> stored status, for the ids the store holds."""
        if not sourced_ids:
            return {}
        by_key = {record_id(self.district_id, kind, sid): sid for sid in sourced_ids}
        found = self.store.get_many(table, [{"districtId": self.district_id, key_name: k} for k in by_key],
                                    projection=[key_name, "status"])
        return {by_key[item[key_name]]: item["status"] for item in found}

    def _stored_users(self, sourced_ids: set[str]) -> dict[str, dict]:
        if not sourced_ids:
            return {}
        keys = [{"districtId": self.district_id, "userId": record_id(self.district_id, "user", sid)} for sid in sourced_ids]
        return {item["sisSourcedId"]: item for item in self.store.get_many(self.settings.users_table, keys)}

    def _eligible(self, user_sourced_id: str, stored_users: dict[str, dict]) -> bool | None:
        """Whether the user may be synced; None for a user the SIS does not know."""
        changed = self.state["changedUsers"]
        if user_sourced_id in changed:
            return changed[user_sourced_id]
        stored = stored_users.get(user_sourced_id)
        if stored is not None and stored.get("status") == ACTIVE:
            # Unchanged in the SIS since the cursor, so the stored facts still hold.
            return stored.get("sisStatus") == ACTIVE and stored.get("role") in ROSTER_ROLES
        return self._fetch_user(user_sourced_id)

    def _fetch_user(self, user_sourced_id: str) -> bool | None:
        """A user the store holds no current copy of: ask the SIS, and park it for writing."""
        from rostersync.oneroster import BadRecord

        from rostersync.sync.validity import record_problem

        user = self.client.get("users", user_sourced_id)
        if user is None or isinstance(user, BadRecord) or record_problem(user) is not None:
            return None
        spill = self._spill()
        try:
            self._park_users(spill, [user], count=False)
            spill._db.commit()
        finally:
            spill.close()
        if self._kept("user", user_sourced_id):  # refused when parked
            return None
        self.state["changedUsers"][user_sourced_id] = user_is_eligible(user)
        return self.state["changedUsers"][user_sourced_id]

    def _reentry(self, kind: str, item: dict) -> None:
        raise DeltaNotEnough(f"a {kind} came back into scope ({item['sisSourcedId']}); its unchanged "
                             "records are not in the delta")

    # ------------------------------------------------------------------ applying what went out
    def _phase_delta_finish(self):
        plan = self._delta_deactivations()
        leaving = {}
        for table, record_type, item in plan:
            leaving[record_type] = leaving.get(record_type, 0) + 1
        if not self.state.get("approved"):
            held = self._guard(self._previous_active_counts(), leaving)
            if held:
                self.state["phase"] = "review"
                self.state["held"] = held
                self._save_checkpoint()
                from rostersync.sync.engine import Outcome

                return self._result(Outcome.NEEDS_REVIEW, held=held)
        for table, record_type, item in plan:
            item["status"] = INACTIVE
            item["updatedAt"] = self.now
            item["lastRunId"] = self.run_id
            self._count(record_type, "deactivated")
            self.store.put(table, item)
        self.store.flush()
        return None

    def _delta_deactivations(self) -> list[tuple[str, str, dict]]:
        """What goes: classes gone out and their enrollments, changed enrollments that no longer
        count, users left without an enrollment that counts; writes users that came in."""
        st, district = self.settings, self.district_id
        plan, leaving_enrollments = [], set()
        recheck = set(self.state["recheckUsers"]) | set(self.state["changedUsers"])

        out_classes = [sid for sid, is_in in self.state["changedClasses"].items() if not is_in]
        for klass in self._active_items(st.classes_table, "classId", "class", out_classes):
            plan.append((st.classes_table, "classes", klass))
            for page in self._query_index(st.enrollments_table, "ByClass", "districtClass", klass["classId"]):
                for enrollment in page:
                    if enrollment.get("status") == ACTIVE and enrollment["enrollmentId"] not in leaving_enrollments:
                        leaving_enrollments.add(enrollment["enrollmentId"])
                        recheck.add(enrollment["userSourcedId"])
                        plan.append((st.enrollments_table, "enrollments", enrollment))
        for enrollment in self._active_items(st.enrollments_table, "enrollmentId", "enrollment",
                                             self.state["outEnrollments"]):
            if enrollment["enrollmentId"] not in leaving_enrollments:
                leaving_enrollments.add(enrollment["enrollmentId"])
                plan.append((st.enrollments_table, "enrollments", enrollment))

        enrolled = set(self.state["enrolledUsers"])
        stored_users = self._stored_users(recheck)
        coming_in = self._parked_users(recheck)
        items = []
        for sid in sorted(recheck):
            eligible = self._eligible(sid, stored_users)
            user_id = record_id(district, "user", sid)
            is_in = bool(eligible) and (sid in enrolled or self._still_enrolled(user_id, leaving_enrollments))
            stored = stored_users.get(sid)
            if is_in:
                item = coming_in.get(sid)
                if item is None and stored is not None and stored.get("status") != ACTIVE:
                    self._fetch_user(sid)  # back in scope: its stored copy may be stale
                    item = self._parked_users({sid}).get(sid)
                if item is not None:
                    item["updatedAt"] = self.now
                    items.append(item)
            elif stored is not None and stored.get("status") == ACTIVE:
                plan.append((st.users_table, "teachers" if stored.get("role") == "teacher" else "students", stored))
                # A user going out takes their remaining enrollments along (as the full sweep does).
                for page in self._query_index(st.enrollments_table, "ByUser", "districtUser", user_id):
                    for enrollment in page:
                        if enrollment.get("status") == ACTIVE and enrollment["enrollmentId"] not in leaving_enrollments:
                            leaving_enrollments.add(enrollment["enrollmentId"])
                            plan.append((st.enrollments_table, "enrollments", enrollment))
        self._apply(st.users_table, "userId", items, lambda item: "teachers" if item["role"] == "teacher" else "students")
        return plan

    def _active_items(self, table: str, key_name: str, kind: str, sourced_ids) -> list[dict]:
        keys = [{"districtId": self.district_id, key_name: record_id(self.district_id, kind, sid)} for sid in sourced_ids]
        return [item for item in self.store.get_many(table, keys) if item.get("status") == ACTIVE] if keys else []

    def _query_index(self, table: str, index: str, key_name: str, value: str):
        paginator = self.store.client.get_paginator("query")
        key = f"{self.district_id}#{value}"
        from rostersync.store.codec import from_item

        for page in paginator.paginate(TableName=table, IndexName=index, KeyConditionExpression="#k = :v",
                                       ExpressionAttributeNames={"#k": key_name},
                                       ExpressionAttributeValues={":v": {"S": key}}):
            yield [from_item(item) for item in page["Items"]]

    def _still_enrolled(self, user_id: str, leaving: set[str]) -> bool:
        """An active enrollment that counts, other than those leaving in this run (the index
        may lag behind this run's own writes, so those are excluded by id)."""
        for page in self._query_index(self.settings.enrollments_table, "ByUser", "districtUser", user_id):
            for enrollment in page:
                if enrollment.get("status") == ACTIVE and enrollment["enrollmentId"] not in leaving:
                    return True
        return False

    def _parked_users(self, sourced_ids: set[str]) -> dict[str, dict]:
        """Items of parked (changed or fetched) users among `sourced_ids`."""
        from rostersync.sync.fingerprints import fingerprint

        wanted = {fingerprint(sid): sid for sid in sourced_ids}
        spill = self._spill()
        try:
            return {wanted[fp]: item for rows in spill.iterate() for fp, item in rows if fp in wanted}
        finally:
            spill.close()
