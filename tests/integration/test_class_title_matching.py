"""Issue 13: an app class without the SIS class code is linked by the same title, in the same
matched school, with the same teacher (the teacher known from the SIS's enrollments, the app's
from the class's teacherId). Which app class each SIS class must be linked to, or be in conflict
with, is decided here from the sandbox's raw data (teachers from its enrollments), independently
of the engine; what must be active comes from the oracle (tests/fixtures/roster_oracle.py)."""

from collections import Counter
from datetime import UTC, datetime

import pytest

from rostersync.ids import record_id
from rostersync.store import app_records, matching_conflicts
from rostersync.store.roster import ClassModel, EnrollmentModel
from rostersync.store.schools import SchoolModel
from rostersync.sync.engine import Outcome
from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_account_matching import assert_oracle
from tests.integration.test_sync_engine import sync


def _ref(value):
    return value.get("sourcedId") if isinstance(value, dict) else value


def app_school(sis_school: str) -> str:
    return f"app-sch-{sis_school}"


def title_scenario(raw: dict, district: str) -> dict:
    """Register app schools (matched to every SIS school), app teachers (one per SIS teacher of the
    chosen classes, linked by identifier) and app classes without codes:
    x: X's title (spelt differently), X's school, X's teacher -> linked;
    y1, y2: Y's title, school and teacher -> two candidates (a conflict);
    z: Z's title and teacher in another school -> school_mismatch (a conflict);
    w: W's title and school, another teacher -> no candidate: W is created as before."""
    expected = expected_roster(raw)
    users = {u["sourcedId"]: u for u in raw["data"]["users"]}
    classes = {c["sourcedId"]: c for c in raw["data"]["classes"]}
    teachers_of: dict[str, set[str]] = {}
    for e in raw["data"]["enrollments"]:
        if e["sourcedId"] in expected["enrollments"] and e["role"] == "teacher":
            teachers_of.setdefault(_ref(e["class"]), set()).add(_ref(e["user"]))
    titles = Counter(" ".join(c["title"].split()).casefold() for c in raw["data"]["classes"])
    usable = sorted(
        sid
        for sid in expected["classes"]
        if len(teachers_of.get(sid, ())) == 1
        and titles[" ".join(classes[sid]["title"].split()).casefold()] == 1
        and users[next(iter(teachers_of[sid]))].get("identifier")
    )
    assert len(usable) >= 4, "the sandbox district has too few classes of unique titles"
    x, y, z, w = usable[:4]
    schools = sorted(o["sourcedId"] for o in raw["data"]["orgs"] if o.get("type") == "school")
    for sid in schools:
        SchoolModel(
            district,
            app_school(sid),
            name=f"App {sid}",
            origin="app",
            status="active",
            created_at=datetime.now(UTC),
            sis_sourced_id=sid,
        ).save()
    teacher = {c: next(iter(teachers_of[c])) for c in (x, y, z, w)}
    app_teachers = {t: f"app-t-{t}" for t in teacher.values()}
    other_teacher = next(t for t in sorted(expected["teachers"]) if t != teacher[w] and users[t].get("identifier"))
    app_teachers.setdefault(other_teacher, f"app-t-{other_teacher}")
    app_records.register_users(
        district,
        [
            {"userId": app_id, "role": "teacher", "identifier": users[t]["identifier"]}
            for t, app_id in app_teachers.items()
        ],
    )
    school_of = {c: app_school(_ref(classes[c]["school"])) for c in (x, y, z, w)}
    elsewhere = next(app_school(s) for s in schools if app_school(s) != school_of[z])
    app_records.register_classes(
        district,
        [
            {
                "classId": "app-x",
                "title": "  " + classes[x]["title"].upper() + " ",
                "schoolId": school_of[x],
                "teacherId": app_teachers[teacher[x]],
            },
            {
                "classId": "app-y1",
                "title": classes[y]["title"],
                "schoolId": school_of[y],
                "teacherId": app_teachers[teacher[y]],
            },
            {
                "classId": "app-y2",
                "title": classes[y]["title"],
                "schoolId": school_of[y],
                "teacherId": app_teachers[teacher[y]],
            },
            {
                "classId": "app-z",
                "title": classes[z]["title"],
                "schoolId": elsewhere,
                "teacherId": app_teachers[teacher[z]],
            },
            {
                "classId": "app-w",
                "title": classes[w]["title"],
                "schoolId": school_of[w],
                "teacherId": app_teachers[other_teacher],
            },
        ],
    )
    return {"district": district, "expected": expected, "x": x, "y": y, "z": z, "w": w, "raw": raw}


@pytest.fixture
def titled_district(sandbox_sis, connected_district):
    return title_scenario(sandbox_sis.state(), connected_district(sandbox_sis))


