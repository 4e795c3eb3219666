"""What the app's reads cost: every list and change route of the roster API, with each filter it
documents, on one district written straight into the local stack's store (syncing 50,000
students through the sandbox would take most of an hour on this machine; the items are the ones
a sync writes: same models, index keys and change keys).

For every read it reports the items DynamoDB read for the request (the sum of `ScannedCount` of
its queries plus the items of its GetItem/BatchGetItem calls, counted in pynamodb's dispatch in
this process, where the local stack's API runs) against the items the answer holds, and the answer
time over HTTP on the local stack (p50, p99). The goal: items read <= items returned + one page
(the page size asked, 50) for every read.

  .venv/bin/python bench/read_api.py                      # the default district (10,000 students)
  .venv/bin/python bench/read_api.py --students 50000
  .venv/bin/python bench/read_api.py --before             # the reads as before issue 31
  .venv/bin/python bench/read_api.py --students 50000 --read 'GET /enrollments:-'   # one read (repeatable)

The local stack's store is moto: it answers every query by walking the whole table in Python, so
its answer times grow with the table whatever the index; DynamoDB's cost is the items read.
Writes `bench/results/read_api[-before]-<students>.json`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = 50


class ReadCounter:
    """Items DynamoDB read, summed over every call pynamodb dispatches until reset."""

    def __init__(self):
        self.items = 0
        self.calls = 0

    def install(self) -> None:
        from pynamodb.connection.base import Connection

        original = Connection.dispatch
        counter = self

        def dispatch(connection, operation_name, operation_kwargs):
            answer = original(connection, operation_name, operation_kwargs)
            counter.calls += 1
            if operation_name in ("Query", "Scan"):
                counter.items += int(answer.get("ScannedCount", 0))
            elif operation_name == "GetItem":
                counter.items += 1 if answer.get("Item") else 0
            elif operation_name == "BatchGetItem":
                counter.items += sum(len(items) for items in answer.get("Responses", {}).values())
            return answer

        setattr(Connection, "dispatch", dispatch)  # noqa: B010  (mypy refuses assigning to a method)

    def reset(self) -> None:
        self.items = self.calls = 0


class StoreWriter:
    """Puts items straight into the embedded moto's tables (this process's server): a sync's
    items, as their models serialize them, without 25-item HTTP batches (minutes at 50,000)."""

    def __init__(self, model):
        from moto.backends import get_backend

        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        account = os.environ.get("MOTO_ACCOUNT_ID", "123456789012")
        self.backend = get_backend("dynamodb")[account][region]
        self.table = model.Meta.table_name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def save(self, item) -> None:
        self.backend.put_item(self.table, item.serialize())


def seed(district_id: str, students: int, schools: int, per_student: int, class_size: int) -> dict:
    """Schools, two terms, teachers, classes and enrollments of one district, as a sync writes them."""
    from rostersync.store import change_keys
    from rostersync.store.districts import DistrictModel
    from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel, index_key
    from rostersync.store.schools import SchoolModel
    from rostersync.store.terms import TermModel

    started = time.monotonic()
    now = datetime.now(UTC)
    written = now - timedelta(days=1)  # well before the change horizon
    tick = [0]

    def stamp(item_id: str) -> tuple[datetime, str]:
        tick[0] += 1
        at = written + timedelta(microseconds=tick[0])
        return at, change_keys.change_seq(change_keys.time_text(at), item_id)

    DistrictModel(district_id, name="Read bench", timezone="America/Chicago", created_at=now).save()
    school_ids = [f"sch-{n}" for n in range(schools)]
    with StoreWriter(SchoolModel) as batch:
        for school_id in school_ids:
            at, seq = stamp(school_id)
            batch.save(
                SchoolModel(
                    district_id, school_id, name=school_id, origin="sis", created_at=at, updated_at=at, change_seq=seq
                )
            )
    term_ids = ["term-fall", "term-spring"]
    with StoreWriter(TermModel) as batch:
        for n, term_id in enumerate(term_ids):
            at, seq = stamp(term_id)
            batch.save(
                TermModel(
                    district_id,
                    term_id,
                    title=term_id,
                    type="semester",
                    sis_sourced_id=term_id,
                    start_date=f"2026-{1 + 6 * n:02d}-01",
                    end_date=f"2026-{6 + 6 * n:02d}-30",
                    updated_at=at,
                    change_seq=seq,
                )
            )
    classes = students * per_student // class_size
    teachers = max(1, classes // 5)
    with StoreWriter(UserModel) as batch:
        for role, count in (("teacher", teachers), ("student", students)):
            for n in range(count):
                user_id = f"{role[0]}-{n:06d}"
                at, seq = stamp(user_id)
                email = f"{user_id}@example.org"
                batch.save(
                    UserModel(
                        district_id,
                        user_id,
                        district_role=index_key(district_id, role),
                        district_email=index_key(district_id, email) if role == "teacher" else None,
                        role=role,
                        given_name=user_id,
                        family_name="Bench",
                        email=email,
                        username=user_id,
                        school_ids=[school_ids[n % schools]],
                        sis_sourced_id=user_id,
                        updated_at=at,
                        change_seq=seq,
                    )
                )
    with StoreWriter(ClassModel) as batch:
        for n in range(classes):
            class_id = f"c-{n:06d}"
            at, seq = stamp(class_id)
            school = school_ids[n % schools]
            batch.save(
                ClassModel(
                    district_id,
                    class_id,
                    district_school=index_key(district_id, school),
                    school_id=school,
                    title=class_id,
                    term_ids=[term_ids[n % 2]],
                    sis_sourced_id=class_id,
                    updated_at=at,
                    change_seq=seq,
                )
            )
    enrollments = 0
    with StoreWriter(EnrollmentModel) as batch:

        def enroll(class_n: int, user_id: str, role: str) -> None:
            nonlocal enrollments
            class_id = f"c-{class_n:06d}"
            enrollment_id = f"e-{class_id}-{user_id}"
            at, seq = stamp(enrollment_id)
            batch.save(
                EnrollmentModel(
                    district_id,
                    enrollment_id,
                    district_class=index_key(district_id, class_id),
                    district_user=index_key(district_id, user_id),
                    class_id=class_id,
                    user_id=user_id,
                    class_sourced_id=class_id,
                    user_sourced_id=user_id,
                    role=role,
                    sis_sourced_id=enrollment_id,
                    updated_at=at,
                    change_seq=seq,
                )
            )
            enrollments += 1

        for n in range(classes):
            enroll(n, f"t-{n % teachers:06d}", "teacher")
        for n in range(students):
            for k in range(per_student):
                enroll((n * per_student + k * 7919) % classes, f"s-{n:06d}", "student")
    return {
        "schools": schools,
        "teachers": teachers,
        "students": students,
        "classes": classes,
        "enrollments": enrollments,
        "seed_s": round(time.monotonic() - started, 1),
    }


def reads(district_id: str, since: str) -> list[tuple[str, str, dict]]:
    """(route, filters, query) for every list and change route with each filter it documents."""
    d = f"/districts/{district_id}"
    school, term, klass, student, teacher = "sch-1", "term-fall", "c-000003", "s-000007", "t-000002"
    change = {"updatedSince": since}
    plans = []
    for label, query in (
        ("-", {}),
        ("role", {"role": "student"}),
        ("schoolId", {"schoolId": school}),
        ("role+schoolId", {"role": "student", "schoolId": school}),
    ):
        plans.append(("GET /users", label, query))
        plans.append(("GET /users", f"{label} updatedSince".lstrip("- "), {**query, **change}))
    for label, query in (
        ("-", {}),
        ("schoolId", {"schoolId": school}),
        ("termId", {"termId": term}),
    ):
        plans.append(("GET /classes", label, query))
        plans.append(("GET /classes", f"{label} updatedSince".lstrip("- "), {**query, **change}))
    plans.append(("GET /classes", "teacherId", {"teacherId": teacher}))  # not with updatedSince (422)
    for label, query in (
        ("-", {}),
        ("classId", {"classId": klass}),
        ("userId", {"userId": student}),
        ("role", {"role": "teacher"}),
    ):
        plans.append(("GET /enrollments", label, query))
        plans.append(("GET /enrollments", f"{label} updatedSince".lstrip("- "), {**query, **change}))
    for route in (f"/classes/{klass}/students", f"/classes/{klass}/teachers", f"/users/{student}/classes"):
        plans.append((f"GET {route}", "-", {}))
        plans.append((f"GET {route}", "updatedSince", change))
    plans.append(("GET /schools", "-", {}))
    plans.append(("GET /schools", "updatedSince", change))
    plans.append(("GET /terms", "-", {}))
    plans.append(("GET /terms", "updatedSince", change))
    plans.append((f"GET /schools/{school}/terms", "-", {}))
    plans.append(("GET /me/classes", "-", {}))
    plans.append(("GET /me/classes", "updatedSince", change))
    return [
        (route, label, {"limit": str(PAGE), **query, "_path": path})
        for route, label, query in plans
        for path in [route.split(" ", 1)[1] if route.startswith("GET /me") else d + route.split(" ", 1)[1]]
    ]


def returned_items(body: dict) -> int:
    return sum(len(v) for k, v in body.items() if isinstance(v, list))


def use_the_change_reads_before_issue_31() -> None:
    """Before issue 31 every change read was the district's ByChange, filtered: the class's, user's,
    role's or school's partition became a filter again (the answers are the same; the cost is not); so
    did the list reads by school, term and enrollment role (use_the_list_reads_before_issue_31)."""
    import dataclasses

    from rostersync.store import roster_queries as queries
    from rostersync.store.roster import ClassModel, EnrollmentModel

    field_of = {
        "districtClass": EnrollmentModel.class_id,
        "districtUser": EnrollmentModel.user_id,
        "districtSchool": ClassModel.school_id,
    }

    def district_wide(build):
        def old(*args, **kwargs):
            query = build(*args, **kwargs)
            if query.index_name is None:
                return query
            condition = query.filter_condition
            field = (
                query.model.role if query.partition_attribute == "districtRole" else field_of[query.partition_attribute]
            )
            in_partition = field == query.partition_value
            condition = in_partition if condition is None else condition & in_partition
            return dataclasses.replace(
                query, filter_condition=condition, index_name=None, partition_attribute=None, partition_value=None
            )

        return old

    use_the_list_reads_before_issue_31()  # first: district_wide wraps its change reads
    for name in ("enrollment_changes", "user_changes", "class_changes"):
        setattr(queries, name, district_wide(getattr(queries, name)))


def use_the_list_reads_before_issue_31() -> None:
    """Before issue 31's membership keys: one school's users were the role's (or district's) partition
    filtered by contains(schoolIds), one term's classes the district's filtered by contains(termIds), one
    role's enrollments the district's filtered by role (the answers are the same; the cost is not)."""
    from rostersync.store import roster_queries as queries
    from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel, index_key

    list_users, list_classes, list_enrollments = queries.list_users, queries.list_classes, queries.list_enrollments

    def district_or_role(role, district_id, fingerprint):
        if role is None:
            return queries._Query(
                UserModel, UserModel.query, district_id, {"districtId": district_id, "userId": None}, fingerprint
            )
        key = index_key(district_id, role)
        names = {"districtRole": key, "userId": None, "districtId": district_id}
        return queries._Query(UserModel, UserModel.by_role.query, key, names, fingerprint)

    def old_users(district_id, role=None, school_id=None, status="active", limit=50, cursor=None):
        if school_id is None:
            return list_users(district_id, role, school_id, status, limit, cursor)
        fingerprint = f"users|role={role or ''}|school={school_id}|status={status}"
        condition = queries._and(queries._status_filter(UserModel, status), UserModel.school_ids.contains(school_id))
        query = district_or_role(role, district_id, fingerprint)
        return queries._page(district_id, query, condition, limit, cursor, dense=False)

    def old_classes(district_id, school_id=None, status="active", limit=50, cursor=None, term_id=None):
        if term_id is None or school_id is not None:
            return list_classes(district_id, school_id, status, limit, cursor, term_id)
        fingerprint = f"classes|school=|status={status}|term={term_id}"
        names = {"districtId": district_id, "classId": None}
        query = queries._Query(ClassModel, ClassModel.query, district_id, names, fingerprint)
        condition = queries._and(queries._status_filter(ClassModel, status), ClassModel.term_ids.contains(term_id))
        return queries._page(district_id, query, condition, limit, cursor, dense=False)

    def old_enrollments(district_id, class_id=None, user_id=None, role=None, status="active", limit=50, cursor=None):
        if role is None or class_id is not None or user_id is not None:
            return list_enrollments(district_id, class_id, user_id, role, status, limit, cursor)
        fingerprint = f"enrollments|class=|user=|role={role}|status={status}"
        names = {"districtId": district_id, "enrollmentId": None}
        query = queries._Query(EnrollmentModel, EnrollmentModel.query, district_id, names, fingerprint)
        condition = queries._and(queries._status_filter(EnrollmentModel, status), EnrollmentModel.role == role)
        return queries._page(district_id, query, condition, limit, cursor, dense=False)

    queries.list_users, queries.list_classes, queries.list_enrollments = old_users, old_classes, old_enrollments
    use_the_membership_change_reads_before()


def use_the_membership_change_reads_before() -> None:
    """Before the change-ordered membership indexes: one school's user changes were the role's
    RoleChanges (or the district's ByChange) filtered by contains(schoolIds), one term's class changes
    the district's ByChange filtered by contains(termIds) (same answers, same cursors; not the same cost)."""
    import dataclasses

    from rostersync.store import roster_queries as queries
    from rostersync.store.roster import ClassModel, UserModel

    user_changes, class_changes = queries.user_changes, queries.class_changes

    def old_user_changes(role, school_id, status):
        query = user_changes(role, school_id, status)
        if school_id is None:
            return query
        in_school = UserModel.school_ids.contains(school_id)
        without = user_changes(role, None, status)
        condition = queries._and(without.filter_condition, in_school)
        return dataclasses.replace(without, filter_condition=condition, parameters=query.parameters)

    def old_class_changes(school_id, status, term_id=None):
        query = class_changes(school_id, status, term_id=term_id)
        if term_id is None or school_id is not None:
            return query
        condition = queries._and(class_changes(None, status).filter_condition, ClassModel.term_ids.contains(term_id))
        return dataclasses.replace(query, filter_condition=condition, partitions_of=None)

    queries.user_changes, queries.class_changes = old_user_changes, old_class_changes


LIST_READS_OF_ISSUE_31 = {
    ("GET /users", "schoolId"),
    ("GET /users", "role+schoolId"),
    ("GET /classes", "termId"),
    ("GET /enrollments", "role"),
    ("GET /users", "schoolId updatedSince"),
    ("GET /users", "role+schoolId updatedSince"),
    ("GET /classes", "termId updatedSince"),
}


def measure(stack, counter: ReadCounter, district: str, requests_a_read: int, only=None) -> list[dict]:
    """Every read of `reads` (or those `only` names), `requests_a_read` times: items read, returned,
    answer times."""
    rows = []
    admin = {"Authorization": f"Bearer {stack.token('district_admin', district)}"}
    teacher = {
        "Authorization": "Bearer " + stack.token("teacher", district, email="t-000002@example.org", email_verified=True)
    }
    session = requests.Session()
    for route, label, query in reads(district, "2000-01-01T00:00:00Z"):
        if only is not None and (route, label) not in only:
            continue
        path = query.pop("_path")
        headers = teacher if route.startswith("GET /me") else admin
        times, read, answered, calls = [], [], [], []
        for _ in range(requests_a_read):
            counter.reset()
            began = time.perf_counter()
            response = session.get(stack.api_url + path, params=query, headers=headers, timeout=900)
            times.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"{route} {label}: {response.status_code} {response.text[:300]}")
            read.append(counter.items)
            calls.append(counter.calls)
            answered.append(returned_items(response.json()))
        row = {
            "route": route,
            "filters": label,
            "returned": answered[0],
            "items_read": read[0],
            # DynamoDB requests the read made: on moto each query walks (and sorts) the whole table.
            "store_requests": calls[0],
            "read_per_returned": round(read[0] / max(answered[0], 1), 2),
            "within_goal": read[0] <= answered[0] + PAGE,
            "p50_ms": round(statistics.median(times) * 1000, 1),
            "p99_ms": round(statistics.quantiles(times, n=100)[98] * 1000, 1) if len(times) > 1 else None,
            "max_ms": round(max(times) * 1000, 1),
        }
        rows.append(row)
        print(
            f"{route:34} {label:26} returned {row['returned']:4} read {row['items_read']:7} "
            f"in {row['store_requests']:2} requests "
            f"p50 {row['p50_ms']:8} ms p99 {row['p99_ms']} ms {'ok' if row['within_goal'] else 'OVER'}",
            flush=True,
        )
    return rows


