"""A run's saved state never puts more than DynamoDB's 400 KB in one item, however large the
district: GUID ids, 20,000 courses, a delta with 50,000 changed users, big fingerprint sets,
and parked users a large page at a time. What is saved loads back equal."""

import uuid

from rostersync.store.batch import BatchStore
from rostersync.sync.checkpoint import MAX_ITEM_BYTES, CheckpointStore
from rostersync.sync.parked_users import ParkedUsers
from rostersync.sync.run_state import DeltaState, RunPlan, RunState

DYNAMODB_ITEM_LIMIT = 400 * 1024


def guid(n: int, kind: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}-{n}"))


def item_size(item: dict) -> int:
    """DynamoDB's measure: attribute name lengths plus value sizes (UTF-8 or bytes)."""
    total = 0
    for name, value in item.items():
        ((kind, inner),) = value.items()
        total += len(name.encode()) + (len(inner) if kind == "B" else len(str(inner).encode()))
    return total


DYNAMODB_REQUEST_LIMIT = 16 * 1024 * 1024  # a BatchWriteItem's whole request


class RecordingClient:
    """The sizes of the items put, one by one (the head) or in batches (the parts)."""

    def __init__(self, client, sizes: list | None = None):
        self._client, self.sizes = client, [] if sizes is None else sizes

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_item(self, **kwargs):
        self.sizes.append(item_size(kwargs["Item"]))
        return self._client.put_item(**kwargs)

    def batch_write_item(self, **kwargs):
        sizes = [
            item_size(r["PutRequest"]["Item"])
            for rs in kwargs["RequestItems"].values()
            for r in rs
            if "PutRequest" in r
        ]
        assert sum(sizes) < DYNAMODB_REQUEST_LIMIT
        self.sizes.extend(sizes)
        return self._client.batch_write_item(**kwargs)


def big_state() -> RunState:
    plan = RunPlan(
        selection={"schools": [guid(i, "school") for i in range(300)], "grades": None, "subjects": None},
        guard_max_share=0.2,
        guard_min_records=20,
        connection={
            "hostUrl": "https://sis.example.org",
            "clientId": "c",
            "authMethod": "oauth2",
            "tokenUrl": None,
            "scope": None,
            "secretVersion": guid(0, "v"),
        },
    )
    users = [guid(i, "user") for i in range(50_000)]
    state = RunState(
        mode="delta",
        plan=plan,
        started_at="2026-12-01T08:00:00+00:00",
        phase="delta_enrollments",
        offset=123_000,
        last_page_size=1000,
        school_map={guid(i, "school"): guid(i, "app") for i in range(300)},
        sis_schools=[{"sisSourcedId": guid(i, "school"), "name": f"School {i}"} for i in range(300)],
        course_subjects={guid(i, "course"): ["Mathematics", "Science"] for i in range(20_000)},
        grades=["KG"] + [f"{g:02d}" for g in range(1, 13)],
        subjects=["Mathematics", "Science"],
        delta=DeltaState(
            since="2026-11-30T08:00:00+00:00",
            changed_classes={guid(i, "class"): i % 2 == 0 for i in range(20_000)},
            changed_users={u: True for u in users},
            out_enrollments=[guid(i, "enr") for i in range(50_000)],
            enrolled_users=users,
            recheck_users=users,
        ),
    )
    for i in range(300_000):  # 2.4 MB of fingerprints: several parts
        state.sets["enrollments_all"].add(guid(i, "enr"))
    for user in users:
        state.sets["users_all"].add(user)
    return state


def test_every_checkpoint_item_stays_under_400_kb_and_loads_back_equal(aws):
    batch = BatchStore()
    checkpoints = CheckpointStore(batch, "dst_big", "run_big")
    recording = checkpoints.client = RecordingClient(checkpoints.client)
    batch.batch_client = RecordingClient(batch.batch_client, recording.sizes)  # the parts' batches
    state = big_state()
    parked = ParkedUsers(checkpoints, state.parked)
    # A server that ignores `limit` and sends 20,000 users a page: one chunk, split in parts.
    parked.add_many(
        [
            (
                i,
                {
                    "userId": guid(i, "uid"),
                    "givenName": "N" * 40,
                    "familyName": "F" * 40,
                    "email": f"{guid(i, 'mail')}@example.org",
                    "schoolIds": [guid(i % 300, "app")],
                },
            )
            for i in range(20_000)
        ]
    )
    parked.flush()
    checkpoints.save(state)
    checkpoints.save(state)  # a second version replaces the first

    assert recording.sizes and max(recording.sizes) < MAX_ITEM_BYTES == DYNAMODB_ITEM_LIMIT
    assert len(recording.sizes) > 20  # the state really was split
    loaded = checkpoints.load()
    assert loaded.to_json() == state.to_json()
    assert len(loaded.sets["enrollments_all"]) == 300_000 and guid(7, "enr") in loaded.sets["enrollments_all"]
    rows = [row for _, chunk in ParkedUsers(checkpoints, loaded.parked).iterate() for row in chunk]
    assert len(rows) == 20_000 and rows[5][1]["userId"] == guid(5, "uid")
    # Nothing of an earlier version is left behind once a newer one is saved, and deleting
    # the run's checkpoint removes every part.
    assert len(checkpoints._parts("v")) == sum(_parts_of(checkpoints))
    checkpoints.delete()
    assert checkpoints.load() is None and not checkpoints._parts("")


def _parts_of(checkpoints: CheckpointStore) -> list[int]:
    import json

    head = checkpoints.client.get_item(
        TableName=checkpoints.table, Key={"runKey": {"S": checkpoints.run_key}, "part": {"S": "head"}}
    )["Item"]
    return list(json.loads(head["index"]["S"]).values())
