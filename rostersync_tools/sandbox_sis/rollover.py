"""The school-year rollover, as a district's SIS does it in the summer.

`roll_over(store, ...)`:
- the current year's calendar has ended: its sessions are moved back in time (same lengths) so
  that the school year ended yesterday (when it had not already), and so are the enrollments'
  dates of its classes;
- a new school year starts today: a schoolYear, a fall and a spring term and four grading
  periods (new sourcedIds), each new session dated from today on;
- every active class of the old year gets a successor in the new year (new sourcedId, same
  course, school, grades, subjects, period, its old terms mapped fall -> fall, spring -> spring)
  with the same teachers and students (new enrollments, dated by the new terms);
- last year's classes then, as `old_classes` says: "keep" (still listed and active, their terms
  over: the sync ends them by date), "tobedeleted" (tombstoned) or "delete" (hard-deleted with
  their enrollments, as many SISes do).
`end_school_year(store, now)` is the first half alone: the year ends and no new one starts
(every class still listed, its terms over).
Users stay as they are (a real rollover also promotes students a grade; the sandbox does not).
Every record touched gets dateLastModified = now.
"""

import random
from datetime import date, datetime, timedelta

from .config import ONEROSTER_BASE_PATH
from .records import RecordBuilder
from .store import DistrictStore
from .timestamps import format_instant

OLD_CLASSES = ("keep", "tobedeleted", "delete")
# The new year's calendar, in days from its first day: (start, end) of each session.
YEAR_DAYS = 297
FALL = (0, 122)
SPRING = (140, 297)
QUARTERS = ((0, 59), (62, 122), (140, 213), (223, 297))


def _ref_id(record: dict, field: str) -> str | None:
    return (record.get(field) or {}).get("sourcedId")


def _shift(text: str | None, days: int) -> str | None:
    return (date.fromisoformat(text) + timedelta(days=days)).isoformat() if text else text


# The sandbox district's calendar days are America/Chicago's, the zone its test and demo districts
# use: "yesterday" must be the district's yesterday, not UTC's (they differ 00:00-06:00 UTC).
SANDBOX_ZONE = "America/Chicago"


def _local_date(now: datetime) -> date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(SANDBOX_ZONE)).date()


def _end_calendar_yesterday(store: DistrictStore, now: datetime, stamp: str) -> tuple[int, str | None]:
    """Shift the active academic sessions so that this school year ended yesterday (nothing when it
    already has): (the days shifted, 0 or negative; the year's end date before the shift)."""
    old_year = store.get("academicSessions", store.plan.school_year_id) or {}
    year_end = old_year.get("endDate")
    shift = min(0, (_local_date(now) - timedelta(days=1) - date.fromisoformat(year_end)).days) if year_end else 0
    if shift:
        for session in [s for s in store.records("academicSessions") if s.get("status") == "active"]:
            store.put(
                "academicSessions",
                dict(
                    session,
                    dateLastModified=stamp,
                    startDate=_shift(session.get("startDate"), shift),
                    endDate=_shift(session.get("endDate"), shift),
                ),
            )
    return shift, year_end


