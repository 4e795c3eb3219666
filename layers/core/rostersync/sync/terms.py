"""Academic sessions in a sync: read the SIS's calendar, end classes whose terms are over,
write the sessions (docs/design.md, "Terms and the school year").

Two phases of a sync (sync/phases.py), in full and delta runs alike:
- `terms` (after courses): the source's academic sessions (OneRoster 1.1: /academicSessions,
  or /terms where a server has no such endpoint: sources/oneroster_rest.py), every page, into the
  run state (sync/term_state.py). Sessions are a district's calendar, small enough to hold;
  reading all of them every night costs a page or two.
- `write_terms` (after every other read, before the sweep or the delta's finish): one item per
  session in TermsTable, diffed by contentHash like every roster item (a quiet night writes
  nothing), and stored sessions the SIS no longer lists (or lists tobedeleted) go inactive.
Between them the classes phase asks `class_ended` (a class whose every term is over is out, so
the sweep ends it and its enrollments) and `link` (which schools use which session).

The school year's end: a class is ended when it names at least one term, the run knows every
one of them with an end date, and the last of those dates is before the district's local date
when the run started. Unknown terms or missing dates never end a class. Because a delta reads
only changed classes, a delta that finds a session ended since the last full sync continues as
a full sync (the sweep then ends last year's classes).
"""

import logging
from datetime import date, datetime

from rostersync.ids import record_id
from rostersync.oneroster import BadRecord
from rostersync.oneroster.errors import InsufficientScope, NotOneRoster, RequestRejected
from rostersync.store.roster import ACTIVE, INACTIVE
from rostersync.store.sync_runs import MAX_STORED_ERRORS
from rostersync.sync import mapping, notices, record_checks
from rostersync.sync.context import RunContext
from rostersync.sync.delta import DeltaNotEnough
from rostersync.sync.term_state import END, MODIFIED, PARENT, SCHOOL_YEAR, START, STATUS, TITLE, TYPE, TermState
from rostersync.times import local_date

logger = logging.getLogger(__name__)

TERM_ENDED = "term_ended"  # a held class's reason: every term it belongs to is over
# Answers that mean "this server does not offer that endpoint to us", not "the SIS is down".
NOT_OFFERED = (NotOneRoster, InsufficientScope, RequestRejected)
MAX_DEPTH = 8  # parent chains longer than a calendar's (schoolYear > semester > term > gradingPeriod)
READ_CHUNK = 100  # stored sessions fetched per BatchGet


