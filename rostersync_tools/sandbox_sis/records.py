"""Building OneRoster 1.1 records (plain dicts) the way the generator and the daily changes need them."""

import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .catalog import GRADES
from .names import FAMILY_NAMES, GIVEN_NAMES, MIDDLE_INITIALS
from .timestamps import PRECISIONS, format_instant

# The reference `type` -> the collection its href points into.
COLLECTION_OF_TYPE = {
    "org": "orgs",
    "academicSession": "academicSessions",
    "course": "courses",
    "class": "classes",
    "user": "users",
    "enrollment": "enrollments",
}


@dataclass
class IdSequences:
    """Readable, never reused sourcedIds per prefix ("stu-000042"); records added later continue them."""

    widths: dict[str, int] = field(
        default_factory=lambda: {"crs": 5, "cls": 5, "stu": 6, "tch": 5, "adm": 3, "aid": 3, "gdn": 4, "enr": 7}
    )
    last: dict[str, int] = field(default_factory=dict)
    # GUID sourcedIds, as many SIS vendors use (36 characters each): the readable id's uuid5.
    guids: bool = False

    def next(self, prefix: str) -> str:
        number = self.last.get(prefix, 0) + 1
        self.last[prefix] = number
        return self.named(f"{prefix}-{number:0{self.widths.get(prefix, 6)}d}")

    def named(self, readable: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-sis:{readable}")) if self.guids else readable


@dataclass
class DistrictPlan:
    """Facts about the district that OneRoster records do not carry but later days need."""

    domain: str  # e-mail domain
    school_year: int  # first calendar year of the school year
    school_year_id: str
    term_ids: tuple[str, str]  # fall, spring
    school_grades: dict[str, tuple[str, ...]]  # school sourcedId -> grades it serves
    sequences: IdSequences
    used_emails: set[str]


def email_local_part(*words: str) -> str:
    return ".".join(re.sub(r"[^a-z0-9]", "", word.lower()) for word in words if word)


class RecordBuilder:
    """Makes records; hrefs are host-relative (prefix + base path), as many servers send them."""

    def __init__(self, base_path: str, rng: random.Random):
        self.base_path = base_path
        self.rng = rng

    def ref(self, kind: str, sourced_id: str | None) -> dict:
        return {
            "href": f"{self.base_path}/{COLLECTION_OF_TYPE[kind]}/{sourced_id}",
            "sourcedId": sourced_id,
            "type": kind,
        }

    def stamp(self, moment: datetime, precision: str | None = None) -> str:
        """dateLastModified in a precision picked at random (6:3:2), as a district's mixed systems write it."""
        if precision is None:
            draw = self.rng.random() * 11
            precision = PRECISIONS[0] if draw < 6 else PRECISIONS[1] if draw < 9 else PRECISIONS[2]
        return format_instant(moment, precision)

    def metadata(self, extension: dict | None = None):
        # Some servers send metadata null, most an object (often empty).
        if self.rng.random() < 0.2:
            return None
        return dict(extension or {})

    def base(self, sourced_id: str, modified: str, status: str = "active", extension: dict | None = None) -> dict:
        return {
            "sourcedId": sourced_id,
            "status": status,
            "dateLastModified": modified,
            "metadata": self.metadata(extension),
        }

    def enabled_flag(self):
        # OneRoster says the string "true"; some servers send a JSON boolean.
        return True if self.rng.random() < 0.15 else "true"

    def user(
        self,
        sourced_id: str,
        modified: str,
        *,
        role: str,
        given: str,
        family: str,
        middle: str,
        username: str,
        email: str,
        identifier: str,
        id_type: str,
        org_ids: list[str],
        grades: list[str],
        agent_ids: list[str] | None = None,
    ) -> dict:
        record = self.base(sourced_id, modified)
        record.update(
            {
                "username": username,
                "userIds": [{"type": id_type, "identifier": identifier}],
                "enabledUser": self.enabled_flag(),
                "givenName": given,
                "familyName": family,
                "middleName": middle,
                "role": role,
                "identifier": identifier,
                "email": email,
                "sms": "",
                "phone": "",
                "agents": [self.ref("user", agent) for agent in agent_ids or []],
                "orgs": [self.ref("org", org) for org in org_ids],
                "grades": list(grades),
            }
        )
        return record

    def course(
        self,
        sourced_id: str,
        modified: str,
        *,
        title: str,
        code: str,
        grades: list[str],
        subject: str,
        sced: str,
        school_id: str,
        school_year_id: str,
    ) -> dict:
        record = self.base(sourced_id, modified)
        record.update(
            {
                "title": title,
                "schoolYear": self.ref("academicSession", school_year_id),
                "courseCode": code,
                "grades": list(grades),
                "subjects": [subject],
                "subjectCodes": [sced],
                "org": self.ref("org", school_id),
            }
        )
        return record

    def klass(
        self,
        sourced_id: str,
        modified: str,
        *,
        title: str,
        code: str,
        class_type: str,
        location: str,
        grades: list[str],
        subject: str | None,
        sced: str | None,
        course_id: str,
        school_id: str,
        term_ids: list[str],
        periods: list[str],
    ) -> dict:
        """A class; subject None means the class carries no subjects of its own (its course's count)."""
        record = self.base(sourced_id, modified)
        record.update(
            {
                "title": title,
                "classCode": code,
                "classType": class_type,
                "location": location,
                "grades": list(grades),
            }
        )
        if subject is not None:
            record["subjects"] = [subject]
            record["subjectCodes"] = [sced]
        record.update(
            {
                "course": self.ref("course", course_id),
                "school": self.ref("org", school_id),
                "terms": [self.ref("academicSession", term) for term in term_ids],
                "periods": list(periods),
            }
        )
        return record

    def enrollment(
        self,
        sourced_id: str,
        modified: str,
        *,
        user_id: str | None,
        class_id: str,
        school_id: str | None,
        role: str | None,
        primary,
        begin: str | None,
        end: str | None,
    ) -> dict:
        """An enrollment; what its class or source record lacks (a school, term dates) stays null."""
        record = self.base(sourced_id, modified)
        record.update(
            {
                "user": self.ref("user", user_id),
                "class": self.ref("class", class_id),
                "school": self.ref("org", school_id),
                "role": role,
                "primary": primary,
                "beginDate": begin,
                "endDate": end,
            }
        )
        return record


def person_name(rng: random.Random) -> tuple[str, str, str]:
    """(given, family, middle) names; half the people have a middle initial."""
    middle = rng.choice(MIDDLE_INITIALS) if rng.random() < 0.5 else ""
    return rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES), middle


