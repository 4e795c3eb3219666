"""Who changed what in a district: one call records it.

    from rostersync import audit
    audit.record(district_id, principal, "contacts.update", before=old, after=new)

(PATCH /districts/{id} records `district.update` with the name, time zone and contacts.)

`principal` is the caller (api.access.Principal, or anything with `sub` and `role`), or a
string for the system itself (api/audit_trail.py records for the caller of an API request).
Before and after are plain JSON values describing the change; never pass a secret: keys that
name one are dropped, and registered secrets are redacted from the text as a second guard.
GET /districts/{districtId}/audit lists the entries newest first. Recording never fails the
change it describes: a failure is logged and counted.
"""

import json

from rostersync import aws_clients
from rostersync.ids import new_id
from rostersync.observability import logger, redact
from rostersync.store import audit as store
from rostersync.times import now_iso_z

SECRET_KEYS = frozenset({"clientsecret", "client_secret", "secret", "password", "token", "accesstoken"})


def record(
    district_id: str, actor, action: str, *, before=None, after=None, target: str | None = None, client=None
) -> str | None:
    """Record one change; returns the entry id (None when it could not be stored)."""
    entry = {
        "districtId": district_id,
        "entryId": new_id("aud"),
        "at": now_iso_z(),
        "action": action,
        "bySub": getattr(actor, "sub", None) or (actor if isinstance(actor, str) else "system"),
        "byRole": getattr(actor, "role", None) or "system",
        "target": target,
        "before": _json(before),
        "after": _json(after),
    }
    try:
        store.put_entry(client or aws_clients.dynamodb(), entry)
        return entry["entryId"]
    except Exception:
        logger.exception("could not record an audit entry", extra={"districtId": district_id, "action": action})
        return None


def connection_view(connection) -> dict | None:
    """A saved SIS connection as the audit shows it: where and how, and which version of the
    secret (Secrets Manager's version id, so a replaced secret shows as a change), never the secret."""
    if connection is None:
        return None
    if getattr(connection, "kind", None) == "oneroster_csv":
        return {
            "kind": "oneroster_csv",
            "csvSchedule": connection.csv_schedule,
            "retentionDays": connection.retention_days,
        }
    return {
        "hostUrl": connection.host_url,
        "clientId": connection.client_id,
        "authMethod": connection.auth_method,
        "tokenUrl": connection.token_url,
        "scope": connection.scope,
        "secretVersion": connection.secret_version,
        "version": getattr(connection, "version", None) or "1.1",
    }


def sync_config_view(config) -> dict | None:
    if config is None:
        return None
    lists = {
        name: None if getattr(config, name) is None else list(getattr(config, name))
        for name in ("schools", "grades", "subjects")
    }
    return {
        **lists,
        "startDate": config.start_date,
        "enabled": config.enabled,
        "fullSyncEveryDays": int(config.full_sync_every_days),
        "deactivationGuard": {"maxShare": float(config.guard_max_share), "minRecords": int(config.guard_min_records)},
    }


def scrub(value):
    """`value` without any key that names a secret."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if str(k).replace("-", "_").lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def _json(value) -> str | None:
    if value is None:
        return None
    text = redact(json.dumps(scrub(value), default=str, sort_keys=True))
    if len(text) > store.MAX_JSON_CHARS:
        text = json.dumps({"truncated": True, "chars": len(text)})
    return text


def entry_out(item: dict) -> dict:
    """An entry as GET audit shows it."""
    return {
        "entryId": item["entryId"],
        "at": item["at"],
        "action": item["action"],
        "by": {"sub": item.get("bySub"), "role": item.get("byRole")},
        "target": item.get("target"),
        "before": None if item.get("before") is None else json.loads(item["before"]),
        "after": None if item.get("after") is None else json.loads(item["after"]),
    }
