"""audit.record for the caller of an API request: the principal its event carries."""

from rostersync import audit
from rostersync.api.access import principal_from_event


def record_event(event: dict, district_id: str, action: str, **kwargs) -> str | None:
    """Record one change made by the request's caller (rostersync.audit.record)."""
    return audit.record(district_id, principal_from_event(event), action, **kwargs)
