"""The sync's fast codec writes items the pynamodb models read back exactly."""

from datetime import UTC, datetime

from rostersync.store.codec import from_item, to_item
from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel


def test_items_written_by_the_codec_deserialize_in_the_models():
    now = datetime(2026, 11, 29, 12, 30, 15, 123456, tzinfo=UTC)
    values = {
        "districtId": "dst_1",
        "userId": "u-1",
        "districtRole": "dst_1#teacher",
        "sisSourcedId": "t-1",
        "status": "active",
        "sisStatus": "active",
        "contentHash": "abc",
        "updatedAt": now,
        "lastRunId": "run_1",
        "role": "teacher",
        "givenName": "Ada",
        "familyName": "Lovelace",
        "email": None,
        "grades": ["09", "10"],
        "schoolIds": ["sch_1"],
    }
    user = UserModel.from_raw_data(to_item(values))
    assert user.user_id == "u-1" and user.given_name == "Ada" and user.email is None
    assert user.updated_at == now and user.grades == ["09", "10"] and user.school_ids == ["sch_1"]
    # And what the model serializes, the codec reads back to the same values.
    assert from_item(user.serialize())["updatedAt"] == to_item(values)["updatedAt"]["S"]


def test_booleans_and_empty_lists_round_trip():
    now = datetime.now(UTC)
    item = to_item(
        {
            "districtId": "d",
            "enrollmentId": "e",
            "districtClass": "d#c",
            "districtUser": "d#u",
            "classId": "c",
            "userId": "u",
            "classSourcedId": "c1",
            "userSourcedId": "u1",
            "role": "student",
            "primary": False,
            "sisSourcedId": "e1",
            "contentHash": "h",
            "updatedAt": now,
        }
    )
    enrollment = EnrollmentModel.from_raw_data(item)
    assert enrollment.primary is False and enrollment.begin_date is None
    klass = ClassModel.from_raw_data(
        to_item(
            {
                "districtId": "d",
                "classId": "c",
                "districtSchool": "d#s",
                "schoolId": "s",
                "sisSourcedId": "c1",
                "contentHash": "h",
                "updatedAt": now,
                "grades": [],
                "subjects": [],
            }
        )
    )
    assert klass.grades == [] and klass.subjects == []


def test_one_encoder_for_every_value_an_item_holds():
    from datetime import timedelta, timezone

    from rostersync.store.codec import format_datetime

    moment = datetime(2026, 12, 1, 20, 15, 7, 123456, tzinfo=UTC)
    values = {
        "s": 'Zoë "Zed" \\ \n',
        "none": None,
        "t": True,
        "f": False,
        "n": 3,
        "x": 2.5,
        "at": moment,
        "local": moment.astimezone(timezone(timedelta(hours=-6))),
        "l": ["a", 7, ("p", "q")],
        "m": {"a": "b", "c": None},
        "data": b"\x00\x01",
    }
    assert to_item(values) == {
        "s": {"S": 'Zoë "Zed" \\ \n'},
        "t": {"BOOL": True},
        "f": {"BOOL": False},
        "n": {"N": "3"},
        "x": {"N": "2.5"},
        "at": {"S": "2026-12-01T20:15:07.123456+0000"},
        "local": {"S": "2026-12-01T20:15:07.123456+0000"},
        "l": {"L": [{"S": "a"}, {"N": "7"}, {"L": [{"S": "p"}, {"S": "q"}]}]},
        "m": {"M": {"a": {"S": "b"}}},
        "data": {"B": b"\x00\x01"},
    }
    assert from_item(to_item(values))["data"] == b"\x00\x01"
    for second in range(100):  # past the cache's bound, each still formatted right
        later = moment + timedelta(seconds=second)
        assert format_datetime(later) == later.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
