"""The SIS secret is never shown: not in an API response, a log line (every logger at DEBUG,
botocore included), stdout or stderr (Powertools' JSON lines, metrics' EMF lines), a run's
failure or errors, any stored item or queued message, or an exception's text, under every
failure path we can provoke, against a SIS that repeats the secret back in every way it can
(tests/reliability/echo_sis.py). The secret is a recognisable canary; its URL-encoded and
base64 (HTTP Basic) forms are hunted too.
"""

import base64
import datetime as _dt
import functools
import json
import logging
import os
import time
import traceback
from urllib.parse import quote

import pytest

from rostersync.sync.engine import Outcome, SyncInterrupted, SyncRequest, run_sync
from tests.fixtures.districts import connect_district
from tests.fixtures.stack import api
from tests.reliability import figures
from tests.reliability.echo_sis import EchoSIS

# A start date the API accepts: after today, within the 2 years it allows.
SOON = (_dt.date.today() + _dt.timedelta(days=300)).isoformat()

CANARY = "CANARY-7f3e-Roster-s3cr3t-41d9"
CLIENT_ID = "echo-client"
FAILING_MODES = (
    "token_echo",
    "data_500_echo",
    "data_401_echo",
    "data_200_error_echo",
    "html_echo",
    "invalid_json_echo",
    "redirect_secret_path",
    "token_redirect_secret",
    "header_echo",
)


def forbidden_forms() -> list[str]:
    return [
        CANARY,
        quote(CANARY, safe=""),
        base64.b64encode(f"{CLIENT_ID}:{CANARY}".encode()).decode(),
        base64.b64encode(CANARY.encode()).decode(),
        CANARY.lower(),
        json.dumps(CANARY)[1:-1],
    ]


def assert_clean(where: str, text) -> None:
    text = text if isinstance(text, str) else json.dumps(text, default=str)
    figures.add("secret_checks")
    for form in forbidden_forms():
        assert form not in text, f"the SIS secret ({form[:6]}...) appears in {where}"


_STANDARD = set(vars(logging.LogRecord("n", 0, "p", 0, "m", (), None)))


