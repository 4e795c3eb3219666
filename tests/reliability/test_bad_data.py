"""Bad data from the SIS: each bad record is skipped and reported in the run's errors, the rest
syncs exactly, and a record that was synced before and now arrives bad keeps its stored copy
(it did not leave the SIS: it is unreadable), as does what depends on it.

The sandbox's store is mutated directly (a test-only hook): records are added or replaced,
a second record can be given a sourcedId already used, and a record's wire JSON can be set
by hand (for escapes such as a lone surrogate, which Python cannot serialize).
"""

import copy
import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from rostersync.store.roster import ClassModel, UserModel
from rostersync.sync.engine import Outcome
from tests.fixtures.districts import connect_district
from tests.fixtures.roster_oracle import expected_roster
from tests.reliability import figures
from tests.reliability.helpers import TINY, active, assert_nothing_deactivated, client_for, stored, sync

HREF = "/ims/oneroster/v1p1"


# ---------------------------------------------------------------- mutating the sandbox
def put(sis, collection: str, record: dict) -> dict:
    sis.app.store.put(collection, record)
    return record


def put_under_another_key(sis, collection: str, record: dict, key: str) -> None:
    """Serve `record` as well as whatever holds its sourcedId already (a duplicate on the wire)."""
    store = sis.app.store
    with store.lock:
        store._records[collection][key] = record
        store.version += 1


def put_with_wire_json(sis, collection: str, record: dict, wire: str) -> None:
    """Serve `record` as exactly this JSON text (e.g. with a \\ud800 escape)."""
    put(sis, collection, record)
    sis.app.store._json[collection][record["sourcedId"]] = wire.encode()


