"""Membership keys (issue 31, store/roster.py): a user's schools and a class's terms as index keys,
set by every write (the sync's mapping and the models' serialize), moved with the item's values."""

from types import SimpleNamespace

from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel, school_keys, term_keys


def test_one_or_two_values_take_slots_and_more_take_the_overflow_only():
    assert school_keys("d", "teacher", ["b", "a", "a"]) == {
        "districtSchoolRole1": "d#teacher#a",
        "districtSchoolRole2": "d#teacher#b",
    }
    assert school_keys("d", "student", ["c", "a", "b"]) == {"districtRoleManySchools": "d#student"}
    assert term_keys("d", ["t"]) == {"districtTerm1": "d#t"}
    assert term_keys("d", ["t1", "t2", "t3"]) == {"districtManyTerms": "d"}
    assert school_keys("d", "student", []) == {} and term_keys("d", None) == {}


def test_a_model_s_save_writes_the_keys_of_its_values_now_and_drops_the_old_ones():
    user = UserModel("d", "u", district_role="d#student", role="student", school_ids=["a", "b"])
    assert {k: v["S"] for k, v in user.serialize(null_check=False).items() if k.startswith("districtSchoolRole")} == {
        "districtSchoolRole1": "d#student#a",
        "districtSchoolRole2": "d#student#b",
    }
    user.school_ids = ["c"]  # left a and b: the second slot goes, so B's partition no longer has them
    item = user.serialize(null_check=False)
    assert item["districtSchoolRole1"] == {"S": "d#student#c"} and "districtSchoolRole2" not in item
    klass = ClassModel("d", "c", district_school="d#s", school_id="s", term_ids=["t1", "t2", "t3"])
    item = klass.serialize(null_check=False)
    assert item["districtManyTerms"] == {"S": "d"} and "districtTerm1" not in item
    enrollment = EnrollmentModel("d", "e", role="teacher")  # keys only: not null-checked here
    assert enrollment.serialize(null_check=False)["districtRole"] == {"S": "d#teacher"}


def test_the_sync_s_items_carry_the_same_keys():
    from datetime import UTC, datetime

    from rostersync.sync import mapping

    now = datetime(2026, 12, 1, tzinfo=UTC)
    user = SimpleNamespace(
        sourced_id="u1",
        role="teacher",
        given_name="A",
        family_name="B",
        email=None,
        username=None,
        identifier=None,
        grades=(),
        status="active",
    )
    item = mapping.user_item("d", user, ["s2", "s1"], "run", now)
    assert item["districtSchoolRole1"] == "d#teacher#s1" and item["districtSchoolRole2"] == "d#teacher#s2"
    cls = SimpleNamespace(sourced_id="c1", title="C", class_code=None, grades=(), term_ids=["t"], status="active")
    item = mapping.class_item("d", cls, "s", (), "run", now)
    assert item["districtTerm1"] == "d#" + item["termIds"][0]
    record = SimpleNamespace(
        sourced_id="e1",
        class_id="c1",
        user_id="u1",
        role="student",
        primary=None,
        begin_date=None,
        end_date=None,
        status="active",
    )
    assert mapping.enrollment_item("d", record, "run", now)["districtRole"] == "d#student"
