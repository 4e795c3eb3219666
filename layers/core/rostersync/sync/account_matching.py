"""Account and class matching (issue 13): before a sync creates an SIS user or class, it looks
for the same one among the district's app-made records, and links them instead of duplicating.

Users: SIS `identifier` against the app user's identifier, then email (case and whitespace
ignored), then username; the first of these with any app candidate decides. Exactly one active
app user, of the same role, linked to no other SIS user: linked (the app user keeps its userId,
gains the SIS link and from then on the sync keeps it up to date). Two candidates, another role
or a candidate already linked: a conflict; the SIS user is created separately under its own id,
the conflict is reported on the run (per record, in words) and stays open
(RecordLinksTable `conflict#...`) until an admin links it or keeps it separate
(store/matching_conflicts.py); a `separate` decision stops matching for that record.
Classes: the SIS class code against the app class's code, in the same (matched) school; without
a code candidate, the same title, in the same school, taught by the teacher the app class names
(decided after enrollments: sync/class_titles.py).

Cost: nothing for a district without app records. Otherwise, per page of users or classes,
one BatchGet of the page's ids (which exist already) and, for those about to be created only,
one BatchGet of their match keys and one of the candidates: batched, never per record, never a
district-sized table in memory.

Ids: a linked SIS record is stored under the app record's id, not record_id(sourcedId). The run
state keeps the fingerprints of linked sourcedIds (`linked_users`, `linked_classes`, read at the
run's start and grown as the run links): only those ask RecordLinksTable for their id (a bounded
cache), so a district without links pays nothing. `superseded` holds the ids of copies a sync
had created before an admin linked the SIS record to an app record; the sweep deactivates them.

A preview (mode `preview`) decides exactly the same way and writes no link or conflict: what it
found is in its run records (`match#...`), as a real run's are.
"""

from collections import OrderedDict
from collections.abc import Callable
from functools import partial

from rostersync.ids import record_id
from rostersync.store import run_records
from rostersync.store.matching_conflicts import conflict_item
from rostersync.store.record_links import (
    USER_KEY_FIELDS,
    RecordLinks,
    app_key,
    class_match_keys,
    decision_key,
    match_key,
    normalise,
    sis_key,
    user_match_keys,
)
from rostersync.store.roster import ACTIVE
from rostersync.sync import mapping
from rostersync.sync.context import RunContext
from rostersync.sync.notices import Notice

MARK = "_match"  # what matching decided, carried on an item until it is written (never stored)
TITLE_HELD = "_titleHeld"  # a class to match by title once its teachers are known (sync/class_titles.py)
CACHE_ITEMS = 50_000
LINKED_SET = {"user": "linked_users", "class": "linked_classes", "enrollment": "linked_enrollments"}
MATCH = "match"
USER_FIELDS_SHOWN = ("givenName", "familyName", "role", "email", "username", "identifier")


def _user_type(item: dict) -> str:
    return "teachers" if item.get("role") == "teacher" else "students"


def _name(item: dict) -> str:
    return " ".join(p for p in (item.get("givenName"), item.get("familyName")) if p) or item.get("title") or "?"


