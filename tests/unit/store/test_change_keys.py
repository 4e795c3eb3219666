"""Change keys (store/change_keys.py): stamped on roster writes only, totally ordered, and a
horizon that trails every writer's longest possible write."""

from datetime import UTC, datetime, timedelta

from rostersync.store import change_keys
from rostersync.store.change_keys import RosterStamper, change_horizon, change_seq, item_id_of, time_text
from rostersync_tools.local.template_resources import load_template

TEMPLATE = load_template()
ROSTER_TABLES = ("SchoolsTable", "UsersTable", "ClassesTable", "EnrollmentsTable", "TermsTable")


def test_the_stamper_stamps_roster_tables_only_with_the_send_time():
    stamp = RosterStamper({"users": "userId"})
    user = {"userId": {"S": "u-1"}, "updatedAt": {"S": "old"}}
    checkpoint = {"runKey": {"S": "r"}}
    sent_at = time_text(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    stamp("users", user, sent_at)
    stamp("checkpoints", checkpoint, sent_at)
    assert user["updatedAt"] == {"S": "2026-12-01T08:00:00.000000+0000"}
    assert user["changeSeq"] == {"S": "2026-12-01T08:00:00.000000+0000#u-1"}
    assert checkpoint == {"runKey": {"S": "r"}}
    assert item_id_of(user["changeSeq"]["S"]) == "u-1"


def test_change_keys_order_by_time_then_id_and_a_time_bound_sits_between():
    base = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    times = [base + timedelta(microseconds=n) for n in (0, 1, 999_999, 1_000_000)] + [base + timedelta(days=400)]
    seqs = [change_seq(time_text(t), i) for t in times for i in ("a", "b")]
    assert seqs == sorted(seqs)  # fixed-width text: string order is time order, ties by id
    # A bare time (a horizon, updatedSince) sorts before every key stamped at it and after earlier ones.
    bound = time_text(times[1])
    assert seqs[1] < bound < seqs[2] < seqs[3]


def test_the_horizon_trails_the_longest_write_of_any_writer(monkeypatch):
    monkeypatch.delenv("ROSTERSYNC_CHANGE_LAG_SECONDS", raising=False)
    lag = change_keys.change_lag().total_seconds()
    resources = TEMPLATE["Resources"]
    default_timeout = TEMPLATE["Globals"]["Function"]["Timeout"]
    for function in ("SyncWorkerFunction", "ApiFunction"):
        timeout = resources[function]["Properties"].get("Timeout", default_timeout)
        assert lag >= timeout + 240, f"{function}'s writes may land after the change horizon"
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert change_horizon(now) == time_text(now - timedelta(seconds=lag))


def test_every_roster_table_has_the_change_index():
    for table in ROSTER_TABLES:
        indexes = {i["IndexName"]: i for i in TEMPLATE["Resources"][table]["Properties"]["GlobalSecondaryIndexes"]}
        keys = [(k["AttributeName"], k["KeyType"]) for k in indexes["ByChange"]["KeySchema"]]
        assert keys == [("districtId", "HASH"), ("changeSeq", "RANGE")]
        assert indexes["ByChange"]["Projection"] == {"ProjectionType": "ALL"}
