"""A district's saved SIS connection as a OneRoster client: the one place a saved connection
becomes client settings and a client (its secret read from Secrets Manager, private hosts
allowed only where settings say so), and the one rule for "an active SIS school".

The sync engine, the setup API (api/sis_reads.py) and the benchmark open their clients here;
each passes the timeouts, retries, deadline and concurrency its own job needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeGuard

from rostersync import sis_secrets
from rostersync.oneroster import ConnectionSettings, NotOneRoster, OneRosterClient, Org
from rostersync.settings import get_settings
from rostersync.store.districts import SisConnection


def connection_version(connection: SisConnection) -> str:
    """The OneRoster version a saved connection reads (saved before 1.2 was offered: 1.1)."""
    return connection.version or "1.1"


def client_settings(connection: SisConnection) -> ConnectionSettings:
    """The client settings of a saved connection (the district item's)."""
    return ConnectionSettings(
        host_url=connection.host_url,
        client_id=connection.client_id,
        auth_method=connection.auth_method,
        token_url=connection.token_url,
        scope=connection.scope,
        version=connection_version(connection),
    )


def plan_connection(connection: SisConnection, secret_version: str | None) -> dict:
    """A saved connection as a run's plan keeps it (sync/run_state.py): no secret, the secret's version."""
    return {
        "hostUrl": connection.host_url,
        "clientId": connection.client_id,
        "authMethod": connection.auth_method or "auto",
        "tokenUrl": connection.token_url,
        "scope": connection.scope,
        "version": connection_version(connection),
        "secretVersion": secret_version,
    }


def plan_client_settings(planned: Mapping) -> ConnectionSettings:
    """The client settings of a connection as a run's plan keeps it (plan_connection)."""
    return ConnectionSettings(
        host_url=planned["hostUrl"],
        client_id=planned["clientId"],
        auth_method=planned["authMethod"],
        token_url=planned["tokenUrl"],
        scope=planned["scope"],
        version=planned.get("version") or "1.1",  # plans saved before 1.2: 1.1
    )


def open_client(
    district_id: str, settings: ConnectionSettings, *, secret_version: str | None = None, **options
) -> OneRosterClient:
    """A client on the district's stored secret (SecretNotFound without one). `options` are the
    caller's: timeouts, retry policy, deadline, page limit, requests in flight."""
    secret = sis_secrets.get_client_secret(district_id, version_id=secret_version)
    return OneRosterClient(settings, secret, allow_private=get_settings().allow_private_sis_hosts, **options)


def is_active_school(org: object, *, listed_as_school: bool) -> TypeGuard[Org]:
    """An active SIS school. From /orgs it must say type school; from /schools (every record is
    one) a missing type is a school too."""
    if not isinstance(org, Org) or org.status != "active":
        return False
    return org.type == "school" or (listed_as_school and org.type is None)


def active_sis_schools(client: OneRosterClient) -> Iterator[Org]:
    """The SIS's active schools: orgs of type school (from /schools where /orgs is missing)."""
    try:
        for org in client.stream("orgs"):
            if is_active_school(org, listed_as_school=False):
                yield org
    except NotOneRoster as missing:
        if missing.status != 404:
            raise
        for org in client.stream("schools"):
            if is_active_school(org, listed_as_school=True):
                yield org
