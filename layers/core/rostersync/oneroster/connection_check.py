"""check_connection: prove that the credentials reach the roster, and say what was found.

Used by the setup API's PUT sis/connection before a connection is saved: it must answer
within API Gateway's 29 s, so retries and timeouts are shorter than a sync's. It reads
the orgs (or /schools where /orgs is missing) and one small page of users and classes;
any failure is the client's typed error (invalid_host_url, unreachable_host,
invalid_credentials, insufficient_scope, not_oneroster, server_error, bad_response).

Which OneRoster version: asked for "auto", it tries 1.2's rostering path first and uses it when
it answers; where that path is not there (404 from both /orgs and /schools) it checks 1.1. A
version given ("1.1" or "1.2") is checked alone. The report names the version used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    version: str = "1.1"  # the OneRoster version the SIS was read with
    versions_tried: tuple[str, ...] = ()  # in the order asked: ("1.2", "1.1") when 1.2 was not there


VERSION_ORDER = ("1.2", "1.1")  # newest first: where both answer, 1.2 is used


def check_connection(
    settings: ConnectionSettings,
    client_secret: str,
    allow_private: bool = False,
    *,
    version: str | None = None,
    **client_options,
) -> ConnectionReport:
    """`version`: "auto" to detect it, "1.1" or "1.2" to check that one; None: settings.version."""
    if version != "auto":
        chosen = replace(settings, version=version) if version else settings
        return replace(
            _check_one(chosen, client_secret, allow_private, client_options), versions_tried=(chosen.version,)
        )
    tried: list[str] = []
    for candidate in VERSION_ORDER:
        tried.append(candidate)
        try:
            report = _check_one(replace(settings, version=candidate), client_secret, allow_private, client_options)
        except NotOneRoster as missing:
            if missing.status != 404 or candidate == VERSION_ORDER[-1]:
                raise
            continue
        return replace(report, versions_tried=tuple(tried))
    raise AssertionError("unreachable: the last version re-raises")


def _check_one(
    settings: ConnectionSettings, client_secret: str, allow_private: bool, client_options: dict
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
            version=settings.version,
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
