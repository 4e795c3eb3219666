"""A district whose SIS's school year has ended, in the console (issue 25): the first sync succeeds
with nothing in, and the overview and the run page say why as a warning, at phone and desktop width."""

import time
from datetime import date, timedelta

import pytest

from tests.browser.conftest import SIS_SECRET, Screens
from tests.browser.test_console import sign_in_locally
from tests.fixtures.stack import api as api_client

pytestmark = pytest.mark.e2e

SOON = (date.today() + timedelta(days=300)).isoformat()  # a start date the API accepts


def test_the_overview_and_the_run_warn_that_the_year_is_over(console_stack, sandbox, new_page):
    ended = sandbox.end_year()
    support = api_client(console_stack, console_stack.token("platform_admin"))
    status, district = support.post("/districts", json={"name": "Summer District", "timezone": "America/Chicago"})
    assert status == 201, district
    district_id = district["districtId"]
    admin = api_client(console_stack, console_stack.token("district_admin", district_id))
    base = f"/districts/{district_id}"
    connection = {"hostUrl": sandbox.host_url, "clientId": sandbox.config.client_id, "clientSecret": SIS_SECRET}
    assert admin.put(f"{base}/sis/connection", json=connection)[0] == 200
    config = {"schools": None, "grades": None, "subjects": None, "startDate": SOON, "enabled": False}
    assert admin.put(f"{base}/sync-config", json=config)[0] == 200
    status, started = admin.post(f"{base}/syncs", json={"mode": "full"})
    assert status == 202, started
    run_id = started["runId"]
    deadline = time.monotonic() + 90
    while (run := admin.get(f"{base}/syncs/{run_id}")[1])["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.3)
    assert run["status"] == "succeeded" and run["errorTotal"] == 0, run
    message = next(n["message"] for n in run["notices"] if n["severity"] == "warning")

    page, watch = new_page()
    shots = Screens(page, "year-ended")
    sign_in_locally(page, console_stack.console_url, "district_admin", "Summer District")
    page.get_by_role("heading", name="Summer District").wait_for()
    warning = page.locator("#year-warning")
    warning.wait_for()
    text = warning.inner_text()
    assert "Nothing current to sync" in text and message in text, text
    assert "alert warning" in warning.get_attribute("class")
    shots.shoot("overview")

    warning.get_by_role("link", name="See the run").click()
    page.get_by_role("heading", name="Sync run").wait_for()
    run_warning = page.locator(".run-warning")
    run_warning.wait_for()
    assert message in run_warning.inner_text()
    assert page.locator("#run-status").get_attribute("data-status") == "succeeded"
    skipped = page.locator("#run-skipped-by [data-type=classes]").inner_text()
    assert "term ended" in skipped, skipped
    assert page.locator("#run-notices [data-code=no_current_term]").count() == 1
    shots.shoot("run")

    # Step 4 says it before saving: the options the sync cached count the classes by their terms.
    page.goto(f"{console_stack.console_url}#/d/{district_id}/setup/4")
    class_terms = page.locator("#class-terms")
    class_terms.wait_for()
    assert "Most classes are over" in class_terms.inner_text() and "new school year" in class_terms.inner_text()
    shots.shoot("step4")
    assert ended["endedOn"]
    assert shots.problems == [], shots.problems
    assert watch.errors == [], watch.errors
