"""Reads cost what they return: a change read of one class's or one user's enrollments is a
key-condition query on that class's (user's) partition, whatever else the district holds."""

import time
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


# ---------------------------------------------------------------- list-valued filters and role (issue 31)
# users?schoolId=, classes?termId= and enrollments?role= read their own partitions: items written as
# a sync writes them (sync/mapping.py, through the batch store) are listed from their membership
# keys, and a read costs what it returns plus at most a page of look-ahead.

LISTS = "d-read-costs-lists"


def _write(table_and_items) -> None:
    from rostersync.store.batch import BatchStore

    store = BatchStore(max_in_flight=2)
    try:
        for table, item in table_and_items:
            store.put(table, item)
        store.flush()
    finally:
        store.close()


def _user(sourced_id: str, role: str, schools: list[str]) -> dict:
    from types import SimpleNamespace

    from rostersync.sync import mapping

    user = SimpleNamespace(
        sourced_id=sourced_id,
        role=role,
        given_name=sourced_id,
        family_name="Lists",
        email=None,
        username=None,
        identifier=None,
        grades=(),
        status="active",
    )
    return mapping.user_item(LISTS, user, schools, "run-1", datetime(2026, 12, 1, tzinfo=UTC))


@pytest.fixture
def schools(aws):
    """School A: 40 students, 5 teachers of A only, 2 of A and B (A is their first school), 1 of
    A, B and C (the overflow); school B: 300 students and those 3 teachers."""
    from rostersync.settings import get_settings

    users = [_user(f"sa-{n:03d}", "student", ["A"]) for n in range(40)]
    users += [_user(f"sb-{n:03d}", "student", ["B"]) for n in range(300)]
    users += [_user(f"ta-{n}", "teacher", ["A"]) for n in range(5)]
    users += [_user(f"tab-{n}", "teacher", ["B", "A"]) for n in range(2)]
    users += [_user("tabc", "teacher", ["C", "A", "B"])]
    _write((get_settings().users_table, item) for item in users)
    return {item["sisSourcedId"]: item["userId"] for item in users}


def read_users(school: str, role: str | None, limit: int):
    users, reads, pages, cursor = [], [], 0, None
    while True:
        page = queries.list_users(LISTS, role=role, school_id=school, limit=limit, cursor=cursor)
        users += page.items
        reads.append((len(page.items), page.items_read))
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return users, reads


def test_one_school_s_users_are_read_from_that_school_s_partitions(schools):
    ids = schools
    in_a = {ids[s] for s in ids if s.startswith(("sa-", "ta-", "tab-")) or s == "tabc"}
    teachers_of_b = {ids[s] for s in ids if s.startswith("tab-") or s == "tabc"}
    # Every user of A once, by userId, whichever slot or the overflow holds them: 48 of 348.
    users, reads = read_users("A", None, 50)
    assert [u.user_id for u in users] == sorted(in_a) and reads == [(48, 48)]
    teachers, reads = read_users("A", "teacher", 50)
    assert {u.user_id for u in teachers} == in_a - {ids[f"sa-{n:03d}"] for n in range(40)} and reads == [(8, 8)]
    # B's teachers: two whose second school it is, one in the overflow; none of B's 300 students read.
    teachers, reads = read_users("B", "teacher", 50)
    assert {u.user_id for u in teachers} == teachers_of_b and reads == [(3, 3)]
    # A large school paged: each page reads what it answers plus the one past it (the goal: + a page).
    students, reads = read_users("B", "student", 50)
    assert len(students) == 300 and len({u.user_id for u in students}) == 300
    assert [u.user_id for u in students] == sorted(u.user_id for u in students)
    assert all(read <= returned + 1 for returned, read in reads[:-1]), reads
    # Pages smaller than the slots' sizes: every user once, in order, across the merge's cursor.
    users, reads = read_users("A", None, 7)
    assert [u.user_id for u in users] == sorted(in_a)
    assert all(read <= returned + 7 for returned, read in reads), reads  # the goal: + one page


