"""The OneRoster 1.1 filter grammar: `field op 'value'`, at most one AND/OR joining two clauses.

Ops: = != > >= < <= ~ (contains, case-insensitive). A field is any field the collection's records
have in the specification, or a dotted path into one (`school.sourcedId`, `metadata.x`); lists
match when any element does (`grades='09'`, `orgs.sourcedId='sch-1'`). dateLastModified is compared
as an instant, whatever precision either side is written in; everything else as text.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .timestamps import parse_instant

COMMON_FIELDS = {"sourcedId", "status", "dateLastModified", "metadata"}
KNOWN_FIELDS = {
    "orgs": {"name", "type", "identifier", "parent", "children"},
    "academicSessions": {"title", "startDate", "endDate", "type", "parent", "children", "schoolYear"},
    "courses": {"title", "schoolYear", "courseCode", "grades", "subjects", "subjectCodes", "org", "resources"},
    "classes": {
        "title",
        "classCode",
        "classType",
        "location",
        "grades",
        "subjects",
        "subjectCodes",
        "course",
        "school",
        "terms",
        "periods",
        "resources",
    },
    "users": {
        "username",
        "userIds",
        "enabledUser",
        "givenName",
        "familyName",
        "middleName",
        "role",
        "identifier",
        "email",
        "sms",
        "phone",
        "agents",
        "orgs",
        "grades",
        "password",
    },
    "enrollments": {"user", "class", "school", "role", "primary", "beginDate", "endDate"},
    "demographics": {
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    },
}
INSTANT_FIELDS = {"dateLastModified"}

_CLAUSE = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(!=|>=|<=|=|>|<|~)\s*(?:'([^']*)'|\"([^\"]*)\")\s*")
_JOIN = re.compile(r"(AND|OR)\b", re.IGNORECASE)


class FilterError(ValueError):
    """The filter cannot be parsed or names a field the collection does not have."""


@dataclass(frozen=True)
class Clause:
    path: tuple[str, ...]
    op: str
    value: str
    instant: datetime | None  # the value as an instant, for instant fields

    def matches(self, record: dict, modified_at: Callable[[dict], datetime | None]) -> bool:
        if self.instant is not None:
            moment = modified_at(record)
            return moment is not None and _compare(moment, self.op, self.instant)
        leaves = [text for v in _values_at(record, self.path) if (text := _as_text(v)) is not None]
        if self.op == "!=":
            return all(v != self.value for v in leaves)
        if self.op == "~":
            needle = self.value.lower()
            return any(needle in v.lower() for v in leaves)
        return any(_compare(v, self.op, self.value) for v in leaves)


@dataclass(frozen=True)
class Filter:
    clauses: tuple[Clause, ...]
    join: str | None  # "AND", "OR" or None for a single clause

    def matches(self, record: dict, modified_at: Callable[[dict], datetime | None]) -> bool:
        if self.join == "OR":
            return any(c.matches(record, modified_at) for c in self.clauses)
        return all(c.matches(record, modified_at) for c in self.clauses)


def parse_filter(text: str, collection: str) -> Filter:
    """The parsed filter (text already URL-decoded); FilterError when it is not one."""
    clauses, join, position = [], None, 0
    while True:
        match = _CLAUSE.match(text, position)
        if not match:
            raise FilterError(f"cannot read a clause `field op 'value'` at: {text[position : position + 40]!r}")
        clauses.append(_clause(match, collection))
        position = match.end()
        if position == len(text):
            return Filter(tuple(clauses), join)
        joined = _JOIN.match(text, position)
        if not joined or len(clauses) == 2:
            raise FilterError("at most two clauses joined by one AND or OR")
        join = joined.group(1).upper()
        position = joined.end()


def _clause(match: re.Match, collection: str) -> Clause:
    field, op = match.group(1), match.group(2)
    value = match.group(3) if match.group(3) is not None else match.group(4)
    path = tuple(field.split("."))
    if not all(path) or path[0] not in COMMON_FIELDS | KNOWN_FIELDS.get(collection, set()):
        raise FilterError(f"{field!r} is not a field of {collection}")
    instant = None
    if path == ("dateLastModified",):
        if op == "~":
            raise FilterError("~ does not apply to dateLastModified")
        try:
            instant = parse_instant(value)
        except ValueError:
            raise FilterError(f"{value!r} is not an ISO 8601 date-time") from None
    return Clause(path, op, value, instant)


def _values_at(value, path: tuple[str, ...]) -> list:
    """Every leaf value at the dotted path; lists are walked into (any element may match)."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in _values_at(item, path)]
    if not path:
        return [value]
    if not isinstance(value, dict) or path[0] not in value:
        return []
    return _values_at(value[path[0]], path[1:])


def _as_text(value) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"  # enabledUser as a JSON boolean equals 'true'
    return str(value)


def _compare(left, op: str, right) -> bool:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    return left <= right