class Everything(logging.Handler):
    """Every record of every logger: the formatted line, its traceback, and its extra fields."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record):
        try:
            line = self.format(record)
        except Exception as error:
            line = f"unformattable record {record.msg!r} {error!r}"
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        self.lines.append(line + " " + repr(extras))


@pytest.fixture
def all_logs():
    """Every logger at DEBUG into one handler (restored afterwards)."""
    handler = Everything()
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        if lg is logging.getLogger() or not lg.propagate:
            lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, level in saved:
            lg.setLevel(level)
            lg.removeHandler(handler)


@pytest.fixture
def echo_sis():
    sis = EchoSIS(CANARY, CLIENT_ID).start()
    yield sis
    sis.stop()


def assert_exception_clean(error: BaseException, where: str) -> None:
    text = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    cause = error
    while cause is not None:
        text += repr(cause) + str(getattr(cause, "endpoint", ""))
        cause = cause.__cause__ or cause.__context__
    assert_clean(where, text)


def dump_store(aws) -> str:
    """Every item of every table and every queued message (the dead-letter queue included)."""
    dynamodb, sqs, out = aws.client("dynamodb"), aws.client("sqs"), []
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            out.append(json.dumps(page["Items"], default=str))
    for url in sqs.list_queues().get("QueueUrls", []):
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        out.append(json.dumps(messages))
    return "\n".join(out)


# Syncs through the worker retry a failing message (and its requests) several times: `make test`
# runs them for a few modes (every mode runs at engine level below); the soak for all of them.
WORKER_MODES = ("token_echo", "data_500_echo", "redirect_secret_path", "header_echo")


@pytest.mark.parametrize(
    "sync_modes",
    [
        pytest.param(WORKER_MODES, id="some-modes"),
        pytest.param(FAILING_MODES, id="all-modes", marks=pytest.mark.soak),
    ],
)
def test_the_secret_never_shows_through_the_api_the_worker_the_logs_or_the_store(
    local_stack, echo_sis, all_logs, capfd, monkeypatch, sync_modes
):
    from rostersync.oneroster import client as oneroster_client
    from rostersync.oneroster.retries import RetryPolicy

    monkeypatch.setattr(oneroster_client, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0.01))
    monkeypatch.setenv("ROSTERSYNC_LOCAL_RETRY_DELAY_S", "0")
    platform = api(local_stack, local_stack.token("platform_admin"))
    status, created = platform.post("/districts", json={"name": "Echo USD", "timezone": "America/Chicago"})
    assert status == 201
    district = created["districtId"]
    admin = api(local_stack, local_stack.token("district_admin", district))
    answers = []

    def connect(auth_method: str):
        reply = admin.put(
            f"/districts/{district}/sis/connection",
            json={
                "hostUrl": echo_sis.host_url,
                "clientId": CLIENT_ID,
                "clientSecret": CANARY,
                "authMethod": auth_method,
            },
        )
        answers.append(reply)
        return reply

    # Setup step 2 against every failure mode, both auth methods: refused, never echoed.
    for mode in FAILING_MODES:
        echo_sis.mode = mode
        for auth_method in ("oauth2", "auto"):
            status, body = connect(auth_method)
            if status == 200:  # auto falls back to OAuth 1 where only the token endpoint misbehaves
                assert auth_method == "auto" and mode.startswith("token") and body["authMethod"] == "oauth1"
                continue
            assert status == 422, (mode, body)
            assert body["error"]["code"] in ("invalid_credentials", "unreachable_host", "not_oneroster"), body
            assert body["error"]["message"]
    echo_sis.mode = "ok"
    assert connect("oauth2")[0] == 200
    answers.append(admin.get(f"/districts/{district}/sis/connection"))
    assert (
        admin.put(
            f"/districts/{district}/sync-config",
            json={"schools": None, "grades": None, "subjects": None, "startDate": SOON, "enabled": True},
        )[0]
        == 200
    )

    # Steps 3-4 (read live) and syncs (run by the worker) against the failure modes.
    for mode in sync_modes:
        echo_sis.mode = mode
        answers.append(admin.get(f"/districts/{district}/sis/schools"))
        answers.append(admin.get(f"/districts/{district}/sync-options", params={"refresh": "true"}))
        status, started = admin.post(f"/districts/{district}/syncs", json={"mode": "full"})
        assert status == 202, started
        run = wait_for_run(local_stack, admin, district, started["runId"])
        answers.append((200, run))
        assert run["status"] == "failed", (mode, run)
        assert run["failure"], run
    echo_sis.mode = "ok"
    status, started = admin.post(f"/districts/{district}/syncs", json={})
    assert wait_for_run(local_stack, admin, district, started["runId"])["status"] == "succeeded"
    answers.append(admin.get(f"/districts/{district}/syncs"))
    figures.add("fault_scenarios", len(FAILING_MODES) + len(sync_modes))

    for n, answer in enumerate(answers):
        assert_clean(f"API answer {n}", answer)
    assert_clean("the stored items and queued messages", dump_store(local_stack.aws))
    for line in all_logs.lines:
        assert_clean("a log line", line)
    captured = capfd.readouterr()
    assert_clean("stdout (log lines and metrics)", captured.out)
    assert_clean("stderr", captured.err)
    assert '"_aws"' in captured.out  # the metrics' EMF lines were there to be searched
    assert len(all_logs.lines) > 100
    assert any("[redacted]" in line for line in all_logs.lines)  # the echoes were there, redacted


def wait_for_run(stack, admin, district: str, run_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, run = admin.get(f"/districts/{district}/syncs/{run_id}")
        assert status == 200, run
        if run["status"] not in ("queued", "running"):
            stack.wait_until_idle(timeout)
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.1)


@pytest.mark.parametrize("mode", FAILING_MODES)
def test_the_engines_failures_and_exceptions_never_carry_the_secret(aws, echo_sis, all_logs, capfd, mode, monkeypatch):
    from rostersync.oneroster import client as oneroster_client
    from rostersync.oneroster.retries import RetryPolicy

    monkeypatch.setattr(oneroster_client, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0.01))
    district = connect_district(echo_sis, auth_method="oauth2")
    echo_sis.mode = mode
    try:
        result = run_sync(SyncRequest(district, f"run_leak_{mode}"), lambda: 1e9)
    except SyncInterrupted as interrupted:
        assert_exception_clean(interrupted, f"the SyncInterrupted of {mode}")
        assert str(interrupted).startswith("The SIS could not be read completely")
    else:
        assert result.outcome == Outcome.FAILED, (mode, result)
        assert_clean(f"the failure of {mode}", result.failure)
        assert_clean(f"the errors of {mode}", result.errors)
    for line in all_logs.lines:
        assert_clean(f"a log line of {mode}", line)
    captured = capfd.readouterr()
    assert_clean("stdout", captured.out)
    assert_clean("stderr", captured.err)
    assert os.environ.get("ROSTERSYNC_ALLOW_PRIVATE_SIS_HOSTS") == "1"


def test_a_client_secret_too_short_to_redact_is_refused_and_wrecks_no_log_line(aws, all_logs):
    """A clientSecret of "0" was registered for redaction: every log line lost its zeros."""
    from types import SimpleNamespace

    from rostersync.api.app import handle
    from rostersync.observability import redact
    from tests.unit.api.handler_client import claims, make_event

    sis = SimpleNamespace(host_url="http://127.0.0.1:9", config=SimpleNamespace(client_id="c", client_secret=CANARY))
    district = connect_district(sis)
    for short in ("0", "e", "2026", "seven77"):
        event = make_event(
            "PUT",
            f"/districts/{district}/sis/connection",
            claims=claims("district_admin", district),
            body={"hostUrl": "http://127.0.0.1:9", "clientId": "c", "clientSecret": short},
        )
        response = handle(event, None)
        assert response["statusCode"] == 422 and "clientSecret" in json.loads(response["body"])["error"]["message"]
        figures.add("secret_checks")
    assert redact("2026-11-29 10:00:00 e") == "2026-11-29 10:00:00 e"