def test_one_term_s_classes_are_read_from_that_term_s_partitions(aws):
    from types import SimpleNamespace

    from rostersync.ids import record_id
    from rostersync.settings import get_settings
    from rostersync.sync import mapping

    def klass(sourced_id: str, terms: list[str]) -> dict:
        cls = SimpleNamespace(
            sourced_id=sourced_id, title=sourced_id, class_code=None, grades=(), term_ids=terms, status="active"
        )
        return mapping.class_item(LISTS, cls, "sch", (), "run-1", datetime(2026, 12, 1, tzinfo=UTC))

    classes = [klass(f"f-{n}", ["fall"]) for n in range(60)] + [klass(f"s-{n}", ["spring"]) for n in range(100)]
    classes += [klass(f"fs-{n}", ["spring", "fall"]) for n in range(20)]
    classes += [klass(f"fsy-{n}", ["fall", "spring", "year"]) for n in range(5)]
    _write((get_settings().classes_table, item) for item in classes)
    of_term = {
        term: sorted(c["classId"] for c in classes if record_id(LISTS, "term", term) in c["termIds"])
        for term in ("fall", "spring", "year")
    }
    for term, limit in (("fall", 200), ("year", 50), ("spring", 50)):
        found, reads, cursor = [], [], None
        while True:
            page = queries.list_classes(LISTS, term_id=record_id(LISTS, "term", term), limit=limit, cursor=cursor)
            found += [c.class_id for c in page.items]
            reads.append(page.items_read)
            if (cursor := page.next_cursor) is None:
                break
        assert found == of_term[term]
        if term != "spring":  # every partition read to its end in one page: exactly what is answered
            assert reads == [len(found)], (term, reads)
    # spring: 100 + 20 + 5 = 125 in pages of 50; each page reads what it answers and a little look-ahead.
    assert len(reads) == 3 and all(read <= 50 + 10 for read in reads[:2]) and reads[2] <= 25 + 3, reads


def test_one_role_s_enrollments_are_read_from_that_role_s_partition(aws, monkeypatch):
    from types import SimpleNamespace

    from rostersync.settings import get_settings
    from rostersync.sync import mapping

    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")

    def enrollment(n: int, role: str) -> dict:
        record = SimpleNamespace(
            sourced_id=f"e-{role}-{n}",
            class_id=f"c-{n % 12}",
            user_id=f"{role}-{n}",
            role=role,
            primary=None,
            begin_date=None,
            end_date=None,
            status="active",
        )
        return mapping.enrollment_item(LISTS, record, "run-1", datetime(2026, 12, 1, tzinfo=UTC))

    items = [enrollment(n, "student") for n in range(300)] + [enrollment(n, "teacher") for n in range(12)]
    _write((get_settings().enrollments_table, item) for item in items)
    teachers = queries.list_enrollments(LISTS, role="teacher", limit=50)
    assert len(teachers.items) == 12 and {e.role for e in teachers.items} == {"teacher"}
    assert teachers.items_read == 12 and teachers.next_cursor is None
    students = queries.list_enrollments(LISTS, role="student", limit=50)
    assert len(students.items) == 50 and students.items_read == 51
    # Its changes: RoleChanges, the same partition in change order (the change stamps set here).
    stamped = [
        (
            get_settings().enrollments_table,
            {**item, "changeSeq": change_keys.change_seq("2026-12-01", item["enrollmentId"])},
        )
        for item in items
    ]
    _write(stamped)
    since = "2000-01-01T00:00:00.000000+0000"
    changes = queries.change_page(LISTS, queries.enrollment_changes(None, None, "teacher", "active"), since, limit=50)
    assert len(changes.items) == 12 and changes.items_read == 12
    # A class's enrollments of one role still read the class's partition, filtered (26 at most).
    in_class = queries.list_enrollments(LISTS, class_id=items[0]["classId"], role="teacher", limit=50)
    assert [e.role for e in in_class.items] == ["teacher"] and in_class.items_read == 26


