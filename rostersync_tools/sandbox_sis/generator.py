"""The day-1 district: orgs, sessions, courses, classes, users, enrollments, deterministic from a seed.

Sizes come from SandboxConfig. Everything is drawn from one random.Random(seed), in a fixed order,
so the same config always gives the same records (dates included, see `school_year_of`).
"""

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from . import catalog
from .config import ONEROSTER_BASE_PATH, SandboxConfig
from .names import DISTRICT_PLACES, SCHOOL_NAMESAKES
from .records import DistrictPlan, IdSequences, RecordBuilder, email_local_part, new_student, person_name

COLLECTIONS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments", "demographics")
NO_SUBJECT_SHARE = 0.08  # classes that carry no subjects of their own (their course's count)
CO_TEACHER_SHARE = 0.05
PRIMARY_NULL_SHARE = 0.1  # teacher enrollments whose `primary` is JSON null


@dataclass
class GeneratedDistrict:
    collections: dict[str, list[dict]]
    plan: DistrictPlan


def school_year_of(today: date) -> int:
    """The first calendar year of the school year `today` falls in: from June 12 on (the day after
    the last term ends, see make_sessions) the next one, so a generated district is never a year
    whose classes are all over (a sync ends those, sync/terms.py).

    Day-1 records are dated in May of that year, so they are always in the past.
    """
    return today.year if (today.month, today.day) >= (6, 12) else today.year - 1


