"""OneRoster 1.1 filters: built, rendered, encoded, and re-checked against what came back.

Grammar: `field op 'value'` with op one of = != > >= < <= ~ (contains), and at most one
AND or OR joining two clauses. The specification defines no escape for a quote inside a
value; a doubled quote ('') is what SQL-backed servers accept, so that is what is sent.
The query string is percent-encoded per RFC 3986 (space as %20, never '+'), which is
also what the OAuth 1 base string needs.

Servers ignore filters they cannot parse, or compare date-times as strings. The sync
never trusts a filter: `Filter.matches` re-checks each returned record, and DateStyle
renders a cursor in the precision the server itself uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")  # longest first, for parsing


def encode_query(params: list[tuple[str, str]]) -> str:
    """RFC 3986 query: every byte but unreserved (A-Z a-z 0-9 - . _ ~) percent-encoded."""
    return "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in params)


def _render_value(value: Any) -> str:
    if isinstance(value, datetime):
        return DateStyle().format(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str

    def __post_init__(self):
        if self.op not in OPERATORS:
            raise ValueError(f"Unknown filter operator {self.op!r}; use one of {' '.join(OPERATORS)}.")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", self.field):
            raise ValueError(f"Invalid filter field {self.field!r}.")

    def render(self) -> str:
        return f"{self.field}{self.op}'{self.value.replace(chr(39), chr(39) * 2)}'"


@dataclass(frozen=True)
class Filter:
    clauses: tuple[Clause, ...]
    joiner: str | None = None  # "AND" | "OR" when two clauses

    def __str__(self) -> str:
        return f" {self.joiner} ".join(c.render() for c in self.clauses)

    def _join(self, other: Filter, joiner: str) -> Filter:
        if len(self.clauses) + len(other.clauses) > 2:
            raise ValueError("OneRoster 1.1 filters join at most two clauses with one AND or OR.")
        return Filter(self.clauses + other.clauses, joiner)

    def __and__(self, other: Filter) -> Filter:
        return self._join(other, "AND")

    def __or__(self, other: Filter) -> Filter:
        return self._join(other, "OR")

    def matches(self, record: dict) -> bool | None:
        """Does a raw record satisfy the filter? None when it cannot be told (field absent)."""
        results = [clause_matches(c, record) for c in self.clauses]
        if self.joiner == "OR":
            if any(r is True for r in results):
                return True
            return None if any(r is None for r in results) else False
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True


def where(field: str, op: str, value: Any) -> Filter:
    """One clause: where("dateLastModified", ">", instant), where("role", "=", "student")."""
    return Filter((Clause(field, op, _render_value(value)),))


_CLAUSE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|>=|<=|=|>|<|~)\s*'((?:[^']|'')*)'\s*")


def parse_filter(text: str | Filter) -> Filter:
    """A filter string as a Filter (to re-check records locally); ValueError if malformed."""
    if isinstance(text, Filter):
        return text
    clauses = []
    joiner = None
    rest = text
    while True:
        match = _CLAUSE.match(rest)
        if not match:
            raise ValueError(f"Malformed OneRoster filter: {text!r} (expected field op 'value').")
        clauses.append(Clause(match.group(1), match.group(2), match.group(3).replace("''", "'")))
        rest = rest[match.end() :]
        if not rest.strip():
            break
        join = re.match(r"(AND|OR)\s+", rest, re.IGNORECASE)
        if not join or (joiner and joiner != join.group(1).upper()):
            raise ValueError(f"Malformed OneRoster filter: {text!r} (clauses join with one AND or OR).")
        joiner = join.group(1).upper()
        rest = rest[join.end() :]
    if len(clauses) > 2:
        raise ValueError("OneRoster 1.1 filters join at most two clauses.")
    return Filter(tuple(clauses), joiner)


# --------------------------------------------------------------------------- local re-check


def _field_values(record: dict, path: str) -> list[Any] | None:
    """Values at a dotted path; references compare by sourcedId; lists match any element."""
    current: list[Any] = [record]
    for part in path.split("."):
        found = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                found.extend(value if isinstance(value, list) else [value])
        if not found:
            return None
        current = found
    return [v.get("sourcedId") if isinstance(v, dict) else v for v in current]


def _as_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10 or value[4:5] != "-":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _compare(left: Any, op: str, right: str) -> bool | None:
    if left is None:
        return None
    if op == "~":
        return right.lower() in str(left).lower()
    left_dt, right_dt = _as_instant(left), _as_instant(right)
    if left_dt is not None and right_dt is not None:
        return _apply(op, left_dt, right_dt)
    try:
        left_number, right_number = float(left), float(right)
    except (TypeError, ValueError):
        text = str(left).lower() if not isinstance(left, bool) else ("true" if left else "false")
        return _apply(op, text, right.lower())
    return _apply(op, left_number, right_number)


def _apply[T: (datetime, float, str)](op: str, a: T, b: T) -> bool | None:
    """`a op b` for two instants, two numbers or two texts."""
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    try:
        return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
    except TypeError:
        return None


def clause_matches(clause: Clause, record: dict) -> bool | None:
    values = _field_values(record, clause.field)
    if values is None:
        return None
    results = [_compare(v, clause.op, clause.value) for v in values]
    if clause.op == "!=":
        # "not equal" on a list holds when no element equals the value
        if any(r is False for r in results):
            return False
        return None if all(r is None for r in results) else True
    if any(r is True for r in results):
        return True
    return None if all(r is None for r in results) else False


# --------------------------------------------------------------------------- date cursors

_FRACTION = re.compile(r"T\d{2}:\d{2}:\d{2}(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


@dataclass(frozen=True)
class DateStyle:
    """How a server writes dateLastModified: digits of fraction, and Z or +00:00."""

    fraction_digits: int = 0
    suffix: str = "Z"
    learned: bool = False

    @classmethod
    def of(cls, sample: Any) -> DateStyle | None:
        """The style of one server date-time string, or None if it is not one."""
        if not isinstance(sample, str):
            return None
        match = _FRACTION.search(sample.strip())
        if not match:
            return None
        digits = len(match.group(1) or "")
        zone = match.group(2)
        suffix = "Z" if zone is None or zone.upper() == "Z" else "+00:00" if ":" in zone else "+0000"
        if zone is None:
            suffix = ""
        return cls(min(digits, 6), suffix, True)

    def format(self, instant: datetime) -> str:
        """`instant` (aware; naive means UTC) in this style, truncated, never rounded up:
        a cursor that moved forward could skip a change."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        utc = instant.astimezone(UTC)
        text = utc.strftime("%Y-%m-%dT%H:%M:%S")
        if self.fraction_digits:
            text += "." + f"{utc.microsecond:06d}"[: self.fraction_digits]
        return text + self.suffix


def changed_since(instant: datetime, style: DateStyle | None = None) -> Filter:
    """The delta filter dateLastModified>'instant' in the server's precision (the caller
    subtracts its overlap first)."""
    return Filter((Clause("dateLastModified", ">", (style or DateStyle()).format(instant)),))
