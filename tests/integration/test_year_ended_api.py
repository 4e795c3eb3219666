"""A district whose SIS's school year has ended, through the API and the worker (issue 25):
step 4 says beforehand how many classes are over, the preview and the first sync say why they
bring nothing (a warning notice, not an error), and the connection's health says the SIS has
no current term."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rostersync.sync.notices import date_in_words
from tests.fixtures.roster_oracle import DISTRICT_ZONE
from tests.integration.test_review import Admin, config_body, domain, work  # noqa: F401 - the fixture
from tests.integration.test_sync_notices import classes_over


def test_step_4_the_preview_and_the_sync_say_the_year_is_over(domain, sandbox_sis, connected_district):  # noqa: F811
    ended = sandbox_sis.end_year()
    data = sandbox_sis.state()["data"]
    over = classes_over(data)
    active_classes = sum(1 for c in data["classes"] if c.get("status") == "active")
    assert ended["endedOn"] == (datetime.now(ZoneInfo(DISTRICT_ZONE)).date() - timedelta(days=1)).isoformat()
    district = connected_district(sandbox_sis, timezone_name=DISTRICT_ZONE)
    admin = Admin(district)

    # Step 4, before saving: every active class is in a term that is over.
    options = admin("GET", "/sync-options", query={"refresh": "true"})
    assert options.status == 200, options.body
    terms = options.body["classTerms"]
    assert (terms["current"], terms["ended"], terms["lastEnded"]) == (active_classes - over, over, ended["endedOn"])
    assert terms["message"] == (
        f"The SIS lists {active_classes} classes; all belong to terms that ended on {date_in_words(ended['endedOn'])}. "
        "Nothing will sync until the SIS's new school year is set up."
    )

    # The preview says the same of the configuration it tries.
    started = admin("POST", "/sync-config/preview", body=config_body())
    assert started.status == 202, started.body
    work(domain)
    preview = admin("GET", f"/syncs/{started.body['runId']}/preview").body
    assert preview["status"] == "succeeded", preview
    assert (preview["classTerms"]["current"], preview["classTerms"]["ended"]) == (0, over)
    assert [n["code"] for n in preview["notices"]] == ["no_current_term"]

    # The first sync: succeeded, nothing in, every left-out record counted with its reason,
    # a warning notice and no error.
    run = admin.sync(domain)
    assert run["status"] == "succeeded", run
    assert run["errorTotal"] == 0 and run["errors"] == []
    assert run["counts"]["classes"]["created"] == 0
    assert run["counts"]["classes"]["skippedBy"]["term_ended"] == over
    assert run["counts"]["students"]["skippedBy"]["term_ended"] > 0
    warning = [n for n in run["notices"] if n["severity"] == "warning"]
    assert [n["code"] for n in warning] == ["no_current_term"]
    assert date_in_words(ended["endedOn"]) in warning[0]["message"]

    # The overview shows the warning with the last run, and the connection's health the calendar.
    overview = admin("GET", "")
    assert overview.status == 200, overview.body
    assert [n["code"] for n in overview.body["lastRun"]["notices"]] == [n["code"] for n in run["notices"]]
    calendar = f"The SIS has no current term: its last term ended on {date_in_words(ended['endedOn'])}."
    assert overview.body["connection"]["health"]["calendar"] == calendar
    assert overview.body["connection"]["health"]["status"] == "ok"  # the SIS answers: not a health failure
    connection = admin("GET", "/sis/connection").body
    assert connection["health"]["calendar"] == calendar

    # The SIS sets up its new year: the next sync brings the classes and the note goes.
    sandbox_sis.rollover("keep")
    run = admin.sync(domain)
    assert run["status"] == "succeeded" and run["errorTotal"] == 0, run
    assert run["counts"]["classes"]["created"] == over > 0  # each of last year's classes has its successor
    assert not [n for n in run["notices"] if n["severity"] == "warning"]
    assert admin("GET", "/sis/connection").body["health"]["calendar"] is None
