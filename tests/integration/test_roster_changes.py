"""Changes since: a client following a district's changes through the API, while syncs write.

The guarantee (store/change_keys.py): resuming from the last changesCursor, a reader misses no
change and is answered none twice, across runs and while a run writes.
"""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel
from rostersync.store.schools import SchoolModel
from rostersync.sync.engine import Outcome
from tests.integration.test_sync_engine import sync
from tests.integration.test_sync_runs_api import admin

# Small enough to keep the suite quick, paged small enough that a sync writes across many pages.
DISTRICT = {"schools": 2, "students": 80, "teachers": 8, "classes": 24, "enrollments": 480, "page_cap": 40}
KINDS = {
    "schools": ("schoolId", SchoolModel),
    "users": ("userId", UserModel),
    "classes": ("classId", ClassModel),
    "enrollments": ("enrollmentId", EnrollmentModel),
}


class Follower:
    """A client of the change feed: keeps each kind's changesCursor and what it was answered."""

    def __init__(self, district_id: str, limit: int = 37):
        self.district_id = district_id
        self.ask = admin(district_id)
        self.limit = limit
        self.cursors: dict[str, str | None] = {kind: None for kind in KINDS}
        self.seen: dict[str, list[tuple[str, datetime]]] = {kind: [] for kind in KINDS}  # (id, updatedAt)

    def catch_up(self, kind: str) -> int:
        """Read every change available now; returns how many were answered."""
        id_name = KINDS[kind][0]
        answered = 0
        while True:
            query = {"limit": str(self.limit)}
            if self.cursors[kind] is None:
                query["updatedSince"] = "2000-01-01T00:00:00Z"
            else:
                query["cursor"] = self.cursors[kind]
            answer = self.ask("GET", f"/districts/{self.district_id}/{kind}", query=query)
            assert answer.status == 200, answer.body
            items = answer.body[kind]
            assert answer.body["changesCursor"]
            self.cursors[kind] = answer.body["changesCursor"]
            self.seen[kind] += [(item[id_name], datetime.fromisoformat(item["updatedAt"])) for item in items]
            answered += len(items)
            if answer.body["nextCursor"] is None:
                return answered
            assert answer.body["nextCursor"] == answer.body["changesCursor"]

    def catch_up_all(self) -> int:
        return sum(self.catch_up(kind) for kind in KINDS)

    def latest(self, kind: str) -> dict[str, datetime]:
        return dict(self.seen[kind])


def stored(district_id: str, kind: str) -> dict[str, tuple[str, datetime]]:
    """id -> (changeSeq, updatedAt) of every stored item."""
    _, model = KINDS[kind]
    return {getattr(item, _id_attr(model)): (item.change_seq, item.updated_at) for item in model.query(district_id)}


def _id_attr(model) -> str:
    return {UserModel: "user_id", ClassModel: "class_id", EnrollmentModel: "enrollment_id", SchoolModel: "school_id"}[
        model
    ]


def stored_all(district_id: str) -> dict[str, dict[str, tuple[str, datetime]]]:
    return {kind: stored(district_id, kind) for kind in KINDS}


def assert_in_step(follower: Follower, state: dict) -> None:
    """The follower's latest view of each item is the stored item (`stored_all`); nothing
    answered twice; each kind's answers come in change order."""
    for kind in KINDS:
        seen, items = follower.seen[kind], state[kind]
        assert len(seen) == len(set(seen)), f"{kind}: a change answered twice"
        latest = follower.latest(kind)
        assert set(latest) == set(items), f"{kind}: {len(set(items) - set(latest))} items never answered"
        for item_id, (_, updated_at) in items.items():
            assert latest[item_id] == updated_at, f"{kind}: {item_id} answered in an older state"
        stamps = [updated_at for _, updated_at in seen]
        assert stamps == sorted(stamps), f"{kind}: not in change order"


