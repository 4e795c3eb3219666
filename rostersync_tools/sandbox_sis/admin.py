"""The admin endpoints (no auth; the server listens on loopback only).

GET  /_admin                 what is here
GET  /_admin/state           {"day", "data": {collection: [records]}, "history": [{"day", "changes"}]}
POST /_admin/advance         {} or {"day": n} -> {"day", "changes": [{"change", "sourcedId"}]}
GET  /_admin/quirks          the quirks now
POST /_admin/quirks          {"no_total_count": true, ...} -> the quirks now
POST /_admin/inject          {"kind", "count"?, "path"?, "retry_after"?, "ms"?, "status"?} -> armed faults
DELETE /_admin/inject        disarm every fault
GET  /_admin/stats           {"requests", "byPath", "tokenRequests", "inFlightPeak", ...}
POST /_admin/stats/reset     counters back to zero
POST /_admin/withdraw        {"role": "student"|"teacher", "share": 0..1} -> {"removed": n, "enrollmentsRemoved": m}
                             hard-deletes that share of the role's users and their enrollments
                             (a mass withdrawal: the next full sync is held as needs_review)
POST /_admin/rollover        {"oldClasses": "delete"|"tobedeleted"|"keep"} -> {"schoolYear", "classesCreated", ...}
                             the school year ends (its calendar moved to end yesterday) and the next starts
                             today, every class with a successor (rollover.py)
POST /_admin/end-year        {} -> {"schoolYearId", "endedOn", "calendarShiftDays"}: the school year ends
                             yesterday and no new one is set up (every class listed, its terms over)
POST /_admin/rekey           {"share": 0..1, "role": "student"|"teacher"|null, "classes": bool?, "prefix": "rk-"}
                             -> {"users": n, "classes": m, "enrollments": k}: that share of the users (of
                             the role, or all) and, with classes (default: when no role), of the classes
                             get new sourcedIds (prefix + old), as do the enrollments that name them (an
                             SIS migration; issue 13)
"""

import json

from .faults import FAULT_KINDS
from .responses import Response, json_response

ROUTES = {
    ("GET", "/_admin"): "index",
    ("GET", "/_admin/state"): "state",
    ("POST", "/_admin/advance"): "advance",
    ("GET", "/_admin/quirks"): "quirks",
    ("POST", "/_admin/quirks"): "set_quirks",
    ("GET", "/_admin/inject"): "armed",
    ("POST", "/_admin/inject"): "inject",
    ("DELETE", "/_admin/inject"): "disarm",
    ("GET", "/_admin/stats"): "stats",
    ("POST", "/_admin/stats/reset"): "reset_stats",
    ("POST", "/_admin/withdraw"): "withdraw",
    ("POST", "/_admin/rollover"): "rollover",
    ("POST", "/_admin/end-year"): "end_year",
    ("POST", "/_admin/rekey"): "rekey",
}


def bad_request(message: str) -> Response:
    return json_response(400, {"error": "bad_request", "message": message})


def handle(app, method: str, path: str, body: bytes) -> Response:
    """`app` is the SandboxApp; `path` starts with /_admin (any vendor prefix removed)."""
    action = ROUTES.get((method, path.rstrip("/") or path))
    if action is None:
        allowed = sorted(m for m, p in ROUTES if p == path.rstrip("/"))
        if allowed:
            return Response(405, b'{"error":"method_not_allowed"}', headers={"Allow": ", ".join(allowed)})
        return json_response(404, {"error": "not_found", "message": f"no admin endpoint {path}"})
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return bad_request("the body is not JSON")
    if not isinstance(payload, dict):
        return bad_request("the body must be a JSON object")
    try:
        return json_response(200, ACTIONS[action](app, payload))
    except (TypeError, ValueError) as exc:
        return bad_request(str(exc))


def _index(app, payload):
    return {
        "endpoints": [f"{method} {path}" for method, path in ROUTES],
        "faultKinds": list(FAULT_KINDS),
        "quirks": app.quirks.as_dict(),
    }


def _advance(app, payload):
    day = payload.get("day")
    if day is not None and (not isinstance(day, int) or isinstance(day, bool)):
        raise ValueError("day must be an integer")
    return app.advance_day(day)


def _inject(app, payload):
    if "kind" not in payload:
        raise ValueError(f"kind is required (one of {', '.join(FAULT_KINDS)})")
    allowed = {"kind", "count", "path", "retry_after", "ms", "status"}
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    app.faults.arm(str(payload["kind"]), **{k: v for k, v in payload.items() if k != "kind"})
    return {"armed": app.faults.pending()}


def _reset_stats(app, payload):
    app.stats.reset()
    return app.stats.as_dict()


def _withdraw(app, payload):
    unknown = sorted(set(payload) - {"role", "share"})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    role = payload.get("role", "student")
    share = payload.get("share", 0.5)
    if role not in ("student", "teacher"):
        raise ValueError("role must be student or teacher")
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
        raise ValueError("share must be a number above 0 and at most 1")
    return app.withdraw(role, float(share))


def _rollover(app, payload):
    unknown = sorted(set(payload) - {"oldClasses"})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    return app.rollover(str(payload.get("oldClasses", "delete")))


def _end_year(app, payload):
    if payload:
        raise ValueError(f"unknown fields: {', '.join(sorted(payload))}")
    return app.end_year()


def _rekey(app, payload):
    unknown = sorted(set(payload) - {"role", "share", "classes", "prefix"})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    role, share = payload.get("role"), payload.get("share", 1.0)
    if role not in (None, "student", "teacher"):
        raise ValueError("role must be student, teacher or null (every user)")
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
        raise ValueError("share must be a number above 0 and at most 1")
    classes = payload.get("classes", role is None)
    prefix = payload.get("prefix", "rk-")
    if not isinstance(classes, bool) or not isinstance(prefix, str) or not prefix:
        raise ValueError("classes is true or false; prefix a non-empty text")
    return app.rekey(float(share), role, classes, prefix)


ACTIONS = {
    "index": _index,
    "state": lambda app, payload: app.state(),
    "advance": _advance,
    "quirks": lambda app, payload: app.quirks.as_dict(),
    "set_quirks": lambda app, payload: app.set_quirks(**payload),
    "armed": lambda app, payload: {"armed": app.faults.pending()},
    "inject": _inject,
    "disarm": lambda app, payload: (app.faults.clear(), {"armed": []})[1],
    "stats": lambda app, payload: app.stats.as_dict(),
    "reset_stats": _reset_stats,
    "withdraw": _withdraw,
    "rollover": _rollover,
    "end_year": _end_year,
    "rekey": _rekey,
}