def write_old_items(district: str) -> None:
    """Four users (schools A; A, B; A, B, C; none), a class of term t1 and a teacher's enrollment,
    without membership keys, as written before issue 31 (the models now set them on save)."""
    from rostersync.settings import get_settings
    from rostersync.store.roster import index_key

    written = "2025-01-01T00:00:00.000000+0000"
    st = get_settings()
    old = [
        (
            st.users_table,
            {
                "districtId": district,
                "userId": f"u-{n}",
                "districtRole": index_key(district, "student"),
                "role": "student",
                "schoolIds": schools,
                "status": "active",
                "updatedAt": written,
            },
        )
        for n, schools in enumerate((["A"], ["A", "B"], ["A", "B", "C"], []))
    ]
    old.append(
        (
            st.classes_table,
            {
                "districtId": district,
                "classId": "c-1",
                "districtSchool": index_key(district, "s"),
                "schoolId": "s",
                "termIds": ["t1"],
                "status": "active",
                "updatedAt": written,
            },
        )
    )
    enrollment = {"districtClass": index_key(district, "c-1"), "districtUser": index_key(district, "u-0")}
    enrollment |= {"classId": "c-1", "userId": "u-0", "classSourcedId": "c-1", "userSourcedId": "u-0"}
    enrollment |= {"role": "teacher", "status": "active", "updatedAt": written}
    old.append((st.enrollments_table, {"districtId": district, "enrollmentId": "e-1", **enrollment}))
    _write(old)


def test_the_backfill_keys_items_written_before_and_then_they_are_listed(aws, monkeypatch):
    """store/membership_backfill.py: items stored without membership keys (as before issue 31) are in
    no such index; the backfill keys them once, as a write would, and a second run finds nothing."""
    from rostersync import aws_clients
    from rostersync.store.membership_backfill import backfill
    from rostersync.store.roster import UserModel

    district = "d-read-costs-backfill"
    write_old_items(district)
    assert queries.list_users(district, school_id="A").items == []
    client = aws_clients.dynamodb()
    # The user of no school has no key to be given.
    assert backfill(client, district, dry_run=True) == {"users": 3, "classes": 1, "enrollments": 1}
    assert queries.list_classes(district, term_id="t1").items == []
    assert backfill(client, district) == {"users": 3, "classes": 1, "enrollments": 1}
    assert [u.user_id for u in queries.list_users(district, school_id="A").items] == ["u-0", "u-1", "u-2"]
    assert [u.user_id for u in queries.list_users(district, role="student", school_id="C").items] == ["u-2"]
    assert [c.class_id for c in queries.list_classes(district, term_id="t1").items] == ["c-1"]
    assert [e.enrollment_id for e in queries.list_enrollments(district, role="teacher").items] == ["e-1"]
    assert backfill(client, district) == {"users": 0, "classes": 0, "enrollments": 0}
    # Nothing the app reads as a change moved.
    user = UserModel.get(district, "u-0")
    assert user.updated_at == datetime(2025, 1, 1, tzinfo=UTC) and user.change_seq is None
    # One school's (term's) change reads need no backfill of their own: their indexes are keyed by
    # the membership keys and changeSeq; items from before change keys get changeSeq from theirs.
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    since = "2000-01-01T00:00:00.000000+0000"
    in_a, in_t1 = queries.user_changes(None, "A", "all"), queries.class_changes(None, "all", term_id="t1")
    assert queries.change_page(district, in_a, since).items == []
    from rostersync.store.change_backfill import backfill as backfill_change_keys

    backfill_change_keys(client, district)
    time.sleep(0.01)
    assert sorted(u.user_id for u in queries.change_page(district, in_a, since).items) == ["u-0", "u-1", "u-2"]
    assert [c.class_id for c in queries.change_page(district, in_t1, since).items] == ["c-1"]