def test_a_client_follows_a_district_night_after_night(make_sandbox_sis, connected_district, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    sandbox_sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sandbox_sis)
    follower = Follower(district, limit=200)
    assert follower.catch_up_all() == 0  # nothing synced yet
    assert sync(district).outcome == Outcome.SUCCEEDED
    time.sleep(0.01)
    first = follower.catch_up_all()
    before = stored_all(district)
    assert first == sum(len(items) for items in before.values())
    assert_in_step(follower, before)
    assert follower.catch_up_all() == 0  # nothing new: nothing answered again

    assert sandbox_sis.advance_day()["changes"]
    assert sync(district).outcome == Outcome.SUCCEEDED
    time.sleep(0.01)
    answered = follower.catch_up_all()
    after = stored_all(district)
    changed = sum(1 for kind in KINDS for i, v in after[kind].items() if before[kind].get(i) != v)
    assert answered == changed > 0  # exactly the items the night wrote (created, changed, deactivated)
    assert_in_step(follower, after)
    gone = {u.user_id for u in UserModel.query(district) if u.status == "inactive"}
    assert gone and gone <= {user_id for user_id, _ in follower.seen["users"][-answered:]}


def test_filters_and_updated_since_on_a_change_read(sandbox_sis, connected_district, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    district = connected_district(sandbox_sis)
    started = datetime.now(UTC)
    assert sync(district).outcome == Outcome.SUCCEEDED
    time.sleep(0.01)
    ask = admin(district)
    teachers = ask(
        "GET",
        f"/districts/{district}/users",
        query={"updatedSince": started.isoformat(), "role": "teacher", "limit": "200"},
    ).body
    expected = {u.user_id for u in UserModel.query(district) if u.role == "teacher"}
    assert {u["userId"] for u in teachers["users"]} == expected and teachers["nextCursor"] is None
    # After the sync: nothing.
    later = (datetime.now(UTC) + timedelta(seconds=0)).isoformat()
    assert ask("GET", f"/districts/{district}/users", query={"updatedSince": later}).body["users"] == []
    # A change cursor works only for its own query.
    cursor = teachers["changesCursor"]
    refused = ask("GET", f"/districts/{district}/users", query={"cursor": cursor, "role": "student"})
    assert (refused.status, refused.body["error"]["code"]) == (400, "invalid_cursor")
    refused = ask("GET", f"/districts/{district}/classes", query={"cursor": cursor})
    assert refused.status == 400
    for bad in ("yesterday", "2026-12-01T08:00:00", "2026-13-01T00:00:00Z"):
        answer = ask("GET", f"/districts/{district}/users", query={"updatedSince": bad})
        assert (answer.status, answer.body["error"]["code"]) == (422, "invalid_request"), bad


def test_one_school_s_and_one_term_s_change_reads_over_the_api(make_sandbox_sis, connected_district, monkeypatch):
    """users?schoolId=&updatedSince= (with and without role) and classes?termId=&updatedSince=, paged by
    their cursors after a sync and a night: exactly the stored items of that school (term), in change
    order, each once, at its latest change."""
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    sandbox_sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sandbox_sis)
    ask = admin(district)

    def follow(kind: str, query: dict) -> list[dict]:
        items, page = [], {**query, "updatedSince": "2000-01-01T00:00:00Z", "limit": "7"}
        while True:
            answer = ask("GET", f"/districts/{district}/{kind}", query=page)
            assert answer.status == 200, answer.body
            items += answer.body[kind]
            if answer.body["nextCursor"] is None:
                return items
            page = {**query, "cursor": answer.body["nextCursor"], "limit": "7"}

    for night in range(2):
        if night:
            assert sandbox_sis.advance_day()["changes"]
        assert sync(district).outcome == Outcome.SUCCEEDED
        time.sleep(0.01)
        users = sorted(UserModel.query(district), key=lambda u: u.change_seq)
        school = users[0].school_ids[0]
        for role in (None, "teacher", "student"):
            answered = follow("users", {"schoolId": school, **({"role": role} if role else {})})
            expected = [u for u in users if school in u.school_ids and role in (None, u.role)]
            assert [u["userId"] for u in answered] == [u.user_id for u in expected], role
            stamps = [datetime.fromisoformat(u["updatedAt"]) for u in answered]
            assert stamps == [u.updated_at for u in expected], role  # each at its latest change
            assert len(expected) > 7 or role == "teacher"
        classes = sorted(ClassModel.query(district), key=lambda c: c.change_seq)
        term = next(c.term_ids[0] for c in classes if c.term_ids)
        answered = follow("classes", {"termId": term})
        assert [c["classId"] for c in answered] == [c.class_id for c in classes if term in c.term_ids]


