"""One school day in the district's SIS: what staff enter, correct, withdraw and delete.

Deterministic from seed + day: the same day always picks the same records and makes the same
changes. Every record touched gets dateLastModified = the real current UTC time (a product's
delta sync compares against its own clock); untouched records keep theirs.
"""

import random
from datetime import datetime

from .config import ONEROSTER_BASE_PATH
from .names import FAMILY_NAMES
from .records import RecordBuilder, email_local_part, new_student
from .store import DistrictStore
from .timestamps import format_instant

ADDED_STUDENTS = 3
CLASSES_PER_NEW_STUDENT = 5
STUDENTS_IN_NEW_CLASS = 8
HARD_DELETED_STUDENTS = 2
TOBEDELETED_ENROLLMENTS = 3


def _ref_id(record: dict, field: str) -> str | None:
    return (record.get(field) or {}).get("sourcedId")


class DayOfChanges:
    def __init__(self, store: DistrictStore, seed: int, day: int, now: datetime, path_prefix: str = ""):
        self.store = store
        self.plan = store.plan
        self.day = day
        self.rng = random.Random(f"sandbox-sis:{seed}:day:{day}")
        self.build = RecordBuilder(path_prefix + ONEROSTER_BASE_PATH, self.rng)
        # Millisecond precision for touched records: a cursor taken a moment before must stay before.
        self.stamp = format_instant(now, "milliseconds")
        self.changes: list[dict] = []
        self.touched: set[str] = set()  # sourcedIds already changed today: one change per record
        self.session_dates = {
            s["sourcedId"]: (s.get("startDate"), s.get("endDate")) for s in store.records("academicSessions")
        }

    def run(self) -> list[dict]:
        """Apply the day's changes to the store; the list of {"change", "sourcedId"} made."""
        with self.store.lock:
            self.add_students()
            self.add_class()
            self.change_teacher()
            self.rename_class()
            self.change_student_grade()
            self.hard_delete_students()
            self.mark_tobedeleted()
        return self.changes

    # -- helpers
    def note(self, change: str, sourced_id: str) -> None:
        self.changes.append({"change": change, "sourcedId": sourced_id})
        self.touched.add(sourced_id)

    def touch(self, collection: str, record: dict, **fields) -> dict:
        """Store a changed copy of `record` with a fresh dateLastModified."""
        changed = dict(record, dateLastModified=self.stamp, **fields)
        self.store.put(collection, changed)
        return changed

    def active_classes(self) -> dict[str, dict]:
        return {c["sourcedId"]: c for c in self.store.records("classes") if c.get("status") == "active"}

    def rostered(self, role: str) -> list[dict]:
        """Active users of `role` with an active enrollment in an active class: those a sync picks up."""
        classes = self.active_classes()
        by_user = self.store.enrollments_by("user")
        return [
            u
            for u in self.store.records("users")
            if u.get("role") == role
            and u.get("status") == "active"
            and u["sourcedId"] not in self.touched
            and any(
                e.get("status") == "active" and e.get("role") == role and _ref_id(e, "class") in classes
                for e in by_user.get(u["sourcedId"], [])
            )
        ]

    def pick(self, candidates: list[dict], count: int = 1) -> list[dict]:
        candidates = [c for c in candidates if c["sourcedId"] not in self.touched]
        return self.rng.sample(candidates, min(count, len(candidates)))

    def enroll(self, user_id: str, klass: dict, role: str, primary) -> None:
        terms = [ref["sourcedId"] for ref in klass.get("terms") or []]
        begin = self.session_dates.get(terms[0], (None, None))[0] if terms else None
        end = self.session_dates.get(terms[-1], (None, None))[1] if terms else None
        enrollment = self.build.enrollment(
            self.plan.sequences.next("enr"),
            self.stamp,
            user_id=user_id,
            class_id=klass["sourcedId"],
            school_id=_ref_id(klass, "school"),
            role=role,
            primary=primary,
            begin=begin,
            end=end,
        )
        self.store.put("enrollments", enrollment)
        self.note("added enrollment", enrollment["sourcedId"])

    # -- the changes
    def add_students(self) -> None:
        """New students arrive, each put in about five classes of their grade at their school."""
        classes = list(self.active_classes().values())
        for _ in range(ADDED_STUDENTS):
            school = self.rng.choice(sorted(self.plan.school_grades))
            grade = self.rng.choice(self.plan.school_grades[school])
            student, demographics = new_student(self.build, self.plan, school, grade, self.stamp)
            self.store.put("users", student)
            self.store.put("demographics", demographics)
            self.note("added student", student["sourcedId"])
            pool = [c for c in classes if _ref_id(c, "school") == school and grade in (c.get("grades") or [])]
            for klass in self.rng.sample(pool, min(CLASSES_PER_NEW_STUDENT, len(pool))):
                self.enroll(student["sourcedId"], klass, "student", "false")

    def add_class(self) -> None:
        """A new section of an existing course, with the template section's teacher and some students."""
        classes = self.active_classes()
        if not classes:
            return
        template = classes[self.rng.choice(sorted(classes))]
        course_id = _ref_id(template, "course")
        course = self.store.get("courses", course_id) or {}
        sections = sum(1 for c in self.store.records("classes") if _ref_id(c, "course") == course_id)
        sid = self.plan.sequences.next("cls")
        title = course.get("title") or template["title"].split(" - ")[0]
        code = course.get("courseCode") or template["classCode"].rsplit("-", 1)[0]
        klass = dict(
            template,
            sourcedId=sid,
            dateLastModified=self.stamp,
            metadata=self.build.metadata(),
            title=f"{title} - Section {sections + 1}",
            classCode=f"{code}-{sections + 1:02d}",
            location=f"Room {self.rng.randint(100, 299)}",
        )
        self.store.put("classes", klass)
        self.note("added class", sid)
        by_class = self.store.enrollments_by("class")
        teachers = [
            e["user"]["sourcedId"]
            for e in by_class.get(template["sourcedId"], [])
            if e.get("role") == "teacher" and e.get("status") == "active"
        ]
        if teachers:
            self.enroll(teachers[0], klass, "teacher", "true")
        school, grades = _ref_id(klass, "school"), set(klass.get("grades") or [])
        students = [
            u
            for u in self.store.records("users")
            if u.get("role") == "student"
            and u.get("status") == "active"
            and school in {o.get("sourcedId") for o in u.get("orgs") or []}
            and grades & set(u.get("grades") or [])
        ]
        for student in self.rng.sample(students, min(STUDENTS_IN_NEW_CLASS, len(students))):
            self.enroll(student["sourcedId"], klass, "student", "false")

    def change_teacher(self) -> None:
        """A teacher marries: new familyName, new e-mail address."""
        for teacher in self.pick(self.rostered("teacher")):
            family = self.rng.choice([f for f in FAMILY_NAMES if f != teacher.get("familyName")])
            local, n = email_local_part(teacher.get("givenName", ""), family), 1
            while f"{local}{n if n > 1 else ''}" in self.plan.used_emails:
                n += 1
            local = f"{local}{n if n > 1 else ''}"
            self.plan.used_emails.add(local)
            self.touch("users", teacher, familyName=family, email=f"{local}@{self.plan.domain}")
            self.note("changed teacher email and familyName", teacher["sourcedId"])

    def rename_class(self) -> None:
        classes = [c for c in self.active_classes().values() if " - " in c.get("title", "")]
        for klass in self.pick(classes):
            base = klass["title"].split(" - ")[0]
            title = klass["title"]
            while title == klass["title"]:
                title = f"{base} - Period {self.rng.randint(1, 7)}"
            self.touch("classes", klass, title=title)
            self.note("changed class title", klass["sourcedId"])

    def change_student_grade(self) -> None:
        """A placement correction: the student moves to a neighbouring grade of their school."""
        for student in self.pick(self.rostered("student")):
            school = next((o["sourcedId"] for o in student.get("orgs") or []), None)
            grades = self.plan.school_grades.get(school, ()) if school is not None else ()
            current = (student.get("grades") or [None])[0]
            if current not in grades or len(grades) < 2:
                continue
            i = grades.index(current)
            new_grade = grades[i + 1] if i + 1 < len(grades) else grades[i - 1]
            self.touch("users", student, grades=[new_grade])
            self.note("changed student grade", student["sourcedId"])

    def hard_delete_students(self) -> None:
        """Withdrawn students vanish, with their enrollments and demographics (no tombstone)."""
        without_guardians = [u for u in self.rostered("student") if not u.get("agents")]
        for student in self.pick(without_guardians, HARD_DELETED_STUDENTS):
            sid = student["sourcedId"]
            for enrollment in list(self.store.enrollments_by("user").get(sid, [])):
                self.store.delete("enrollments", enrollment["sourcedId"])
            self.store.delete("demographics", sid)
            self.store.delete("users", sid)
            self.note("hard-deleted student", sid)

    def mark_tobedeleted(self) -> None:
        """Tombstones: a student, a class and a few enrollments; other records still point at them."""
        for student in self.pick(self.rostered("student")):
            self.touch("users", student, status="tobedeleted")
            self.note("tobedeleted student", student["sourcedId"])
        by_class = self.store.enrollments_by("class")
        with_students = [
            c
            for c in self.active_classes().values()
            if any(e.get("role") == "student" for e in by_class.get(c["sourcedId"], []))
        ]
        for klass in self.pick(with_students):
            self.touch("classes", klass, status="tobedeleted")
            self.note("tobedeleted class", klass["sourcedId"])
        classes = self.active_classes()
        enrollments = [
            e
            for e in self.store.records("enrollments")
            if e.get("status") == "active"
            and e.get("role") == "student"
            and _ref_id(e, "class") in classes
            and _ref_id(e, "user") not in self.touched
        ]
        for enrollment in self.pick(enrollments, TOBEDELETED_ENROLLMENTS):
            self.touch("enrollments", enrollment, status="tobedeleted")
            self.note("tobedeleted enrollment", enrollment["sourcedId"])


def advance_one_day(store: DistrictStore, seed: int, now: datetime, path_prefix: str = "") -> dict:
    """Move the district to the next day; {"day": n, "changes": [...]} (also kept in store.history)."""
    with store.lock:
        day = store.day + 1
        changes = DayOfChanges(store, seed, day, now, path_prefix).run()
        store.day = day
        entry = {"day": day, "changes": changes}
        store.history.append(entry)
        return {"day": day, "changes": list(changes)}
