"""A fake SIS for the API's unit tests: what the OneRoster client would read, and the failure
it would raise. The integration and e2e tests use the sandbox SIS instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rostersync.oneroster import (
    BadRecord,
    Class,
    ConnectionReport,
    Course,
    OneRosterError,
    Org,
    normalise_host_url,
)


def org(sourced_id: str, name: str, identifier: str | None = None, status: str = "active", type: str = "school") -> Org:
    return Org(
        sourced_id=sourced_id,
        status=status,
        date_last_modified=None,
        name=name,
        type=type,
        identifier=identifier,
        parent_id=None,
    )


def klass(
    sourced_id: str,
    grades=(),
    subjects=(),
    course_id: str | None = None,
    status: str = "active",
    school_id: str = "org-1",
) -> Class:
    return Class(
        sourced_id=sourced_id,
        status=status,
        date_last_modified=None,
        title=sourced_id,
        class_code=None,
        class_type="scheduled",
        course_id=course_id,
        school_id=school_id,
        term_ids=(),
        grades=tuple(grades),
        subjects=tuple(subjects),
        subject_codes=(),
        periods=(),
    )


def course(sourced_id: str, grades=(), subjects=(), status: str = "active") -> Course:
    return Course(
        sourced_id=sourced_id,
        status=status,
        date_last_modified=None,
        title=sourced_id,
        course_code=None,
        grades=tuple(grades),
        subjects=tuple(subjects),
        subject_codes=(),
        org_id=None,
    )


def bad_record(collection: str) -> BadRecord:
    return BadRecord(
        collection=collection, sourced_id=None, code="missing_sourced_id", message="no id", raw_excerpt="{}"
    )


@dataclass
class FakeSis:
    """What the OneRoster client would read from an SIS, and the failure it would raise."""

    orgs: list = field(
        default_factory=lambda: [org("org-1", "Lincoln Elementary", "100"), org("org-2", "Roosevelt High", "200")]
    )
    classes: Any = field(default_factory=list)  # a list, or a callable returning an iterator
    courses: list = field(default_factory=list)
    auth_method: str = "oauth2"
    error: OneRosterError | None = None  # raised by the connection test and by reads
    tested: list = field(default_factory=list)  # (settings, secret) of every connection test
    streamed: list = field(default_factory=list)  # collections read

    def check_connection(self, settings, client_secret, allow_private=False, **_):
        self.tested.append((settings, client_secret))
        host = normalise_host_url(settings.host_url, allow_private=allow_private)
        if self.error is not None:
            raise self.error
        return ConnectionReport(
            auth_method=self.auth_method if settings.auth_method == "auto" else settings.auth_method,
            host_url=host.host_url,
            warnings=list(host.warnings),
            schools=[o for o in self.orgs if isinstance(o, Org) and o.type == "school"],
            users_seen=3,
            classes_seen=3,
        )

    def client(self, settings, client_secret, allow_private=False, **_):
        return FakeClient(self)


class FakeClient:
    def __init__(self, sis: FakeSis):
        self.sis = sis

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass

    def stream(self, collection: str, *args, **kwargs):
        self.sis.streamed.append(collection)
        if self.sis.error is not None:
            raise self.sis.error
        held = {"orgs": self.sis.orgs, "classes": self.sis.classes, "courses": self.sis.courses}
        if collection not in held:  # as a server without the endpoint answers (/academicSessions, /terms)
            from rostersync.oneroster.errors import NotOneRoster

            raise NotOneRoster(f"the fake SIS offers no /{collection}")
        records = held[collection]
        return iter(records() if callable(records) else records)
