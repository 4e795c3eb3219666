"""The district admin console in a real browser, against the local stack and the sandbox SIS:
from an empty district to a synced one, a held run approved, tenant isolation, and the
deployed (Cognito) sign-in up to the hosted UI and back."""

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from rostersync_tools.console_config import cognito_config
from rostersync_tools.local.console_server import LocalConsole
from tests.browser.conftest import SIS_SECRET, Screens
from tests.fixtures.stack import api as api_client

pytestmark = pytest.mark.e2e

SYNC_TIMEOUT_MS = 60_000


def sign_in_locally(page, console_url: str, role: str, district_name: str | None = None) -> None:
    page.goto(console_url)
    page.get_by_label("Sign in as").select_option(role)
    if district_name:
        district = page.get_by_label("District", exact=True)
        district.select_option(district.locator("option", has_text=district_name).get_attribute("value"))
    page.get_by_role("button", name="Sign in").click()


def test_a_district_admin_goes_from_an_empty_district_to_a_synced_one(console_stack, sandbox, new_page):
    page, watch = new_page()
    shots = Screens(page, "console")
    console = console_stack.console_url
    api_url = console_stack.api_url
    support = api_client(console_stack, console_stack.token("platform_admin"))
    sis_school = sorted(o["name"] for o in sandbox.app.state()["data"]["orgs"] if o.get("type") == "school")[0]

    # Support (platform admin) creates the district and one school the app already has.
    page.goto(console)
    page.get_by_role("heading", name="Sign in (local stack)").wait_for()
    assert page.get_by_text("Local only").first.is_visible()
    shots.shoot("sign-in")
    sign_in_locally(page, console, "platform_admin")
    page.get_by_role("heading", name="Districts").wait_for()
    page.get_by_label("Name").fill("Lakeside Unified")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_role("button", name="Create district").click()
    page.get_by_role("heading", name="Lakeside Unified").wait_for()
    page.get_by_label("School name").fill(sis_school)
    page.get_by_role("button", name="Add school").click()
    page.locator("#app-schools").wait_for()
    page.get_by_text(sis_school, exact=True).wait_for()
    district_id = re.search(r"#/d/([^/]+)", page.url).group(1)
    shots.shoot("district-created")
    page.get_by_role("button", name="Sign out").click()

    # The district admin signs in and starts the setup.
    sign_in_locally(page, console, "district_admin", "Lakeside Unified")
    page.get_by_role("heading", name="Lakeside Unified").wait_for()
    shots.shoot("overview-empty")
    page.get_by_role("link", name="Start setup").click()
    page.get_by_role("heading", name=re.compile("Step 1 of 4")).wait_for()
    assert "PowerSchool" in page.inner_text("main")
    shots.shoot("step1")
    page.get_by_role("button", name=re.compile("Next: connect")).click()

    # Step 2: a wrong secret first: the API's error is shown next to the secret field.
    page.get_by_role("heading", name=re.compile("Step 2 of 4")).wait_for()
    page.get_by_label("Host URL").fill(sandbox.base_url)  # with /ims/oneroster/v1p1: the page warns
    page.get_by_text("it will be removed").wait_for()
    page.get_by_label("Client id").fill(sandbox.config.client_id)
    page.get_by_label("Client secret").fill("not-the-right-secret")
    page.get_by_role("button", name="Test and save").click()
    secret_error = page.locator("#connection-form [name=clientSecret] ~ .field-error")
    secret_error.wait_for()
    assert "Check the client id and secret" in secret_error.inner_text()
    assert page.get_by_label("Client secret").get_attribute("aria-invalid") == "true"
    assert page.locator(".form-error [data-code=invalid_credentials]").count() == 1
    assert page.evaluate("document.activeElement.name") == "clientSecret"
    shots.shoot("step2-wrong-secret")
    page.get_by_label("Client secret").fill(SIS_SECRET)
    page.get_by_role("button", name="Test and save").click()
    page.locator("#connection-result").get_by_text("Connected.").wait_for()
    assert "/ims/oneroster/v1p1" in page.locator("#connection-result").inner_text()  # the warning it was removed
    assert page.get_by_label("Host URL").input_value() == sandbox.host_url
    assert SIS_SECRET not in page.content()
    shots.shoot("step2-connected")

    # Resumable: leaving and coming back shows what is saved (and never the secret).
    page.goto(f"{console}#/d/{district_id}")
    page.get_by_role("link", name="Continue setup at step 3").wait_for()
    page.goto(f"{console}#/d/{district_id}/setup/2")
    page.get_by_text("A secret is saved").wait_for()
    assert page.get_by_label("Host URL").input_value() == sandbox.host_url
    page.get_by_role("link", name="Next: match schools").click()

    # Step 3: the existing school is suggested for the SIS school of the same name.
    page.get_by_role("heading", name=re.compile("Step 3 of 4")).wait_for()
    matched = page.get_by_label(re.compile("^" + re.escape(sis_school)))
    assert "suggested" in matched.locator("option:checked").inner_text()
    page.get_by_label("Search SIS schools").fill(sis_school[:6])
    assert page.locator(".match-row:not([hidden])").count() >= 1
    shots.shoot("step3")
    page.get_by_label("Search SIS schools").fill("")
    page.get_by_role("button", name="Save matches").click()
    page.get_by_role("link", name="Next: choose what to sync").click()

    # Step 4: "only these" with nothing chosen is refused on the page; then everything.
    page.get_by_role("heading", name=re.compile("Step 4 of 4")).wait_for()
    schools = page.locator("fieldset[data-selection=schools]")
    schools.get_by_label(re.compile("Only the schools")).check()
    page.get_by_role("button", name="Save", exact=True).click()
    assert "Choose at least one" in schools.locator(".field-error").inner_text()
    shots.shoot("step4-nothing-chosen")
    schools.get_by_label(re.compile("^Everything")).check()
    today_min = page.get_by_label("Start date").get_attribute("min")
    assert page.get_by_label("Start date").input_value() == today_min
    assert "every school" in page.locator(".review").inner_text()
    assert "America/Chicago" in page.locator("#first-sync").inner_text()
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#selection-result").get_by_text("Saved.").wait_for()
    assert "first nightly sync runs" in page.locator("#selection-result").inner_text()
    shots.shoot("step4-saved")

    # Syncs: start one, a second start while it runs is a 409 shown as such, watch it finish.
    sandbox.set_quirks(latency_ms=60)  # long enough for the second click to find it running
    page.locator("#to-syncs").click()
    page.get_by_role("heading", name="Syncs").wait_for()
    page.evaluate("window.__notReloaded = true")
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("Sync started.").wait_for()
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("Already running.").wait_for()
    assert "sync_in_progress" in page.locator("#sync-message").inner_text()
    shots.shoot("sync-running")
    page.locator("tr[data-status=succeeded]").wait_for(timeout=SYNC_TIMEOUT_MS)
    sandbox.set_quirks(latency_ms=0)
    assert page.evaluate("window.__notReloaded") is True  # progress came without reloading
    shots.shoot("sync-finished")

    # The run's counts are the API's.
    admin = api_client(console_stack, console_stack.token("district_admin", district_id))
    status, runs = admin.get(f"/districts/{district_id}/syncs")
    assert status == 200
    run = runs["syncs"][0]
    assert run["status"] == "succeeded" and run["counts"]["students"]["created"] > 0
    page.locator("tr[data-status=succeeded] a").first.click()
    page.locator("#run-counts").wait_for()
    for kind in ("schools", "teachers", "students", "classes", "enrollments"):
        for count in ("created", "updated", "deactivated"):
            shown = page.locator(f"#run-counts tr[data-type={kind}] td[data-kind={count}]").inner_text()
            assert int(shown.replace(",", "")) == run["counts"][kind][count], (kind, count)
    shots.shoot("run-detail")

    # Rosters: classes, and one class's roster, as the API has them.
    page.get_by_role("link", name="Rosters").click()
    page.get_by_role("heading", name="Teachers").wait_for()
    page.locator("#roster-table tbody tr[data-id]").first.wait_for()
    shots.shoot("roster-teachers")
    page.get_by_role("link", name="Classes").click()
    page.get_by_role("heading", name="Classes").wait_for()
    first_class = page.locator("#roster-table tbody tr[data-id]").first
    first_class.wait_for()
    class_id = first_class.get_attribute("data-id")
    status, classes = admin.get(f"/districts/{district_id}/classes", params={"limit": 50})
    assert [c["classId"] for c in classes["classes"]] == page.locator("#roster-table tbody tr[data-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )
    if classes["nextCursor"]:
        page.locator("#roster-next").click()
        page.get_by_text("Page 2").wait_for()
        _, second = admin.get(
            f"/districts/{district_id}/classes", params={"limit": 50, "cursor": classes["nextCursor"]}
        )
        assert (
            page.locator("#roster-table tbody tr[data-id]").first.get_attribute("data-id")
            == second["classes"][0]["classId"]
        )
        page.get_by_role("button", name="Previous page").click()
        page.get_by_text("Page 1").wait_for()
    shots.shoot("roster-classes")
    page.locator(f"#roster-table tr[data-id='{class_id}'] a").click()
    page.locator("#roster-students").wait_for()
    status, roster = admin.get(f"/districts/{district_id}/classes/{class_id}/roster")
    assert status == 200
    assert page.locator("#roster-students-list li").evaluate_all("items => items.map(i => i.dataset.id)") == [
        u["userId"] for u in roster["students"]
    ]
    assert page.locator("#roster-teachers-list li").evaluate_all("items => items.map(i => i.dataset.id)") == [
        u["userId"] for u in roster["teachers"]
    ]
    shots.shoot("class-roster")

    # A held run: half the students leave the SIS at once; the sync stops for review.
    withdrawn = requests.post(
        f"{sandbox.host_url}/_admin/withdraw", json={"role": "student", "share": 0.5}, timeout=10
    ).json()
    assert withdrawn["removed"] > 40
    page.get_by_role("link", name="Syncs").click()
    page.get_by_role("button", name="Sync now").click()
    page.locator("tr[data-status=needs_review]").wait_for(timeout=SYNC_TIMEOUT_MS)
    page.get_by_role("link", name="Overview").click()
    page.get_by_text("A sync is held for review.").wait_for()
    shots.shoot("overview-held")
    page.get_by_role("link", name="Review it").click()
    page.locator("#held-counts").wait_for()
    _, latest = admin.get(f"/districts/{district_id}/syncs", params={"limit": 1})
    held = latest["syncs"][0]
    assert held["status"] == "needs_review"
    shown = page.locator("#held-counts li").evaluate_all("items => items.map(i => [i.dataset.type, i.textContent])")
    assert {kind: int(text.split()[0].replace(",", "")) for kind, text in shown} == held["heldDeactivations"], (
        shown,
        held,
    )
    assert held["heldDeactivations"].get("students", 0) > 40, held
    shots.shoot("held-run")
    # By keyboard: Enter opens the confirmation with focus on Cancel; Escape closes it, focus goes back.
    total_held = sum(held["heldDeactivations"].values())
    page.get_by_role("button", name=f"Approve all {total_held:,}").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#confirm")
    dialog.get_by_text(f"Deactivate all {total_held:,} records?").wait_for()
    assert page.evaluate("document.activeElement.id") == "confirm-cancel"
    shots.shoot("approve-confirm")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.id") == "approve"
    assert admin.get(f"/districts/{district_id}/syncs/{held['runId']}")[1]["status"] == "needs_review"
    page.get_by_role("button", name=f"Approve all {total_held:,}").click()
    dialog.get_by_role("button", name="Deactivate all").click()
    page.locator("#run-status[data-status=succeeded]").wait_for(timeout=SYNC_TIMEOUT_MS)
    shots.shoot("approved")
    approved = admin.get(f"/districts/{district_id}/syncs/{held['runId']}")[1]
    assert approved["status"] == "succeeded"
    assert approved["counts"]["students"]["deactivated"] == held["heldDeactivations"]["students"]

    # Another district's admin cannot see this district.
    support.post("/districts", json={"name": "Hillcrest District", "timezone": "America/Denver"})
    page.get_by_role("button", name="Sign out").click()
    sign_in_locally(page, console, "district_admin", "Hillcrest District")
    page.get_by_role("heading", name="Hillcrest District").wait_for()
    assert "Lakeside" not in page.inner_text("body")
    page.goto(f"{console}#/d/{district_id}/syncs")
    page.get_by_role("heading", name="This page could not be shown").wait_for()
    assert page.locator("[data-code=forbidden]").count() == 1
    assert "Lakeside" not in page.inner_text("body")
    shots.shoot("other-district-forbidden")
    page.goto(f"{console}#/d/{district_id}/rosters/students")
    page.get_by_role("heading", name="This page could not be shown").wait_for()
    assert page.locator("[data-code=forbidden]").count() == 1

    # A teacher is not allowed in at all.
    page.get_by_role("button", name="Sign out").click()
    sign_in_locally(page, console, "teacher", "Lakeside Unified")
    page.get_by_role("heading", name="Not allowed").wait_for()
    shots.shoot("teacher-not-allowed")

    assert watch.errors == []
    assert shots.problems == []
    assert api_url  # the API is another origin than the console: every call above crossed it (CORS)
    assert urlparse(api_url).port != urlparse(console).port


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_the_deployed_sign_in_goes_to_the_hosted_ui_with_pkce_and_back(console_stack, new_page):
    """The console in its deployed (cognito) configuration: the sign-in button leads to the hosted
    UI's authorize URL (code flow, PKCE S256, state); the callback's code is exchanged with the
    verifier; the ID token is the API's bearer; a teacher's token gets "not allowed". The hosted UI
    is intercepted in the browser: no network."""
    domain = "https://rostersync-test.auth.us-east-1.amazoncognito.com"
    support = api_client(console_stack, console_stack.token("platform_admin"))
    _, district = support.post("/districts", json={"name": "Cognito District", "timezone": "America/Chicago"})
    deployed = LocalConsole(lambda: console_stack.api_url, lambda: console_stack.keys, port=0)
    deployed.start()
    try:
        console_url = deployed.url + "/"
        deployed._config = cognito_config(console_stack.api_url, domain, "test-client-id", console_url)
        for role, expected in (("district_admin", "Cognito District"), ("teacher", "Not allowed")):
            page, watch = new_page()
            seen = {}

            # Bound per iteration (keyword-only: playwright passes only the positional route, request).
            def authorize(route, request, *, seen=seen):
                seen["authorize"] = request.url
                query = parse_qs(urlparse(request.url).query)
                route.fulfill(
                    status=302, headers={"Location": f"{console_url}?code=the-code&state={query['state'][0]}"}
                )

            def token(route, request, *, seen=seen, role=role):
                seen["token"] = parse_qs(request.post_data)
                id_token = console_stack.token(role, district["districtId"])
                route.fulfill(
                    status=200,
                    content_type="application/json",
                    headers={"Access-Control-Allow-Origin": deployed.url},
                    body=json.dumps({"id_token": id_token, "access_token": "x", "token_type": "Bearer"}),
                )

            page.route(f"{domain}/oauth2/authorize*", authorize)
            page.route(f"{domain}/oauth2/token", token)
            page.goto(console_url)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name=expected).wait_for()

            authorize_url = urlparse(seen["authorize"])
            assert f"{authorize_url.scheme}://{authorize_url.netloc}" == domain
            assert authorize_url.path == "/oauth2/authorize"
            query = parse_qs(authorize_url.query)
            assert query["response_type"] == ["code"]
            assert query["client_id"] == ["test-client-id"]
            assert query["redirect_uri"] == [console_url]
            assert query["code_challenge_method"] == ["S256"]
            assert "openid" in query["scope"][0].split()
            exchanged = seen["token"]
            assert exchanged["grant_type"] == ["authorization_code"] and exchanged["code"] == ["the-code"]
            assert exchanged["redirect_uri"] == [console_url] and exchanged["client_id"] == ["test-client-id"]
            verifier = exchanged["code_verifier"][0]
            assert _b64url(hashlib.sha256(verifier.encode()).digest()) == query["code_challenge"][0]
            assert "code=" not in page.url  # the code is gone from the address bar
            if role == "teacher":
                assert page.get_by_role("button", name="Sign out").count() >= 1
            shots = Screens(page, f"cognito-{role}")
            shots.shoot("after-sign-in")
            assert shots.problems == []
            assert watch.errors == []
    finally:
        deployed.stop()


def test_the_page_audit_finds_what_it_looks_for(browser):
    """The audit every screenshot runs (tests/browser/audit.py) does catch low contrast, an
    unlabelled field, a missing h1 and a page wider than the screen."""
    from tests.browser.audit import audit

    page = browser.new_page(viewport={"width": 375, "height": 700})
    try:
        page.set_content(
            '<main><p style="color:#999;background:#fff">faint text</p>'
            '<input name="nameless"><div style="width:900px">wide</div></main>'
        )
        problems = audit(page)
        assert any(p.startswith("contrast") and "faint text" in p for p in problems)
        assert any('no label: <input name="nameless">' in p for p in problems)
        assert "main has 0 h1 headings" in problems
        assert any(p.startswith("page scrolls sideways") for p in problems)
        page.set_content('<main><h1>Fine</h1><label for="a">A</label><input id="a"><p>dark text</p></main>')
        assert audit(page) == []
    finally:
        page.close()