def _class_of_enrollments(district, class_sid):
    return {
        e.class_id for e in EnrollmentModel.query(district) if e.class_sourced_id == class_sid and e.status == "active"
    }


def assert_title_outcome(s: dict) -> None:
    district = s["district"]
    assert_oracle(district, s["expected"])
    by_sid = {c.sis_sourced_id: c for c in ClassModel.query(district) if c.sis_sourced_id and c.status == "active"}
    linked = by_sid[s["x"]]
    assert (linked.class_id, linked.origin) == ("app-x", "app")  # the app's classId kept, now the SIS's class
    assert _class_of_enrollments(district, s["x"]) == {"app-x"}  # its enrollments point at it
    assert ClassModel.count(district, ClassModel.class_id == record_id(district, "class", s["x"])) == 0
    for sid in (s["y"], s["z"], s["w"]):  # conflicts and non-matches: created under the SIS's id
        assert by_sid[sid].class_id == record_id(district, "class", sid) and by_sid[sid].origin is None
        assert _class_of_enrollments(district, sid) == {record_id(district, "class", sid)}
    for app_id in ("app-y1", "app-y2", "app-z", "app-w"):
        item = ClassModel.get(district, app_id)
        assert (item.status, item.sis_sourced_id) == ("active", None)


def test_an_app_class_links_by_title_school_and_teacher_and_conflicts_are_reported(titled_district):
    s = titled_district
    district = s["district"]
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, result.failure
    assert_title_outcome(s)
    reported = {e["sisSourcedId"]: e["message"] for e in result.notices if e["code"] == "match_conflict"}
    assert set(reported) == {s["y"], s["z"]}
    assert "app-y1" in reported[s["y"]] and "app-y2" in reported[s["y"]]
    assert "another school" in reported[s["z"]]
    conflicts, _ = matching_conflicts.list_conflicts(district, 50, None)
    assert {(c["sisSourcedId"], c["reason"]) for c in conflicts} == {
        (s["y"], "two_candidates"),
        (s["z"], "school_mismatch"),
    }
    assert result.counts["classes"]["created"] == len(s["expected"]["classes"]) - 1
    again = sync(district)  # the next night changes nothing and reports nothing again
    assert again.outcome == Outcome.SUCCEEDED
    for record_type, kinds in again.counts.items():
        assert kinds["created"] == kinds["updated"] == kinds["deactivated"] == 0, (record_type, kinds)
    assert not [e for e in again.notices if e["code"] == "match_conflict"]
    # The admin links Y to one of its two candidates: the next sync moves the class over.
    matching_conflicts.resolve(district, "class", s["y"], "link", "app-y2")
    matching_conflicts.resolve(district, "class", s["z"], "separate", None)
    resolved = sync(district)
    assert resolved.outcome == Outcome.SUCCEEDED, resolved.failure
    assert_oracle(district, s["expected"])
    assert ClassModel.get(district, "app-y2").sis_sourced_id == s["y"]
    assert _class_of_enrollments(district, s["y"]) == {"app-y2"}
    assert ClassModel.get(district, record_id(district, "class", s["y"])).status == "inactive"
    assert ClassModel.get(district, "app-y1").status == "active"
    assert resolved.counts["classes"]["deactivated"] == 1


def test_the_preview_counts_title_matches(clean_aws, titled_district):
    from types import SimpleNamespace

    from rostersync.store import sync_runs as store
    from rostersync.sync import worker
    from tests.integration.test_review import Admin, config_body, work

    s = titled_district
    district = s["district"]
    domain = SimpleNamespace(aws=clean_aws, store=store, worker=worker)
    admin = Admin(district)
    started = admin("POST", "/sync-config/preview", body=config_body())
    assert started.status == 202, started.body
    work(domain)
    body = admin("GET", f"/syncs/{started.body['runId']}/matching", query={"limit": "200"}).body
    assert body["counts"]["classes"] == {
        "linked": 1,
        "conflicts": 2,
        "rekeyed": 0,
        "created": len(s["expected"]["classes"]) - 1,
    }
    found = {(r["sisSourcedId"], r["result"], r.get("criterion")) for r in body["records"] if r["type"] == "classes"}
    assert found == {(s["x"], "linked", "title"), (s["y"], "conflict", None), (s["z"], "conflict", None)}
    assert ClassModel.get(district, "app-x").sis_sourced_id is None  # a preview links nothing
    run = admin.sync(domain)
    assert run["status"] == "succeeded"
    real = admin("GET", f"/syncs/{run['runId']}/matching").body
    assert real["counts"]["classes"]["linked"] == 1 and real["counts"]["classes"]["conflicts"] == 2
    assert_title_outcome(s)
