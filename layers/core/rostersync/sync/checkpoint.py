"""A run's saved progress, so a sync can stop near Lambda's time limit (or a crash) and go on.

Saved as a small JSON head plus binary parts (the fingerprint sets), each under DynamoDB's
400 KB item limit. A new version's parts are written before the head that points at them,
so a worker that dies while saving leaves the previous checkpoint whole.
"""

import json
import time
from dataclasses import dataclass

from rostersync.settings import get_settings
from rostersync.store.batch import BatchStore

PART_BYTES = 350_000
KEEP_DAYS = 14


@dataclass
class Checkpoint:
    state: dict
    blobs: dict[str, bytes]


def _run_key(district_id: str, run_id: str) -> str:
    return f"{district_id}#{run_id}"


class CheckpointStore:
    def __init__(self, batch: BatchStore):
        self.batch = batch
        self.client = batch.client
        self.table = get_settings().checkpoints_table

    def load(self, district_id: str, run_id: str) -> Checkpoint | None:
        run_key = _run_key(district_id, run_id)
        head = self.client.get_item(
            TableName=self.table, Key={"runKey": {"S": run_key}, "part": {"S": "head"}}, ConsistentRead=True
        ).get("Item")
        if not head:
            return None
        index = json.loads(head["index"]["S"])
        blobs = {}
        for name, parts in index.items():
            found = self.batch.get_many(self.table, [{"runKey": run_key, "part": p} for p in parts])
            by_part = {item["part"]: item["data"] for item in found}
            blobs[name] = b"".join(by_part[p] for p in parts)
        return Checkpoint(state=json.loads(head["state"]["S"]), blobs=blobs)

    def save(self, district_id: str, run_id: str, state: dict, blobs: dict[str, bytes]) -> None:
        run_key = _run_key(district_id, run_id)
        version = int(time.time() * 1000)
        expires = int(time.time()) + KEEP_DAYS * 86400
        index = {}
        for name, data in blobs.items():
            parts = []
            for i in range(0, max(len(data), 1), PART_BYTES):
                part = f"v{version}#{name}#{i // PART_BYTES:05d}"
                self.client.put_item(
                    TableName=self.table,
                    Item={
                        "runKey": {"S": run_key},
                        "part": {"S": part},
                        "data": {"B": data[i : i + PART_BYTES]},
                        "expiresAt": {"N": str(expires)},
                    },
                )
                parts.append(part)
            index[name] = parts
        previous = self._parts(run_key)
        self.client.put_item(
            TableName=self.table,
            Item={
                "runKey": {"S": run_key},
                "part": {"S": "head"},
                "state": {"S": json.dumps(state)},
                "index": {"S": json.dumps(index)},
                "expiresAt": {"N": str(expires)},
            },
        )
        current = {p for parts in index.values() for p in parts}
        for part in previous - current:
            self.client.delete_item(TableName=self.table, Key={"runKey": {"S": run_key}, "part": {"S": part}})

    def delete(self, district_id: str, run_id: str) -> None:
        run_key = _run_key(district_id, run_id)
        # The head first: a worker that dies half way leaves unreferenced parts (expired by
        # their TTL), never a head that points at parts already gone.
        parts = self._parts(run_key)
        self.client.delete_item(TableName=self.table, Key={"runKey": {"S": run_key}, "part": {"S": "head"}})
        for part in parts:
            self.client.delete_item(TableName=self.table, Key={"runKey": {"S": run_key}, "part": {"S": part}})

    def _parts(self, run_key: str) -> set[str]:
        parts = set()
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="runKey = :k AND begins_with(part, :v)",
            ExpressionAttributeValues={":k": {"S": run_key}, ":v": {"S": "v"}},
            ProjectionExpression="part",
        ):
            parts.update(item["part"]["S"] for item in page["Items"])
        return parts
