"""Class matching by title (issue 13): an SIS class about to be created, with no app class of its
code, is linked to the app class of the same title, in the same (matched) school, taught by the
same teacher. The app names a class's teacher when it registers the class (`teacherId`, an app
userId); an SIS class's teachers are only known from its enrollments, which a full sync reads
after classes and users. So the decision waits, and nothing is written twice:

- classes phase: matching (sync/account_matching.py) marks each class about to be created whose
  normalised title is the title key of an app class that names a teacher (`key#class#title#...`,
  written only for such app classes, so districts without them hold nothing). The marked class
  item is set aside in RunRecordsTable (`titleclass#<sourcedId>`) instead of being written; its
  sourcedId joins the run's `classes_title_held` fingerprint set (it is in, as before);
- enrollments phase: the enrollments of such classes are set aside as well
  (`titleenrollment#<class fingerprint>#<sourcedId>`), and each teacher enrollment names one of the
  class's teachers by the userId the sync stores it under (`titleteacher#<class fp>#<userId>`):
  an SIS teacher linked to an app teacher (in this run's users phase or before) is that app
  user, so the app's `teacherId` compares with it directly;
- class_titles phase (after enrollments, before the users are written): a pass over the set-aside
  classes, a page at a time, pausable between pages (sync/record_pass.py). For each class, the app
  classes of its title whose teacher is one of its teachers are its candidates, decided by the
  same rules as every match (`AccountMatching.decide_classes`): exactly one active app class in
  the same school, linked to nothing else, is linked (the app class keeps its classId); two
  candidates, another school, or a candidate already linked is a conflict, reported per record on
  the run, open for the admin's resolution; no candidate (no shared teacher): the class is created
  as before. The class is then written, and its enrollments under its final classId.

A delta run that meets such a class continues as a full sync (a delta reads only changed
enrollments, so it cannot know the class's teachers). The preview runs the same code and writes no
link. Memory: a page of set-aside classes and a chunk of their enrollments.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from rostersync.store import run_records
from rostersync.store.record_links import match_key, normalise
from rostersync.store.roster import index_key
from rostersync.sync import mapping, record_pass, record_steps
from rostersync.sync.account_matching import TITLE_HELD
from rostersync.sync.context import RunContext
from rostersync.sync.fingerprints import fingerprint

CLASS, TEACHER, ENROLLMENT = "titleclass", "titleteacher", "titleenrollment"
ENROLLMENT_CHUNK = 500  # set-aside enrollments written a chunk at a time
QUERIES_IN_FLIGHT = 8


def _fp(sourced_id: str) -> str:
    """A class's part of its set-aside records' keys (a sourcedId may contain '#')."""
    return f"{fingerprint(sourced_id):016x}"


def _revive(item: dict) -> dict:
    """A set-aside item came back from JSON: its write time as a datetime again."""
    if isinstance(item.get("updatedAt"), str):
        item["updatedAt"] = datetime.fromisoformat(item["updatedAt"])
    return item


class ClassTitles:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    @property
    def state(self):
        return self.ctx.state

    def _record(self, record_key: str, **values) -> None:
        ctx = self.ctx
        ctx.store.put(
            run_records.table(),
            {
                "runKey": run_records.run_key(ctx.district_id, ctx.run_id),
                "recordKey": record_key,
                "expiresAt": run_records.expires_at(),
                **values,
            },
        )

    # ---------------------------------------------------------------- classes phase
    def hold_back(self, items: list[dict]) -> list[dict]:
        """The items to write now; the classes matching marked wait until their teachers are known."""
        marked = {id(i) for i in items if i.pop(TITLE_HELD, None)}
        if not marked:
            return items
        if self.state.mode == "delta":
            from rostersync.sync.delta import DeltaNotEnough

            raise DeltaNotEnough(
                "a new class may be an app class of the same title and teacher; a full read knows its teachers"
            )
        held = self.state.sets["classes_title_held"]
        for item in items:
            if id(item) in marked:
                held.add(item["sisSourcedId"])
                self._record(f"{CLASS}#{item['sisSourcedId']}", item=json.dumps(item, default=str))
        return [i for i in items if id(i) not in marked]

    # ---------------------------------------------------------------- enrollments phase
    def hold_enrollments(self, items: list[dict]) -> list[dict]:
        """The items to write now; the enrollments of set-aside classes wait with them."""
        held = self.state.sets["classes_title_held"]
        if not held:
            return items
        now = []
        for item in items:
            class_sid = item["classSourcedId"]
            if class_sid not in held:
                now.append(item)
                continue
            fp = _fp(class_sid)
            self._record(f"{ENROLLMENT}#{fp}#{item['sisSourcedId']}", item=json.dumps(item, default=str))
            if item.get("role") == "teacher":
                self._record(f"{TEACHER}#{fp}#{item['userId']}", userId=item["userId"])
        return now

    # ---------------------------------------------------------------- class_titles phase
    def decide(self) -> None:
        if not self.state.sets["classes_title_held"]:
            return
        ctx = self.ctx
        classes = ctx.roster.classes
        for page in record_pass.pages(ctx, f"{CLASS}#"):
            items = [_revive(json.loads(record["item"])) for record in page]
            teachers = self._teachers([i["sisSourcedId"] for i in items])
            titles = {i["sisSourcedId"]: normalise(i.get("title")) for i in items}
            keys = ctx.matching.links.get_many(match_key("class", "title", t) for t in titles.values() if t)
            ids_of = {
                sid: (keys.get(match_key("class", "title", t)) or {}).get("itemIds") or [] if t else []
                for sid, t in titles.items()
            }
            teacher_of = {
                c["classId"]: c.get("teacherId")
                for c in ctx.roster.by_keys(
                    classes, {c for ids in ids_of.values() for c in ids}, projection=["classId", "teacherId"]
                )
            }
            wanted = {}
            for item in items:
                sid = item["sisSourcedId"]
                ids = [c for c in ids_of[sid] if teacher_of.get(c) and teacher_of[c] in teachers[sid]]
                if ids:
                    wanted[sid] = (item, "title", ids)
            ctx.matching.decide_classes(wanted)
            record_steps.apply(ctx, classes, items, lambda item: "classes")
            self._write_enrollments({i["sisSourcedId"]: i["classId"] for i in items})

    def _teachers(self, class_sids: list[str]) -> dict[str, set[str]]:
        """sourcedId -> the userIds of the class's teachers (from its set-aside enrollments)."""
        with ThreadPoolExecutor(max_workers=QUERIES_IN_FLIGHT, thread_name_prefix="titles") as pool:
            found = pool.map(lambda sid: {r["userId"] for r in self._records(f"{TEACHER}#{_fp(sid)}#")}, class_sids)
            return dict(zip(class_sids, found, strict=True))

    def _records(self, prefix: str):
        ctx = self.ctx
        paginator = ctx.store.client.get_paginator("query")
        for response in paginator.paginate(
            TableName=run_records.table(),
            ConsistentRead=True,
            KeyConditionExpression="runKey = :k AND begins_with(recordKey, :p)",
            ExpressionAttributeValues={
                ":k": {"S": run_records.run_key(ctx.district_id, ctx.run_id)},
                ":p": {"S": prefix},
            },
        ):
            for raw in response.get("Items", []):
                yield {k: next(iter(v.values())) for k, v in raw.items()}

    def _write_enrollments(self, class_ids: dict[str, str]) -> None:
        """Each set-aside class's enrollments, under the class's final id, a chunk at a time."""
        ctx, chunk = self.ctx, []
        for class_sid, class_id in class_ids.items():
            for record in self._records(f"{ENROLLMENT}#{_fp(class_sid)}#"):
                item = _revive(json.loads(record["item"]))
                if item["classId"] != class_id:
                    mapping.move_enrollment(item, class_id, index_key(ctx.district_id, class_id))
                chunk.append(item)
                if len(chunk) >= ENROLLMENT_CHUNK:
                    record_steps.apply(ctx, ctx.roster.enrollments, chunk, lambda item: "enrollments")
                    chunk = []
        record_steps.apply(ctx, ctx.roster.enrollments, chunk, lambda item: "enrollments")
