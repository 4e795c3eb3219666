"""No error, repr, argument or log line ever carries the client secret or a token, even
when a server echoes them back."""

import base64
import logging
import pickle
import re
import traceback

import pytest

from rostersync.oneroster import ConnectionSettings, OneRosterClient, check_connection
from rostersync.oneroster.errors import ERROR_TYPES, OneRosterError

from .fake_sis import BASE, Reply, make_users

SECRET = "S3cr3t-Recognisable-Value-9f2c"
BASIC = base64.b64encode(f"fake-client:{SECRET}".encode()).decode()


def echo(status, template="{secret}"):
    """A server that puts what it received (secret, header) into its error text."""

    def reply(seen):
        said = template.format(secret=SECRET, header=seen.headers.get("authorization", ""))
        return Reply(
            status, {"imsx_codeMajor": "failure", "imsx_CodeMinor": "x", "imsx_description": said, "error": said}
        )

    return reply


def scenarios(make_fake):
    """(name, callable raising a OneRosterError) for every error type."""

    def stream(fake, method="oauth1", secret=SECRET, **options):
        settings = ConnectionSettings(host_url=fake.host_url, client_id=fake.client_id, auth_method=method)
        client = OneRosterClient(settings, secret, allow_private=True, read_timeout=0.3, **options)
        return lambda: list(client.stream("users"))

    from rostersync.oneroster import RetryPolicy

    fast = RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.001, sleep=lambda s: None)

    cases = []
    cases.append(
        (
            "invalid_host_url",
            lambda: OneRosterClient(
                ConnectionSettings(host_url=f"https://fake-client:{SECRET}@sis.example.org", client_id="x"), SECRET
            ),
        )
    )
    cases.append(
        (
            "invalid_host_url",
            lambda: OneRosterClient(
                ConnectionSettings(host_url=f"http://sis.example.org/{SECRET}", client_id="x"), SECRET
            ),
        )
    )
    cases.append(
        (
            "unreachable_host",
            stream(type("Closed", (), {"host_url": "http://127.0.0.1:9", "client_id": "x"}), retry_policy=fast),
        )
    )
    wrong = make_fake(client_secret="other", data={"users": []})
    wrong.routes[BASE + "/users"] = echo(401, "bad signature for {header} with secret {secret}")
    cases.append(("invalid_credentials", stream(wrong, retry_policy=fast)))
    oauth2 = make_fake(auth="oauth2", client_secret=SECRET, data={"users": []})
    oauth2.routes[BASE + "/users"] = echo(401, "token {header} refused")
    cases.append(("invalid_credentials", stream(oauth2, method="oauth2", retry_policy=fast)))
    token_refused = make_fake(auth="oauth2", client_secret="other", data={"users": []})
    token_refused.routes["/token"] = echo(401, "client {header} / {secret} unknown")
    cases.append(("invalid_credentials", stream(token_refused, method="auto", retry_policy=fast)))
    for status, code in (
        (403, "insufficient_scope"),
        (404, "not_oneroster"),
        (500, "server_error"),
        (400, "request_rejected"),
    ):
        server = make_fake(client_secret=SECRET, data={"users": []})
        server.routes[BASE + "/users"] = echo(status, "echo {header} {secret}")
        cases.append((code, stream(server, retry_policy=fast)))
    html = make_fake(client_secret=SECRET, data={"users": []})
    html.routes[BASE + "/users"] = lambda s: Reply(200, f"<html>{SECRET} {s.headers['authorization']}</html>")
    cases.append(("not_oneroster", stream(html, retry_policy=fast)))
    truncated = make_fake(client_secret=SECRET, data={"users": []})
    truncated.routes[BASE + "/users"] = lambda s: Reply(200, {"users": [{"sourcedId": SECRET}] * 40}, action="truncate")
    cases.append(("bad_response", stream(truncated, retry_policy=fast)))
    wrong_key = make_fake(client_secret=SECRET, data={"users": []})
    wrong_key.routes[BASE + "/users"] = lambda s: Reply(200, {SECRET: [], "error": f"bad {SECRET}"})
    cases.append(("server_error", stream(wrong_key, retry_policy=fast)))
    timeout = make_fake(client_secret=SECRET, data={"users": []})
    timeout.routes[BASE + "/users"] = lambda s: Reply(200, {"users": []}, delay=0.6)
    cases.append(("unreachable_host", stream(timeout, retry_policy=fast)))
    import time

    slow = make_fake(client_secret=SECRET, data={"users": []})
    slow.routes[BASE + "/users"] = lambda s: Reply(200, {"users": []}, delay=0.6)
    cases.append(("out_of_time", stream(slow, retry_policy=fast, deadline=time.monotonic() + 0.4)))
    cases.append(
        (
            "invalid_credentials",
            lambda: check_connection(
                ConnectionSettings(host_url=wrong.host_url, client_id="fake-client"), SECRET, allow_private=True
            ),
        )
    )
    return cases


def test_no_error_or_log_line_carries_the_secret(make_fake, caplog):
    caplog.set_level(logging.DEBUG)
    seen_codes = set()
    for expected, action in scenarios(make_fake):
        with pytest.raises(OneRosterError) as failed:
            action()
        error = failed.value
        assert error.code == expected, (expected, error)
        seen_codes.add(error.code)
        texts = [
            str(error),
            repr(error),
            *map(str, error.args),
            error.message,
            str(error.endpoint),
            "".join(traceback.format_exception(error)),
            repr(pickle.loads(pickle.dumps(error))),  # noqa: S301  (our own bytes: does a copy keep the secret?)
        ]
        for text in texts:
            assert SECRET not in text, (expected, text)
            assert BASIC not in text
            assert "token-" not in text  # bearer tokens the fake issued
            assert not re.search(r'oauth_signature="?(?!\[redacted\])', text), text
    assert seen_codes == set(ERROR_TYPES)  # every error type was forced
    assert caplog.records, "the retries should have logged"
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.exc_text or "")
        assert SECRET not in text and BASIC not in text and "token-" not in text


def test_reprs_never_show_the_secret(make_fake):
    fake = make_fake(auth="oauth2", client_secret=SECRET, data={"users": make_users(1)})
    for method in ("auto", "oauth1", "oauth2"):
        settings = ConnectionSettings(host_url=fake.host_url, client_id=fake.client_id, auth_method=method)
        client = OneRosterClient(settings, SECRET, allow_private=True)
        if method != "oauth1":
            list(client.stream("users"))
        for text in (
            repr(client),
            repr(client._auth),
            repr(client._requester.secrets),
            repr(settings),
            repr(client.__dict__),
        ):
            assert SECRET not in text and BASIC not in text
        client.close()
