"""What every API body shares: the request and response base models, the error body and the field types.

JSON is camelCase both ways (alias generator); Python code uses snake_case names.
Requests are strict: unknown fields, wrong JSON types ("true" for true, 1 for "1") and
snake_case spellings are refused with 422, so a front-end typo never passes silently.
Validators that stand for a precise API error raise PydanticCustomError with that code
(see rostersync.api.http_io.DOMAIN_CODES).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from importlib.resources import files
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from rostersync.sync.schedule import zone


class RequestModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# ---------------------------------------------------------------- field types

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _printable(text: str) -> str:
    if _CONTROL_CHARACTERS.search(text):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    return text


def text_limits(max_length: int) -> StringConstraints:
    """Trimmed, non-empty, at most `max_length` characters."""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Printable = AfterValidator(_printable)


def one_of[L: str](value: str, allowed: tuple[L, ...]) -> L:
    """`value` as one of `allowed` (a Literal's values): the store keeps plain strings, and a
    response names the values it may hold."""
    for candidate in allowed:
        if value == candidate:
            return candidate
    raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")


# Trimmed, non-empty, printable text of at most so many characters (written out as Annotated
# aliases, not made by a function, so that type checkers read them as str).
Name = Annotated[str, text_limits(200), Printable]
Identifier = Annotated[str, text_limits(100), Printable]
Id = Annotated[str, text_limits(255), Printable]
FilterValue = Annotated[str, text_limits(200), Printable]


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    """The IANA zone names, from the tzdata package (a requirement of the layer). Not the
    system's zone directory: ZoneInfo there also opens "localtime" and other stray files."""
    names = set(files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())
    names.discard("Factory")  # a placeholder zone, not a place
    return frozenset(names)


def _iana_timezone(name: str) -> str:
    try:
        if name not in _iana_zones():
            raise ValueError(name)
        zone(name)
    except ValueError:
        raise PydanticCustomError(
            "invalid_timezone", "is not an IANA time zone name; use one such as America/Chicago"
        ) from None
    return name


TimezoneName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), AfterValidator(_iana_timezone)]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _calendar_date(text: str) -> str:
    """The text, once it is a calendar date written YYYY-MM-DD (date.fromisoformat reads it)."""
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        date.fromisoformat(text)
        return text
    except ValueError:
        raise PydanticCustomError("invalid_date", "must be a calendar date written YYYY-MM-DD") from None


CalendarDate = Annotated[str, AfterValidator(_calendar_date)]


def distinct_values(values: list[str] | None) -> list[str] | None:
    """Duplicates dropped, first spelling and order kept."""
    if values is None:
        return None
    return list(dict.fromkeys(values))


def _one_or_more(values: list[str] | None) -> list[str] | None:
    if values is not None and not values:
        raise PydanticCustomError("empty_selection", "must list at least one value, or be null to select all")
    return values


Selection = Annotated[
    list[FilterValue] | None,
    Field(default=None, max_length=1000),
    AfterValidator(_one_or_more),
    AfterValidator(distinct_values),
]


# ---------------------------------------------------------------- errors


class ErrorDetail(ResponseModel):
    code: str = Field(description="snake_case error code")
    message: str = Field(description="What went wrong and what to do about it")


class ErrorResponse(ResponseModel):
    error: ErrorDetail