class AccountMatching:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self._ids: OrderedDict = OrderedDict()  # (kind, sourcedId) -> (itemId, origin)
        self._claimed: dict[str, str] = {}  # app itemId -> sourcedId linked in this invocation

    @property
    def state(self):
        return self.ctx.state

    @property
    def preview(self) -> bool:
        return self.state.mode == "preview"

    @property
    def links(self) -> RecordLinks:
        return RecordLinks(self.ctx.store.client, self.ctx.district_id, batch=self.ctx.store)

    # ---------------------------------------------------------------- run start
    def prepare(self, state) -> None:
        """Read the district's links into the new run's state (fingerprints only). The district
        item (read anyway) says whether there is anything to read: most districts cost nothing."""
        district = self.ctx.district
        state.matching = {
            "users": bool(getattr(district, "has_app_users", None)),
            "classes": bool(getattr(district, "has_app_classes", None)),
        }
        if not getattr(district, "has_sis_links", None):
            return
        state.matching["linksFlagged"] = True
        links = self.links
        for kind, set_name in LINKED_SET.items():  # enrollments only ever link by a re-key
            prefix = sis_key(kind, "")
            for page in links.query_prefix(prefix, projection=["linkKey", "replaces"]):
                for item in page:
                    state.sets[set_name].add(item["linkKey"][len(prefix) :])
                    if item.get("replaces"):
                        state.sets["superseded"].add(item["replaces"])

    def flag_links(self) -> None:
        """Before this run writes its first link: the district says it has links (runs read them)."""
        if self.state.matching.get("linksFlagged"):
            return
        from rostersync.store.districts import DistrictModel

        DistrictModel(self.ctx.district_id).update(actions=[DistrictModel.has_sis_links.set(True)])
        self.state.matching["linksFlagged"] = True

    # ---------------------------------------------------------------- ids
    def item_id(self, kind: str, sourced_id: str) -> str:
        """The id the SIS record is stored under: an app record's when linked, else record_id."""
        return self._resolved(kind, sourced_id)[0]

    def _resolved(self, kind: str, sourced_id: str) -> tuple[str, str | None]:
        linked = LINKED_SET.get(kind)  # enrollments and schools are never linked
        if linked is None or sourced_id not in self.state.sets[linked]:
            return record_id(self.ctx.district_id, kind, sourced_id), None
        key = (kind, sourced_id)
        found = self._ids.get(key)
        if found is None:
            self.prefetch(kind, [sourced_id])
            found = self._ids.get(key) or (record_id(self.ctx.district_id, kind, sourced_id), None)
        return found

    def prefetch(self, kind: str, sourced_ids) -> None:
        """Read the links of those of `sourced_ids` that have one, in one batch."""
        linked = self.state.sets[LINKED_SET[kind]]
        wanted = [sid for sid in dict.fromkeys(sourced_ids) if sid in linked and (kind, sid) not in self._ids]
        if not wanted:
            return
        found = self.links.get_many(sis_key(kind, sid) for sid in wanted)
        for sid in wanted:
            link = found.get(sis_key(kind, sid))
            if link is not None:
                self._remember(kind, sid, link["itemId"], link.get("origin"))

    def remember_link(self, kind: str, sourced_id: str, item_id: str, origin: str | None) -> None:
        """A link made in this run (sync/rekeys.py): the run's ids follow it from now on."""
        self.state.sets[LINKED_SET[kind]].add(sourced_id)
        self._remember(kind, sourced_id, item_id, origin)

    def _remember(self, kind: str, sourced_id: str, item_id: str, origin: str | None) -> None:
        self._ids[(kind, sourced_id)] = (item_id, origin)
        self._ids.move_to_end((kind, sourced_id))
        while len(self._ids) > CACHE_ITEMS:
            self._ids.popitem(last=False)

    def builder(self, build: Callable) -> Callable:
        """mapping's builder, giving linked records their stored ids (ctx.map calls it)."""
        sets = self.state.sets
        if not (sets["linked_users"] or sets["linked_classes"] or sets["linked_enrollments"]):
            return build
        if build is mapping.enrollment_item:
            return partial(
                self._relinked,
                partial(build, ids=lambda _district, kind, sid: self.item_id(kind, sid)),
                "enrollment",
                "enrollmentId",
            )
        if build is mapping.user_item:
            return partial(self._relinked, build, "user", "userId")
        if build is mapping.class_item:
            return partial(self._relinked, build, "class", "classId")
        return build

    def _relinked(self, build: Callable, kind: str, key: str, district_id: str, record, *args) -> dict:
        item = build(district_id, record, *args)
        item_id, origin = self._resolved(kind, record.sourced_id)
        item[key] = item_id
        if origin == "app":
            item["origin"] = origin
        return item

    def superseded(self, item_id: str) -> bool:
        superseded = self.state.sets["superseded"]
        return bool(superseded) and item_id in superseded

    # ---------------------------------------------------------------- matching
    def match_users(self, items: list[dict]) -> None:
        """Link (or mark as conflicts) the page's users that are about to be created."""
        if not self.state.matching.get("users") or not items:
            return
        self.prefetch("user", [i["sisSourcedId"] for i in items])
        fresh = self._about_to_be_created(self.ctx.roster.users, "user", "userId", items)
        if not fresh:
            return
        keys = {item["sisSourcedId"]: user_match_keys(item) for item in fresh}
        found = self.links.get_many(
            [decision_key("user", sid) for sid in keys]
            + [match_key("user", f, v) for k in keys.values() for f, v in k.items()]
        )
        wanted = {}
        for item in fresh:
            sid = item["sisSourcedId"]
            if decision_key("user", sid) in found:
                continue  # an admin kept it separate
            for field in USER_KEY_FIELDS:
                value = keys[sid].get(field)
                ids = (found.get(match_key("user", field, value)) or {}).get("itemIds") if value else None
                if ids:
                    wanted[sid] = (item, field, ids)
                    break
        self._decide(
            "user",
            "userId",
            self.ctx.roster.users,
            wanted,
            same=lambda sis, app: (
                None
                if sis.get("role") == app.get("role")
                else ("role_mismatch", f"is a {sis.get('role')} in the SIS but a {app.get('role')} in the app")
            ),
        )

    def match_classes(self, items: list[dict]) -> None:
        if not self.state.matching.get("classes") or not items:
            return
        self.prefetch("class", [i["sisSourcedId"] for i in items])
        fresh = self._about_to_be_created(self.ctx.roster.classes, "class", "classId", items)
        if not fresh:
            return
        keys = {item["sisSourcedId"]: class_match_keys(item) for item in fresh}
        titles = {item["sisSourcedId"]: normalise(item.get("title")) for item in fresh}
        found = self.links.get_many(
            [decision_key("class", sid) for sid in keys]
            + [match_key("class", f, v) for k in keys.values() for f, v in k.items()]
            + [match_key("class", "title", t) for t in titles.values() if t]
        )
        wanted = {}
        for item in fresh:
            sid, code = item["sisSourcedId"], keys[item["sisSourcedId"]].get("code")
            if decision_key("class", sid) in found:
                continue  # an admin kept it separate
            ids = (found.get(match_key("class", "code", code)) or {}).get("itemIds") if code else None
            if ids:
                wanted[sid] = (item, "code", ids)
            elif (title := titles[sid]) and (found.get(match_key("class", "title", title)) or {}).get("itemIds"):
                item[TITLE_HELD] = True  # app classes of its title name a teacher: decided once its teachers are known
        self.decide_classes(wanted)

    def decide_classes(self, wanted: dict) -> None:
        """sourcedId -> (item, criterion, candidate classIds): link, or mark a conflict (same school)."""
        self._decide(
            "class",
            "classId",
            self.ctx.roster.classes,
            wanted,
            same=lambda sis, app: (
                None
                if sis.get("schoolId") == app.get("schoolId")
                else ("school_mismatch", "is taught in another school in the SIS than in the app")
            ),
        )

    def _about_to_be_created(self, table, kind: str, key: str, items: list[dict]) -> list[dict]:
        """The items that are neither linked nor stored yet."""
        unlinked = [i for i in items if i[key] == record_id(self.ctx.district_id, kind, i["sisSourcedId"])]
        if not unlinked:
            return []
        stored = {s[key] for s in self.ctx.roster.by_keys(table, [i[key] for i in unlinked], projection=[key])}
        return [i for i in unlinked if i[key] not in stored]

    def _decide(self, kind: str, key: str, table, wanted: dict, same: Callable) -> None:
        if not wanted:
            return
        candidate_ids = {c for _item, _field, ids in wanted.values() for c in ids}
        candidates = {c[key]: c for c in self.ctx.roster.by_keys(table, candidate_ids)}
        reverse = self.links.get_many(app_key(kind, c) for c in candidate_ids)
        for sid, (item, field, ids) in wanted.items():
            live = [
                candidates[c]
                for c in ids
                if c in candidates and candidates[c].get("status") == ACTIVE and candidates[c].get("origin") == "app"
            ]
            if not live:
                continue
            what = f"SIS {kind} {sid!r} ({_name(item)})"
            if len(live) > 1:
                self._conflict(
                    kind,
                    key,
                    item,
                    live,
                    "two_candidates",
                    f"{what}: {len(live)} app {'classes' if kind == 'class' else kind + 's'} "
                    f"share its {field} "
                    f"({', '.join(c[key] for c in live[:5])}); created separately.",
                )
                continue
            app = live[0]
            mismatch = same(item, app)
            if mismatch is not None:
                self._conflict(
                    kind,
                    key,
                    item,
                    live,
                    mismatch[0],
                    f"{what} {mismatch[1]} (app {kind} {app[key]}, same {field}); created separately.",
                )
                continue
            linked_to = (
                app.get("sisSourcedId")
                or (reverse.get(app_key(kind, app[key])) or {}).get("sisSourcedId")
                or self._claimed.get(app[key])
            )
            if linked_to and linked_to != sid:
                self._conflict(
                    kind,
                    key,
                    item,
                    live,
                    "already_linked",
                    f"{what}: app {kind} {app[key]} with the same {field} is already linked to SIS "
                    f"{kind} {linked_to!r}; created separately.",
                )
                continue
            self._link(kind, key, item, app, field)

    def _link(self, kind: str, key: str, item: dict, app: dict, field: str) -> None:
        sid = item["sisSourcedId"]
        if not self.preview:
            self.flag_links()
            self.links.link(kind, sid, app[key], reason="matched", criterion=field, run_id=self.ctx.run_id)
        self._claimed[app[key]] = sid
        self.state.sets[LINKED_SET[kind]].add(sid)
        self._remember(kind, sid, app[key], "app")
        item[key] = app[key]
        item["origin"] = "app"
        item[MARK] = {"result": "linked", "criterion": field, "appName": _name(app)}

    def _conflict(self, kind: str, key: str, item: dict, candidates: list[dict], reason: str, message: str) -> None:
        shown = USER_FIELDS_SHOWN if kind == "user" else ("title", "classCode", "schoolId")
        item[MARK] = {
            "result": "conflict",
            "reason": reason,
            "message": message,
            "sisRecord": {f: item.get(f) for f in shown if item.get(f)},
            "candidates": [
                {
                    key: c[key],
                    **{f: c.get(f) for f in shown if c.get(f)},
                    **({"linkedTo": c["sisSourcedId"]} if c.get("sisSourcedId") else {}),
                }
                for c in candidates[:10]
            ],
        }

    # ---------------------------------------------------------------- reporting, when written
    def before_apply(self, table, items: list[dict], type_of: Callable[[dict], str]) -> None:
        """Report what matching decided for the items about to be written (markers removed)."""
        ctx = self.ctx
        relink = {"user": "userId", "class": "classId"}.get(table.kind)
        for item in items:
            mark = item.pop(MARK, None)
            if mark is None:
                if relink is not None and item.get("sisSourcedId"):
                    # linked after the item was mapped (a re-key paired at the end of its phase)
                    item_id, origin = self._resolved(table.kind, item["sisSourcedId"])
                    item[relink] = item_id
                    if origin == "app":
                        item["origin"] = origin
                continue
            record_type = type_of(item)
            kind = "user" if table.kind == "user" else "class"
            sid, item_id = item["sisSourcedId"], item[table.key]
            record = {
                "runKey": run_records.run_key(ctx.district_id, ctx.run_id),
                "recordKey": f"{MATCH}#{record_type}#{mark['result']}#{sid}",
                "type": record_type,
                "result": mark["result"],
                "sisSourcedId": sid,
                "itemId": item_id,
                "name": _name(item)[:200],
                "expiresAt": run_records.expires_at(),
            }
            if mark["result"] == "linked":
                record.update({"criterion": mark["criterion"], "appName": mark["appName"][:200]})
            else:
                record.update(
                    {
                        "reason": mark["reason"],
                        "message": mark["message"],
                        "sisRecord": mark["sisRecord"],
                        "candidates": mark["candidates"],
                    }
                )
                self.report_run(record_type, "match_conflict", mark["message"], sid)
                if not self.preview:
                    self.links.put(
                        conflict_item(
                            kind,
                            sid,
                            reason=mark["reason"],
                            message=mark["message"],
                            sis_record=mark["sisRecord"],
                            candidates=mark["candidates"],
                            sis_item_id=item_id,
                            run_id=ctx.run_id,
                        )
                    )
            ctx.store.put(run_records.table(), record)

    def report_run(self, record_type: str, code: str, message: str, sourced_id: str | None = None) -> None:
        """On the run's notices (in words), not its errors: the record is written (sync/notices.py)."""
        self.ctx.notices.add(Notice(code, message, type=record_type, sis_sourced_id=sourced_id))
