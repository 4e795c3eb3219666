"""Which SIS records a sync brings in: the contract's "What a sync means", as pure rules.

- A class is in when it is active and its school, one of its grades and one of its subjects
  are selected; a class without subjects of its own takes its course's.
- An enrollment counts when it is active, its role is teacher or student, its class is in and
  its user is eligible (active, teacher or student).
- A user is in when eligible and holding at least one enrollment that counts.
A filter left null selects everything, including records with no value.
"""

import hashlib
import json
from dataclasses import dataclass

ROSTER_ROLES = frozenset({"teacher", "student"})


@dataclass(frozen=True)
class Selection:
    schools: frozenset[str] | None  # SIS school sourcedIds; None selects every school
    grades: frozenset[str] | None
    subjects: frozenset[str] | None

    @classmethod
    def from_config(cls, config) -> "Selection":
        if config is None:
            return cls(None, None, None)
        return cls.from_lists(config.schools, config.grades, config.subjects)

    @classmethod
    def from_lists(cls, schools=None, grades=None, subjects=None) -> "Selection":
        def chosen(values):
            return None if values is None else frozenset(values)

        return cls(chosen(schools), chosen(grades), chosen(subjects))

    def school_selected(self, school_sourced_id: str | None) -> bool:
        return self.schools is None or school_sourced_id in self.schools

    def fingerprint(self) -> str:
        """Changes when the selection does: a changed selection makes the next sync a full one."""
        as_lists = [None if v is None else sorted(v) for v in (self.schools, self.grades, self.subjects)]
        return hashlib.sha256(json.dumps(as_lists).encode()).hexdigest()[:16]


def _any_selected(values, chosen: frozenset[str] | None) -> bool:
    return chosen is None or bool(chosen.intersection(values or ()))


def is_active(record) -> bool:
    return record.status == "active"


def class_is_in(cls, course_subjects: tuple[str, ...] | None, selection: Selection) -> bool:
    subjects = cls.subjects or course_subjects or ()
    return (
        is_active(cls)
        and selection.school_selected(cls.school_id)
        and _any_selected(cls.grades, selection.grades)
        and _any_selected(subjects, selection.subjects)
    )


def user_is_eligible(user) -> bool:
    return is_active(user) and user.role in ROSTER_ROLES


def enrollment_counts(enrollment) -> bool:
    """The enrollment's own part of the rule; its class and user are checked by the engine."""
    return is_active(enrollment) and enrollment.role in ROSTER_ROLES
