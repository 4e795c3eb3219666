"""The OneRoster 1.1 client: reads a district's SIS for the sync and the setup API.

    from rostersync.oneroster import ConnectionSettings, OneRosterClient, check_connection

One job per module: hosts (which hosts may be called), http (guarded exchanges,
redirects), retries and requester (backoff, auth recovery, typed errors), oauth_client (OAuth
1.0a, OAuth 2, auto), envelopes (where the records are in a body), records (typed
values), filters (grammar, encoding, local re-check), paging (streams), client (the
facade), connection_check (the setup API's live check). The quirks of real servers it copes
with are each a switch of the sandbox SIS (rostersync_tools/sandbox_sis/README.md), where
the tests exercise them.
"""

from .client import COLLECTIONS, ConnectionSettings, OneRosterClient
from .connection_check import ConnectionReport, check_connection
from .errors import (
    BadResponse,
    InsufficientScope,
    InvalidCredentials,
    InvalidHostUrl,
    NotOneRoster,
    OneRosterError,
    OutOfTime,
    RequestRejected,
    ServerError,
    UnreachableHost,
)
from .filters import DateStyle, Filter, changed_since, parse_filter, where
from .hosts import HostUrl, normalise_host_url
from .paging import Page, RecordStream
from .records import AcademicSession, BadRecord, Class, Course, Enrollment, Org, User
from .retries import RetryPolicy

__all__ = [
    "COLLECTIONS",
    "AcademicSession",
    "BadRecord",
    "BadResponse",
    "Class",
    "ConnectionReport",
    "ConnectionSettings",
    "Course",
    "DateStyle",
    "Enrollment",
    "Filter",
    "HostUrl",
    "InsufficientScope",
    "InvalidCredentials",
    "InvalidHostUrl",
    "NotOneRoster",
    "OneRosterClient",
    "OneRosterError",
    "Org",
    "OutOfTime",
    "Page",
    "RecordStream",
    "RequestRejected",
    "RetryPolicy",
    "ServerError",
    "UnreachableHost",
    "User",
    "changed_since",
    "check_connection",
    "normalise_host_url",
    "parse_filter",
    "where",
]
