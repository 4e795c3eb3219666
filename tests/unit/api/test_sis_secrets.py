"""Secrets Manager storage of a district's SIS client secret (rostersync.sis_secrets)."""

import logging

import pytest


@pytest.fixture
def sis_secrets(aws):
    # Imported after `aws` so settings (secret prefix, region) come from the embedded AWS.
    from rostersync import sis_secrets

    return sis_secrets


def test_put_creates_then_replaces_and_get_reads_back(sis_secrets, aws):
    name = sis_secrets.put_client_secret("dst_secrets1", "first-secret-value")
    assert name == "rostersync/local/district/dst_secrets1"
    assert sis_secrets.get_client_secret("dst_secrets1") == "first-secret-value"

    assert sis_secrets.put_client_secret("dst_secrets1", "second-secret-value") == name
    assert sis_secrets.get_client_secret("dst_secrets1") == "second-secret-value"
    stored = aws.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    assert stored == "second-secret-value"


def test_get_of_a_district_without_secret_raises_secret_not_found(sis_secrets):
    with pytest.raises(sis_secrets.SecretNotFound):
        sis_secrets.get_client_secret("dst_never_connected")


def test_delete_removes_at_once_so_the_district_can_connect_again(sis_secrets):
    sis_secrets.put_client_secret("dst_secrets2", "to-be-deleted-1")
    sis_secrets.delete_client_secret("dst_secrets2")
    with pytest.raises(sis_secrets.SecretNotFound):
        sis_secrets.get_client_secret("dst_secrets2")
    sis_secrets.delete_client_secret("dst_secrets2")  # deleting twice is not an error
    sis_secrets.put_client_secret("dst_secrets2", "reconnected-secret")
    assert sis_secrets.get_client_secret("dst_secrets2") == "reconnected-secret"


def test_every_secret_read_or_written_is_redacted_from_logs(sis_secrets, aws, caplog):
    sis_secrets.put_client_secret("dst_secrets3", "written-secret-abc")
    aws.client("secretsmanager").put_secret_value(
        SecretId=sis_secrets.secret_name("dst_secrets3"), SecretString="rotated-outside-xyz"
    )
    sis_secrets.get_client_secret("dst_secrets3")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("some.library").debug("body %s", {"SecretString": "written-secret-abc"})
        logging.getLogger("rostersync").info("read rotated-outside-xyz")
    assert "written-secret-abc" not in caplog.text
    assert "rotated-outside-xyz" not in caplog.text
    assert caplog.text.count("[redacted]") == 2


def test_empty_secret_is_refused(sis_secrets):
    with pytest.raises(ValueError):
        sis_secrets.put_client_secret("dst_secrets4", "")


def test_a_secret_deleted_outside_roster_sync_reads_as_missing(sis_secrets, aws):
    sis_secrets.put_client_secret("dst_secrets5", "soon-deleted-by-hand")
    aws.client("secretsmanager").delete_secret(SecretId=sis_secrets.secret_name("dst_secrets5"), RecoveryWindowInDays=7)
    with pytest.raises(sis_secrets.SecretNotFound):
        sis_secrets.get_client_secret("dst_secrets5")
