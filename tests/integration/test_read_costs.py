"""Reads cost what they return: a change read of one class's or one user's enrollments is a
key-condition query on that class's (user's) partition, whatever else the district holds."""

from datetime import UTC, datetime, timedelta

import pytest

from rostersync.store import change_keys
from rostersync.store import roster_queries as queries

DISTRICT = "d-read-costs"


@pytest.fixture
def enrollments(aws, monkeypatch):
    """Class c-small: 3 students; class c-big: 400; student u-0 is in both."""
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    from rostersync.store.roster import EnrollmentModel, index_key

    written = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with EnrollmentModel.batch_write() as batch:
        for class_id, size in (("c-small", 3), ("c-big", 400)):
            for n in range(size):
                user_id = f"u-{n}"
                enrollment_id = f"e-{class_id}-{n}"
                at = change_keys.time_text(written + timedelta(milliseconds=n))
                batch.save(
                    EnrollmentModel(
                        DISTRICT,
                        enrollment_id,
                        district_class=index_key(DISTRICT, class_id),
                        district_user=index_key(DISTRICT, user_id),
                        class_id=class_id,
                        user_id=user_id,
                        class_sourced_id=class_id,
                        user_sourced_id=user_id,
                        role="student",
                        updated_at=written,
                        change_seq=change_keys.change_seq(at, enrollment_id),
                    )
                )
    return EnrollmentModel


def read_all(query, limit=2):
    items, reads, cursor = [], 0, None
    while True:
        page = queries.change_page(DISTRICT, query, "2000-01-01T00:00:00.000000+0000", limit=limit, cursor=cursor)
        items += page.items
        reads += page.items_read
        cursor = page.next_cursor
        if cursor is None:
            return items, reads


def test_a_class_s_enrollment_changes_read_its_partition_only(enrollments):
    items, reads = read_all(queries.enrollment_changes("c-small", None, None, "all"))
    assert sorted(e.enrollment_id for e in items) == [f"e-c-small-{n}" for n in range(3)]
    # Two pages of 2: each reads its items and the one that tells a next page is there.
    assert reads <= len(items) + 2, reads


def test_a_user_s_enrollment_changes_read_its_partition_only(enrollments):
    items, reads = read_all(queries.enrollment_changes(None, "u-0", None, "all"), limit=50)
    assert sorted(e.class_id for e in items) == ["c-big", "c-small"]
    assert reads == len(items)
    # Both ids: the class's partition, filtered by user; a role filter reads the same partition.
    items, reads = read_all(queries.enrollment_changes("c-small", "u-1", "student", "all"), limit=50)
    assert [e.enrollment_id for e in items] == ["e-c-small-1"] and reads == 3


def test_the_district_wide_read_still_reads_the_district(enrollments):
    items, reads = read_all(queries.enrollment_changes(None, None, None, "all"), limit=200)
    assert len(items) == 403 and 403 <= reads <= 403 + 2  # each page reads one past its last


def test_one_role_s_and_one_school_s_changes_read_their_partition(aws, monkeypatch):
    """Users: 3 teachers among 200 students; classes: 2 of school A among 100 of school B."""
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    from rostersync.store.roster import ClassModel, UserModel, index_key

    district = "d-read-costs-roles"
    written = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with UserModel.batch_write() as batch:
        for n in range(203):
            role, user_id = ("teacher", f"t-{n}") if n < 3 else ("student", f"s-{n}")
            at = change_keys.time_text(written + timedelta(milliseconds=200 - n))  # teachers last
            batch.save(
                UserModel(
                    district,
                    user_id,
                    district_role=index_key(district, role),
                    role=role,
                    school_ids=["sch-a"],
                    updated_at=written,
                    change_seq=change_keys.change_seq(at, user_id),
                )
            )
    with ClassModel.batch_write() as batch:
        for n in range(102):
            school, class_id = ("sch-a", f"c-a-{n}") if n < 2 else ("sch-b", f"c-b-{n}")
            at = change_keys.time_text(written + timedelta(milliseconds=200 - n))
            batch.save(
                ClassModel(
                    district,
                    class_id,
                    district_school=index_key(district, school),
                    school_id=school,
                    updated_at=written,
                    change_seq=change_keys.change_seq(at, class_id),
                )
            )
    since = "2000-01-01T00:00:00.000000+0000"
    teachers = queries.change_page(district, queries.user_changes("teacher", None, "all"), since, limit=50)
    assert sorted(u.user_id for u in teachers.items) == ["t-0", "t-1", "t-2"] and teachers.items_read == 3
    in_school = queries.change_page(district, queries.class_changes("sch-a", "all"), since, limit=50)
    assert sorted(c.class_id for c in in_school.items) == ["c-a-0", "c-a-1"] and in_school.items_read == 2
    # A cursor of one page resumes in the same partition.
    first = queries.change_page(district, queries.user_changes("teacher", None, "all"), since, limit=2)
    rest = queries.change_page(district, queries.user_changes("teacher", None, "all"), None, 2, first.next_cursor)
    assert [u.user_id for u in first.items + rest.items] == [u.user_id for u in teachers.items]
