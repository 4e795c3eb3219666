"""The one place a district's SIS client secret is written, read and deleted.

The secret lives in Secrets Manager only, under `{settings.secret_prefix}{district_id}` (the
template lets the functions reach nothing else). The district item keeps the name, never
the value. Every value that passes through here is redacted from this process's logs: while
it is being written, and from then on once the write succeeded (or when it is read). Callers get it as an opaque
`str` to hand to the OneRoster client; never format it into text.

The boto3 client is created on first use (not at import) and honours AWS_ENDPOINT_URL,
which is how the local stack and the tests point it at the embedded AWS.
"""

from __future__ import annotations

from typing import NamedTuple

from botocore.exceptions import ClientError

from rostersync import aws_clients
from rostersync.observability import redacted_while, register_secret
from rostersync.settings import get_settings


class SecretNotFound(LookupError):
    """The district has no stored SIS secret (never connected, or disconnected)."""

    def __init__(self, district_id: str):
        super().__init__(f"No SIS client secret is stored for district {district_id}.")
        self.district_id = district_id


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def secret_name(district_id: str) -> str:
    return get_settings().secret_prefix + district_id


class StoredSecret(NamedTuple):
    name: str
    version_id: str | None  # Secrets Manager's id of the version written: what the audit shows, never the value


def put_client_secret(district_id: str, secret: str) -> str:
    """Store (create or replace) the district's SIS client secret; returns the secret's name."""
    return store_client_secret(district_id, secret).name


def store_client_secret(district_id: str, secret: str) -> StoredSecret:
    """Store (create or replace) the district's SIS client secret: its name and the new version's id."""
    if not isinstance(secret, str) or not secret:
        raise ValueError("an SIS client secret must be a non-empty string")
    with redacted_while(secret):
        stored = _store(district_id, secret)
    register_secret(secret)  # stored: the workers will read it; this container may log near it again
    return stored


def _store(district_id: str, secret: str) -> StoredSecret:
    name = secret_name(district_id)
    client = aws_clients.secretsmanager()
    try:
        response = client.put_secret_value(SecretId=name, SecretString=secret)
        return StoredSecret(name, response.get("VersionId"))
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
    try:
        response = client.create_secret(
            Name=name,
            SecretString=secret,
            Description=f"OneRoster client secret of Roster Sync district {district_id}",
            Tags=[{"Key": "rostersync:district", "Value": district_id}],
        )
    except ClientError as error:
        if _error_code(error) != "ResourceExistsException":
            raise
        # Another request created it between our two calls: replace its value.
        response = client.put_secret_value(SecretId=name, SecretString=secret)
    return StoredSecret(name, response.get("VersionId"))


def get_client_secret(district_id: str, version_id: str | None = None) -> str:
    """The district's SIS client secret (the given version of it, when a run fixed one at its
    start); SecretNotFound when there is none."""
    return _read_secret(district_id, version_id)[0]


def current_secret_version(district_id: str) -> str | None:
    """The version id of the district's current secret: a run records it at its start and
    reads that version to its end, whatever the admin saves meanwhile."""
    return _read_secret(district_id, None)[1]


def _read_secret(district_id: str, version_id: str | None) -> tuple[str, str | None]:
    request = {"SecretId": secret_name(district_id)}
    if version_id:
        request["VersionId"] = version_id
    try:
        response = aws_clients.secretsmanager().get_secret_value(**request)
    except ClientError as error:
        # InvalidRequestException: deleted outside Roster Sync with a recovery window (ours
        # deletes at once); for the district that is no secret either. A version that is
        # gone: the connection was replaced long ago.
        if _error_code(error) in ("ResourceNotFoundException", "InvalidRequestException"):
            raise SecretNotFound(district_id) from None
        raise
    secret = response.get("SecretString")
    if not secret:
        raise SecretNotFound(district_id)
    register_secret(secret)
    return secret, response.get("VersionId")


def schedule_secret_deletion(district_id: str, recovery_window_days: int) -> None:
    """Schedule the district's secret for deletion after `recovery_window_days` (a purge: the
    secret stays recoverable for that long). A missing or already scheduled secret is not an error."""
    try:
        aws_clients.secretsmanager().delete_secret(
            SecretId=secret_name(district_id), RecoveryWindowInDays=recovery_window_days
        )
    except ClientError as error:
        if _error_code(error) not in ("ResourceNotFoundException", "InvalidRequestException"):  # gone, or scheduled
            raise


def delete_client_secret(district_id: str) -> None:
    """Delete the district's secret at once (no recovery window), so the district can connect
    again straight away under the same name. Deleting a missing secret is not an error."""
    try:
        aws_clients.secretsmanager().delete_secret(SecretId=secret_name(district_id), ForceDeleteWithoutRecovery=True)
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
