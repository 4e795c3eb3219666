"""A run's saved progress, so a sync can stop near Lambda's time limit (or a crash) and go on
on any container.

A checkpoint is a small head item plus binary parts: the run state (compressed JSON) and its
fingerprint sets, each split into parts under DynamoDB's 400 KB item limit, so nothing grows
without bound in one item. A new version's parts are written (BatchWriteItems of 25, their
unprocessed items sent again: BatchStore.write_now) before the head that points at them, so a
worker that dies while saving leaves the previous checkpoint whole.

Parked users (sync/parked_users.py) are chunks in the same table, referenced from the run
state: a chunk that no saved state names (written by an invocation that died before saving)
is never read, and goes with the run's other parts.
"""

import json
import logging
import time
import uuid
import zlib

from rostersync.settings import get_settings
from rostersync.store.batch import BatchStore
from rostersync.store.codec import to_item
from rostersync.sync.fingerprints import FingerprintSet
from rostersync.sync.run_state import SETS, RunState

logger = logging.getLogger(__name__)

PART_BYTES = 350_000  # a part's data; its item stays well under 400 KB
MAX_ITEM_BYTES = 400 * 1024
KEEP_DAYS = 14
STATE = "state"


def _run_key(district_id: str, run_id: str) -> str:
    return f"{district_id}#{run_id}"


class ItemTooLarge(RuntimeError):
    """A checkpoint item would pass DynamoDB's item limit (a bug: parts are sized to fit)."""


class CheckpointStore:
    def __init__(self, batch: BatchStore, district_id: str, run_id: str):
        self.batch = batch
        self.client = batch.client
        self.table = get_settings().checkpoints_table
        self.run_key = _run_key(district_id, run_id)
        # The parts of the version this store last loaded or saved: the next save replaces
        # them without querying for them (parts an invocation that died left unreferenced go
        # with the run's delete, or by their TTL).
        self._current_parts: set[str] | None = None

    # ------------------------------------------------------------------ the run state
    def load(self) -> RunState | None:
        head = self.client.get_item(
            TableName=self.table, Key={"runKey": {"S": self.run_key}, "part": {"S": "head"}}, ConsistentRead=True
        ).get("Item")
        if not head:
            return None
        if "version" not in head:
            # Saved by an engine before this format: the run starts over (every write is
            # idempotent, so re-reading the SIS costs time, never correctness).
            logger.warning("ignoring a checkpoint in an older format; the run starts over")
            return None
        version = head["version"]["S"]
        index = json.loads(head["index"]["S"])  # blob name -> number of parts (empty sets are left out)
        blobs = self._read_blobs({f"v{version}#{name}": count for name, count in index.items()})
        self._current_parts = {
            part for name, count in index.items() for part in _part_names(f"v{version}#{name}", count)
        }
        state = json.loads(zlib.decompress(blobs.pop(f"v{version}#{STATE}")))
        sets = {name.split("#", 1)[1]: FingerprintSet.from_bytes(data) for name, data in blobs.items()}
        return RunState.from_json(state, sets)

    def save(self, state: RunState) -> None:
        version = uuid.uuid4().hex  # unique per save, whoever saves
        blobs = {STATE: zlib.compress(json.dumps(state.to_json(), separators=(",", ":")).encode(), 1)}
        blobs.update({name: state.sets[name].to_bytes() for name in SETS if state.sets[name]})
        parts = {name: self._part_items(f"v{version}#{name}", data) for name, data in blobs.items()}
        self.batch.write_now(self.table, [item for items in parts.values() for item in items])
        index = {name: len(items) for name, items in parts.items()}
        previous = self._current_parts if self._current_parts is not None else self._parts("v")
        self.client.put_item(
            TableName=self.table,
            Item=self._sized(
                to_item(
                    {
                        "runKey": self.run_key,
                        "part": "head",
                        "version": version,
                        "index": json.dumps(index),
                        "expiresAt": self._expires(),
                    }
                )
            ),
        )
        current = {part for name, count in index.items() for part in _part_names(f"v{version}#{name}", count)}
        self._delete_parts(previous - current)
        self._current_parts = current

    def delete(self) -> None:
        # The head first: a worker that dies half way leaves unreferenced parts (expired by
        # their TTL), never a head that points at parts already gone.
        self._delete_parts({"head"})
        self._delete_parts(self._parts(""))

    # ------------------------------------------------------------------ blobs in parts
    def write_blob(self, name: str, data: bytes) -> int:
        """Write `data` as parts `name#00000`...; returns how many."""
        items = self._part_items(name, data)
        self.batch.write_now(self.table, items)
        return len(items)

    def _part_items(self, name: str, data: bytes) -> list[dict]:
        expires = self._expires()
        return [
            self._sized(
                to_item(
                    {
                        "runKey": self.run_key,
                        "part": f"{name}#{count:05d}",
                        "data": data[i : i + PART_BYTES],
                        "expiresAt": expires,
                    }
                )
            )
            for count, i in enumerate(range(0, max(len(data), 1), PART_BYTES))
        ]

    def read_blob(self, name: str, count: int) -> bytes:
        return self._read_blobs({name: count})[name]

    def _read_blobs(self, counts: dict[str, int]) -> dict[str, bytes]:
        """Several blobs' parts in as few batch reads as they fit in."""
        parts = {name: _part_names(name, count) for name, count in counts.items()}
        keys = [{"runKey": self.run_key, "part": p} for names in parts.values() for p in names]
        by_part = {item["part"]: item["data"] for item in self.batch.get_many(self.table, keys)}
        missing = [p for names in parts.values() for p in names if p not in by_part]
        if missing:
            raise RuntimeError(f"checkpoint part {missing[0]} is missing")
        return {name: b"".join(by_part[p] for p in names) for name, names in parts.items()}

    def new_token(self) -> str:
        return uuid.uuid4().hex

    # ------------------------------------------------------------------ items
    @staticmethod
    def _sized(item: dict) -> dict:
        size = sum(len(k) + _attribute_size(v) for k, v in item.items())
        if size > MAX_ITEM_BYTES:
            raise ItemTooLarge(f"checkpoint item {item['part']['S']} would be {size} bytes")
        return item

    def _delete_parts(self, parts: set[str]) -> None:
        """In batches of 25 (a part named twice in one batch would be refused: a set)."""
        self.batch.delete_now(self.table, [to_item({"runKey": self.run_key, "part": part}) for part in sorted(parts)])

    def _parts(self, prefix: str) -> set[str]:
        parts: set[str] = set()
        paginator = self.client.get_paginator("query")
        condition = "runKey = :k AND begins_with(part, :p)" if prefix else "runKey = :k"
        values = {":k": {"S": self.run_key}} | ({":p": {"S": prefix}} if prefix else {})
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ProjectionExpression="part",
        ):
            parts.update(item["part"]["S"] for item in page["Items"])
        parts.discard("head")
        return parts

    @staticmethod
    def _expires() -> int:
        return int(time.time()) + KEEP_DAYS * 86400


def _part_names(name: str, count: int) -> list[str]:
    return [f"{name}#{i:05d}" for i in range(count)]


def _attribute_size(value: dict) -> int:
    ((kind, inner),) = value.items()
    if kind == "B":
        return len(inner)
    return len(str(inner).encode("utf-8"))
