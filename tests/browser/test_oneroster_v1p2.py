"""Issue 28 in a real browser: a district admin connects a SIS that serves only OneRoster 1.2
(the sandbox told so), leaving the version to detection, sees 1.2 on the connection, and syncs."""

import re
from datetime import date, timedelta

import pytest

from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS
from tests.browser.conftest import SIS_SECRET, sign_in_locally
from tests.fixtures.sandbox import SMALL_DISTRICT
from tests.fixtures.stack import api as api_client

pytestmark = pytest.mark.e2e

SYNC_TIMEOUT_MS = 90_000
SOON = (date.today() + timedelta(days=300)).isoformat()  # a start date the API accepts


@pytest.fixture
def sandbox():
    """This module's SIS: the small district under the 1.2 rostering path only (1.1 answers 404)."""
    return SandboxSIS(SandboxConfig(**{**SMALL_DISTRICT, "client_secret": SIS_SECRET, "versions": ("1.2",)}))


def test_a_1_2_only_sis_is_connected_in_the_console_and_synced(console_stack, sandbox, new_page):
    support = api_client(console_stack, console_stack.token("platform_admin"))
    status, district = support.post("/districts", json={"name": "Ridgeview 1.2", "timezone": "America/Chicago"})
    assert status == 201, district
    district_id = district["districtId"]
    admin = api_client(console_stack, console_stack.token("district_admin", district_id))
    console = console_stack.console_url

    page, watch = new_page()
    sign_in_locally(page, console, "district_admin", "Ridgeview 1.2")
    page.get_by_role("heading", name="Ridgeview 1.2").wait_for()
    page.goto(f"{console}#/d/{district_id}/setup/2")
    page.get_by_role("heading", name=re.compile("Step 2 of 4")).wait_for()
    assert page.get_by_label("OneRoster version").input_value() == "auto"  # detection, the default
    page.get_by_label("Host URL").fill(sandbox.host_url)
    page.get_by_label("Client id").fill(sandbox.config.client_id)
    page.get_by_label("Client secret").fill(SIS_SECRET)
    page.get_by_role("button", name="Test and save").click()
    result = page.locator("#connection-result")
    result.get_by_text("Connected.").wait_for()
    assert "OneRoster 1.2" in result.inner_text()
    assert SIS_SECRET not in page.content()
    status, connection = admin.get(f"/districts/{district_id}/sis/connection")
    assert status == 200 and (connection["version"], connection["requestedVersion"]) == ("1.2", "auto"), connection

    # What to sync (everything; nightly off), then a sync started from the console.
    config = {"schools": None, "grades": None, "subjects": None, "startDate": SOON, "enabled": False}
    assert admin.put(f"/districts/{district_id}/sync-config", json=config)[0] == 200
    page.goto(f"{console}#/d/{district_id}/syncs")
    page.get_by_role("heading", name="Syncs").wait_for()
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("Sync started.").wait_for()
    page.locator("tr[data-status=succeeded]").wait_for(timeout=SYNC_TIMEOUT_MS)
    _, runs = admin.get(f"/districts/{district_id}/syncs")
    run = runs["syncs"][0]
    assert run["status"] == "succeeded" and run["errorTotal"] == 0, run
    assert run["counts"]["students"]["created"] > 0 and run["counts"]["enrollments"]["created"] > 0, run["counts"]

    # Coming back to the connection shows the version it was saved with.
    page.goto(f"{console}#/d/{district_id}/setup/2")
    page.get_by_text("A secret is saved").wait_for()
    assert "OneRoster 1.2" in page.locator("#connection-result").inner_text()
    assert watch.errors == []