def apportion(total: int, weights: list[int], at_least_one: bool = True) -> list[int]:
    """Split `total` into integer parts proportional to `weights` (largest remainder).

    With at_least_one (and enough to go round) every part with a positive weight gets one first.
    """
    if not weights:
        return []
    if sum(weights) == 0:
        weights = [1] * len(weights)
    parts = [0] * len(weights)
    if at_least_one and total >= sum(1 for w in weights if w > 0):
        parts = [1 if w > 0 else 0 for w in weights]
    rest = total - sum(parts)
    weight_sum = sum(weights)
    shares = [rest * w / weight_sum for w in weights]
    floors = [int(share) for share in shares]
    parts = [p + f for p, f in zip(parts, floors, strict=True)]
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class DistrictGenerator:
    def __init__(self, config: SandboxConfig, today: date | None = None):
        self.config = config
        self.rng = random.Random(config.seed)
        self.build = RecordBuilder(config.path_prefix + ONEROSTER_BASE_PATH, self.rng)
        self.year = (
            config.school_year if config.school_year is not None else school_year_of(today or datetime.now(UTC).date())
        )
        self.day1_start = datetime(self.year, 5, 15, 6, 0, tzinfo=UTC)
        self.sequences = IdSequences(guids=config.guid_ids)
        self.used_emails: set[str] = set()
        self.used_usernames: set[str] = set()
        self.orgs: list[dict] = []
        self.sessions: list[dict] = []
        self.courses: list[dict] = []
        self.classes: list[dict] = []
        self.users: list[dict] = []
        self.enrollments: list[dict] = []
        self.demographics: list[dict] = []

    # -- helpers
    def day1_stamp(self) -> str:
        """A moment in the second half of May before the school year: when the district's SIS was set up for it."""
        offset_us = int(self.rng.random() * 14 * 24 * 3600 * 1_000_000)
        return self.build.stamp(self.day1_start + timedelta(microseconds=offset_us))

    def person_name(self) -> tuple[str, str, str]:
        return person_name(self.rng)

    def unique(self, candidate: str, used: set[str]) -> str:
        value, n = candidate, 1
        while value in used:
            n += 1
            value = f"{candidate}{n}"
        used.add(value)
        return value

    def staff_email(self, given: str, family: str) -> str:
        local = self.unique(email_local_part(given, family), self.used_emails)
        return f"{local}@{self.domain}"

    # -- the district
    def generate(self) -> GeneratedDistrict:
        self.make_orgs()
        self.make_sessions()
        self.plan = DistrictPlan(
            domain=self.domain,
            school_year=self.year,
            school_year_id=self.year_id,
            term_ids=(self.fall_id, self.spring_id),
            school_grades={sid: kind.grades for sid, kind in self.school_kind.items()},
            sequences=self.sequences,
            used_emails=self.used_emails,
        )
        self.make_students()
        self.make_classes()
        self.make_teachers_and_their_enrollments()
        self.make_other_staff()
        self.make_student_enrollments()
        self.make_guardians()
        self.mark_day1_deletions()
        collections = {
            "orgs": self.orgs,
            "academicSessions": self.sessions,
            "courses": self.courses,
            "classes": self.classes,
            "users": self.users,
            "enrollments": self.enrollments,
            "demographics": self.demographics,
        }
        return GeneratedDistrict(collections, self.plan)

    def make_orgs(self):
        place = self.rng.choice(DISTRICT_PLACES)
        self.domain = f"{slug(place)}-usd.example.org"
        district_number = f"{self.rng.randrange(1_000_000, 9_999_999)}"
        self.district_id = "org-district"
        kinds = catalog.school_kinds(self.config.schools)
        namesakes = self.rng.sample(SCHOOL_NAMESAKES, min(len(kinds), len(SCHOOL_NAMESAKES)))
        self.school_kind: dict[str, catalog.SchoolKind] = {}
        schools = []
        for i, kind in enumerate(kinds):
            namesake = namesakes[i % len(namesakes)] + (f" {i // len(namesakes) + 1}" if i >= len(namesakes) else "")
            sourced_id = self.sequences.named(f"sch-{slug(namesake)}-{kind.short}")
            name = f"{namesake} {kind.name}"
            record = self.build.base(sourced_id, self.day1_stamp())
            record.update(
                {
                    "name": name,
                    "type": "school",
                    "identifier": f"{district_number}{i + 1:05d}",
                    "parent": self.build.ref("org", self.district_id),
                    "children": [],
                }
            )
            schools.append(record)
            self.school_kind[sourced_id] = kind
        district = self.build.base(self.district_id, self.day1_stamp())
        district.update(
            {
                "name": f"{place} Unified School District",
                "type": "district",
                "identifier": district_number,
                "parent": None,
                "children": [self.build.ref("org", s["sourcedId"]) for s in schools],
            }
        )
        self.orgs = [district, *schools]
        self.school_ids = [s["sourcedId"] for s in schools]

    def make_sessions(self):
        y = self.year
        self.year_id, self.fall_id, self.spring_id = f"as-{y}-{y + 1}", f"term-{y}-fall", f"term-{y + 1}-spring"
        self.term_dates = {
            self.year_id: (f"{y}-08-18", f"{y + 1}-06-11"),
            self.fall_id: (f"{y}-08-18", f"{y}-12-18"),
            self.spring_id: (f"{y + 1}-01-05", f"{y + 1}-06-11"),
        }
        quarters = [
            (f"gp-{y}-q1", "Quarter 1", f"{y}-08-18", f"{y}-10-16", self.fall_id),
            (f"gp-{y}-q2", "Quarter 2", f"{y}-10-19", f"{y}-12-18", self.fall_id),
            (f"gp-{y + 1}-q3", "Quarter 3", f"{y + 1}-01-05", f"{y + 1}-03-19", self.spring_id),
            (f"gp-{y + 1}-q4", "Quarter 4", f"{y + 1}-03-29", f"{y + 1}-06-11", self.spring_id),
        ]

        def session(sourced_id, title, kind, start, end, parent, children):
            record = self.build.base(sourced_id, self.day1_stamp())
            record.update(
                {
                    "title": title,
                    "type": kind,
                    "startDate": start,
                    "endDate": end,
                    "parent": self.build.ref("academicSession", parent) if parent else None,
                    "children": [self.build.ref("academicSession", c) for c in children],
                    "schoolYear": str(y + 1),
                }
            )
            return record

        self.sessions = [
            session(
                self.year_id,
                f"{y}-{y + 1} School Year",
                "schoolYear",
                *self.term_dates[self.year_id],
                None,
                [self.fall_id, self.spring_id],
            ),
            session(
                self.fall_id,
                f"Fall Semester {y}",
                "term",
                *self.term_dates[self.fall_id],
                self.year_id,
                [q[0] for q in quarters[:2]],
            ),
            session(
                self.spring_id,
                f"Spring Semester {y + 1}",
                "term",
                *self.term_dates[self.spring_id],
                self.year_id,
                [q[0] for q in quarters[2:]],
            ),
        ] + [
            session(sid, title, "gradingPeriod", start, end, parent, []) for sid, title, start, end, parent in quarters
        ]

    def make_students(self):
        """Students first (without enrollments), so that classes can follow where the students are."""
        schools_for_grade = {g: [s for s in self.school_ids if g in self.school_kind[s].grades] for g in catalog.GRADES}
        self.students_by_slot: dict[tuple[str, str], list[str]] = {}
        self.student_slot: dict[str, tuple[str, str]] = {}
        for _ in range(self.config.students):
            grade = self.rng.choice(catalog.GRADES)
            school = self.rng.choice(schools_for_grade[grade])
            record, demographics = new_student(self.build, self.plan, school, grade, self.day1_stamp())
            self.users.append(record)
            self.demographics.append(demographics)
            sid = record["sourcedId"]
            self.students_by_slot.setdefault((school, grade), []).append(sid)
            self.student_slot[sid] = (school, grade)

    def make_classes(self):
        """Sections of each grade's courses, as many per (school, grade) as its students call for."""
        slots = [(school, grade) for school in self.school_ids for grade in self.school_kind[school].grades]
        counts = apportion(self.config.classes, [len(self.students_by_slot.get(slot, ())) for slot in slots])
        self.course_ids: dict[tuple[str, str], str] = {}
        self.sections: dict[str, int] = {}
        self.classes_by_slot: dict[tuple[str, str], list[str]] = {slot: [] for slot in slots}
        self.class_info: dict[str, dict] = {}  # class sourcedId -> school, dates (for enrollments)
        for (school, grade), count in zip(slots, counts, strict=True):
            offerings = catalog.offerings_for(grade)
            for i in range(count):
                self.add_class(school, grade, offerings[i % len(offerings)], self.day1_stamp())

    def course_for(self, school: str, grade: str, offering: catalog.Offering, modified: str) -> str:
        key = (school, offering.code)
        if key not in self.course_ids:
            grades = list(self.school_kind[school].grades) if offering.elective else [grade]
            sid = self.sequences.next("crs")
            self.courses.append(
                self.build.course(
                    sid,
                    modified,
                    title=offering.title,
                    code=offering.code,
                    grades=grades,
                    subject=offering.subject,
                    sced=offering.sced,
                    school_id=school,
                    school_year_id=self.year_id,
                )
            )
            self.course_ids[key] = sid
        return self.course_ids[key]

    def add_class(self, school: str, grade: str, offering: catalog.Offering, modified: str) -> dict:
        course = self.course_for(school, grade, offering, modified)
        section = self.sections[course] = self.sections.get(course, 0) + 1
        grades = list(self.school_kind[school].grades) if offering.elective else [grade]
        if offering.semester:
            terms = [self.rng.choice((self.fall_id, self.spring_id))]
        else:
            terms = [self.fall_id, self.spring_id]
        elementary = grade in catalog.ELEMENTARY_GRADES
        period = "1" if offering.homeroom else str(self.rng.randint(2, 6) if elementary else self.rng.randint(1, 7))
        own_subject = self.rng.random() >= NO_SUBJECT_SHARE
        sid = self.sequences.next("cls")
        record = self.build.klass(
            sid,
            modified,
            title=f"{offering.title} - Section {section}",
            code=f"{offering.code}-{section:02d}",
            class_type="homeroom" if offering.homeroom else "scheduled",
            location=f"Room {self.rng.randint(100, 299)}",
            grades=grades,
            subject=offering.subject if own_subject else None,
            sced=offering.sced if own_subject else None,
            course_id=course,
            school_id=school,
            term_ids=terms,
            periods=[period],
        )
        self.classes.append(record)
        begin = self.term_dates[terms[0]][0]
        end = self.term_dates[terms[-1]][1]
        self.class_info[sid] = {"school": school, "begin": begin, "end": end}
        for g in grades:
            self.classes_by_slot.setdefault((school, g), []).append(sid)
        return record

    def add_enrollment(self, user: str, klass: str, role: str, primary, modified: str) -> dict:
        info = self.class_info[klass]
        record = self.build.enrollment(
            self.sequences.next("enr"),
            modified,
            user_id=user,
            class_id=klass,
            school_id=info["school"],
            role=role,
            primary=primary,
            begin=info["begin"],
            end=info["end"],
        )
        self.enrollments.append(record)
        return record

    def new_staff(self, prefix: str, role: str, org_ids: list[str], modified: str) -> dict:
        sid = self.sequences.next(prefix)
        given, family, middle = self.person_name()
        employee = f"E{self.rng.randrange(10000, 99999)}"
        username = self.unique(f"{given[0]}{family}".lower().replace("'", ""), self.used_usernames)
        return self.build.user(
            sid,
            modified,
            role=role,
            given=given,
            family=family,
            middle=middle,
            username=username,
            email=self.staff_email(given, family),
            identifier=employee,
            id_type="employeeId",
            org_ids=org_ids,
            grades=[],
        )

    def make_teachers_and_their_enrollments(self):
        class_count = {s: 0 for s in self.school_ids}
        for info in self.class_info.values():
            class_count[info["school"]] += 1
        per_school = apportion(self.config.teachers, [class_count[s] for s in self.school_ids])
        self.teachers_by_school: dict[str, list[str]] = {s: [] for s in self.school_ids}
        all_teachers = []
        for school, count in zip(self.school_ids, per_school, strict=True):
            for _ in range(count):
                orgs = [school]
                if len(self.school_ids) > 1 and self.rng.random() < 0.05:  # itinerant: two schools
                    orgs.append(self.rng.choice([s for s in self.school_ids if s != school]))
                record = self.new_staff("tch", "teacher", orgs, self.day1_stamp())
                self.users.append(record)
                self.teachers_by_school[school].append(record["sourcedId"])
                all_teachers.append(record["sourcedId"])
        if not all_teachers:
            return
        turn = {s: 0 for s in self.school_ids}
        for klass, info in self.class_info.items():
            staff = self.teachers_by_school[info["school"]] or all_teachers
            teacher = staff[turn[info["school"]] % len(staff)]
            turn[info["school"]] += 1
            primary = None if self.rng.random() < PRIMARY_NULL_SHARE else "true"
            self.add_enrollment(teacher, klass, "teacher", primary, self.day1_stamp())
            if len(staff) > 1 and self.rng.random() < CO_TEACHER_SHARE:
                co_teacher = self.rng.choice([t for t in staff if t != teacher])
                self.add_enrollment(co_teacher, klass, "teacher", "false", self.day1_stamp())

    def make_other_staff(self):
        """Administrators and aides: in the SIS (some even enrolled), never synced as teachers."""
        self.users.append(self.new_staff("adm", "administrator", [self.district_id], self.day1_stamp()))
        for n, school in enumerate(self.school_ids):
            principal = self.new_staff("adm", "administrator", [school], self.day1_stamp())
            aide = self.new_staff("aid", "aide", [school], self.day1_stamp())
            self.users += [principal, aide]
            school_classes = [c for c, info in self.class_info.items() if info["school"] == school]
            if school_classes:
                self.add_enrollment(
                    aide["sourcedId"], self.rng.choice(school_classes), "aide", "false", self.day1_stamp()
                )
                if n == 0:
                    self.add_enrollment(
                        principal["sourcedId"],
                        self.rng.choice(school_classes),
                        "administrator",
                        "false",
                        self.day1_stamp(),
                    )

    def make_student_enrollments(self):
        """Each student in about enrollments/students classes of their grade at their school."""
        students = list(self.student_slot)
        if not students:
            return
        wanted = max(0, self.config.enrollments - len(self.enrollments))
        base, extra = divmod(wanted, len(students))
        for i, sid in enumerate(students):
            pool = self.classes_by_slot.get(self.student_slot[sid], [])
            count = min(base + (1 if i < extra else 0), len(pool))
            for klass in self.rng.sample(pool, count):
                self.add_enrollment(sid, klass, "student", "false", self.day1_stamp())

    def make_guardians(self):
        students = [u for u in self.users if u["role"] == "student"]
        if not students:
            return
        for student in self.rng.sample(students, min(50, max(1, len(students) // 100))):
            given, _, middle = self.person_name()
            family = student["familyName"]
            sid = self.sequences.next("gdn")
            guardian = self.build.user(
                sid,
                self.day1_stamp(),
                role="guardian",
                given=given,
                family=family,
                middle=middle,
                username="",
                email=f"{email_local_part(given, family)}.{sid[-4:]}@mail.example.com",
                identifier=sid,
                id_type="guardianId",
                org_ids=[o["sourcedId"] for o in student["orgs"]],
                grades=[],
                agent_ids=[student["sourcedId"]],
            )
            student["agents"].append(self.build.ref("user", sid))
            self.users.append(guardian)

    def mark_day1_deletions(self):
        """A student and a class already tobedeleted, their enrollments still active (as SISes leave them)."""
        enrolled_students = sorted({e["user"]["sourcedId"] for e in self.enrollments if e["role"] == "student"})
        enrolled_classes = sorted({e["class"]["sourcedId"] for e in self.enrollments if e["role"] == "student"})
        if enrolled_students:
            victim = self.rng.choice(enrolled_students)
            next(u for u in self.users if u["sourcedId"] == victim)["status"] = "tobedeleted"
        if len(enrolled_classes) > 1:
            victim = self.rng.choice(enrolled_classes)
            next(c for c in self.classes if c["sourcedId"] == victim)["status"] = "tobedeleted"


def generate_district(config: SandboxConfig, today: date | None = None) -> GeneratedDistrict:
    return DistrictGenerator(config, today).generate()