def new_student(build: RecordBuilder, plan: DistrictPlan, school: str, grade: str, modified: str) -> tuple[dict, dict]:
    """A student (next sourcedId) at `school` in `grade`, and their demographics record."""
    rng = build.rng
    sid = plan.sequences.next("stu")
    number = f"{100000 + plan.sequences.last['stu']}"
    given, family, middle = person_name(rng)
    # Younger children usually have no district e-mail.
    email = "" if grade in ("KG", "01", "02") else f"{email_local_part(given, family)}.{number}@students.{plan.domain}"
    student = build.user(
        sid,
        modified,
        role="student",
        given=given,
        family=family,
        middle=middle,
        username=f"s{number}",
        email=email,
        identifier=number,
        id_type="studentNumber",
        org_ids=[school],
        grades=[grade],
    )
    age = 5 + GRADES.index(grade)
    birth = date(plan.school_year - age, 1, 1) + timedelta(days=rng.randrange(365) + 243)
    demographics = build.base(sid, modified)
    race = rng.choice(
        (
            "americanIndianOrAlaskaNative",
            "asian",
            "blackOrAfricanAmerican",
            "nativeHawaiianOrOtherPacificIslander",
            "white",
            "demographicRaceTwoOrMoreRaces",
        )
    )
    demographics.update(
        {
            "birthDate": birth.isoformat(),
            "sex": rng.choice(("male", "female")),
            "americanIndianOrAlaskaNative": "false",
            "asian": "false",
            "blackOrAfricanAmerican": "false",
            "nativeHawaiianOrOtherPacificIslander": "false",
            "white": "false",
            "demographicRaceTwoOrMoreRaces": "false",
            "hispanicOrLatinoEthnicity": "true" if rng.random() < 0.25 else "false",
        }
    )
    demographics[race] = "true"
    return student, demographics
