"""A CSV district in the console (issue 27): the admin chooses "OneRoster CSV files" at step 2,
uploads a bundle written by `rostersync sandbox-sis export-csv` (the browser sends it straight to
the embedded S3 with the presigned form), and watches it checked and synced; a broken bundle is
refused with the file and the problem named."""

import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.browser.conftest import Screens, sign_in_locally
from tests.fixtures.sandbox import SMALL_DISTRICT
from tests.fixtures.stack import api as api_client

pytestmark = pytest.mark.e2e

SYNC_TIMEOUT_MS = 90_000
ROSTERSYNC = Path(sys.executable).parent / "rostersync"


def exported_bundle(folder: Path) -> Path:
    out = folder / "district.zip"
    sizes = [
        f"--{name}={SMALL_DISTRICT[name]}" for name in ("schools", "students", "teachers", "classes", "enrollments")
    ]
    subprocess.run(
        [str(ROSTERSYNC), "sandbox-sis", "export-csv", "--out", str(out), f"--seed={SMALL_DISTRICT['seed']}", *sizes],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def broken_copy(bundle: Path, folder: Path) -> Path:
    with zipfile.ZipFile(bundle) as original:
        members = {name: original.read(name) for name in original.namelist()}
    members.pop("enrollments.csv")
    out = folder / "broken.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as broken:
        for name, data in members.items():
            broken.writestr(name, data)
    out.write_bytes(buffer.getvalue())
    return out


def test_a_district_admin_chooses_csv_uploads_a_bundle_and_sees_it_synced(console_stack, new_page, tmp_path):
    page, watch = new_page()
    shots = Screens(page, "csv-upload")
    console = console_stack.console_url
    support = api_client(console_stack, console_stack.token("platform_admin"))
    status, district = support.post("/districts", json={"name": "Riverbend Schools", "timezone": "America/Chicago"})
    assert status == 201, district
    district_id = district["districtId"]
    bundle = exported_bundle(tmp_path)

    sign_in_locally(page, console, "district_admin", "Riverbend Schools")
    page.get_by_role("heading", name="Riverbend Schools").wait_for()
    page.goto(f"{console}#/d/{district_id}/setup/2")
    page.get_by_role("heading", name=re.compile("Step 2 of 4")).wait_for()
    assert page.get_by_label("Host URL").is_visible()  # the API is the default
    page.get_by_label(re.compile("OneRoster CSV files")).check()
    assert not page.get_by_label("Host URL").is_visible()
    page.get_by_label("When to sync").select_option("on_arrival")
    shots.shoot("step2-csv")
    page.get_by_role("button", name="Save", exact=True).click()
    result = page.locator("#csv-connection-result")
    result.get_by_text("OneRoster CSV files.").wait_for()
    assert "No bundle yet" in result.inner_text()
    shots.shoot("step2-csv-saved")

    # The upload: the zip goes from the browser to S3; the page follows the check and the sync.
    result.get_by_role("link", name="Upload a bundle").click()
    page.get_by_role("heading", name="CSV bundles").wait_for()
    assert "No bundle has been checked yet" in page.inner_text("#upload-history")
    shots.shoot("uploads-empty")
    page.get_by_role("button", name="Upload").click()  # nothing chosen: said next to the field
    assert "Choose the bundle" in page.locator("#upload-form .field-error").inner_text()
    page.get_by_label("Bundle (zip)").set_input_files(str(bundle))
    page.get_by_role("button", name="Upload").click()
    page.locator("#upload-status").get_by_text("Checked.").wait_for(timeout=SYNC_TIMEOUT_MS)
    page.locator("#upload-run[data-status=succeeded]").wait_for(timeout=SYNC_TIMEOUT_MS)
    assert "records created" in page.inner_text("#upload-run")
    assert "The next sync reads the bundle checked" in page.inner_text("#upload-history")
    shots.shoot("uploaded-and-synced")

    # What the console shows is what the API stored: the run synced the bundle's roster.
    admin = api_client(console_stack, console_stack.token("district_admin", district_id))
    _, uploads = admin.get(f"/districts/{district_id}/csv-uploads")
    run_id = uploads["uploads"][0]["runId"]
    _, run = admin.get(f"/districts/{district_id}/syncs/{run_id}")
    assert run["status"] == "succeeded" and run["trigger"] == "csv_arrival"
    assert run["counts"]["students"]["created"] > 0 and run["counts"]["enrollments"]["created"] > 0
    page.locator("#upload-run").get_by_role("link", name="the run").click()
    page.locator("#run-status[data-status=succeeded]").wait_for()
    assert "A CSV bundle arrived, full sync" in page.inner_text("main")
    page.goto(f"{console}#/d/{district_id}")
    page.get_by_role("heading", name="Riverbend Schools").wait_for()
    page.locator(".status-card").get_by_text("OneRoster CSV files").wait_for()
    shots.shoot("overview-csv")
    page.goto(f"{console}#/d/{district_id}/health")
    page.get_by_role("link", name="CSV bundles", exact=True).last.wait_for()
    assert page.get_by_role("button", name=re.compile("Test the connection")).count() == 0  # nothing to test

    # A broken bundle: refused, the file and the problem named, nothing synced.
    page.goto(f"{console}#/d/{district_id}/uploads")
    page.get_by_role("heading", name="CSV bundles").wait_for()
    page.get_by_label("Bundle (zip)").set_input_files(str(broken_copy(bundle, tmp_path)))
    page.get_by_role("button", name="Upload").click()
    refused = page.locator("#upload-status").get_by_text("The bundle was refused.")
    refused.wait_for(timeout=SYNC_TIMEOUT_MS)
    assert "enrollments.csv" in page.inner_text("#upload-status")
    assert page.locator("#upload-history li[data-state=rejected]").count() == 1
    shots.shoot("bundle-refused")

    assert watch.errors == []
    assert shots.problems == []
