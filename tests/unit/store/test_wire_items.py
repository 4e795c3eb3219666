"""Items encoded as wire text when put (store/wire_items.py) mean exactly what codec.to_item's
attribute values mean, stamps included, and requests mixing them with plain items are whole."""

import json
from datetime import UTC, datetime, timedelta, timezone

from rostersync.store.change_keys import RosterStamper
from rostersync.store.codec import to_item
from rostersync.store.dynamodb_wire import _write_payload
from rostersync.store.wire_items import WireItemEncoder

NOW = datetime(2026, 12, 1, 20, 15, 7, 123456, tzinfo=UTC)
VALUES = [
    {
        "districtId": "dst_1",
        "enrollmentId": "e-1",
        "primary": True,
        "updatedAt": NOW,
        "endDate": None,
        "role": "student",
        "lastRunId": "run_1",
    },
    {
        "districtId": "dst_1",
        "userId": "u-1",
        "givenName": 'Zoë "Zed" \\ O\'Neil\n',
        "grades": ["09", "10"],
        "schoolIds": [],
        "email": None,
        "flag": False,
        "local": NOW.astimezone(timezone(timedelta(hours=-6))),
    },
    {
        "districtId": "dst_1",
        "classId": "c-1",
        "n": 3,
        "x": 2.5,
        "termIds": ["t", 7],
        "m": {"a": "b", "c": None},
        "tuple": ("p", "q"),
        "surrogate": "\ud800 lone",
        "emoji": "\U0001f600",
        "nul": "a\x00b",
    },
    {},
]


def test_the_text_is_the_codecs_attribute_values():
    encode = WireItemEncoder()
    for values in VALUES:
        item = encode(values)
        assert json.loads(item.json()) == to_item(values)
        assert item.json().isascii()


def test_stamped_attributes_are_left_out_and_set_at_each_send():
    encode, stamp = WireItemEncoder(), RosterStamper({"users": "userId"})
    values = VALUES[1] | {"updatedAt": NOW}
    item = encode(values, stamp.late_attributes("users"))
    assert "updatedAt" not in item.text
    stamp("users", item, "2026-12-01T21:00:00.000000+0000")
    expected = to_item(values) | {
        "updatedAt": {"S": "2026-12-01T21:00:00.000000+0000"},
        "changeSeq": {"S": "2026-12-01T21:00:00.000000+0000#u-1"},
    }
    assert json.loads(item.json()) == expected
    stamp("users", item, "2026-12-01T21:00:05.000000+0000")  # a retry is stamped again, once
    assert json.loads(item.json())["changeSeq"] == {"S": "2026-12-01T21:00:05.000000+0000#u-1"}
    assert stamp.late_attributes("checkpoints") == frozenset()


def test_an_attribute_set_over_the_text_replaces_it():
    item = WireItemEncoder()(VALUES[0])  # encoded without a hook, then stamped anyway
    RosterStamper({"enrollments": "enrollmentId"})("enrollments", item, "2026-12-02T00:00:00.000000+0000")
    decoded = json.loads(item.json())
    assert decoded["updatedAt"] == {"S": "2026-12-02T00:00:00.000000+0000"}
    assert decoded == to_item(VALUES[0]) | dict(item)


def test_a_request_mixes_wire_items_and_items_handed_back():
    encode = WireItemEncoder()
    requests = {
        "T1": [{"PutRequest": {"Item": encode(v)}} for v in VALUES[:2]],
        "T2": [{"PutRequest": {"Item": to_item(VALUES[2])}}, {"DeleteRequest": {"Key": {"k": {"S": "x"}}}}],
    }
    expected = {
        "RequestItems": {
            "T1": [{"PutRequest": {"Item": to_item(v)}} for v in VALUES[:2]],
            "T2": [{"PutRequest": {"Item": to_item(VALUES[2])}}, {"DeleteRequest": {"Key": {"k": {"S": "x"}}}}],
        }
    }
    assert json.loads(_write_payload(requests)) == expected
