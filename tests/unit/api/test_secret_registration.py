"""Which secrets the log redaction guard holds: a request's secret only while the request is
handled, a stored secret once it is stored, and never an unbounded list."""

import logging
import uuid

import pytest

from rostersync import observability
from rostersync.observability import REDACTED, redact, register_secret
from rostersync.oneroster import InvalidCredentials


def _fresh_secret() -> str:
    return f"req-secret-{uuid.uuid4().hex}"


def _is_redacted(secret: str) -> bool:
    return redact(f"x {secret} y") != f"x {secret} y"


@pytest.mark.parametrize("change", [{"hostUrl": None}, {"authMethod": "kerberos"}, {"clientId": ""}, {"extra": 1}])
def test_a_secret_in_a_request_that_fails_validation_is_not_kept(api, fake_sis, change):
    district_id = api.new_district()
    secret = _fresh_secret()
    body = {"hostUrl": "https://sis.example.org", "clientId": "client-1", "clientSecret": secret, **change}
    answer = api.call(
        "PUT",
        f"/districts/{district_id}/sis/connection",
        role="district_admin",
        district=district_id,
        body={k: v for k, v in body.items() if v is not None},
    )
    assert answer.status == 422
    assert not _is_redacted(secret)


def test_a_secret_whose_connection_test_fails_is_redacted_during_the_request_only(api, fake_sis, caplog, monkeypatch):
    from rostersync.api import sis_connection

    district_id = api.new_district()
    secret = _fresh_secret()
    seen_during = []

    def check_connection(settings, client_secret, **options):
        logging.getLogger("oauth.library").warning("signing with %s", client_secret)
        seen_during.append(_is_redacted(client_secret))
        raise InvalidCredentials("refused", status=401)

    monkeypatch.setattr(sis_connection, "check_connection", check_connection)
    caplog.set_level(logging.WARNING)
    assert api.connect(district_id, clientSecret=secret).code == "invalid_credentials"
    assert seen_during == [True]
    assert secret not in caplog.text and f"signing with {REDACTED}" in caplog.text
    assert not _is_redacted(secret)


def test_a_secret_that_was_tested_and_stored_is_kept(api, fake_sis):
    district_id = api.new_district()
    secret = _fresh_secret()
    assert api.connect(district_id, clientSecret=secret).status == 200
    assert _is_redacted(secret)


def test_the_process_wide_list_is_bounded():
    for _ in range(observability.MAX_REMEMBERED_SECRETS * 5):
        register_secret(_fresh_secret())
    assert observability.registered_count() <= 2 * observability.MAX_REMEMBERED_SECRETS
    newest = _fresh_secret()
    register_secret(newest)
    assert _is_redacted(newest)


def test_a_secret_read_again_stays_among_the_remembered():
    kept = _fresh_secret()
    register_secret(kept)
    for _ in range(observability.MAX_REMEMBERED_SECRETS - 1):
        register_secret(_fresh_secret())
    register_secret(kept)  # read again (each sync reads its district's secret)
    for _ in range(observability.MAX_REMEMBERED_SECRETS - 1):
        register_secret(_fresh_secret())
    assert _is_redacted(kept)
