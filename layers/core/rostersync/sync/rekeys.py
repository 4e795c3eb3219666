"""SIS id changes (re-keys, issue 13): an SIS migration or a vendor change gives records new
sourcedIds. The same person, class and enrollment keep their app ids: the new sourcedId is
linked to the old item (RecordLinksTable `sis#<kind>#<new>` -> old id, origin sis, reason
rekeyed), exactly as account matching links app records (sync/account_matching.py resolves the
ids everywhere).

Full sync only; a delta that meets a possible re-key continues as a full sync (DeltaNotEnough),
since only a full read shows that the old sourcedId is gone.
- Users: a user about to be created whose identity (identifier, else email: the ByIdentity
  index, one Query each, only for users about to be created) names exactly one active stored
  SIS user of the same role with another sourcedId is a *pending pair* (a RunRecordsTable item).
  Once the users phase has read the whole collection, the `pair_users` phase links each pending
  pair whose old sourcedId the SIS no longer lists (an old item claimed once, in sourcedId order),
  a page of pending pairs at a time: it may pause between pages and go on in the next invocation
  (sync/record_pass.py; its cursor, claimed set and counts are in the run state).
- Classes: the same, by class code (else title) among the stored classes of the same school
  (the BySchool index, one Query per school, cached); a class about to be created with a
  candidate is held back (its item rides on the pending pair) and written, under the old id or
  its own, by the `pair_classes` phase once the classes phase has read the whole collection.
- Enrollments: an enrollment about to be created whose user or class was re-keyed in this run
  takes the id of the stored active enrollment of the same (user, class, role) whose sourcedId
  the SIS no longer lists (ByUser index, one Query per such user).
Counts per type are kept in the run state and reported on the run (`rekeyed`), and the guard,
when it holds, says how many changed their ids and how many could not be paired.
"""

import json
from concurrent.futures import ThreadPoolExecutor

from rostersync.ids import record_id
from rostersync.store import run_records
from rostersync.store.record_links import app_key, normalise, now_text, sis_key
from rostersync.store.roster import ACTIVE, ClassModel, UserModel, index_key
from rostersync.sync import record_pass, record_steps
from rostersync.sync.account_matching import MARK
from rostersync.sync.context import RunContext
from rostersync.sync.fingerprints import FingerprintSet

PENDING = "rekeypending"
WRITE_CHUNK = 500  # held-back classes written a chunk at a time
QUERIES_IN_FLIGHT = 8


