"""The secret redaction guard (rostersync.observability): every log record of the process."""

import io
import json
import logging

from rostersync.observability import REDACTED, RedactingFormatter, redact, register_secret


def test_a_registered_secret_is_redacted_from_messages_args_and_tracebacks(caplog):
    register_secret("obs-secret-1a2b")
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("some.library.deep")
    log.debug("sending %s", {"SecretString": "obs-secret-1a2b"})
    log.info("plain obs-secret-1a2b text")
    try:
        raise ValueError("server echoed obs-secret-1a2b")
    except ValueError:
        log.exception("failed")
    assert "obs-secret-1a2b" not in caplog.text
    assert caplog.text.count(REDACTED) == 4  # the args, the text, and the traceback's source line and message
    assert all("obs-secret-1a2b" not in r.getMessage() for r in caplog.records)


def test_the_powertools_lines_are_redacted_in_extra_fields_and_json_escapes():
    secret = 'obs"quoted\\secret-3c4d'
    register_secret(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter())
    log = logging.getLogger("obs.powertools.test")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("connection", extra={"body": {"clientSecret": secret}})
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    assert json.dumps(secret)[1:-1] not in line and secret not in line
    assert REDACTED in json.loads(line)["body"]["clientSecret"]


def test_unregistered_text_and_empty_values_are_left_alone():
    register_secret("")
    register_secret(None)
    assert redact("nothing to hide here") == "nothing to hide here"


def test_the_longest_secret_is_replaced_whole():
    register_secret("obs-abcd")
    register_secret("obs-abcd-efgh-longer")
    assert redact("x obs-abcd-efgh-longer y") == f"x {REDACTED} y"
