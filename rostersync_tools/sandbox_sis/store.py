"""DistrictStore: the district's current truth, indexed for fast pages.

Records are plain OneRoster dicts kept per collection in insertion order (sourcedId -> record).
A record is never changed in place once stored: `put` swaps in a new dict, so a page being
serialized on another thread never sees half an update. Each record's JSON is cached until it is
replaced, so serving a page costs a join of ready-made bytes.
"""

import json
import marshal
import threading
from datetime import datetime

from .generator import COLLECTIONS, GeneratedDistrict
from .records import DistrictPlan
from .timestamps import parse_instant

ENROLLMENT_INDEX_FIELDS = ("user", "class", "school")


def _ref_id(record: dict, field: str) -> str | None:
    return (record.get(field) or {}).get("sourcedId")


# sourcedId of a reference (None where an enrollment has none) -> the enrollments
EnrollmentGroups = dict[str | None, list[dict]]


class DistrictStore:
    def __init__(self, district: GeneratedDistrict):
        self.lock = threading.RLock()
        self.plan: DistrictPlan = district.plan
        self.day = 1
        self.history: list[dict] = []  # [{"day": n, "changes": [...]}] for every advanced day
        self.version = 0  # bumped on every change; query caches key on it
        self._records: dict[str, dict[str, dict]] = {
            name: {r["sourcedId"]: r for r in district.collections.get(name, [])} for name in COLLECTIONS
        }
        self._json: dict[str, dict[str, bytes]] = {name: {} for name in COLLECTIONS}
        self._instants: dict[str, dict[str, datetime | None]] = {name: {} for name in COLLECTIONS}
        # Enrollments grouped by user, class and school: built on first use, then kept up to date.
        # field (user, class, school) -> its groups
        self._enrollments_by: dict[str, EnrollmentGroups] | None = None

    # -- reading
    def records(self, collection: str) -> list[dict]:
        with self.lock:
            return list(self._records[collection].values())

    def get(self, collection: str, sourced_id: str | None) -> dict | None:
        """The record, or None (also for no id: a reference a record lacks)."""
        return None if sourced_id is None else self._records[collection].get(sourced_id)

    def record_json(self, collection: str, record: dict) -> bytes:
        """The record serialized, cached for as long as this exact dict is the stored one."""
        sid = record["sourcedId"]
        cached = self._json[collection].get(sid)
        if cached is not None and self._records[collection].get(sid) is record:
            return cached
        data = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
        if self._records[collection].get(sid) is record:
            self._json[collection][sid] = data
        return data

    def modified_at(self, collection: str, record: dict) -> datetime | None:
        """dateLastModified as an instant (cached); None when missing or unreadable."""
        sid = record["sourcedId"]
        instants = self._instants[collection]
        if sid in instants and self._records[collection].get(sid) is record:
            return instants[sid]
        try:
            moment = parse_instant(str(record.get("dateLastModified")))
        except ValueError:
            moment = None
        if self._records[collection].get(sid) is record:
            instants[sid] = moment
        return moment

    def enrollments_by(self, field: str) -> EnrollmentGroups:
        """Enrollments grouped by the sourcedId of their `user`, `class` or `school` reference."""
        with self.lock:
            if self._enrollments_by is None:
                index: dict[str, EnrollmentGroups] = {name: {} for name in ENROLLMENT_INDEX_FIELDS}
                for enrollment in self._records["enrollments"].values():
                    _index_enrollment(index, enrollment)
                self._enrollments_by = index
            return self._enrollments_by[field]

    def snapshot(self) -> dict:
        """Every collection as independent copies (what /_admin/state and SandboxSIS.state() return)."""
        with self.lock:
            # Records hold only dicts, lists, strings, booleans and None: a marshal round trip is a
            # deep copy, several times faster than copy.deepcopy or JSON for 70,000 records.
            return marshal.loads(  # noqa: S302  (bytes this line just made)
                marshal.dumps({name: list(records.values()) for name, records in self._records.items()})
            )

    # -- changing
    def put(self, collection: str, record: dict) -> None:
        """Add or replace a record (a replaced one keeps its place in the collection's order)."""
        with self.lock:
            sid = record["sourcedId"]
            replacing = self._records[collection].get(sid)
            self._records[collection][sid] = record
            if collection == "enrollments" and self._enrollments_by is not None:
                _index_enrollment(self._enrollments_by, record, replacing)
            self._json[collection].pop(sid, None)
            self._instants[collection].pop(sid, None)
            self.version += 1

    def delete(self, collection: str, sourced_id: str) -> dict | None:
        """Hard-delete: the record vanishes, as many SISes do instead of tombstoning."""
        with self.lock:
            record = self._records[collection].pop(sourced_id, None)
            if collection == "enrollments" and record is not None and self._enrollments_by is not None:
                _unindex_enrollment(self._enrollments_by, record)
            self._json[collection].pop(sourced_id, None)
            self._instants[collection].pop(sourced_id, None)
            self.version += 1
            return record


def _index_enrollment(index: dict[str, EnrollmentGroups], enrollment: dict, replacing: dict | None = None) -> None:
    for name, groups in index.items():
        if replacing is not None:
            old_group = groups.get(_ref_id(replacing, name), [])
            position = next((i for i, e in enumerate(old_group) if e is replacing), None)
            if position is not None:
                if _ref_id(replacing, name) == _ref_id(enrollment, name):
                    old_group[position] = enrollment  # same group: keep its place
                    continue
                del old_group[position]
        groups.setdefault(_ref_id(enrollment, name), []).append(enrollment)


def _unindex_enrollment(index: dict[str, EnrollmentGroups], enrollment: dict) -> None:
    for name, groups in index.items():
        group = groups.get(_ref_id(enrollment, name), [])
        group[:] = [e for e in group if e is not enrollment]
