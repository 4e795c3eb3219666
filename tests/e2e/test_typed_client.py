"""The OpenAPI document alone is enough to build a client that works: a typed client generated
from docs/openapi.json by openapi-python-client walks setup, a sync and the reads the app's
backend (an API client with nothing but its token) and a teacher make, on the local stack."""

import importlib
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rostersync.sync.schedule import local_today
from rostersync_tools.local.tokens import issue_client_token

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "roster_sync_client"
TIMEZONE = "America/Chicago"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The client package, generated from the committed document into a temporary directory."""
    where = tmp_path_factory.mktemp("client")
    config = where / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\nproject_name_override: roster-sync-client\npost_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(ROOT / "docs" / "openapi.json"),
            "--output-path",
            str(where / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr  # every part understood
    sys.path.insert(0, str(where))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_a_generated_client_sets_up_syncs_and_reads(generated, local_stack, make_sandbox_sis):
    client_module, models = generated("client"), generated("models")
    api = lambda name: generated(f"api.{name}")  # noqa: E731
    sis = make_sandbox_sis()

    def as_(token: str):
        return client_module.AuthenticatedClient(
            base_url=local_stack.api_url, token=token, raise_on_unexpected_status=True
        )

    support = as_(local_stack.token("platform_admin"))
    created = api("provisioning_platform_admins.create_district").sync(
        client=support, body=models.CreateDistrictRequest(name="Typed District", timezone=TIMEZONE)
    )
    assert isinstance(created, models.DistrictResponse)
    district = created.district_id
    admin = as_(local_stack.token("district_admin", district))

    connected = api("sis_connection.put_sis_connection").sync(
        district,
        client=admin,
        body=models.SisConnectionRequest(
            host_url=sis.host_url, client_id=sis.config.client_id, client_secret=sis.config.client_secret
        ),
    )
    assert isinstance(connected, models.SisConnectionResponse) and connected.status == "connected"
    start = local_today(TIMEZONE, datetime.now(UTC)) + timedelta(days=1)
    config = api("setup_step_4_sync_configuration.put_sync_config").sync(
        district,
        client=admin,
        body=models.SyncConfigRequest(start_date=start, schools=None, grades=None, subjects=None),
    )
    assert isinstance(config, models.SyncConfigResponse)
    started = api("syncs.start_sync").sync(district, client=admin, body=models.StartSyncRequest())
    assert isinstance(started, models.StartSyncResponse)
    # A second start while the first is queued or running: 409 with its runId, typed.
    busy = api("syncs.start_sync").sync_detailed(district, client=admin, body=models.StartSyncRequest())
    if busy.status_code == 409:
        assert busy.parsed.error.run_id == started.run_id
    local_stack.wait_until_idle(timeout=120)
    deadline = time.monotonic() + 60
    while (run := api("syncs.get_sync").sync(district, started.run_id, client=admin)).status.value != "succeeded":
        assert run.status.value in ("queued", "running") and time.monotonic() < deadline, run.to_dict()
        time.sleep(0.2)

    # The app's backend: nothing but a client token granted this district.
    backend = as_(issue_client_token(local_stack.keys, "app", district_id=district))
    list_users = api("rosters.list_users")
    users, cursor = [], None
    while True:
        page = list_users.sync(district, client=backend, limit=50, **({"cursor": cursor} if cursor else {}))
        users += page.users
        cursor = page.next_cursor
        if not cursor:
            break
    counts = run.counts
    assert len(users) == counts.teachers.created + counts.students.created > 0
    enrollments = api("rosters.list_enrollments").sync(district, client=backend, limit=200)
    assert enrollments.enrollments and all(isinstance(e, models.EnrollmentResponse) for e in enrollments.enrollments)
    klass = enrollments.enrollments[0].class_id
    students = api("rosters.list_class_students").sync(district, klass, client=backend, limit=200)
    roster = api("rosters.get_class_roster").sync(district, klass, client=backend)
    assert {u.user_id for u in students.users} == {u.user_id for u in roster.students}
    # Changes since the beginning: everything, with a cursor to come back with; nothing new after it.
    changes = api("rosters.list_classes").sync(
        district, client=backend, limit=200, updated_since=datetime(2000, 1, 1, tzinfo=UTC)
    )
    assert changes.changes_cursor
    # A backend never changes configuration: 403 in the documented shape.
    refused = api("setup_step_4_sync_configuration.get_sync_config").sync_detailed(district, client=backend)
    assert refused.status_code == 403 and refused.parsed.error.code == "forbidden"
    # No token at all: API Gateway's 401, typed too.
    anonymous = client_module.Client(base_url=local_stack.api_url)
    unauthorized = list_users.sync_detailed(district, client=anonymous)
    assert unauthorized.status_code == 401 and unauthorized.parsed.message == "Unauthorized"

    # The reference pages need no token, as deployed (their routes have no authorizer).
    import requests

    page = requests.get(f"{local_stack.api_url}/docs", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'spec-url="openapi.json"' in page.text

    # A teacher whose verified email is a synced teacher's sees their classes.
    teacher = next(u for u in users if u.role == "teacher" and u.email)
    as_teacher = as_(local_stack.token("teacher", district, email=teacher.email, email_verified=True))
    mine = api("teachers.list_my_classes").sync(client=as_teacher, limit=200)
    taught = api("rosters.list_classes").sync(district, client=backend, teacher_id=teacher.user_id, limit=200)
    assert mine.classes and {c.class_id for c in mine.classes} == {c.class_id for c in taught.classes}


def test_a_generated_client_reads_conflicts_preview_records_and_held_records(generated, local_stack, make_sandbox_sis):
    """The review reads an admin console makes, typed: matching conflicts (their own schema, not the
    409 error's), a preview's records and a held sync's records, each with its documented filters."""
    client_module, models = generated("client"), generated("models")
    api = lambda name: generated(f"api.{name}")  # noqa: E731
    sis = make_sandbox_sis(schools=2, students=60, teachers=6, classes=12, enrollments=300)

    def as_(token: str):
        return client_module.AuthenticatedClient(
            base_url=local_stack.api_url, token=token, raise_on_unexpected_status=True
        )

    support = as_(local_stack.token("platform_admin"))
    district = (
        api("provisioning_platform_admins.create_district")
        .sync(client=support, body=models.CreateDistrictRequest(name="Review District", timezone=TIMEZONE))
        .district_id
    )
    admin = as_(local_stack.token("district_admin", district))
    api("sis_connection.put_sis_connection").sync(
        district,
        client=admin,
        body=models.SisConnectionRequest(
            host_url=sis.host_url, client_id=sis.config.client_id, client_secret=sis.config.client_secret
        ),
    )
    start = local_today(TIMEZONE, datetime.now(UTC)) + timedelta(days=1)
    put_config = api("setup_step_4_sync_configuration.put_sync_config")
    put_config.sync(
        district,
        client=admin,
        body=models.SyncConfigRequest(start_date=start, schools=None, grades=None, subjects=None),
    )
    # Two app students share one SIS student's email: the sync cannot tell which one it is.
    student = next(u for u in sis.state()["data"]["users"] if u["role"] == "student" and u.get("email"))
    writer = as_(issue_client_token(local_stack.keys, "app", district_id=district, write=True))
    api("app_records_and_matching.register_app_users").sync(
        district,
        client=writer,
        body=models.AppUsersRequest(
            users=[
                models.AppUserRequest(
                    user_id=f"app-twin-{n}", role=models.AppUserRequestRole.STUDENT, email=student["email"]
                )
                for n in "ab"
            ]
        ),
    )

    def run_to_end(run_id: str):
        local_stack.wait_until_idle(timeout=120)
        deadline = time.monotonic() + 60
        while (run := api("syncs.get_sync").sync(district, run_id, client=admin)).status.value in ("queued", "running"):
            assert time.monotonic() < deadline, run.to_dict()
            time.sleep(0.2)
        return run

    start_sync = api("syncs.start_sync")
    first = run_to_end(start_sync.sync(district, client=admin, body=models.StartSyncRequest()).run_id)
    assert first.status.value == "succeeded"

    conflicts = api("app_records_and_matching.list_matching_conflicts").sync(district, client=admin, limit=50)
    assert isinstance(conflicts, models.ConflictsResponse)
    conflict = next(c for c in conflicts.conflicts if c.sis_sourced_id == student["sourcedId"])
    assert isinstance(conflict, models.MatchingConflictResponse) and conflict.reason == "two_candidates"
    assert {c.to_dict().get("userId") for c in conflict.candidates} == {"app-twin-a", "app-twin-b"}

    # A preview of one school: its records by type and change, through the enums the document names.
    school = next(o["sourcedId"] for o in sis.state()["data"]["orgs"] if o.get("type") == "school")
    one_school = models.SyncConfigRequest(start_date=start, schools=[school], grades=None, subjects=None)
    preview = api("review_preview_and_audit.preview_sync_config").sync(
        district, client=admin, body=one_school, complete=True
    )
    assert run_to_end(preview.run_id).status.value == "succeeded"
    records = api("review_preview_and_audit.list_preview_records").sync(
        district,
        preview.run_id,
        client=admin,
        type_=models.ListPreviewRecordsType.STUDENTS,
        change=models.ListPreviewRecordsChange.DEACTIVATED,
        limit=200,
    )
    assert isinstance(records, models.PreviewRecordsResponse) and records.records
    assert all(r.type_ == "students" and r.change.value == "deactivated" for r in records.records)

    # Syncing that one school deactivates past the guard: the sync is held, its records listed.
    put_config.sync(district, client=admin, body=one_school)
    held = run_to_end(start_sync.sync(district, client=admin, body=models.StartSyncRequest()).run_id)
    assert held.status.value == "needs_review"
    listed = api("review_preview_and_audit.list_held_records").sync(
        district, held.run_id, client=admin, type_=models.ListHeldRecordsType.STUDENTS, limit=200
    )
    assert isinstance(listed, models.HeldRecordsResponse)
    assert {r.sis_sourced_id for r in listed.records} == {r.sis_sourced_id for r in records.records}
    rejected = api("review_preview_and_audit.reject_sync").sync(district, held.run_id, client=admin)
    assert isinstance(rejected, models.RunResponse) and rejected.status.value == "rejected"