def test_the_horizon_keeps_a_late_landing_write_in_the_feed(aws, monkeypatch):
    """A write stamped before a reader's horizon but landing after its read (a worker's request
    in flight) is answered by the next read: the cursor never passes writes that may still land."""
    from rostersync.store.batch import BatchStore
    from rostersync.store.roster_scan import RosterScan
    from tests.unit.sync.test_locks import make_district

    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "2")
    district = make_district().district_id
    follower = Follower(district)
    store = BatchStore()
    RosterScan(store, district)  # installs the change stamper

    def write_class(n: int, held_s: float = 0.0):
        real = store.batch_client.batch_write_item

        def late(**kwargs):  # stamped now, lands `held_s` later
            time.sleep(held_s)
            return real(**kwargs)

        # The client is the process's: monkeypatch puts its method back even if the test fails.
        monkeypatch.setattr(store.batch_client, "batch_write_item", late)
        store.put(
            aws_table("classes"),
            {
                "districtId": district,
                "classId": f"class-{n}",
                "districtSchool": f"{district}#s",
                "schoolId": "s",
                "sisSourcedId": f"c{n}",
                "status": "active",
                "contentHash": "h",
                "grades": [],
                "subjects": [],
            },
        )
        store.flush()
        monkeypatch.setattr(store.batch_client, "batch_write_item", real)

    write_class(1)
    time.sleep(2.1)
    assert follower.catch_up("classes") == 1
    writer = threading.Thread(target=write_class, args=(2, 1.0))
    writer.start()
    time.sleep(0.3)  # class-2 is stamped, its write not landed yet
    assert follower.catch_up("classes") == 0
    writer.join()
    time.sleep(2.1)
    assert follower.catch_up("classes") == 1
    assert [i for i, _ in follower.seen["classes"]] == ["class-1", "class-2"]
    store.close()


def aws_table(kind: str) -> str:
    from rostersync.settings import get_settings

    return {"classes": get_settings().classes_table}[kind]


@pytest.mark.parametrize("lag_s", ["1.5"])
def test_reading_changes_while_syncs_write(make_sandbox_sis, connected_district, monkeypatch, lag_s):
    """A reader polls the feed the whole time two runs (a full sync, then the next night's) write;
    after the horizon passes their end it holds exactly the stored state, each change once."""
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", lag_s)
    # A slow SIS keeps each run writing for longer than the horizon: on a fast local stack a run
    # could end before any change it wrote was old enough to be read while it ran.
    sis = make_sandbox_sis(**DISTRICT, latency_ms=150)
    district = connected_district(sis)
    follower = Follower(district, limit=25)
    outcomes, done = [], threading.Event()

    def nights():
        try:
            outcomes.append(sync(district).outcome)
            sis.advance_day()
            outcomes.append(sync(district).outcome)
        finally:
            done.set()

    writer = threading.Thread(target=nights)
    writer.start()
    reads_during = 0
    while not done.is_set():
        reads_during += follower.catch_up_all()
        time.sleep(0.05)
    writer.join()
    assert outcomes == [Outcome.SUCCEEDED, Outcome.SUCCEEDED]
    assert reads_during > 0, "the reader saw changes while the runs wrote"
    time.sleep(float(lag_s) + 0.2)
    follower.catch_up_all()
    assert_in_step(follower, stored_all(district))
