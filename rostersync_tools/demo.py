"""`rostersync demo` (`make demo`): the product end to end on this machine, in about a minute.

Starts the local stack in this process with the sandbox SIS (default district) on free ports,
so it never clashes with a running `make local`, then walks the setup as people would, over
the HTTP API only:
  support (platform admin) creates the district and one school the app already has;
  the district admin connects the SIS (step 2), matches schools (step 3), configures the
  sync (step 4) and starts a full sync; the demo waits for it and prints what was synced.
Exits 0 on success; otherwise 1 with the step that failed. The sandbox's client secret is
sent to the API and never printed (error text is scrubbed of it, just in case).
"""

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import requests

TIMEZONE = "America/Chicago"
TERMINAL = ("succeeded", "failed", "needs_review")
RECORD_TYPES = ("schools", "teachers", "students", "classes", "enrollments")
SYNCED_KINDS = ("created", "updated", "unchanged")  # records active in the app after the run
TIMEOUT_ENV = "ROSTERSYNC_DEMO_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 900


class StepFailed(Exception):
    def __init__(self, step: str, message: str):
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


@dataclass
class Api:
    """The HTTP API as a front end calls it; every failure names the demo step it broke."""

    base_url: str
    secret: str  # only to scrub it from any text this demo prints
    token: str = ""

    def call(self, step: str, method: str, path: str, body=None, expect=(200,)):
        try:
            response = requests.request(
                method,
                f"{self.base_url}{path}",
                json=body,
                timeout=120,
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except requests.RequestException as error:
            raise StepFailed(step, f"{method} {path} did not answer ({type(error).__name__})") from None
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        if response.status_code not in expect:
            raise StepFailed(step, f"{method} {path} answered {response.status_code}: {self._describe(data, response)}")
        return data

    def _describe(self, data, response) -> str:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            text = f"{error.get('code')}: {error.get('message')}"
        elif isinstance(data, dict) and "message" in data:
            text = str(data["message"])
        else:
            text = response.text[:300]
        return text.replace(self.secret, "[redacted]") if self.secret else text


class Printer:
    def __init__(self, out):
        self.out = out

    def __call__(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)


def _synced(counts: dict, record_type: str) -> int:
    kinds = counts.get(record_type) or {}
    return sum(int(kinds.get(kind) or 0) for kind in SYNCED_KINDS)


def _pick_existing_school(sis) -> tuple[str, str]:
    """A sandbox school the app 'already has', named as people name it (without "School"),
    so that step 3 has something to suggest. Returns (SIS name, app name)."""
    schools = [o for o in sis.state()["data"]["orgs"] if o.get("type") == "school" and o.get("status") == "active"]
    sis_name = sorted(schools, key=lambda o: o["sourcedId"])[0]["name"]
    app_name = sis_name.removesuffix(" School").strip() or sis_name
    return sis_name, app_name


def _district_name(sis) -> str:
    districts = [o for o in sis.state()["data"]["orgs"] if o.get("type") == "district"]
    return districts[0]["name"] if districts else "Demo District"


def walk_through(stack, say: Printer) -> dict:
    """The four setup steps and one full sync; what the summary needs."""
    sis = stack.sis
    config = sis.config
    api = Api(stack.api_url, secret=config.client_secret)

    # Step 1 (support): the district, and a school the app has from before any SIS.
    step = "1/4 provision the district (platform admin)"
    api.token = stack.token("platform_admin", sub="demo-support")
    district = api.call(step, "POST", "/districts", {"name": _district_name(sis), "timezone": TIMEZONE}, expect=(201,))
    district_id = district["districtId"]
    sis_school_name, app_school_name = _pick_existing_school(sis)
    school = api.call(step, "POST", f"/districts/{district_id}/schools", {"name": app_school_name}, expect=(201,))
    say(
        f"[1/4] Support created district {district['name']!r} ({district_id}, {TIMEZONE}) "
        f"and its existing school {app_school_name!r}"
    )

    # Step 2: the district admin connects the SIS; the API tests it live before saving.
    step = "2/4 connect the SIS (PUT sis/connection)"
    api.token = stack.token("district_admin", district_id, sub="demo-district-admin")
    connection = api.call(
        step,
        "PUT",
        f"/districts/{district_id}/sis/connection",
        {
            "hostUrl": stack.sis_host_url,
            "clientId": config.client_id,
            "clientSecret": config.client_secret,
            "authMethod": "auto",
        },
    )
    if connection.get("status") != "connected":
        raise StepFailed(step, f"the connection is {connection.get('status')!r}, not 'connected'")
    say(
        f"[2/4] Connected to the sandbox SIS at {connection['hostUrl']} "
        f"(client {connection['clientId']}, {connection.get('authMethod')})"
    )

    # Step 3: match the SIS's schools to the app's, taking the API's suggestions.
    step = "3/4 match schools (GET sis/schools, PUT school-matches)"
    sis_schools = api.call(step, "GET", f"/districts/{district_id}/sis/schools")["schools"]
    matches = [
        {"sisSourcedId": s["sisSourcedId"], "schoolId": s["suggestedSchoolId"]}
        for s in sis_schools
        if s.get("suggestedSchoolId")
    ]
    api.call(step, "PUT", f"/districts/{district_id}/school-matches", {"matches": matches})
    if not any(m["schoolId"] == school["schoolId"] for m in matches):
        say(f"      note: no suggestion matched {app_school_name!r} to {sis_school_name!r}")
    say(
        f"[3/4] The SIS has {len(sis_schools)} schools; matched {len(matches)} to existing ones "
        f"({app_school_name!r} = {sis_school_name!r}); the others become new schools"
    )

    # Step 4: sync everything, from today in the district's own time zone.
    step = "4/4 configure the sync (GET sync-options, PUT sync-config)"
    options = api.call(step, "GET", f"/districts/{district_id}/sync-options")
    today = datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    sync_config = api.call(
        step,
        "PUT",
        f"/districts/{district_id}/sync-config",
        {"schools": None, "grades": None, "subjects": None, "startDate": today, "enabled": True},
    )
    say(
        f"[4/4] Sync configured: all of {len(options.get('schools') or [])} schools, "
        f"{len(options.get('grades') or [])} grades, {len(options.get('subjects') or [])} subjects; "
        f"nightly from {today}, next at {sync_config.get('nextSyncAt')}"
    )

    # One full sync now, through the queue and the worker, as deployed.
    step = "run a full sync (POST syncs, GET syncs/{runId})"
    started = time.monotonic()
    run_id = api.call(step, "POST", f"/districts/{district_id}/syncs", {"mode": "full"}, expect=(202,))["runId"]
    say(f"      Full sync {run_id} queued; waiting for the sync worker...")
    timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    last_status, last_said = None, 0.0
    while True:
        run = api.call(step, "GET", f"/districts/{district_id}/syncs/{run_id}")
        now = time.monotonic()
        # Say so when the status changes, and every 10 s so a long sync is visibly alive.
        if run["status"] not in TERMINAL and (run["status"] != last_status or now - last_said >= 10):
            say(f"      ... {run['status']} ({now - started:.0f} s)")
            last_said = now
        last_status = run["status"]
        if run["status"] in TERMINAL:
            break
        if time.monotonic() - started > timeout:
            raise StepFailed(step, f"the run was still {run['status']} after {timeout:.0f} s ({TIMEOUT_ENV})")
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    if run["status"] != "succeeded":
        errors = "; ".join(
            f"{e.get('type')} {e.get('sisSourcedId') or ''} {e.get('code')}: {e.get('message')}"
            for e in (run.get("errors") or [])[:3]
        )
        raise StepFailed(step, f"the run ended {run['status']}{': ' + errors if errors else ''}")

    # What the app's front ends now read.
    step = "read the synced rosters (GET schools, users)"
    app_schools = api.call(step, "GET", f"/districts/{district_id}/schools")["schools"]
    teachers = api.call(step, "GET", f"/districts/{district_id}/users?role=teacher&limit=1")["users"]
    return {
        "district_id": district_id,
        "run": run,
        "elapsed": elapsed,
        "app_schools": len(app_schools),
        "sample_teacher": teachers[0] if teachers else None,
    }


def print_summary(say: Printer, result: dict, total_s: float) -> None:
    run = result["run"]
    counts = run.get("counts") or {}
    say()
    say(f"Full sync {run['status']} in {result['elapsed']:.1f} s (demo total {total_s:.1f} s). Synced:")
    for record_type in RECORD_TYPES:
        kinds = counts.get(record_type) or {}
        detail = ", ".join(f"{kinds.get(k, 0)} {k}" for k in ("created", "updated", "unchanged"))
        say(f"  {record_type:<12}{_synced(counts, record_type):>7}   ({detail})")
    teacher = result["sample_teacher"]
    if teacher:
        say(
            f"  The app now lists {result['app_schools']} schools; e.g. teacher "
            f"{teacher.get('givenName')} {teacher.get('familyName')} <{teacher.get('email')}>"
        )
    district_id = result["district_id"]
    say()
    say("Where to look next (the demo's stack is gone when it exits; `make local` starts one that stays):")
    say("  make local                  API http://127.0.0.1:3000, sandbox SIS :8900, embedded AWS :5000")
    say("  TOKEN=$(.venv/bin/rostersync local token --role platform_admin)")
    say('  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\')
    say('       -d \'{"name": "My District", "timezone": "America/Chicago"}\' http://127.0.0.1:3000/districts')
    say("  TOKEN=$(.venv/bin/rostersync local token --role district_admin --district <districtId>)")
    say('  curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:3000/districts/<districtId>/users?role=teacher"')
    say("  curl -s http://127.0.0.1:3000/openapi.json   every route and shape")
    say("  README.md                   architecture, local use, deploying with sam, the tests")
    say(f"  (this run: district {district_id})")


def run_demo(out=None) -> int:
    # The functions log to stdout, as Lambda wants; here stdout is the demo's story. Their
    # logs go to stderr, warnings only, and Powertools' metric lines are switched off.
    out = out or sys.stdout
    sys.stdout = sys.stderr
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    import logging

    from rostersync_tools.local.up import configure_logging

    configure_logging(logging.WARNING)
    say = Printer(out)

    begun = time.monotonic()
    say("Roster Sync demo: the product on this machine against the bundled sandbox SIS.")
    from rostersync_tools.local.stack import LocalStack
    from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS

    with tempfile.TemporaryDirectory(prefix="rostersync-demo-") as state_dir:
        stack = LocalStack(
            api_port=0,
            aws_port=0,
            sis=SandboxSIS(SandboxConfig()),
            sis_port=0,
            state_dir=state_dir,
            write_state_file=False,
        )
        try:
            try:
                stack.start()
            except Exception as error:
                raise StepFailed("start the local stack", f"{type(error).__name__}: {error}") from None
            say(f"Local stack up: API {stack.api_url}, sandbox SIS {stack.sis_url}, embedded AWS {stack.aws_url}")
            result = walk_through(stack, say)
        except StepFailed as failure:
            say()
            say(f"Demo failed at step {failure.step!r}: {failure.message}")
            say("Warnings and errors from the local stack, if any, are on stderr.")
            return 1
        finally:
            stack.stop()
    print_summary(say, result, time.monotonic() - begun)
    return 0