def test_rostersync_ops_backfill_membership_keys(stack, capsys):
    """The command on-call runs once after deploying: a dry run counts, a run keys, a re-run finds none."""
    import json

    from tests.integration.test_ops_cli import ops

    district = "d-read-costs-ops"
    write_old_items(district)
    code, out, _ = ops(stack, capsys, "backfill-membership-keys", "--district", district, "--dry-run", "--json")
    assert code == 0 and json.loads(out) == {
        "districtId": district,
        "dryRun": True,
        "users": 3,
        "classes": 1,
        "enrollments": 1,
    }
    assert queries.list_enrollments(district, role="teacher").items == []
    code, out, _ = ops(stack, capsys, "backfill-membership-keys", "--district", district)
    assert code == 0 and "enrollments" in out
    assert [e.enrollment_id for e in queries.list_enrollments(district, role="teacher").items] == ["e-1"]
    code, out, _ = ops(stack, capsys, "backfill-membership-keys", "--district", district, "--json")
    assert json.loads(out)["users"] == 0 and json.loads(out)["enrollments"] == 0


# ---------------------------------------------------------------- one school's, one term's changes (issue 31)
# users?schoolId=&updatedSince= (with or without role) and classes?termId=&updatedSince= read the
# change-ordered copies of the membership indexes (SchoolRoleChanges1/2, ManySchoolsChanges;
# TermChanges1/2, ManyTermsChanges), merged by changeSeq: in change order, each once, across the slot
# and overflow partitions and both roles, for what they answer plus a page of look-ahead.

CHANGES = "d-read-costs-member-changes"
SINCE = "2000-01-01T00:00:00.000000+0000"
NIGHT_1 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _stamped(model, n: int, at: datetime, item_id: str) -> dict:
    """updatedAt and changeSeq of a write `n` ms after `at`."""
    written = at + timedelta(milliseconds=n)
    return {"updated_at": written, "change_seq": change_keys.change_seq(change_keys.time_text(written), item_id)}


def _next_night() -> datetime:
    """Writes after a follower's changes cursor (the horizon: now, the lag being 0), before the next read's."""
    time.sleep(0.01)
    at = datetime.now(UTC)
    time.sleep(0.02)  # the writes are stamped up to a few ms after `at`
    return at


def _save_users(users: list[tuple[str, str, list[str], str, int]], at: datetime) -> None:
    """(userId, role, schoolIds, status, ms after `at`) as the models save them (membership keys set)."""
    from rostersync.store.roster import UserModel, index_key

    with UserModel.batch_write() as batch:
        for user_id, role, schools, status, n in users:
            batch.save(
                UserModel(
                    CHANGES,
                    user_id,
                    district_role=index_key(CHANGES, role),
                    role=role,
                    school_ids=schools,
                    status=status,
                    **_stamped(UserModel, n, at, user_id),
                )
            )


def _follow(query, limit: int, cursor: str | None = None):
    """Every change of `query` from `cursor` (else the beginning): (items, [(returned, read)] a page,
    the last changes cursor)."""
    items, reads = [], []
    while True:
        page = queries.change_page(CHANGES, query, None if cursor else SINCE, limit=limit, cursor=cursor)
        items += page.items
        reads.append((len(page.items), page.items_read))
        assert page.changes_cursor
        cursor = page.changes_cursor
        if page.next_cursor is None:
            return items, reads, cursor
        assert page.next_cursor == page.changes_cursor


