"""The console's other screens in a real browser, against one synced local stack shared by the
module: roster search, terms, matching, the held-run review (by keyboard alone), the preview
before saving step 4, health and notifications, the audit log, and purge (its confirmation by
keyboard alone). Each test drives its screen as a district admin would, asserts what the admin
sees against the API, and shoots it at phone and desktop width (audit and axe-core at each)."""

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from rostersync_tools.local.stack import LocalStack
from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS
from tests.browser.conftest import SIS_SECRET, Screens, focus_ring_visible, sign_in_locally
from tests.fixtures.sandbox import SMALL_DISTRICT
from tests.fixtures.stack import api as api_client

pytestmark = pytest.mark.e2e

NAME = "Maple Grove Schools"
ZONE = "America/Chicago"
RUN_TIMEOUT_S = 90


def wait_for_run(admin, district_id: str, run_id: str, timeout: float = RUN_TIMEOUT_S) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, run = admin.get(f"/districts/{district_id}/syncs/{run_id}")
        assert status == 200, run
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.3)


@pytest.fixture(scope="module")
def synced(_embedded_aws, tmp_path_factory):
    """A district set up through the API, with app-registered students (one clear match, one
    conflict), synced once, then half its students withdrawn: the second sync is held."""
    _embedded_aws.reset()
    _embedded_aws.apply_environment()
    sis = SandboxSIS(SandboxConfig(**{**SMALL_DISTRICT, "client_secret": SIS_SECRET}))
    stack = LocalStack(
        aws=_embedded_aws,
        api_port=0,
        sis=sis,
        sis_port=0,
        console_port=0,
        state_dir=tmp_path_factory.mktemp("screens") / "rostersync-state",
    )
    stack.start()
    try:
        support = api_client(stack, stack.token("platform_admin"))
        status, district = support.post("/districts", json={"name": NAME, "timezone": ZONE})
        assert status == 201, district
        district_id = district["districtId"]
        admin = api_client(stack, stack.token("district_admin", district_id))
        base = f"/districts/{district_id}"
        status, body = admin.put(
            f"{base}/sis/connection",
            json={"hostUrl": sis.host_url, "clientId": sis.config.client_id, "clientSecret": SIS_SECRET},
        )
        assert status == 200, body
        assert admin.put(f"{base}/school-matches", json={"matches": []})[0] == 200
        today = datetime.now(ZoneInfo(ZONE)).date().isoformat()
        config = {"schools": None, "grades": None, "subjects": None, "startDate": today, "enabled": True}
        assert admin.put(f"{base}/sync-config", json=config)[0] == 200
        students = sorted(
            (u for u in sis.app.state()["data"]["users"] if u["role"] == "student" and u.get("email")),
            key=lambda u: u["sourcedId"],
        )
        linked, doubted = students[0], students[1]
        app_users = [
            {
                "role": "student",
                "givenName": linked["givenName"],
                "familyName": linked["familyName"],
                "email": linked["email"],
            },
            {"role": "student", "givenName": "Twin", "familyName": "One", "email": doubted["email"]},
            {"role": "student", "givenName": "Twin", "familyName": "Two", "email": doubted["email"]},
        ]
        status, body = admin.post(f"{base}/app-users/bulk", json={"users": app_users})
        assert status in (200, 201), body
        status, started = admin.post(f"{base}/syncs", json={"mode": "full"})
        assert status == 202, started
        first = wait_for_run(admin, district_id, started["runId"])
        assert first["status"] == "succeeded", first
        withdrawn = requests.post(
            f"{sis.host_url}/_admin/withdraw", json={"role": "student", "share": 0.5}, timeout=10
        ).json()
        assert withdrawn["removed"] > 40
        status, started = admin.post(f"{base}/syncs", json={"mode": "full"})
        held = wait_for_run(admin, district_id, started["runId"])
        assert held["status"] == "needs_review", held
        yield {
            "stack": stack,
            "sis": sis,
            "districtId": district_id,
            "admin": admin,
            "support": support,
            "heldRunId": held["runId"],
            "doubted": doubted,
        }
    finally:
        stack.stop()


