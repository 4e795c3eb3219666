"""Which records a OneRoster path names: collections, single records and nested collections.

A route resolves to a Listing (the records, their collection and the envelope key) or to one
record, before any filter, sort or paging; listing.py does those. Quirks that change *what* a
path returns (empty_students, wrong_collection, endpoint_envelopes) are applied here.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from .faults import Quirks
from .store import DistrictStore

SINGULAR = {
    "orgs": "org",
    "academicSessions": "academicSession",
    "courses": "course",
    "classes": "class",
    "users": "user",
    "enrollments": "enrollment",
    "demographics": "demographics",
}


class UnknownObject(LookupError):
    """A sourcedId in the path that the server does not have (404 unknownobject)."""


@dataclass
class Listing:
    collection: str  # the store collection the records come from (filters use its fields)
    key: str  # envelope key
    records: list[dict]


@dataclass
class SingleRecord:
    collection: str
    key: str  # envelope key: "user", "class", ...
    record: dict


@dataclass(frozen=True)
class Endpoint:
    """A top-level endpoint: a collection, narrowed (/schools are orgs of type school)."""

    collection: str
    spec_key: str  # envelope key the specification gives
    own_key: str  # the endpoint's own name, sent with the endpoint_envelopes quirk
    keep: Callable[[dict], bool] | None = None


def _type_is(*values):
    return lambda record: record.get("type") in values


def _role_is(role):
    return lambda record: record.get("role") == role


ENDPOINTS = {
    "orgs": Endpoint("orgs", "orgs", "orgs"),
    "schools": Endpoint("orgs", "orgs", "schools", _type_is("school")),
    "academicSessions": Endpoint("academicSessions", "academicSessions", "academicSessions"),
    "terms": Endpoint("academicSessions", "academicSessions", "terms", _type_is("term", "semester")),
    "gradingPeriods": Endpoint("academicSessions", "academicSessions", "gradingPeriods", _type_is("gradingPeriod")),
    "courses": Endpoint("courses", "courses", "courses"),
    "classes": Endpoint("classes", "classes", "classes"),
    "users": Endpoint("users", "users", "users"),
    "students": Endpoint("users", "users", "students", _role_is("student")),
    "teachers": Endpoint("users", "users", "teachers", _role_is("teacher")),
    "enrollments": Endpoint("enrollments", "enrollments", "enrollments"),
    "demographics": Endpoint("demographics", "demographics", "demographics"),
}

_SEGMENT = r"([^/]+)"
_ENDPOINT_NAMES = "|".join(ENDPOINTS)


def _ref_id(record: dict, field: str) -> str | None:
    return (record.get(field) or {}).get("sourcedId")


def _ref_ids(record: dict, field: str) -> set[str]:
    return {
        sid for ref in record.get(field) or [] if isinstance(ref, dict) and isinstance(sid := ref.get("sourcedId"), str)
    }


class Router:
    def __init__(self, store: DistrictStore, quirks: Quirks):
        self.store = store
        self.quirks = quirks
        self.nested: list[tuple[re.Pattern[str], Callable[..., Listing]]] = [
            (
                re.compile(rf"^/schools/{_SEGMENT}/classes/{_SEGMENT}/(enrollments|students|teachers)$"),
                self._school_class_members,
            ),
            (
                re.compile(rf"^/schools/{_SEGMENT}/(classes|students|teachers|enrollments|courses|terms)$"),
                self._school_children,
            ),
            (re.compile(rf"^/classes/{_SEGMENT}/(students|teachers)$"), self._class_members),
            (re.compile(rf"^/courses/{_SEGMENT}/classes$"), self._course_classes),
            (re.compile(rf"^/terms/{_SEGMENT}/(classes|gradingPeriods)$"), self._term_children),
            (re.compile(rf"^/(users|students|teachers)/{_SEGMENT}/classes$"), self._user_classes),
        ]
        self._single = re.compile(rf"^/({_ENDPOINT_NAMES})/{_SEGMENT}$")
        self._top = re.compile(rf"^/({_ENDPOINT_NAMES})$")

    def resolve(self, path: str) -> Listing | SingleRecord | None:
        """A Listing, a SingleRecord, or None for a path that is no OneRoster endpoint.

        Raises UnknownObject for an id in the path that does not exist.
        """
        path = path.rstrip("/") or "/"
        if match := self._top.match(path):
            return self._top_listing(match.group(1))
        if match := self._single.match(path):
            return self._single_record(match.group(1), match.group(2))
        for pattern, handler in self.nested:
            if match := pattern.match(path):
                return handler(*match.groups())
        return None

    # -- visibility (quirks that hide records everywhere)
    def visible(self, collection: str, record: dict) -> bool:
        if self.quirks.empty_students:
            if collection == "users" and record.get("role") == "student":
                return False
            if collection in ("enrollments", "demographics") and self._hidden_student(collection, record):
                return False
        return True

    def _hidden_student(self, collection: str, record: dict) -> bool:
        if collection == "enrollments":
            return record.get("role") == "student"
        user = self.store.get("users", record["sourcedId"])
        return user is not None and user.get("role") == "student"

    def _records(self, endpoint: Endpoint) -> list[dict]:
        return [
            r
            for r in self.store.records(endpoint.collection)
            if (endpoint.keep is None or endpoint.keep(r)) and self.visible(endpoint.collection, r)
        ]

    def _key(self, name: str) -> str:
        endpoint = ENDPOINTS[name]
        return endpoint.own_key if self.quirks.endpoint_envelopes else endpoint.spec_key

    def _listing(self, name: str, records: list[dict]) -> Listing:
        return Listing(ENDPOINTS[name].collection, self._key(name), records)

    # -- top level and single records
    def _top_listing(self, name: str) -> Listing:
        if name == "users" and self.quirks.wrong_collection:
            return Listing("classes", "classes", self._records(ENDPOINTS["classes"]))
        return self._listing(name, self._records(ENDPOINTS[name]))

    def _single_record(self, name: str, sourced_id: str) -> SingleRecord:
        record = self._lookup(name, sourced_id)
        endpoint = ENDPOINTS[name]
        key = SINGULAR[endpoint.collection]
        if self.quirks.endpoint_envelopes and endpoint.own_key != endpoint.spec_key:
            key = endpoint.own_key.removesuffix("s")  # "school", "student", "teacher", "term"
        return SingleRecord(endpoint.collection, key, record)

    def _lookup(self, name: str, sourced_id: str) -> dict:
        endpoint = ENDPOINTS[name]
        record = self.store.get(endpoint.collection, sourced_id)
        if (
            record is None
            or (endpoint.keep is not None and not endpoint.keep(record))
            or not self.visible(endpoint.collection, record)
        ):
            raise UnknownObject(f"no record with sourcedId {sourced_id!r} in /{name}")
        return record

    # -- nested collections
    def _school_children(self, school_id: str, child: str) -> Listing:
        self._lookup("schools", school_id)
        if child == "classes":
            return self._listing(
                child, [c for c in self._records(ENDPOINTS["classes"]) if _ref_id(c, "school") == school_id]
            )
        if child in ("students", "teachers"):
            return self._listing(
                child, [u for u in self._records(ENDPOINTS[child]) if school_id in _ref_ids(u, "orgs")]
            )
        if child == "enrollments":
            return self._listing(
                child,
                [e for e in self.store.enrollments_by("school").get(school_id, []) if self.visible("enrollments", e)],
            )
        if child == "courses":
            return self._listing(
                child, [c for c in self._records(ENDPOINTS["courses"]) if _ref_id(c, "org") == school_id]
            )
        return self._listing("terms", self._records(ENDPOINTS["terms"]))  # sessions are district-wide

    def _members(self, enrollments: list[dict], role: str, name: str) -> Listing:
        ids = [e["user"]["sourcedId"] for e in enrollments if e.get("role") == role and e.get("user")]
        users = []
        for user_id in dict.fromkeys(ids):  # first enrollment order, each user once
            user = self.store.get("users", user_id)
            if user is not None and self.visible("users", user):
                users.append(user)
        return self._listing(name, users)

    def _class_members(self, class_id: str, child: str) -> Listing:
        self._lookup("classes", class_id)
        return self._members(self.store.enrollments_by("class").get(class_id, []), child.removesuffix("s"), child)

    def _school_class_members(self, school_id: str, class_id: str, child: str) -> Listing:
        self._lookup("schools", school_id)
        klass = self._lookup("classes", class_id)
        if _ref_id(klass, "school") != school_id:
            raise UnknownObject(f"class {class_id} is not at school {school_id}")
        enrollments = self.store.enrollments_by("class").get(class_id, [])
        if child == "enrollments":
            return self._listing(child, [e for e in enrollments if self.visible("enrollments", e)])
        return self._members(enrollments, child.removesuffix("s"), child)

    def _course_classes(self, course_id: str) -> Listing:
        self._lookup("courses", course_id)
        return self._listing(
            "classes", [c for c in self._records(ENDPOINTS["classes"]) if _ref_id(c, "course") == course_id]
        )

    def _term_children(self, term_id: str, child: str) -> Listing:
        self._lookup("terms", term_id)
        if child == "classes":
            return self._listing(
                child, [c for c in self._records(ENDPOINTS["classes"]) if term_id in _ref_ids(c, "terms")]
            )
        return self._listing(
            child, [s for s in self._records(ENDPOINTS["gradingPeriods"]) if _ref_id(s, "parent") == term_id]
        )

    def _user_classes(self, name: str, user_id: str) -> Listing:
        self._lookup(name, user_id)
        class_ids = dict.fromkeys(
            e["class"]["sourcedId"]
            for e in self.store.enrollments_by("user").get(user_id, [])
            if e.get("class") and self.visible("enrollments", e)
        )
        classes = [self.store.get("classes", cid) for cid in class_ids]
        return self._listing("classes", [c for c in classes if c is not None])
