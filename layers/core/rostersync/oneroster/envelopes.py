"""Which key of a response body holds the records.

The specification names one key per endpoint (`orgs` for /schools, `users` for
/students); servers in the wild also answer with the endpoint's own name (`schools`,
`students`, `terms`) or a singular form. Either is accepted. A 200 whose body has none
of them is never read as an empty roster: an imsx or {"error"} payload becomes its typed
error, a body holding another collection (`classes` where users were asked) is a
BadResponse, and anything else is NotOneRoster.
"""

from __future__ import annotations

from typing import Any

from .errors import BadResponse, NotOneRoster, OneRosterError, ServerError
from .responses import MAX_SERVER_TEXT, error_for_status_info, plain_error, status_info

# collection (last path segment) -> (accepted collection keys, accepted single-record keys)
ENVELOPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "orgs": (("orgs",), ("org",)),
    "schools": (("orgs", "schools"), ("org", "school")),
    "academicSessions": (("academicSessions",), ("academicSession",)),
    "terms": (("academicSessions", "terms"), ("academicSession", "term")),
    "gradingPeriods": (("academicSessions", "gradingPeriods"), ("academicSession", "gradingPeriod")),
    "courses": (("courses",), ("course",)),
    "classes": (("classes",), ("class",)),
    "enrollments": (("enrollments",), ("enrollment",)),
    "users": (("users",), ("user",)),
    "students": (("users", "students"), ("user", "student")),
    "teachers": (("users", "teachers"), ("user", "teacher")),
    "demographics": (("demographics",), ("demographics",)),
}

# Every key that means "a collection of something": a body with one of these that is not
# ours is a page of the wrong collection.
_ALL_KEYS = frozenset(k for plural, single in ENVELOPES.values() for k in plural + single)


def _not_an_envelope(body: Any, collection: str, endpoint: str, status: int | None) -> OneRosterError:
    info = status_info(body)
    if info is not None:
        error = error_for_status_info(info, endpoint=endpoint, status=status)
        if error is not None:
            return error
    if isinstance(body, dict):
        message = plain_error(body)
        if message:
            return ServerError(
                f"The SIS answered with an error: {message[:MAX_SERVER_TEXT]}.", endpoint=endpoint, status=status
            )
        others = sorted(k for k in body if k in _ALL_KEYS)
        if others:
            return BadResponse(
                f"Asked for {collection}, the SIS answered with {', '.join(others)}.", endpoint=endpoint, status=status
            )
        keys = ", ".join(sorted(str(k) for k in body)[:8]) or "none"
        return NotOneRoster(
            f"The answer has no '{ENVELOPES[collection][0][0]}' list (keys: {keys}); "
            "this does not look like a OneRoster 1.1 server.",
            endpoint=endpoint,
            status=status,
        )
    return NotOneRoster(
        f"The answer is not a OneRoster JSON object ({type(body).__name__}).", endpoint=endpoint, status=status
    )


def _failure(body: Any, endpoint: str, status: int | None) -> OneRosterError | None:
    """The error an imsx failure status stands for, wherever it sits in the body: a 200 that
    says failure is a failure, even next to an empty, null or partial collection."""
    info = status_info(body)
    if info is None or info.code_major != "failure":
        return None
    return error_for_status_info(info, endpoint=endpoint, status=status)


def records_of(body: Any, collection: str, *, endpoint: str, status: int | None = 200) -> list:
    """The raw records of a collection page."""
    plural, single = ENVELOPES[collection]
    failure = _failure(body, endpoint, status)
    if failure is not None:
        raise failure
    if isinstance(body, dict):
        for key in plural + single:
            if key in body:
                value = body[key]
                if value is None:
                    return []
                if isinstance(value, list):
                    return value
                if isinstance(value, dict) and key in single:
                    return [value]
                raise BadResponse(f"The '{key}' value is not a list.", endpoint=endpoint, status=status)
    raise _not_an_envelope(body, collection, endpoint, status)


def record_of(body: Any, collection: str, *, endpoint: str, status: int | None = 200) -> Any:
    """The raw record of a single-record GET (/users/{id})."""
    plural, single = ENVELOPES[collection]
    if isinstance(body, dict):
        for key in single + plural:
            if key in body:
                value = body[key]
                if isinstance(value, list):
                    if len(value) == 1:
                        return value[0]
                    if not value:
                        return None
                    raise BadResponse(
                        f"Asked for one record, the SIS answered with {len(value)}.", endpoint=endpoint, status=status
                    )
                return value
    raise _not_an_envelope(body, collection, endpoint, status)
