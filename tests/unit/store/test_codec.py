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