def ref(kind: str, sourced_id: str) -> dict:
    path = {"user": "users", "class": "classes", "org": "orgs", "course": "courses"}[kind]
    return {"href": f"{HREF}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def student(template: dict, sourced_id: str, **fields) -> dict:
    record = copy.deepcopy(template)
    record.update(
        sourcedId=sourced_id,
        username=sourced_id,
        identifier=sourced_id,
        email=f"{sourced_id}@example.org",
        userIds=[],
        **fields,
    )
    return record


def enrollment(sourced_id: str, user: str, klass: str, school: str, role: str = "student", **fields) -> dict:
    return {
        "sourcedId": sourced_id,
        "status": "active",
        "dateLastModified": "2026-08-20T10:00:00Z",
        "user": ref("user", user),
        "class": ref("class", klass),
        "school": ref("org", school),
        "role": role,
        "primary": "false",
        "beginDate": "2026-08-18",
        "endDate": "2027-06-11",
        **fields,
    }


def pick(state: dict):
    """An in-class with its school, and enrolled active students, from the oracle of `state`."""
    expected = expected_roster(state)
    data = state["data"]
    users = {u["sourcedId"]: u for u in data["users"]}
    classes = {c["sourcedId"]: c for c in data["classes"]}
    in_classes = sorted(expected["classes"])
    students = sorted(expected["students"])
    return expected, users, classes, in_classes, students


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def errors_of(result) -> Counter:
    return Counter((e["type"], e["sisSourcedId"], e["code"]) for e in result.errors)


# ---------------------------------------------------------------- a first sync with bad records mixed in
# The look-alike letters (Fraktur "Uni") are the point: names the store must keep exactly.
UNICODE = {"givenName": "مريم\u200f", "familyName": "שָׁלוֹם Zoë 👩🏽\u200d🏫 Åsa", "middleName": "𝔘𝔫𝔦"}  # noqa: RUF001


def add_bad_records(sis) -> tuple[Counter, dict]:
    """Adds one good newcomer with unusual Unicode and many bad records; returns the errors the
    sync must report and the good newcomer's records (which must sync)."""
    state = sis.state()
    _, users, classes, in_classes, students = pick(state)
    klass, other_class = classes[in_classes[0]], classes[in_classes[1]]
    school = klass["school"]["sourcedId"]
    template = users[students[0]]
    s1, s2 = students[0], students[1]
    expected_errors = Counter()

    def bad(error: tuple):
        expected_errors[error] += 1
        figures.add("bad_records_sent")

    # A newcomer whose names are right-to-left, combining, emoji and astral: must sync intact.
    good_user = put(sis, "users", student(template, "stu-unicode", **UNICODE))
    good_enrollment = put(sis, "enrollments", enrollment("enr-unicode", "stu-unicode", klass["sourcedId"], school))

    # Duplicate sourcedIds: the first record is used, the later one reported.
    put_under_another_key(sis, "users", {**users[s1], "givenName": "Impostor", "status": "tobedeleted"}, "dup-user")
    bad(("students", s1, "duplicate_sourced_id"))
    first_enrollment = next(e for e in state["data"]["enrollments"] if e["user"]["sourcedId"] == s1)
    put_under_another_key(sis, "enrollments", {**first_enrollment, "role": "teacher"}, "dup-enrollment")
    bad(("enrollments", first_enrollment["sourcedId"], "duplicate_sourced_id"))

    # Enrollments pointing at a user or a class the SIS does not list.
    put(sis, "enrollments", enrollment("enr-ghost-user", "stu-ghost", klass["sourcedId"], school))
    bad(("enrollments", "enr-ghost-user", "unknown_user"))
    put(sis, "enrollments", enrollment("enr-ghost-class", s1, "cls-ghost", school))
    bad(("enrollments", "enr-ghost-class", "unknown_class"))

    # Missing required fields.
    put(sis, "users", student(template, "", givenName="Nobody"))
    bad(("students", None, "missing_sourced_id"))
    put_under_another_key(sis, "users", {**student(template, "x"), "sourcedId": None}, "null-sourced-id")
    bad(("students", None, "missing_sourced_id"))
    no_class = enrollment("enr-no-class", s2, klass["sourcedId"], school)
    del no_class["class"]
    put(sis, "enrollments", no_class)
    bad(("enrollments", "enr-no-class", "missing_reference"))
    schoolless = {**copy.deepcopy(klass), "sourcedId": "cls-no-school"}
    del schoolless["school"]
    put(sis, "classes", schoolless)
    bad(("classes", "cls-no-school", "missing_reference"))

    # Values outside OneRoster 1.1's enumerations.
    put(sis, "users", student(template, "stu-wizard", role="wizard"))
    put(sis, "enrollments", enrollment("enr-wizard", "stu-wizard", klass["sourcedId"], school))
    bad(("students", "stu-wizard", "unknown_value"))
    put(sis, "classes", {**copy.deepcopy(klass), "sourcedId": "cls-archived", "status": "archived"})
    put(sis, "enrollments", enrollment("enr-archived", s2, "cls-archived", school))
    bad(("classes", "cls-archived", "unknown_value"))
    put(sis, "enrollments", enrollment("enr-ta", s2, other_class["sourcedId"], school, role="ta"))
    bad(("enrollments", "enr-ta", "unknown_value"))
    put(sis, "users", student(template, "stu-status", status="Active!"))
    put(sis, "enrollments", enrollment("enr-status", "stu-status", klass["sourcedId"], school))
    bad(("students", "stu-status", "unknown_value"))

    # Very long strings, and an item over DynamoDB's 400 KB.
    put(sis, "classes", {**copy.deepcopy(klass), "sourcedId": "cls-long", "title": "T" * 100_000})
    put(sis, "enrollments", enrollment("enr-long", s2, "cls-long", school))
    bad(("classes", "cls-long", "value_too_long"))
    put(sis, "users", student(template, "stu-huge", familyName="é" * 450_000))
    put(sis, "enrollments", enrollment("enr-huge", "stu-huge", klass["sourcedId"], school))
    bad(("students", "stu-huge", "value_too_long"))
    put(sis, "classes", {**copy.deepcopy(klass), "sourcedId": "cls-grades", "grades": ["09"] * 60_000})
    bad(("classes", "cls-grades", "record_too_large"))

    # Text a store or a browser cannot take: NUL, and a lone surrogate sent as a JSON escape.
    put(sis, "users", student(template, "stu-nul", givenName="Ann\u0000e"))
    put(sis, "enrollments", enrollment("enr-nul", "stu-nul", klass["sourcedId"], school))
    bad(("students", "stu-nul", "invalid_text"))
    lone = student(template, "stu-surrogate", familyName="PLACEHOLDER")
    wire = json.dumps(lone, ensure_ascii=False).replace("PLACEHOLDER", "Sm\\ud800ith")
    put_with_wire_json(sis, "users", lone, wire)
    put(sis, "enrollments", enrollment("enr-surrogate", "stu-surrogate", klass["sourcedId"], school))
    bad(("students", "stu-surrogate", "invalid_text"))
    # Ids a sync cannot key on: a lone surrogate, 100 KB; reported shortened and as text.
    odd = student(template, "stu-odd-id")
    put_with_wire_json(sis, "users", odd, json.dumps(odd).replace("stu-odd-id", "stu-\\udc00x"))
    bad(("students", "stu-?x", "invalid_text"))
    put(sis, "users", student(template, "S" * 100_000))
    bad(("students", "S" * 256, "value_too_long"))
    odd_ref = enrollment("enr-odd-ref", s2, "cls-odd-ref", school)
    put_with_wire_json(sis, "enrollments", odd_ref, json.dumps(odd_ref).replace("cls-odd-ref", "cls-\\ud800"))
    bad(("enrollments", "enr-odd-ref", "invalid_text"))
    return expected_errors, {"user": good_user, "enrollment": good_enrollment}


def clean_state(state: dict, good: dict) -> dict:
    """What the SIS holds if the bad records are taken out (the first copy of a duplicate stays)."""
    data = copy.deepcopy(state["data"])
    bad_ids = {
        "stu-ghost",
        "cls-ghost",
        "stu-wizard",
        "cls-archived",
        "stu-status",
        "cls-long",
        "stu-huge",
        "cls-grades",
        "stu-nul",
        "stu-surrogate",
        "enr-ta",
        "enr-no-class",
        "cls-no-school",
        "",
        None,
        "stu-odd-id",
        "S" * 100_000,
        "enr-odd-ref",
    }

    def keep(records):
        out, seen = [], set()
        for r in records:
            sid = r.get("sourcedId")
            if sid in bad_ids or sid in seen:
                continue
            refs = [(r.get(k) or {}).get("sourcedId") for k in ("user", "class") if k in r]
            if any(x in bad_ids for x in refs):
                continue
            seen.add(sid)
            out.append(r)
        return out

    data = {
        name: keep(records) if name in ("users", "classes", "enrollments") else records
        for name, records in data.items()
    }
    assert good["user"] in data["users"] and good["enrollment"] in data["enrollments"]
    return {**state, "data": data}


def test_a_first_sync_skips_and_reports_each_bad_record_and_syncs_the_rest(make_sandbox_sis, aws):
    sis = make_sandbox_sis(**TINY)
    district = connect_district(sis)
    expected_errors, good = add_bad_records(sis)
    result = sync(district, client_factory=lambda: client_for(sis))
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert errors_of(result) == expected_errors
    assert result.error_total == expected_errors.total()
    # Each reported record is skipped for its error's reason (other records are skipped for others: filter, role, ...).
    error_reasons = ("duplicate", "unknown_reference", "invalid")
    by_reason = [c.get("skippedBy", {}) for c in result.counts.values()]
    assert sum(by.get(reason, 0) for by in by_reason for reason in error_reasons) == expected_errors.total()
    assert all(len(e["message"]) <= 500 for e in result.errors)  # no 100 KB echoed into the run

    expected = expected_roster(clean_state(sis.state(), good))
    now = active(stored(district))
    for kind in ("teachers", "students", "classes", "enrollments"):
        assert now[kind] == expected[kind], (kind, sorted(expected[kind] ^ now[kind])[:8])
    figures.add("end_states_checked")
    # The newcomer's unusual names come back exactly as the SIS sent them.
    user = UserModel.get(
        district, next(u.user_id for u in UserModel.query(district) if u.sis_sourced_id == "stu-unicode")
    )
    assert (user.given_name, user.family_name) == (UNICODE["givenName"], UNICODE["familyName"])


# ---------------------------------------------------------------- records that were fine, then arrive bad
def test_records_that_arrive_bad_keep_their_stored_copy_and_what_depends_on_them(make_sandbox_sis, aws):
    sis = make_sandbox_sis(**TINY)
    district = connect_district(sis)
    assert sync(district, client_factory=lambda: client_for(sis)).outcome == Outcome.SUCCEEDED
    before = stored(district)
    state = sis.state()
    _, users, classes, in_classes, students = pick(state)
    enrolled_in = {}
    for e in state["data"]["enrollments"]:
        enrolled_in.setdefault(e["class"]["sourcedId"], []).append(e)
    originals = []

    def spoil(collection: str, record: dict, error: tuple, **changes):
        originals.append((collection, copy.deepcopy(record)))
        put(sis, collection, {**copy.deepcopy(record), "dateLastModified": now_stamp(), **changes})
        expected_errors[error] += 1
        figures.add("bad_records_sent")

    expected_errors = Counter()
    long_class, archived_class = in_classes[0], in_classes[1]
    spoil("classes", classes[long_class], ("classes", long_class, "value_too_long"), title="Ω" * 100_000)
    spoil("classes", classes[archived_class], ("classes", archived_class, "unknown_value"), status="archived")
    spoil("users", users[students[0]], ("students", students[0], "invalid_text"), givenName="Bad\u0000Name")
    spoil("users", users[students[1]], ("students", students[1], "unknown_value"), role="pupil")
    schoolless = {**copy.deepcopy(classes[in_classes[2]]), "dateLastModified": now_stamp()}
    del schoolless["school"]
    spoil("classes", classes[in_classes[2]], ("classes", in_classes[2], "missing_reference"))
    put(sis, "classes", schoolless)
    school = next(
        o
        for o in state["data"]["orgs"]
        if o["type"] == "school" and o["sourcedId"] != classes[in_classes[0]]["school"]["sourcedId"]
    )
    spoil("orgs", school, ("schools", school["sourcedId"], "invalid_text"), name="Lincoln\u0000 High")
    counting = next(
        e
        for e in state["data"]["enrollments"]
        if e["sourcedId"] in before["enrollments"] and e["class"]["sourcedId"] not in in_classes[:3]
    )
    spoil("enrollments", counting, ("enrollments", counting["sourcedId"], "unknown_value"), role="substitute")

    # A delta night sees them first (they changed), then a full sync reads everything.
    for mode in ("delta", "full"):
        result = sync(district, mode=mode, client_factory=lambda: client_for(sis))
        assert result.outcome == Outcome.SUCCEEDED, result.failure
        assert errors_of(result) == expected_errors, mode
        # Nothing left the SIS: nothing is deactivated, not the bad records, not their enrollments
        # or students, and the stored copies are the last good ones.
        assert_nothing_deactivated(before, district)
        assert all(c["deactivated"] == 0 for c in result.counts.values()), (mode, result.counts)
        assert active(stored(district)) == active(before)
    titles = {c.sis_sourced_id: c.title for c in ClassModel.query(district)}
    assert titles[long_class] == classes[long_class]["title"]
    names = {u.sis_sourced_id: u.given_name for u in UserModel.query(district)}
    assert names[students[0]] == users[students[0]]["givenName"]

    # The SIS fixes its data: the next sync is exact again.
    for collection, record in originals:
        put(sis, collection, record)
    result = sync(district, client_factory=lambda: client_for(sis))
    assert result.outcome == Outcome.SUCCEEDED and result.errors == []
    assert active(stored(district)) == active(before)
    figures.add("end_states_checked")

    # And when a bad record really leaves the SIS, it goes as any other would.
    sis.app.store.delete("classes", long_class)
    result = sync(district, client_factory=lambda: client_for(sis))
    assert result.outcome == Outcome.SUCCEEDED
    assert stored(district)["classes"][long_class] == "inactive"


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(8))
def test_bad_records_in_other_districts_soak(make_sandbox_sis, aws, seed):
    sis = make_sandbox_sis(**{**TINY, "seed": 900 + seed})
    district = connect_district(sis)
    expected_errors, good = add_bad_records(sis)
    result = sync(district, client_factory=lambda: client_for(sis))
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert errors_of(result) == expected_errors
    expected = expected_roster(clean_state(sis.state(), good))
    now = active(stored(district))
    for kind in ("teachers", "students", "classes", "enrollments"):
        assert now[kind] == expected[kind], (kind, sorted(expected[kind] ^ now[kind])[:8])
    figures.add("end_states_checked")