def roll_over(
    store: DistrictStore, seed: int, now: datetime, path_prefix: str = "", old_classes: str = "delete"
) -> dict:
    if old_classes not in OLD_CLASSES:
        raise ValueError(f"oldClasses must be one of {', '.join(OLD_CLASSES)}")
    with store.lock:
        plan = store.plan
        year, new_year = plan.school_year, plan.school_year + 1
        build = RecordBuilder(path_prefix + ONEROSTER_BASE_PATH, random.Random(f"sandbox-sis:{seed}:rollover:{year}"))
        stamp = format_instant(now, "milliseconds")
        today = _local_date(now)
        # 1. Last year's calendar is over.
        shift, _year_end = _end_calendar_yesterday(store, now, stamp)
        # 2. The new year's calendar.
        year_id, fall_id, spring_id = (
            f"as-{new_year}-{new_year + 1}",
            f"term-{new_year}-fall",
            f"term-{new_year + 1}-spring",
        )

        def day(offset: int) -> str:
            return (today + timedelta(days=offset)).isoformat()

        def add_session(sourced_id, title, kind, span, parent, children):
            record = build.base(sourced_id, stamp)
            record.update(
                {
                    "title": title,
                    "type": kind,
                    "startDate": day(span[0]),
                    "endDate": day(span[1]),
                    "parent": build.ref("academicSession", parent) if parent else None,
                    "children": [build.ref("academicSession", c) for c in children],
                    "schoolYear": str(new_year + 1),
                }
            )
            store.put("academicSessions", record)
            return record

        quarter_ids = [f"gp-{new_year}-q1", f"gp-{new_year}-q2", f"gp-{new_year + 1}-q3", f"gp-{new_year + 1}-q4"]
        add_session(
            year_id, f"{new_year}-{new_year + 1} School Year", "schoolYear", (0, YEAR_DAYS), None, [fall_id, spring_id]
        )
        add_session(fall_id, f"Fall Semester {new_year}", "term", FALL, year_id, quarter_ids[:2])
        add_session(spring_id, f"Spring Semester {new_year + 1}", "term", SPRING, year_id, quarter_ids[2:])
        for n, (sid, span) in enumerate(zip(quarter_ids, QUARTERS, strict=True)):
            add_session(sid, f"Quarter {n + 1}", "gradingPeriod", span, fall_id if n < 2 else spring_id, [])
        term_map = {plan.term_ids[0]: fall_id, plan.term_ids[1]: spring_id}
        term_dates = {fall_id: (day(FALL[0]), day(FALL[1])), spring_id: (day(SPRING[0]), day(SPRING[1]))}

        # 3. Successors of last year's classes, with the same people.
        by_class = store.enrollments_by("class")
        old = [
            c
            for c in store.records("classes")
            if c.get("status") == "active" and any((t or {}).get("sourcedId") in term_map for t in c.get("terms") or [])
        ]
        created_classes = created_enrollments = 0
        for klass in old:
            terms = [term_map.get(t.get("sourcedId"), t.get("sourcedId")) for t in klass.get("terms") or []]
            sid = plan.sequences.next("cls")
            store.put(
                "classes",
                dict(
                    klass,
                    sourcedId=sid,
                    dateLastModified=stamp,
                    metadata=build.metadata(),
                    terms=[build.ref("academicSession", t) for t in terms],
                ),
            )
            created_classes += 1
            begin, end = term_dates.get(terms[0], (None, None))[0], term_dates.get(terms[-1], (None, None))[1]
            for enrollment in list(by_class.get(klass["sourcedId"], [])):
                if enrollment.get("status") != "active":
                    continue
                store.put(
                    "enrollments",
                    build.enrollment(
                        plan.sequences.next("enr"),
                        stamp,
                        user_id=_ref_id(enrollment, "user"),
                        class_id=sid,
                        school_id=_ref_id(enrollment, "school") or _ref_id(klass, "school"),
                        role=enrollment.get("role"),
                        primary=enrollment.get("primary"),
                        begin=begin,
                        end=end,
                    ),
                )
                created_enrollments += 1
            # 4. Last year's class as the SIS leaves it.
            old_enrollments = list(by_class.get(klass["sourcedId"], []))
            if old_classes == "delete":
                for enrollment in old_enrollments:
                    store.delete("enrollments", enrollment["sourcedId"])
                store.delete("classes", klass["sourcedId"])
            elif old_classes == "tobedeleted":
                store.put("classes", dict(klass, status="tobedeleted", dateLastModified=stamp))
            elif shift:
                for enrollment in old_enrollments:  # its enrollments' dates move with its terms
                    store.put(
                        "enrollments",
                        dict(
                            enrollment,
                            dateLastModified=stamp,
                            beginDate=_shift(enrollment.get("beginDate"), shift),
                            endDate=_shift(enrollment.get("endDate"), shift),
                        ),
                    )

        plan.school_year, plan.school_year_id, plan.term_ids = new_year, year_id, (fall_id, spring_id)
        result = {
            "schoolYear": f"{new_year}-{new_year + 1}",
            "schoolYearId": year_id,
            "terms": [fall_id, spring_id],
            "classesCreated": created_classes,
            "enrollmentsCreated": created_enrollments,
            "oldClasses": old_classes,
            "oldClassesAffected": len(old),
            "calendarShiftDays": shift,
        }
        store.history.append(
            {"day": store.day, "changes": [{"change": "school year rolled over", "sourcedId": year_id}]}
        )
        store.version += 1
        return result


def end_school_year(store: DistrictStore, now: datetime) -> dict:
    """The school year ends and no new one is set up yet (an SIS over the summer, or a server whose
    seed data is last year's): the calendar moves back so that the year ended yesterday (the
    enrollments' dates with it); every class stays listed and active, its terms over."""
    with store.lock:
        plan = store.plan
        stamp = format_instant(now, "milliseconds")
        shift, year_end = _end_calendar_yesterday(store, now, stamp)
        if shift:
            for enrollment in list(store.records("enrollments")):
                store.put(
                    "enrollments",
                    dict(
                        enrollment,
                        dateLastModified=stamp,
                        beginDate=_shift(enrollment.get("beginDate"), shift),
                        endDate=_shift(enrollment.get("endDate"), shift),
                    ),
                )
        ended_on = _shift(year_end, shift) if year_end else None
        store.history.append(
            {"day": store.day, "changes": [{"change": "school year ended", "sourcedId": plan.school_year_id}]}
        )
        store.version += 1
        return {"schoolYearId": plan.school_year_id, "endedOn": ended_on, "calendarShiftDays": shift}
