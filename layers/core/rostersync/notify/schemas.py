"""JSON Schemas (draft 2020-12) of each event's detail, by detail type: what consumers may rely
on. docs/events.md describes them; tests validate every event the product puts against them."""

from __future__ import annotations

from rostersync.notify import events
from rostersync.notify.health import HEALTH_VALUES, UNHEALTHY

_TIME = {"type": "string", "format": "date-time", "pattern": r"Z$"}
_ID = {"type": "string", "minLength": 1}
_COUNT_KINDS = ("created", "updated", "unchanged", "deactivated", "skipped")
_RECORD_TYPES = ("schools", "teachers", "students", "classes", "enrollments")
_COUNTS = {
    "type": "object",
    "description": "{type: {created, updated, unchanged, deactivated, skipped, skippedBy}} as GET /syncs/{runId} "
    "shows them",
    "properties": {
        t: {
            "type": "object",
            "properties": {
                **{k: {"type": "integer", "minimum": 0} for k in _COUNT_KINDS},
                # why the skipped were left out: {reason: n} (filter, term_ended, role, ...)
                "skippedBy": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
            },
            "required": list(_COUNT_KINDS),
            "additionalProperties": False,
        }
        for t in _RECORD_TYPES
    },
    "required": list(_RECORD_TYPES),
    "additionalProperties": False,
}
_NOTICES = {
    "type": "array",
    "description": "The run's notices as GET /syncs/{runId} shows them: not errors",
    "items": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "warning"]},
            "message": {"type": "string"},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "type": {"type": ["string", "null"]},
            "sisSourcedId": {"type": ["string", "null"]},
        },
        "required": ["code", "severity", "message", "counts"],
        "additionalProperties": False,
    },
}


def _run(status: str, extra: dict | None = None, required: tuple = ()) -> dict:
    properties = {
        "districtId": _ID,
        "runId": _ID,
        "trigger": {"enum": ["nightly", "manual", "replay", "csv_arrival"]},
        "mode": {"enum": ["full", "delta"]},
        "status": {"const": status},
        "startedAt": {"oneOf": [_TIME, {"type": "null"}]},
        "finishedAt": _TIME,
        "counts": _COUNTS,
        "notices": _NOTICES,
        **(extra or {}),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": [
            "districtId",
            "runId",
            "trigger",
            "mode",
            "status",
            "startedAt",
            "finishedAt",
            "counts",
            *required,
        ],
        "additionalProperties": False,
    }


_CONNECTION = {
    "districtId": _ID,
    "previousHealth": {"oneOf": [{"enum": list(HEALTH_VALUES)}, {"type": "null"}]},
    "checkedAt": _TIME,
}

SCHEMAS: dict[str, dict] = {
    events.SYNC_SUCCEEDED: _run("succeeded"),
    events.SYNC_FAILED: _run(
        "failed",
        {"failure": {"type": "string", "minLength": 1}, "deadLettered": {"type": "boolean"}},
        ("failure", "deadLettered"),
    ),
    events.SYNC_HELD: _run(
        "needs_review",
        {
            "heldDeactivations": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            "approvePath": {"type": "string", "pattern": r"^/districts/[^/]+/syncs/[^/]+/approve$"},
        },
        ("heldDeactivations", "approvePath"),
    ),
    events.CONNECTION_UNHEALTHY: {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            **_CONNECTION,
            "health": {"enum": list(UNHEALTHY)},
            "error": {"type": "string", "minLength": 1},
            "whatToDo": {"type": "string", "minLength": 1},
        },
        "required": ["districtId", "health", "previousHealth", "checkedAt", "error", "whatToDo"],
        "additionalProperties": False,
    },
    events.CONNECTION_RESTORED: {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {**_CONNECTION, "health": {"const": "ok"}},
        "required": ["districtId", "health", "previousHealth", "checkedAt"],
        "additionalProperties": False,
    },
    events.ROSTER_CHANGED: {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "districtId": _ID,
            "runId": _ID,
            "changeSet": {"enum": ["run", "approval"]},
            "sequence": {"type": "integer", "minimum": 1},
            "last": {"type": "boolean"},
            "total": {"type": "integer", "minimum": 1},
            "changes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": {"enum": ["school", "user", "class", "enrollment"]},
                        "id": _ID,
                        "change": {"enum": ["created", "updated", "deactivated"]},
                    },
                    "required": ["type", "id", "change"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["districtId", "runId", "changeSet", "sequence", "last", "changes"],
        # The last chunk says how many there are.
        "if": {"properties": {"last": {"const": True}}},
        "then": {"required": ["total"]},
        "else": {"not": {"required": ["total"]}},
        "additionalProperties": False,
    },
}