@pytest.fixture
def admin_page(synced, new_page):
    """A page signed in as the district's admin, and its console-error watch."""
    page, watch = new_page()
    sign_in_locally(page, synced["stack"].console_url, "district_admin", NAME)
    page.get_by_role("heading", name=NAME).wait_for()
    yield page
    assert watch.errors == []


def go(page, synced, path: str, heading: str | re.Pattern) -> None:
    page.goto(f"{synced['stack'].console_url}#/d/{synced['districtId']}{path}")
    page.get_by_role("heading", name=heading, level=1).wait_for()


# ---------------------------------------------------------------- roster search


def test_roster_search_finds_a_student_anywhere_in_the_district_by_family_name(synced, admin_page):
    page, admin, district_id = admin_page, synced["admin"], synced["districtId"]
    shots = Screens(page, "screens-roster-search")
    page.get_by_role("link", name="Rosters").click()
    page.get_by_role("link", name="Students").click()
    page.get_by_role("heading", name="Students", level=1).wait_for()
    page.locator("#roster-table tbody tr[data-id]").first.wait_for()
    # Unsearched, the list is the API's sort=name order: by family name.
    _, by_name = admin.get(f"/districts/{district_id}/users", params={"role": "student", "sort": "name", "limit": 50})
    shown = page.locator("#roster-table tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert shown == [u["userId"] for u in by_name["users"]]
    families = [(u["familyName"] or "").casefold() for u in by_name["users"]]
    assert families == sorted(families)
    # A family name from the end of the district (not on the first page) is found by the API.
    _, everyone = admin.get(f"/districts/{district_id}/users", params={"role": "student", "sort": "name", "limit": 200})
    target = everyone["users"][-1]
    prefix = target["familyName"][:4]
    page.get_by_label("Search all students").fill(prefix)
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text(re.compile(f"matching “{re.escape(prefix)}”")).wait_for()
    _, found = admin.get(f"/districts/{district_id}/users", params={"role": "student", "q": prefix, "limit": 50})
    assert target["userId"] in [u["userId"] for u in found["users"]]
    shown = page.locator("#roster-table tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert shown == [u["userId"] for u in found["users"]]
    assert all(
        prefix.casefold() in t.casefold()
        for t in page.locator("#roster-table tbody td[data-label=Name]").all_inner_texts()
    )
    shots.shoot("search-by-name")
    # An exact email.
    page.get_by_label("Search all students").fill(target["email"].upper())
    page.get_by_label("Search all students").press("Enter")
    page.locator("#roster-info").get_by_text(target["email"].upper()).wait_for()
    page.locator(f"#roster-table tr[data-id='{target['userId']}']").wait_for()
    emails = page.locator("#roster-table tbody td[data-label=Email]").all_inner_texts()
    assert emails and {e.casefold() for e in emails} == {target["email"].casefold()}
    # Nothing found says so.
    page.get_by_label("Search all students").fill("zzzz-nobody")
    page.get_by_label("Search all students").press("Enter")
    page.get_by_text("No students match “zzzz-nobody”.").wait_for()
    shots.shoot("search-nothing")
    assert shots.problems == []


# ---------------------------------------------------------------- terms


def test_terms_lists_the_sis_sessions_and_each_schools_current_term(synced, admin_page):
    page, admin, district_id = admin_page, synced["admin"], synced["districtId"]
    shots = Screens(page, "screens-terms")
    page.get_by_role("link", name="Terms").click()
    page.get_by_role("heading", name="Terms", level=1).wait_for()
    _, terms = admin.get(f"/districts/{district_id}/terms", params={"limit": 200})
    assert terms["terms"], "the sandbox SIS has academic sessions"
    shown = set(page.locator("table[data-term-type] tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)"))
    assert shown == {t["termId"] for t in terms["terms"]}
    _, schools = admin.get(f"/districts/{district_id}/schools")
    for school in schools["schools"]:
        _, current = admin.get(f"/districts/{district_id}/schools/{school['schoolId']}/terms/current")
        row = page.locator(f"#current-terms tr[data-school-id='{school['schoolId']}']")
        cell = row.locator("td[data-label='Current term']").inner_text()
        assert cell == (current["term"]["title"] if current["term"] else "None today")
    shots.shoot("terms")
    assert shots.problems == []


# ---------------------------------------------------------------- matching


def test_matching_shows_the_counts_and_a_conflict_side_by_side_and_resolves_it(synced, admin_page):
    page, admin, district_id = admin_page, synced["admin"], synced["districtId"]
    shots = Screens(page, "screens-matching")
    page.get_by_role("link", name="Matching").click()
    page.get_by_role("heading", name="Matching", level=1).wait_for()
    # The first sync linked one registered student and found one conflict; the held one linked none.
    _, runs = admin.get(f"/districts/{district_id}/syncs", params={"limit": 10})
    first = runs["syncs"][-1]
    row = page.locator(f"#matching-counts tr[data-run-id='{first['runId']}']")
    assert row.locator("td[data-kind=linked]").get_attribute("data-total") == "1"
    assert row.locator("td[data-kind=conflicts]").get_attribute("data-total") == "1"
    assert "1 students" in row.locator("td[data-kind=linked]").inner_text()
    # The app's own records, counted by the API (GET app-records): three registered students, one linked.
    _, registered = admin.get(f"/districts/{district_id}/app-records")
    for kind in ("teachers", "students", "classes"):
        for column in ("registered", "linked", "unlinked", "inactive", "fromSis"):
            cell = page.locator(f"#registered-counts tr[data-type={kind}] td[data-kind={column}]")
            assert int(cell.inner_text().replace(",", "")) == registered[kind][column], (kind, column)
    assert (registered["students"]["registered"], registered["students"]["linked"]) == (3, 1)
    assert registered["students"]["fromSis"] > 0
    shots.shoot("registered")
    conflict = page.locator(f"article.conflict[data-sis-sourced-id='{synced['doubted']['sourcedId']}']")
    conflict.wait_for()
    text = conflict.inner_text()
    assert synced["doubted"]["email"] in text and "Twin" in text  # both sides
    assert conflict.locator(".side").count() == 3  # the SIS record and both app candidates
    shots.shoot("conflict")
    conflict.get_by_role("button", name="Keep separate").click()
    page.locator("dialog#confirm").get_by_text("Keep this SIS account separate?").wait_for()
    shots.shoot("resolve-confirm")
    page.locator("dialog#confirm").get_by_role("button", name="Keep separate").click()
    conflict.get_by_text("Saved.").wait_for()
    page.locator("#no-conflicts").wait_for()
    _, open_conflicts = admin.get(f"/districts/{district_id}/matching/conflicts")
    assert open_conflicts["conflicts"] == []
    shots.shoot("resolved")

    # Registering one account and one class the app has, and the counts above follow; a class naming
    # a teacher who is none is refused with the API's words. (Zimmer: last by name, so the other
    # tests' lists keep their heads.)
    account = page.locator("#register-account")
    account.get_by_label("Role").select_option("teacher")
    account.get_by_label("Given name").fill("Zoe")
    account.get_by_label("Family name").fill("Zimmer")
    account.get_by_label("Email").fill("zoe.zimmer@maple.example.org")
    account.get_by_role("button", name="Register the account").click()
    account.locator("#register-account-result").get_by_text("Registered.").wait_for()
    page.locator("#registered-counts tr[data-type=teachers] td[data-kind=registered]").get_by_text("1").wait_for()
    _, teachers = admin.get(
        f"/districts/{district_id}/users", params={"role": "teacher", "q": "zoe.zimmer@maple.example.org"}
    )
    [zoe] = teachers["users"]
    assert (zoe["origin"], zoe["givenName"], zoe["sisSourcedId"]) == ("app", "Zoe", None)
    klass = page.locator("#register-class")
    klass.get_by_label("Title").fill("Zoe's art club")
    klass.get_by_label("Teacher's app id").fill("usr_nobody")
    klass.get_by_role("button", name="Register the class").click()
    klass.locator(".form-error [data-code=invalid_teacher]").wait_for()
    assert "usr_nobody" in klass.locator(".form-error").inner_text()
    klass.get_by_label("Teacher's app id").fill(zoe["userId"])
    klass.get_by_role("button", name="Register the class").click()
    klass.locator("#register-class-result").get_by_text("Registered.").wait_for()
    page.locator("#registered-counts tr[data-type=classes] td[data-kind=registered]").get_by_text("1").wait_for()
    _, counts = admin.get(f"/districts/{district_id}/app-records")
    assert (counts["teachers"]["registered"], counts["classes"]["registered"]) == (1, 1)
    shots.shoot("registered-one")
    assert shots.problems == []


# ---------------------------------------------------------------- held-run review, by keyboard


def test_held_run_review_filters_and_approves_the_selected_records_by_keyboard_alone(synced, admin_page):
    page, admin, district_id, run_id = admin_page, synced["admin"], synced["districtId"], synced["heldRunId"]
    shots = Screens(page, "screens-held-review")
    go(page, synced, f"/syncs/{run_id}", "Sync run")
    page.locator("#held-table tr[data-id]").first.wait_for()
    _, held = admin.get(f"/districts/{district_id}/syncs/{run_id}/held", params={"limit": 50})
    shown = page.locator("#held-table tr[data-id]").evaluate_all(
        "rows => rows.map(r => [r.dataset.id, r.dataset.reason])"
    )
    assert shown == [[r["recordId"], r["reason"]] for r in held["records"]]
    assert "Gone from the SIS" in page.locator("#held-table").inner_text()
    shots.shoot("held-records")
    # Filters: by type (the API's), by reason (among those loaded).
    page.get_by_label("Type", exact=True).select_option("students")
    page.locator("#held-info").get_by_text(re.compile(f"of {held['held']['students']:,}")).wait_for()
    assert set(page.locator("#held-table tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.type)")) == {
        "students"
    }
    page.get_by_label("Why").select_option("term_ended")
    page.get_by_text("No record was held for this reason.").wait_for()
    # The reason filter is the API's: what it lists across the whole hold, not among the rows loaded.
    page.get_by_label("Why").select_option("gone_from_sis")
    _, gone = admin.get(
        f"/districts/{district_id}/syncs/{run_id}/held",
        params={"type": "students", "reason": "gone_from_sis", "limit": 50},
    )
    assert gone["records"]
    # The info line said "held for this reason" for term_ended already: wait for the new rows.
    page.locator(f"#held-table tr[data-id='{gone['records'][0]['recordId']}']").wait_for()
    page.locator("#held-info").get_by_text("held for this reason").wait_for()
    shown = page.locator("#held-table tr[data-id]").evaluate_all(
        "rows => rows.map(r => [r.dataset.id, r.dataset.reason])"
    )
    assert shown == [[r["recordId"], "gone_from_sis"] for r in gone["records"]]
    shots.shoot("held-filtered")
    first_id = page.locator("#held-table tr[data-id]").first.get_attribute("data-id")

    # Keyboard alone from the page's heading: Tab to the first record's box, Space, Shift+Tab back
    # to "Approve the 1 selected" (above the list), Enter; the confirmation opens on Cancel; Tab, Enter.
    page.locator("h1").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        assert focus_ring_visible(page), page.evaluate("document.activeElement.outerHTML")
        if page.evaluate("document.activeElement.value") == first_id:
            break
    else:
        pytest.fail("Tab never reached the first record's checkbox")
    page.keyboard.press("Space")
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        assert focus_ring_visible(page), page.evaluate("document.activeElement.outerHTML")
        if page.evaluate("document.activeElement.id") == "approve-selected":
            break
    else:
        pytest.fail("Tab never reached Approve selected")
    assert page.evaluate("document.activeElement.textContent") == "Approve the 1 selected"
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#confirm")
    dialog.get_by_text("Deactivate the 1 selected record?").wait_for()
    assert "stay active" in dialog.inner_text()
    assert page.evaluate("document.activeElement.id") == "confirm-cancel"
    shots.shoot("approve-selected-confirm")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "confirm-ok"
    page.keyboard.press("Enter")
    page.locator("#review-decision[data-decision=approved_in_part]").wait_for(timeout=RUN_TIMEOUT_S * 1000)
    page.locator("#run-status[data-status=succeeded]").wait_for(timeout=RUN_TIMEOUT_S * 1000)
    run = wait_for_run(admin, district_id, run_id)
    assert run["review"]["decision"] == "approved_in_part" and run["review"]["records"] == 1
    decided = page.locator("#review-decision").locator("xpath=..").inner_text()
    assert "1 record deactivated" in decided and "district admin" in decided
    page.get_by_label("Type", exact=True).select_option("students")
    page.locator(f"#held-table tr[data-id='{first_id}']").get_by_text("Deactivated").wait_for()
    assert "Kept active" in page.locator("#held-table").inner_text()  # the others
    shots.shoot("approved-in-part")
    assert shots.problems == []


# ---------------------------------------------------------------- preview before saving step 4


def test_step_4_previews_the_choices_before_saving(synced, admin_page):
    page, admin, district_id = admin_page, synced["admin"], synced["districtId"]
    shots = Screens(page, "screens-preview")
    go(page, synced, "/setup/4", re.compile("Step 4 of 4"))
    page.get_by_role("button", name="Preview these choices").click()
    page.locator("#preview-result").wait_for(timeout=RUN_TIMEOUT_S * 1000)
    _, runs = admin.get(f"/districts/{district_id}/syncs", params={"limit": 1})
    preview_run = runs["syncs"][0]
    assert preview_run["mode"] == "preview"
    _, preview = admin.get(f"/districts/{district_id}/syncs/{preview_run['runId']}/preview")
    for kind in ("schools", "teachers", "students", "classes", "enrollments"):
        for change in ("created", "updated", "kept", "deactivated"):
            shown = page.locator(f"#preview-counts tr[data-type={kind}] td[data-kind={change}]").inner_text()
            assert int(shown.replace(",", "")) == preview["counts"][kind][change], (kind, change)
    assert page.locator("#preview-matching tr[data-type=students]").count() == 1
    shots.shoot("preview-counts")
    # The names, on request.
    page.get_by_role("button", name="Show the students' names").click()
    names = page.locator(".preview-names [data-change] li")
    _, records = admin.get(
        f"/districts/{district_id}/syncs/{preview_run['runId']}/preview/records",
        params={"type": "students", "limit": 200},
    )
    if [r for r in records["records"] if r["change"] != "unchanged"]:
        names.first.wait_for()
    else:
        page.get_by_text("No creations, updates or deactivations.").first.wait_for()
    shots.shoot("preview-names")
    # Nothing was saved: the configuration is what it was.
    _, config = admin.get(f"/districts/{district_id}/sync-config")
    assert config["schools"] is None and config["enabled"] is True
    assert shots.problems == []


# ---------------------------------------------------------------- health and notifications


def test_health_shows_the_connection_and_saves_notification_contacts(synced, admin_page):
    page, admin, district_id, sis = admin_page, synced["admin"], synced["districtId"], synced["sis"]
    shots = Screens(page, "screens-health")
    page.get_by_role("link", name="Health").click()
    page.get_by_role("heading", name="Health and notifications", level=1).wait_for()
    assert sis.host_url in page.locator("#health").inner_text()
    assert "a sync is held for review" in page.locator("#contact-events").inner_text()
    assert page.locator("#contact-events li").count() == 3
    # A failing SIS: the test records it and the page says what failed.
    requests.post(f"{sis.host_url}/_admin/inject", json={"kind": "503", "count": 20}, timeout=10)
    try:
        page.get_by_role("button", name="Test the connection now").click()
        page.locator("#test-result").get_by_text("Tested just now").wait_for(timeout=30_000)
    finally:
        requests.delete(f"{sis.host_url}/_admin/inject", timeout=10)
    _, overview = admin.get(f"/districts/{district_id}")
    health = overview["connection"]["health"]
    assert page.locator("#health-error").inner_text() == (health["lastError"] or "Nothing")
    shots.shoot("health-tested")
    # Contacts: a wrong address is refused next to the field; a right one is saved.
    contacts = page.get_by_label("Email addresses, one a line")
    contacts.fill("it-office@maple.example.org\nnot-an-email")
    page.get_by_role("button", name="Save contacts").click()
    page.locator("#contacts-form .field-error").wait_for()
    shots.shoot("contacts-invalid")
    contacts.fill("it-office@maple.example.org\nregistrar@maple.example.org")
    page.get_by_role("button", name="Save contacts").click()
    page.locator("#contacts-result").get_by_text("2 contacts will be told.").wait_for()
    _, overview = admin.get(f"/districts/{district_id}")
    assert overview["contacts"] == ["it-office@maple.example.org", "registrar@maple.example.org"]
    shots.shoot("contacts-saved")
    # A test message to them, through the real path (the local outbox), shown and listed; a second is refused.
    page.get_by_role("button", name="Send a test message").click()
    result = page.locator("#test-message-result")
    result.get_by_text("Sent.").wait_for(timeout=30_000)
    assert "registrar@maple.example.org" in result.inner_text()
    page.locator("#recent-messages tr[data-kind=test][data-status=sent]").wait_for()
    _, notes = admin.get(f"/districts/{district_id}/notifications")
    assert notes["recent"][0]["kind"] == "test" and notes["recent"][0]["status"] == "sent"
    _, entries = admin.get(f"/districts/{district_id}/audit", params={"action": "notifications.test"})
    assert [e["after"]["status"] for e in entries["entries"]] == ["sent"]
    shots.shoot("test-message-sent")
    # Again, by keyboard: Tab from the contacts' Save button reaches it (focus visible), Enter presses it.
    page.get_by_role("button", name="Save contacts").focus()
    for _ in range(5):
        page.keyboard.press("Tab")
        assert focus_ring_visible(page), page.evaluate("document.activeElement.outerHTML")
        if page.evaluate("document.activeElement.id") == "send-test-message":
            break
    else:
        pytest.fail("Tab never reached Send a test message")
    page.keyboard.press("Enter")
    result.locator("[data-code=test_too_soon]").wait_for()
    assert "minutes" in result.inner_text()
    assert shots.problems == []


# ---------------------------------------------------------------- audit log


def test_audit_log_lists_newest_first_filters_and_never_shows_the_secret(synced, admin_page):
    page, admin, district_id = admin_page, synced["admin"], synced["districtId"]
    shots = Screens(page, "screens-audit")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log", level=1).wait_for()
    page.locator("li.audit-entry").first.wait_for()
    _, audit = admin.get(f"/districts/{district_id}/audit", params={"limit": 50})
    shown = page.locator("li.audit-entry").evaluate_all("items => items.map(i => i.dataset.action)")
    assert shown == [e["action"] for e in audit["entries"]]
    times = [e["at"] for e in audit["entries"]]
    assert times == sorted(times, reverse=True)
    assert SIS_SECRET not in page.content()
    shots.shoot("audit")
    # The filters are the API's (?action=, ?by=): what they show is what the API lists for them.
    page.get_by_label("Kind").select_option("connection.update")
    page.locator("#audit-info").get_by_text("matching").wait_for()
    shown = page.locator("li.audit-entry").evaluate_all("items => items.map(i => i.dataset.action)")
    _, updates = admin.get(f"/districts/{district_id}/audit", params={"action": "connection.update"})
    assert shown == ["connection.update"] * len(updates["entries"]) and shown
    entry = page.locator("li.audit-entry").first
    assert "Before" in entry.inner_text() and "After" in entry.inner_text()
    assert synced["sis"].host_url in entry.inner_text()
    page.get_by_label("Kind").select_option("sync")  # a family: every sync.* action
    page.locator("li.audit-entry[data-action='sync.start']").first.wait_for()
    assert {
        a.split(".")[0] for a in page.locator("li.audit-entry").evaluate_all("i => i.map(e => e.dataset.action)")
    } == {"sync"}
    page.get_by_label("Kind").select_option("")
    page.locator("li.audit-entry[data-action='connection.update']").first.wait_for()
    admin_sub = next(e["by"]["sub"] for e in audit["entries"] if e["by"]["role"] == "district_admin")
    page.get_by_label("Person").fill(admin_sub)
    page.get_by_label("Person").press("Enter")  # submits the filter form
    page.locator("#audit-info").get_by_text("matching").wait_for()
    _, by_admin = admin.get(f"/districts/{district_id}/audit", params={"by": admin_sub, "limit": 50})
    people = page.locator("li.audit-entry").evaluate_all("items => items.map(i => i.dataset.by)")
    assert people == [admin_sub] * len(by_admin["entries"]) and people
    shots.shoot("audit-filtered")
    page.get_by_label("Person").fill("nobody-at-all")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("No entry matches these filters.").wait_for()
    assert shots.problems == []


# ---------------------------------------------------------------- a person, the district's details, disconnecting


def test_a_person_shows_their_classes_and_the_district_details_and_connection_can_be_changed(synced, admin_page):
    page, admin, district_id = admin_page, synced["admin"], synced["districtId"]
    shots = Screens(page, "screens-person-and-details")
    base = f"/districts/{district_id}"
    _, teachers = admin.get(f"{base}/users", params={"role": "teacher", "sort": "name", "limit": 5})
    teacher = teachers["users"][0]  # first in the console's list, sorted by name
    _, their = admin.get(f"{base}/users/{teacher['userId']}/classes", params={"status": "all", "limit": 200})
    assert their["classes"]
    # From the roster list: the name is a link to the person, whose classes are what the API lists.
    go(page, synced, "/rosters/teachers", "Teachers")
    page.locator(f"#roster-table tr[data-id='{teacher['userId']}'] a").first.click()
    page.get_by_role("heading", name=f"{teacher['givenName']} {teacher['familyName']}", level=1).wait_for()
    shown = page.locator("#person-classes li").evaluate_all("items => items.map(i => i.dataset.id)")
    assert shown == [c["classId"] for c in their["classes"]]
    assert (teacher["email"] or teacher["userId"]) in page.locator("#person-facts").inner_text()
    shots.shoot("person")
    page.locator("#person-classes li a").first.click()
    page.get_by_role("heading", name=their["classes"][0]["title"], level=1).wait_for()
    assert page.locator(f"#roster-teachers-list li[data-id='{teacher['userId']}']").count() == 1

    # The district's name, saved from the overview (and put back: the other tests sign in by it).
    go(page, synced, "", NAME)
    details = page.locator("#district-details")
    details.get_by_label("Name").fill(f"{NAME} District")
    details.get_by_role("button", name="Save details").click()
    page.locator("#district-details-result").get_by_text("Saved.").wait_for()
    assert admin.get(base)[1]["name"] == f"{NAME} District"
    page.get_by_role("heading", name=f"{NAME} District", level=1).wait_for()  # the page says it too
    shots.shoot("district-details-saved")
    details.get_by_label("Name").fill(NAME)
    details.get_by_role("button", name="Save details").click()
    page.locator("#district-details-result").get_by_text(f"{NAME}, {ZONE}").wait_for()
    assert admin.get(base)[1]["name"] == NAME

    # Removing the connection says what it does first; cancelled, the district stays connected.
    go(page, synced, "/health", "Health and notifications")
    page.get_by_role("button", name="Remove the connection").click()
    dialog = page.locator("dialog#confirm")
    dialog.get_by_text("Remove the SIS connection?").wait_for()
    assert "nightly syncs stop" in dialog.inner_text() and "nothing is deactivated" in dialog.inner_text()
    shots.shoot("disconnect-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    assert admin.get(f"{base}/sis/connection")[0] == 200
    assert shots.problems == []


# ---------------------------------------------------------------- purge


def test_purge_is_asked_by_keyboard_with_the_districts_name_and_confirmed_by_a_platform_admin(synced, new_page):
    stack, support = synced["stack"], synced["support"]
    status, other = support.post("/districts", json={"name": "Cedar Falls District", "timezone": ZONE})
    assert status == 201
    other_id = other["districtId"]
    page, watch = new_page()
    shots = Screens(page, "screens-purge")
    sign_in_locally(page, stack.console_url, "district_admin", "Cedar Falls District")
    page.get_by_role("link", name="Purge").click()
    page.get_by_role("heading", name="Purge the district", level=1).wait_for()
    assert "Erased for good" in page.inner_text("main") and "Stays" in page.inner_text("main")
    submit = page.locator("#purge-submit")
    assert submit.is_disabled()
    shots.shoot("purge-ask")

    # Keyboard alone: Tab to the name field, type it, Tab to the button, Enter; confirm by Tab, Enter.
    page.locator("h1").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        assert focus_ring_visible(page), page.evaluate("document.activeElement.outerHTML")
        if page.evaluate("document.activeElement.name") == "confirmName":
            break
    else:
        pytest.fail("Tab never reached the name field")
    page.keyboard.type("Cedar Falls")
    assert submit.is_disabled()  # not the whole name yet
    page.keyboard.type(" District")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "purge-submit"
    assert focus_ring_visible(page)
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#confirm")
    dialog.get_by_text("Ask to purge Cedar Falls District?").wait_for()
    assert page.evaluate("document.activeElement.id") == "confirm-cancel"
    shots.shoot("purge-confirm")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("#purge-status[data-status=requested]").wait_for()
    _, purge = support.get(f"/districts/{other_id}/purge")
    assert purge["status"] == "requested" and purge["requestedBy"]["role"] == "district_admin"
    assert page.locator("#purge-form").count() == 0  # asked once
    shots.shoot("purge-requested")

    # The platform admin confirms it, typing the name too; the purge runs to done.
    page.get_by_role("button", name="Sign out").click()
    sign_in_locally(page, stack.console_url, "platform_admin")
    page.goto(f"{stack.console_url}#/d/{other_id}/purge")
    page.get_by_role("heading", name="Purge the district", level=1).wait_for()
    page.locator("#purge-status[data-status=requested]").wait_for()
    page.get_by_label(re.compile("Type the district's name")).fill("Cedar Falls District")
    page.get_by_role("button", name="Erase the district now").click()
    dialog.get_by_role("button", name="Erase it").click()
    page.locator("#purge-status[data-status=done]").wait_for(timeout=60_000)
    _, purge = support.get(f"/districts/{other_id}/purge")
    assert purge["status"] == "done" and purge["confirmedBy"]["role"] == "platform_admin"
    shots.shoot("purge-done")
    # The synced district is untouched.
    assert synced["admin"].get(f"/districts/{synced['districtId']}")[0] == 200
    assert watch.errors == []
    assert shots.problems == []
