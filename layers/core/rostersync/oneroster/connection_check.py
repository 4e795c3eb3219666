"""check_connection: prove that the credentials reach the roster, and say what was found.

Used by the setup API's PUT sis/connection before a connection is saved: it must answer
within API Gateway's 29 s, so retries and timeouts are shorter than a sync's. It reads
the orgs (or /schools where /orgs is missing) and one small page of users and classes;
any failure is the client's typed error (invalid_host_url, unreachable_host,
invalid_credentials, insufficient_scope, not_oneroster, server_error, bad_response).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .client import REQUEST_TIME_OPTIONS, ConnectionSettings, OneRosterClient
from .errors import NotOneRoster, RequestRejected
from .records import BadRecord, Org

MAX_ORG_PAGES = 5  # a district has tens of schools; a state-wide server can have thousands


@dataclass(frozen=True)
class ConnectionReport:
    auth_method: str
    host_url: str
    warnings: list[str]
    schools: list[Org]
    users_seen: int
    classes_seen: int
    users_total: int | None = None  # X-Total-Count, when the server sends it
    classes_total: int | None = None
    token_url: str | None = None
    signature_method: str | None = None
    orgs_seen: int = 0
    bad_records: int = 0


def check_connection(
    settings: ConnectionSettings, client_secret: str, allow_private: bool = False, **client_options
) -> ConnectionReport:
    options: dict[str, Any] = {**REQUEST_TIME_OPTIONS, "page_limit": 100, "max_in_flight": 1}
    options.update(client_options)
    with OneRosterClient(settings, client_secret, allow_private=allow_private, **options) as client:
        try:
            orgs, bad = _read_orgs(client)
            users = client.first_page("users", limit=5)
            classes = client.first_page("classes", limit=5)
        except RequestRejected as rejected:
            # A 400/405 on a plain collection GET: whatever answers is not a OneRoster server.
            raise NotOneRoster(rejected.message, endpoint=rejected.endpoint, status=rejected.status) from None
        schools = [org for org in orgs if org.type == "school"] or [org for org in orgs if org.type is None]
        bad += sum(1 for r in users.records + classes.records if _is_bad(r))
        return ConnectionReport(
            auth_method=client.auth_method,
            host_url=client.host_url,
            warnings=client.warnings,
            schools=schools,
            users_seen=sum(1 for r in users.records if not _is_bad(r)),
            classes_seen=sum(1 for r in classes.records if not _is_bad(r)),
            users_total=users.total,
            classes_total=classes.total,
            token_url=client.token_url,
            signature_method=client.signature_method,
            orgs_seen=len(orgs),
            bad_records=bad,
        )


check_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name


def _is_bad(record) -> bool:
    return isinstance(record, BadRecord)


def _read_orgs(client: OneRosterClient) -> tuple[list[Org], int]:
    try:
        return _read_pages(client, "orgs")
    except NotOneRoster as missing:
        if missing.status != 404:
            raise
        return _read_pages(client, "schools")


def _read_pages(client: OneRosterClient, collection: str) -> tuple[list[Org], int]:
    orgs: list[Org] = []
    bad = 0
    for number, page in enumerate(client.stream(collection, max_in_flight=1).pages()):
        for record in page.records:
            if isinstance(record, Org):
                orgs.append(record)
            else:
                bad += 1
        if number + 1 >= MAX_ORG_PAGES:
            break
    return orgs, bad