class TermPhases:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self._ended_ids: set[str] | None = None

    @property
    def terms(self) -> TermState | None:
        return self.ctx.state.terms

    @property
    def _read_terms(self) -> TermState:
        """The run's sessions, once the terms phase has read them."""
        terms = self.ctx.state.terms
        if terms is None:
            raise RuntimeError("the terms phase has not run")
        return terms

    # ------------------------------------------------------------------ phase: terms
    def read(self) -> None:
        """The SIS's sessions into the run state (the whole collection: a resumed phase reads it again)."""
        ctx = self.ctx
        run = ctx.state
        today = local_date(run.started, getattr(ctx.district, "timezone", None))
        run.terms = terms = TermState(today=today.isoformat())
        self._ended_ids = None
        try:
            self._read()
            terms.read = True
        except NOT_OFFERED as error:  # the source has no sessions to offer (sources/port.py)
            logger.info("the SIS offers no academic sessions: %s", error.code)
            terms.sessions = {}
        if not terms.read or not terms.sessions:
            # Without a calendar nothing ends and no stored session is deactivated.
            terms.read = False
            self.ctx.notices.add(notices.terms_unavailable())
        if run.mode == "delta" and terms.read:
            self._check_delta(today)

    def _read(self) -> None:
        terms = self._read_terms
        for page in self.ctx.source.academic_sessions():
            for record in page.records:
                if isinstance(record, BadRecord):
                    self._skip(record.sourced_id, record.code, record.message)
                    continue
                problem = record_checks.record_problem(record)
                if problem is not None:
                    self._skip(record.sourced_id, problem.code, problem.message)
                    continue
                terms.sessions[record.sourced_id] = [
                    record.title,
                    record.type,
                    _iso(record.start_date),
                    _iso(record.end_date),
                    record.parent_id,
                    record.school_year,
                    record.status,
                    record.date_last_modified.isoformat() if record.date_last_modified else None,
                ]

    def _check_delta(self, today: date) -> None:
        """A delta sees only changed classes: a session that ended since the last full sync (by
        the calendar, or because the SIS moved its dates) would leave its unchanged classes
        active, so the run continues as a full sync."""
        district = self.ctx.loaded_district()
        last_full = district.last_full_sync_at
        if last_full is None:
            return
        since = local_date(last_full, getattr(district, "timezone", None)).isoformat()
        for sid, session in self._read_terms.sessions.items():
            if not session[END] or session[END] >= today.isoformat():
                continue
            modified = session[MODIFIED]
            if session[END] >= since or (modified and datetime.fromisoformat(modified) >= last_full):
                raise DeltaNotEnough(f"the academic session {sid!r} ended on {session[END]}, since the last full sync")

    # ------------------------------------------------------------------ the classes phase asks
    def class_ended(self, cls) -> bool:
        """Every term of the class is known and over (see the module's docstring)."""
        terms = self.terms
        if terms is None or not terms.read or not cls.term_ids:
            return False
        last = ""
        for sid in cls.term_ids:
            session = terms.sessions.get(sid)
            if session is None or not session[END]:
                return False
            last = max(last, session[END])
        return last < terms.today

    def link(self, cls, school_id: str) -> None:
        """The class's school uses its terms and their ancestors."""
        terms = self.terms
        if terms is None:
            return
        for sid in cls.term_ids:
            for _ in range(MAX_DEPTH):
                schools = terms.links.setdefault(sid, [])
                if school_id not in schools:
                    schools.append(school_id)
                session = terms.sessions.get(sid)
                sid = session[PARENT] if session else None
                if not sid:
                    break

    def item_ended(self, item: dict) -> bool:
        """A stored class item whose every term (termIds) this run knows as over."""
        term_ids = item.get("termIds") or []
        if not term_ids or self.terms is None or not self.terms.read:
            return False
        if self._ended_ids is None:
            district, today = self.ctx.district_id, self.terms.today
            self._ended_ids = {
                record_id(district, "term", sid) for sid, s in self.terms.sessions.items() if s[END] and s[END] < today
            }
        return all(term_id in self._ended_ids for term_id in term_ids)

    # ------------------------------------------------------------------ phase: write_terms
    def write(self) -> None:
        """Each session written when new or changed; stored ones the SIS dropped go inactive."""
        terms = self.terms
        if terms is None or not terms.read:
            return
        ctx = self.ctx
        table = ctx.roster.terms
        sids = sorted(terms.sessions)
        for start in range(0, len(sids), READ_CHUNK):
            chunk = sids[start : start + READ_CHUNK]
            stored = {}
            if ctx.state.had_items.get(table.name, True):
                stored = ctx.roster.by_sourced_ids(table, chunk, projection=["contentHash", "status", "schoolIds"])
            for sid in chunk:
                before = stored.get(sid)
                item = self._item(sid, before)
                if item is None:
                    continue
                if before is None:
                    change = "created"
                elif before.get("contentHash") == item["contentHash"] and before.get("status") == item["status"]:
                    terms.counts["unchanged"] += 1
                    continue
                else:
                    change = "updated"
                terms.counts[change] += 1
                ctx.store.put(table.name, item)
        ctx.store.flush()
        if ctx.state.had_items.get(table.name, True):
            self._deactivate_dropped(table)
        # Sessions are not one of the run's record types (the contract's counts): logged instead.
        logger.info(
            "academic sessions synced",
            extra={
                "districtId": ctx.district_id,
                "runId": ctx.run_id,
                "terms": dict(terms.counts),
                "sessions": len(terms.sessions),
            },
        )

    def _item(self, sid: str, before: dict | None) -> dict | None:
        session = self._read_terms.sessions[sid]
        ctx, district = self.ctx, self.ctx.district_id
        # A school, once linked, stays: last year's sessions remain their schools' after the classes end.
        schools = set(self._schools_of(sid)) | set((before or {}).get("schoolIds") or [])
        parent = session[PARENT]
        fields = {
            "sisSourcedId": sid,
            "title": session[TITLE],
            "type": session[TYPE],
            "startDate": session[START],
            "endDate": session[END],
            "parentId": record_id(district, "term", parent) if parent else None,
            "parentSourcedId": parent,
            "schoolYear": session[SCHOOL_YEAR],
            "schoolIds": sorted(schools),
        }
        try:
            item = mapping.stamped(
                {"districtId": district, "termId": record_id(district, "term", sid)},
                fields,
                ctx.run_id,
                ctx.now,
                session[STATUS],
            )
        except record_checks.Refused as refused:
            self._skip(sid, refused.code, refused.message)
            return None
        if session[STATUS] != ACTIVE:
            item["status"] = INACTIVE  # tobedeleted in the SIS
        if not schools:
            item["schoolIds"] = None  # left out: no school (ByEnd and the school filter read it so)
        return item

    def _schools_of(self, sid: str) -> list[str]:
        """Its own links (its classes', its children's), else its nearest linked ancestor's."""
        terms = self._read_terms
        current: str | None = sid
        for _ in range(MAX_DEPTH):
            if not current:
                break
            links = terms.links.get(current)
            if links:
                return links
            session = terms.sessions.get(current)
            current = session[PARENT] if session else None
        return []

    def _deactivate_dropped(self, table) -> None:
        ctx, terms = self.ctx, self._read_terms
        sessions = terms.sessions
        for page in ctx.roster.active_items(table):
            for item in page:
                if item.get("sisSourcedId") in sessions:
                    continue  # listed: written above with the SIS's status
                item["status"] = INACTIVE
                item["updatedAt"] = ctx.now
                item["lastRunId"] = ctx.run_id
                terms.counts["deactivated"] += 1
                ctx.store.put(table.name, item)
        ctx.store.flush()

    # ------------------------------------------------------------------ the enrollments phase and the sweep ask
    def enrolled_in_ended(self, class_fp: int, user_fp: int, users_eligible) -> None:
        """An enrollment that does not count because its class's terms are over: its user, if
        they end up with no class, leaves with the school year, not as a loss."""
        sets = self.ctx.state.sets
        if (
            sets["classes_ended"]
            and sets["classes_ended"].contains_fingerprint(class_fp)
            and users_eligible.contains_fingerprint(user_fp)
        ):
            sets["users_term_ended"].add_fingerprint(user_fp)

    def leaves_with_term(self, record_type: str, item: dict) -> bool:
        """Whether a record the sweep deactivates goes because its terms are over: a class whose
        terms all ended (listed, or gone from the SIS with its stored terms over), an enrollment
        in such a class, a user whose every counting enrollment was in such classes. The sweep
        lists classes before enrollments and users, so a gone class is known by then."""
        sets = self.ctx.state.sets
        sid = item.get("sisSourcedId")
        if not sid:
            return False  # a record the app registered and the SIS never listed (issue 13)
        if record_type == "classes":
            if sid in sets["classes_ended"]:
                return True
            if self.item_ended(item):
                sets["classes_ended"].add(sid)  # gone from the SIS after its year: its enrollments follow
                return True
            return False
        if record_type == "enrollments":
            return bool(sets["classes_ended"]) and item.get("classSourcedId", "") in sets["classes_ended"]
        if record_type in ("teachers", "students"):
            return bool(sets["users_term_ended"]) and sid in sets["users_term_ended"]
        return False

    # ------------------------------------------------------------------ telling
    def year_end_notice(self, ended: dict) -> None:
        """A sweep that ends records because their terms are over says so (the run's notices)."""
        notice = notices.school_year_ended(ended)
        if notice is not None:
            self.ctx.notices.add(notice)

    def _skip(self, sid: str | None, code: str, message: str) -> None:
        if self.terms is not None:
            self.terms.counts["skipped"] += 1
        self._notice("terms", code, message, sid)

    def _notice(self, record_type: str, code: str, message: str, sid: str | None = None) -> None:
        ctx = self.ctx
        ctx.state.error_total += 1
        errors = ctx.invocation.errors
        if len(errors) < MAX_STORED_ERRORS:
            errors.append({"type": record_type, "sisSourcedId": sid, "code": code, "message": message[:500]})


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