class Rekeys:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self._school_classes: dict[str, dict[str, list[dict]]] = {}  # per invocation, per school

    @property
    def state(self):
        return self.ctx.state

    def _counts(self) -> dict:
        return self.state.matching.setdefault("rekeyed", {})

    def _enabled(self, table) -> bool:
        return self.state.mode in ("full", "delta", "preview") and self.state.had_items.get(table.name, True)

    def _run_key(self) -> str:
        return run_records.run_key(self.ctx.district_id, self.ctx.run_id)

    def _about_to_be_created(self, table, kind: str, items: list[dict]) -> list[dict]:
        district = self.ctx.district_id
        own = [i for i in items if MARK not in i and i[table.key] == record_id(district, kind, i["sisSourcedId"])]
        if not own:
            return []
        stored = {
            s[table.key] for s in self.ctx.roster.by_keys(table, [i[table.key] for i in own], projection=[table.key])
        }
        return [i for i in own if i[table.key] not in stored]

    def _pending(self, kind: str, item: dict, old: dict, held_item: dict | None = None) -> None:
        record = {
            "runKey": self._run_key(),
            "recordKey": f"{PENDING}#{kind}#{item['sisSourcedId']}",
            "newSid": item["sisSourcedId"],
            "oldItemId": old["id"],
            "oldSid": old["sisSourcedId"],
            "origin": old.get("origin") or "sis",
            "expiresAt": run_records.expires_at(),
            "type": "classes" if kind == "class" else ("teachers" if item.get("role") == "teacher" else "students"),
        }
        if held_item is not None:
            record["item"] = json.dumps(held_item, default=str)
        self.ctx.store.put(run_records.table(), record)

    # ---------------------------------------------------------------- users
    def look_for_users(self, items: list[dict]) -> set[str]:
        """The sourcedIds of the items that may be a stored user under a new sourcedId (a pending
        pair each): matching leaves them alone, so a re-keyed user linked to an app user (or kept
        apart from one) keeps its id instead of meeting its own app user as a conflict."""
        ctx = self.ctx
        users = ctx.roster.users
        pending: set[str] = set()
        if not self._enabled(users):
            return pending
        fresh = [i for i in self._about_to_be_created(users, "user", items) if i.get("districtIdentity")]
        if not fresh:
            return pending
        with ThreadPoolExecutor(max_workers=QUERIES_IN_FLIGHT, thread_name_prefix="identity") as pool:
            found = list(pool.map(lambda i: self._identity_ids(i["districtIdentity"]), fresh))
        old_ids = {user_id for ids in found for user_id in ids}
        olds = {
            o["userId"]: o
            for o in ctx.roster.by_keys(
                users, old_ids, projection=["userId", "sisSourcedId", "status", "role", "origin"]
            )
        }
        for item, ids in zip(fresh, found, strict=True):
            candidates = [
                olds[i]
                for i in ids
                if i in olds
                and olds[i].get("status") == ACTIVE
                and olds[i].get("sisSourcedId")
                and olds[i]["sisSourcedId"] != item["sisSourcedId"]
                and olds[i].get("role") == item.get("role")
            ]
            if len(candidates) != 1:
                continue
            old = candidates[0]
            if self.state.mode == "delta":
                self._delta_check("users", old["sisSourcedId"], item["sisSourcedId"])
                continue
            if old["sisSourcedId"] in self.state.sets["users_all"]:
                continue  # the old record is still in the SIS: two people, not one re-keyed
            self._pending("user", item, {"id": old["userId"], **old})
            pending.add(item["sisSourcedId"])
        return pending

    def _delta_check(self, collection: str, old_sid: str, new_sid: str) -> None:
        """A delta cannot see deletions: ask the SIS for the old record (one request). Gone: a
        possible re-key, which only a full read can pair, so the run continues as a full sync."""
        source = self.ctx.source
        old = source.user(old_sid) if collection == "users" else source.class_(old_sid)
        if old is not None:
            return  # still there: two records, not one re-keyed
        from rostersync.sync.delta import DeltaNotEnough

        raise DeltaNotEnough(
            f"SIS {collection} record {new_sid!r} may be {old_sid!r} under a new sourcedId "
            "(the old one is gone); a full read pairs them"
        )

    def _identity_ids(self, identity: str) -> list[str]:
        roster = self.ctx.roster
        response = roster.client.query(
            TableName=roster.users.name,
            IndexName=UserModel.by_identity.Meta.index_name,
            KeyConditionExpression="districtIdentity = :v",
            ExpressionAttributeValues={":v": {"S": identity}},
            Limit=20,
        )
        return [item["userId"]["S"] for item in response.get("Items", [])]

    # ---------------------------------------------------------------- classes
    def hold_back_classes(self, items: list[dict]) -> list[dict]:
        """The items to write now; classes that may be re-keyed wait for the end of the phase."""
        ctx = self.ctx
        classes = ctx.roster.classes
        if not self._enabled(classes):
            return items
        fresh = self._about_to_be_created(classes, "class", items)
        held = set()
        for item in fresh:
            key = _class_identity(item)
            if key is None:
                continue
            # A stored class whose terms are all over is last year's: a class with its code this
            # year is its successor, a new class, not the same class under a new id (sync/terms.py).
            candidates = [
                c
                for c in self._classes_of_school(item["schoolId"]).get(key, [])
                if c["sisSourcedId"] != item["sisSourcedId"] and not ctx.terms.item_ended(c)
            ]
            if len(candidates) != 1:
                continue
            if self.state.mode == "delta":
                self._delta_check("classes", candidates[0]["sisSourcedId"], item["sisSourcedId"])
                continue
            if candidates[0]["sisSourcedId"] in self.state.sets["classes_all"]:
                continue
            self._pending("class", item, {"id": candidates[0]["classId"], **candidates[0]}, held_item=item)
            held.add(id(item))
        return [i for i in items if id(i) not in held]

    def _classes_of_school(self, school_id: str) -> dict[str, list[dict]]:
        found = self._school_classes.get(school_id)
        if found is None:
            roster = self.ctx.roster
            found = {}
            paginator = roster.client.get_paginator("query")
            for page in paginator.paginate(
                TableName=roster.classes.name,
                IndexName=ClassModel.by_school.Meta.index_name,  # type: ignore[attr-defined]  # pynamodb: Meta is untyped
                KeyConditionExpression="districtSchool = :v",
                ExpressionAttributeValues={":v": {"S": index_key(self.ctx.district_id, school_id)}},
            ):
                for raw in page["Items"]:
                    item = {
                        k: next(iter(v.values()))
                        for k, v in raw.items()
                        if k in ("classId", "sisSourcedId", "status", "classCode", "title", "origin")
                    }
                    item["termIds"] = [t["S"] for t in raw.get("termIds", {}).get("L", [])]
                    key = _class_identity(item)
                    if key and item.get("status") == ACTIVE and item.get("sisSourcedId"):
                        found.setdefault(key, []).append(item)
            if len(self._school_classes) > 64:
                self._school_classes.clear()
            self._school_classes[school_id] = found
        return found

    # ---------------------------------------------------------------- pairing, once a collection is read
    def pair(self, kind: str) -> None:
        """Link the pending pairs whose old sourcedId the SIS no longer lists, a page of pending
        pairs at a time (sync/record_pass.py): the pass may pause between pages and go on in the
        next invocation. Its progress is the run state's cursor, the old items it claimed (a
        fingerprint set, 8 bytes each) and its counts, all saved with the checkpoint."""
        ctx, state = self.ctx, self.state
        seen = state.sets["users_all" if kind == "user" else "classes_all"]
        matching = ctx.matching
        types = ("teachers", "students") if kind == "user" else ("classes",)
        counts = self._counts()
        if not record_pass.started(ctx):
            # A pass from its start: set, not added, so a pass redone after a crash counts the same.
            state.sets["rekey_claimed"] = FingerprintSet()
            counts.update({t: 0 for t in types})
        claimed = state.sets["rekey_claimed"]  # each old item paired once, in new-sourcedId order
        for page in record_pass.pages(ctx, f"{PENDING}#{kind}#"):
            writes = []
            for pending in page:
                held = json.loads(pending["item"]) if pending.get("item") else None
                new_sid, old_id = pending["newSid"], pending["oldItemId"]
                if pending["oldSid"] in seen or old_id in claimed:
                    if held is not None:
                        writes.append(held)  # not a re-key: written under its own id
                    continue
                claimed.add(old_id)
                record_type = pending.get("type") or kind
                counts[record_type] = counts.get(record_type, 0) + 1
                if state.mode != "preview":
                    matching.flag_links()
                    matching.links.put(
                        {
                            "linkKey": sis_key(kind, new_sid),
                            "itemId": old_id,
                            "origin": pending.get("origin") or "sis",
                            "reason": "rekeyed",
                            "previous": pending["oldSid"],
                            "runId": ctx.run_id,
                        }
                    )
                    if pending.get("origin") == "app":  # the app record's reverse link follows
                        matching.links.put(
                            {"linkKey": app_key(kind, old_id), "sisSourcedId": new_sid, "at": now_text()}
                        )
                matching.remember_link(kind, new_sid, old_id, pending.get("origin"))
                state.sets["rekeyed_users" if kind == "user" else "rekeyed_classes"].add(new_sid)
                if held is not None:
                    held["classId"] = old_id
                    writes.append(held)
            for start in range(0, len(writes), WRITE_CHUNK):
                self._write_held(writes[start : start + WRITE_CHUNK])

    def _write_held(self, items: list[dict]) -> None:
        if not items:
            return
        ctx = self.ctx
        ctx.store.flush()  # the links first: a written class is always findable by its link
        for item in items:
            _revive_dates(item)
        record_steps.apply(ctx, ctx.roster.classes, items, lambda item: "classes")

    # ---------------------------------------------------------------- enrollments
    def pair_enrollments(self, items: list[dict]) -> None:
        state = self.state
        rekeyed_users, rekeyed_classes = state.sets["rekeyed_users"], state.sets["rekeyed_classes"]
        if not (rekeyed_users or rekeyed_classes) or state.mode == "delta":
            return
        ctx = self.ctx
        touched = [i for i in items if i["userSourcedId"] in rekeyed_users or i["classSourcedId"] in rekeyed_classes]
        fresh = self._about_to_be_created(ctx.roster.enrollments, "enrollment", touched)
        if not fresh:
            return
        by_user: dict[str, list[dict]] = {}
        for item in fresh:
            by_user.setdefault(item["userId"], []).append(item)
        with ThreadPoolExecutor(max_workers=QUERIES_IN_FLIGHT, thread_name_prefix="byuser") as pool:
            stored = dict(
                zip(
                    by_user,
                    pool.map(
                        lambda user_id: [e for page in ctx.roster.enrollments_of_user(user_id) for e in page],
                        by_user,
                    ),
                    strict=True,
                )
            )
        seen = state.sets["enrollments_all"]
        paired = 0
        for user_id, user_items in by_user.items():
            olds = [e for e in stored[user_id] if e.get("status") == ACTIVE and e["sisSourcedId"] not in seen]
            for item in user_items:
                old = next(
                    (
                        e
                        for e in olds
                        if e["classId"] == item["classId"]
                        and e.get("role") == item.get("role")
                        and e["sisSourcedId"] != item["sisSourcedId"]
                    ),
                    None,
                )
                if old is None:
                    continue
                olds.remove(old)
                if state.mode != "preview":
                    ctx.matching.flag_links()
                    ctx.matching.links.put(
                        {
                            "linkKey": sis_key("enrollment", item["sisSourcedId"]),
                            "itemId": old["enrollmentId"],
                            "origin": "sis",
                            "reason": "rekeyed",
                            "previous": old["sisSourcedId"],
                            "runId": ctx.run_id,
                        }
                    )
                ctx.matching.remember_link("enrollment", item["sisSourcedId"], old["enrollmentId"], "sis")
                item["enrollmentId"] = old["enrollmentId"]
                paired += 1
        counts = self._counts()
        counts["enrollments"] = counts.get("enrollments", 0) + paired

    # ---------------------------------------------------------------- telling
    def summary(self, leaving: dict) -> None:
        """On the run, in words, when it re-keyed anything (the guard's hold included)."""
        counts = {t: n for t, n in (self.state.matching.get("rekeyed") or {}).items() if n}
        if not counts:
            return  # nothing re-keyed: nothing written (a quiet night writes no item at all)
        run_key = self._run_key()
        self.ctx.store.put(
            run_records.table(),
            {"runKey": run_key, "recordKey": "rekeys", "counts": counts, "expiresAt": run_records.expires_at()},
        )
        for record_type in ("teachers", "students", "classes", "enrollments"):
            changed = counts.get(record_type, 0)
            if changed:
                self.ctx.matching.report_run(
                    record_type,
                    "rekeyed",
                    f"{changed:,} {record_type} changed their SIS ids and keep their ids in the app; "
                    f"{leaving.get(record_type, 0):,} could not be paired.",
                )


def _class_identity(item: dict) -> str | None:
    code = normalise(item.get("classCode"))
    if code:
        return "code:" + code
    title = normalise(item.get("title"))
    return "title:" + title if title else None


def _revive_dates(item: dict) -> None:
    """A held class item came back from JSON: its write time as a datetime again."""
    from datetime import datetime

    if isinstance(item.get("updatedAt"), str):
        item["updatedAt"] = datetime.fromisoformat(item["updatedAt"])