def save(students: int, before: bool, sizes: dict, requests_a_read: int, rows: list[dict], part: str = "") -> Path:
    """bench/results/read_api[-before]-<students>[-<part>].json (a --read run is a part: it leaves
    the whole table's file, which --report reads, as it was)."""
    load = os.getloadavg()[0]
    result = {"sizes": sizes, "requests": requests_a_read, "before": before, "load_1m": load, "reads": rows}
    name = f"read_api{'-before' if before else ''}-{students}{'-' + part if part else ''}.json"
    out = ROOT / "bench" / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out


def report(students: int) -> str:
    """The markdown table of bench/README.md: before and after, from bench/results/."""
    results = ROOT / "bench" / "results"
    after = json.loads((results / f"read_api-{students}.json").read_text())
    before_file = results / f"read_api-before-{students}.json"
    before = json.loads(before_file.read_text()) if before_file.exists() else {"reads": []}
    was = {(r["route"], r["filters"]): r for r in before["reads"]}
    lines = [
        "| route | filters | returned | items read before | items read after | goal | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in after["reads"]:
        old = was.get((r["route"], r["filters"]), {}).get("items_read", "")
        goal = "ok" if r["within_goal"] else "**over**"
        lines.append(
            f"| `{r['route']}` | {r['filters']} | {r['returned']} | {old} | {r['items_read']} | {goal} "
            f"| {r['p50_ms']} | {r['p99_ms']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=int, metavar="STUDENTS", help="print the README table of saved results")
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--schools", type=int, default=10)
    parser.add_argument("--classes-per-student", type=int, default=5)
    parser.add_argument("--class-size", type=int, default=25)
    parser.add_argument("--requests", type=int, default=200, help="answer times over this many requests a read")
    parser.add_argument("--before-too", action="store_true", help="then the reads as before, items read only")
    parser.add_argument(
        "--only-lists",
        action="store_true",
        help="only users?schoolId=, classes?termId= and enrollments?role=, and the first two with updatedSince",
    )
    parser.add_argument(
        "--before-lists-too",
        action="store_true",
        help="then the reads of --only-lists as before (filtered, not keyed), items read only",
    )
    parser.add_argument(
        "--before", action="store_true", help="the reads as before issue 31 (partitions filtered, not keyed)"
    )
    parser.add_argument(
        "--read",
        action="append",
        metavar="ROUTE:FILTERS",
        help="only this read, as the table names it (e.g. 'GET /enrollments:updatedSince'; '-' for none); "
        "repeatable; saved apart from the whole table's results",
    )
    args = parser.parse_args()
    if args.report:
        print(report(args.report))
        return 0

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    import rostersync.aws_clients

    # moto walks a whole table for every query: at 10,000+ students on a loaded machine one query can
    # take longer than the 30 s the deployed API's clients wait. The bench waits (its times are moto's).
    rostersync.aws_clients.READ_TIMEOUT_S = 900
    from rostersync_tools.local.embedded_aws import EmbeddedAws

    aws = EmbeddedAws().start()
    aws.apply_environment()
    from rostersync.settings import get_settings

    get_settings.cache_clear()
    from rostersync_tools.local.stack import LocalStack

    if args.before:
        use_the_change_reads_before_issue_31()
    counter = ReadCounter()
    counter.install()
    district = "dst_readbench"
    gc.disable()  # seeding makes millions of moto objects and no garbage: the collector only rescans them
    try:
        sizes = seed(district, args.students, args.schools, args.classes_per_student, args.class_size)
    finally:
        gc.enable()
    print(f"seeded in the store directly: {sizes}", flush=True)
    state = tempfile.mkdtemp(prefix="read-bench-")
    stack = LocalStack(aws=aws, api_port=0, console_port=None, state_dir=state, write_state_file=False).start()
    before_rows = []
    try:
        only = LIST_READS_OF_ISSUE_31 if args.only_lists else None
        if args.read:
            only = {tuple(read.rsplit(":", 1)) for read in args.read}
        rows = measure(stack, counter, district, args.requests, only)
        if args.before_too:  # the same district, the reads as before issue 31: items read only
            use_the_change_reads_before_issue_31()
            print("as before issue 31 (partitions filtered, not keyed):", flush=True)
            before_rows = measure(stack, counter, district, 1)
        elif args.before_lists_too:  # only the lists membership keys answer now (the change reads' before: slow)
            use_the_list_reads_before_issue_31()
            print("lists as before issue 31 (partitions filtered, not keyed):", flush=True)
            before_rows = measure(stack, counter, district, 1, only=LIST_READS_OF_ISSUE_31)
    finally:
        stack.stop()
        aws.stop()
    if before_rows:
        save(args.students, True, sizes, 1, before_rows)
    load = os.getloadavg()[0]
    part = "".join(c if c.isalnum() else "_" for c in "_".join(args.read)).strip("_") if args.read else ""
    out = save(args.students, args.before, sizes, args.requests, rows, part)
    over = [r for r in rows if not r["within_goal"]]
    slow = [r for r in rows if r["max_ms"] > 1000]
    print(f"load (1 min) {load:.1f}; {len(over)} reads over the items goal, {len(slow)} answered after 1 s; {out}")
    return 1 if over or slow else 0


if __name__ == "__main__":
    sys.exit(main())