@pytest.fixture
def school_users(aws, monkeypatch):
    """School s2: students in either slot and the overflow, teachers likewise, 3 inactive students;
    200 students of s1 only and 2 overflow users not of s2 (read, filtered, never answered). Each
    user's change time is a shuffle of its number, so the merge crosses partitions on every page."""
    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")
    users = [(f"s-only-{n:03d}", "student", ["s2"], "active") for n in range(60)]
    users += [(f"s-slot2-{n:02d}", "student", ["s1", "s2"], "active") for n in range(15)]  # s2 second
    users += [(f"s-slot1-{n:02d}", "student", ["s2", "s3"], "active") for n in range(15)]
    users += [(f"s-many-{n}", "student", ["s1", "s2", "s3"], "active") for n in range(4)]  # 3+ schools
    users += [(f"s-gone-{n}", "student", ["s2"], "inactive") for n in range(3)]
    users += [(f"t-only-{n}", "teacher", ["s2"], "active") for n in range(6)]
    users += [(f"t-slot2-{n}", "teacher", ["s1", "s2"], "active") for n in range(2)]
    users += [(f"t-many-{n}", "teacher", ["s2", "s3", "s4"], "active") for n in range(2)]
    users += [(f"s-other-{n:03d}", "student", ["s1"], "active") for n in range(200)]
    users += [(f"x-many-{n}", role, ["s1", "s3", "s4"], "active") for n, role in enumerate(("student", "teacher"))]
    _save_users([(*user, (n * 37) % len(users)) for n, user in enumerate(users)], NIGHT_1)
    return users


def _assert_read_costs(reads: list[tuple[int, int]], limit: int) -> None:
    """Each page reads what it answers plus a look-ahead bounded by the page, never the district's other
    items: at the bench's page of 50, the goal (+ one page); at small pages a share of the page from each
    of up to six partitions, then twice as many, so up to three pages' worth in all."""
    bound = (lambda returned: returned + 50) if limit == 50 else (lambda returned: 3 * (limit + 1))
    assert all(read <= bound(returned) for returned, read in reads), (limit, reads)


def _in_order(items) -> list[str]:
    stamps = [u.change_seq for u in items]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), "not in change order, or twice"
    return [u.user_id for u in items]


def test_one_school_s_user_changes_read_its_change_partitions(school_users):
    from rostersync.store.roster import UserModel

    stored = {u.user_id: u for u in UserModel.query(CHANGES)}

    def expected(role=None, status="all"):
        return [
            u.user_id
            for u in sorted(stored.values(), key=lambda u: u.change_seq)
            if "s2" in u.school_ids and role in (None, u.role) and status in ("all", u.status)
        ]

    for role in (None, "student", "teacher"):
        for limit in (7, 50):
            items, reads, _ = _follow(queries.user_changes(role, "s2", "all"), limit)
            assert _in_order(items) == expected(role), (role, limit)
            # The goal, page by page: what it answers plus a page (here + the 4 overflow users of other
            # schools at most, read and filtered out); none of s1's 200 students.
            _assert_read_costs(reads, limit)
    # Both roles, one page: 107 of s2 in 3 pages of 50, never more than a page read beyond the answer.
    items, reads, _ = _follow(queries.user_changes(None, "s2", "all"), 50)
    assert len(items) == 107 and [r for r, _ in reads] == [50, 50, 7]
    assert sum(read for _, read in reads) <= 107 + 50, reads
    # A status reads the same partitions, filtered.
    items, _, _ = _follow(queries.user_changes("student", "s2", "active"), 20)
    active = _in_order(items)
    assert active == expected("student", "active") and len(active) == 94 and "s-gone-0" not in active
    # s4: its users are all of 3+ schools, in the overflows of both roles (of s2 or not).
    items, _, _ = _follow(queries.user_changes(None, "s4", "all"), 50)
    assert _in_order(items) == expected_of(stored, "s4") and len(items) == 4


def expected_of(stored: dict, school: str) -> list[str]:
    return [u.user_id for u in sorted(stored.values(), key=lambda u: u.change_seq) if school in u.school_ids]


