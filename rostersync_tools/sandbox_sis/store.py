"""DistrictStore: the district's current truth, indexed for fast pages.

Records are plain OneRoster dicts kept per collection in insertion order (sourcedId -> record).
A record is never changed in place once stored: `put` swaps in a new dict, so a page being
serialized on another thread never sees half an update. Each record's JSON is cached until it is
replaced, so serving a page costs a join of ready-made bytes.
"""

import json
import threading
from datetime import datetime

from .generator import COLLECTIONS, GeneratedDistrict
from .records import DistrictPlan
from .timestamps import parse_instant


class DistrictStore:
    def __init__(self, district: GeneratedDistrict):
        self.lock = threading.RLock()
        self.plan: DistrictPlan = district.plan
        self.day = 1
        self.history: list[dict] = []  # [{"day": n, "changes": [...]}] for every advanced day
        self.version = 0  # bumped on every change; query caches key on it
        self._records: dict[str, dict[str, dict]] = {
            name: {r["sourcedId"]: r for r in district.collections.get(name, [])} for name in COLLECTIONS}
        self._json: dict[str, dict[str, bytes]] = {name: {} for name in COLLECTIONS}
        self._instants: dict[str, dict[str, datetime | None]] = {name: {} for name in COLLECTIONS}
        self._enrollment_index_version = -1
        self._enrollments_by: dict[str, dict[str, list[dict]]] = {}

    # -- reading
    def records(self, collection: str) -> list[dict]:
        with self.lock:
            return list(self._records[collection].values())

    def get(self, collection: str, sourced_id: str) -> dict | None:
        return self._records[collection].get(sourced_id)

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

    def enrollments_by(self, field: str) -> dict[str, list[dict]]:
        """Enrollments grouped by the sourcedId of their `user`, `class` or `school` reference."""
        with self.lock:
            if self._enrollment_index_version != self.version:
                index = {"user": {}, "class": {}, "school": {}}
                for enrollment in self._records["enrollments"].values():
                    for name, groups in index.items():
                        target = (enrollment.get(name) or {}).get("sourcedId")
                        groups.setdefault(target, []).append(enrollment)
                self._enrollments_by = index
                self._enrollment_index_version = self.version
            return self._enrollments_by[field]

    def snapshot(self) -> dict:
        """Every collection as independent copies (what /_admin/state and SandboxSIS.state() return)."""
        with self.lock:
            # Parsing the cached JSON back is much faster than copy.deepcopy for 70,000 records.
            return {name: json.loads(b"[" + b",".join(self.record_json(name, r) for r in list(records.values())) + b"]")
                    for name, records in self._records.items()}

    # -- changing
    def put(self, collection: str, record: dict) -> None:
        """Add or replace a record (a replaced one keeps its place in the collection's order)."""
        with self.lock:
            sid = record["sourcedId"]
            self._records[collection][sid] = record
            self._json[collection].pop(sid, None)
            self._instants[collection].pop(sid, None)
            self.version += 1

    def delete(self, collection: str, sourced_id: str) -> dict | None:
        """Hard-delete: the record vanishes, as many SISes do instead of tombstoning."""
        with self.lock:
            record = self._records[collection].pop(sourced_id, None)
            self._json[collection].pop(sourced_id, None)
            self._instants[collection].pop(sourced_id, None)
            self.version += 1
            return record