def test_moved_users_follow_their_schools_in_change_order(school_users):
    """A follower of s2 and of s3 resumes from its changes cursor after a night that moves users between
    schools, slots and the overflow: each is answered once more where it now is, at its new change."""
    from rostersync.store.roster import UserModel

    s2, _, s2_cursor = _follow(queries.user_changes(None, "s2", "all"), 13)
    s3, _, s3_cursor = _follow(queries.user_changes("student", "s3", "all"), 13)
    assert "s-only-000" in _in_order(s2) and "s-only-000" not in _in_order(s3)
    moves = [
        ("s-only-000", "student", ["s3"], "active"),  # s2 -> s3
        ("s-only-001", "student", ["s1", "s2", "s3"], "active"),  # slot 1 -> the overflow, still of s2
        ("s-many-0", "student", ["s2"], "active"),  # the overflow -> slot 1
        ("s-slot2-00", "student", ["s1", "s3"], "active"),  # leaves s2, joins s3 (slot 2)
        ("t-only-0", "teacher", ["s2"], "inactive"),  # deactivated
    ]
    _save_users([(*m, n) for n, m in enumerate(moves)], _next_night())
    stored = {u.user_id: u for u in UserModel.query(CHANGES)}
    night, _, _ = _follow(queries.user_changes(None, "s2", "all"), 2, s2_cursor)
    assert _in_order(night) == ["s-only-001", "s-many-0", "t-only-0"]
    night_s3, _, _ = _follow(queries.user_changes("student", "s3", "all"), 2, s3_cursor)
    assert _in_order(night_s3) == ["s-only-000", "s-only-001", "s-slot2-00"]
    # Read from the beginning, each school answers its users now, once, at their latest change.
    again, _, _ = _follow(queries.user_changes(None, "s2", "all"), 9)
    assert _in_order(again) == expected_of(stored, "s2") and "s-only-000" not in _in_order(again)
    assert again[-1].user_id == "t-only-0" and again[-1].status == "inactive"


def test_one_term_s_class_changes_read_its_change_partitions(aws, monkeypatch):
    from rostersync.store.roster import ClassModel, index_key

    monkeypatch.setenv("ROSTERSYNC_CHANGE_LAG_SECONDS", "0")

    def save(classes, at):
        with ClassModel.batch_write() as batch:
            for class_id, terms, n in classes:
                batch.save(
                    ClassModel(
                        CHANGES,
                        class_id,
                        district_school=index_key(CHANGES, "sch"),
                        school_id="sch",
                        term_ids=terms,
                        **_stamped(ClassModel, n, at, class_id),
                    )
                )

    classes = [(f"c-t2-{n:02d}", ["t2"]) for n in range(40)]
    classes += [(f"c-t12-{n:02d}", ["t1", "t2"]) for n in range(12)]  # t2 second
    classes += [(f"c-t23-{n:02d}", ["t2", "t3"]) for n in range(12)]
    classes += [(f"c-t123-{n}", ["t1", "t2", "t3"]) for n in range(3)]  # the overflow
    classes += [(f"c-t1-{n:03d}", ["t1"]) for n in range(150)] + [("c-t134", ["t1", "t3", "t4"])]
    save([(*c, (n * 53) % len(classes)) for n, c in enumerate(classes)], NIGHT_1)

    def expected(term):
        return [c.class_id for c in sorted(ClassModel.query(CHANGES), key=lambda c: c.change_seq) if term in c.term_ids]

    for limit in (5, 50):
        items, reads, cursor = _follow(queries.class_changes(None, "all", term_id="t2"), limit)
        assert [c.class_id for c in items] == expected("t2") and len(items) == 67
        _assert_read_costs(reads, limit)
    # A night: one class leaves t2 for t1, one joins t2 from t1, one goes to the overflow.
    save([("c-t2-00", ["t1"], 0), ("c-t1-000", ["t2"], 1), ("c-t23-00", ["t2", "t3", "t4"], 2)], _next_night())
    night, _, _ = _follow(queries.class_changes(None, "all", term_id="t2"), 50, cursor)
    assert [c.class_id for c in night] == ["c-t1-000", "c-t23-00"]
    items, _, _ = _follow(queries.class_changes(None, "all", term_id="t2"), 50)
    assert [c.class_id for c in items] == expected("t2") and "c-t2-00" not in expected("t2")
    t1, _, _ = _follow(queries.class_changes(None, "all", term_id="t1"), 50)
    assert [c.class_id for c in t1][-1] == "c-t2-00" and [c.class_id for c in t1] == expected("t1")
