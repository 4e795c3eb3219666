"""A district's sync runs as on-call reads them: `ops runs --district ID` and `ops run RUN_ID`.

The JSON of a run is the API's (GET /districts/{id}/syncs/{runId}) plus what only operators
need (replayedBy, deadLetteredAt, invocations, night, requestedMode).
"""

from __future__ import annotations

from rostersync.times import iso_z_seconds
from rostersync_tools.ops.output import shorten, table

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class RunNotFound(LookupError):
    pass


def run_json(run) -> dict:
    from rostersync.api.schemas.sync_runs import run_response

    document = run_response(run).model_dump(by_alias=True)
    document.update(
        {
            "districtId": run.district_id,
            "requestedMode": run.requested_mode,
            "night": run.night,
            "invocations": int(run.invocations or 0),
            "deadLetteredAt": None if run.dead_lettered_at is None else iso_z_seconds(run.dead_lettered_at),
            "replayedBy": run.replayed_by,
        }
    )
    return document


def recent_runs(district_id: str, limit: int = DEFAULT_LIMIT) -> list[dict]:
    from rostersync.store.sync_runs import get_district, list_runs

    if get_district(district_id) is None:
        raise RunNotFound(f"no district {district_id} in this stack")
    page, _ = list_runs(district_id, max(1, min(limit, MAX_LIMIT)))
    return [run_json(run) for run in page]


def one_run(district_id: str, run_id: str) -> dict:
    from rostersync.store.sync_runs import get_run

    run = get_run(district_id, run_id)
    if run is None:
        raise RunNotFound(f"district {district_id} has no run {run_id}")
    return run_json(run)


def _totals(counts: dict) -> dict[str, int]:
    kinds = ("created", "updated", "unchanged", "deactivated", "skipped")
    return {kind: sum(int((c or {}).get(kind, 0) or 0) for c in counts.values()) for kind in kinds}


def _changes(run: dict) -> str:
    totals = _totals(run.get("counts") or {})
    return f"+{totals['created']} ~{totals['updated']} -{totals['deactivated']}"


def _seconds(instant: str | None) -> str | None:
    """2026-12-01T14:26:03.803512Z -> 2026-12-01T14:26:03Z (a table needs no microseconds)."""
    return instant[:19] + "Z" if instant and len(instant) > 20 else instant


def _notice_count(run: dict) -> str:
    """How many notices, and `!` when one is a warning (a run that left most classes out)."""
    notices = run.get("notices") or []
    warned = any(n.get("severity") == "warning" for n in notices)
    return f"{len(notices)}{'!' if warned else ''}"


def runs_table(district_id: str, runs: list[dict]) -> str:
    if not runs:
        return f"District {district_id} has no runs yet."
    header = (
        "RUN",
        "TRIGGER",
        "MODE",
        "STATUS",
        "QUEUED",
        "FINISHED",
        "CHANGES",
        "ERRORS",
        "NOTICES",
        "FAILURE / NOTE",
    )
    rows = []
    for run in runs:
        note = run.get("failure") or ""
        if run.get("replayedBy"):
            note = f"replayed by {run['replayedBy']}" + (f"; {note}" if note else "")
        if run.get("replayOf"):
            note = f"replay of {run['replayOf']}" + (f"; {note}" if note else "")
        if run.get("status") == "needs_review":
            note = "deactivations held: approve with POST .../syncs/{runId}/approve" + (f"; {note}" if note else "")
        rows.append(
            (
                run["runId"],
                run["trigger"],
                run["mode"],
                run["status"],
                _seconds(run.get("queuedAt")),
                _seconds(run.get("finishedAt")),
                _changes(run),
                str(run.get("errorTotal", 0)),
                _notice_count(run),
                shorten(note, 160),
            )
        )
    lines = [
        f"Recent runs of district {district_id}, newest first (changes: +created ~updated -deactivated):",
        table(header, rows),
        f"{len(runs)} run(s). Details: rostersync ops run RUN_ID --district {district_id}",
    ]
    return "\n".join(lines)


def _skipped_by(type_counts: dict | None) -> str:
    by = (type_counts or {}).get("skippedBy") or {}
    return ", ".join(f"{reason} {n}" for reason, n in sorted(by.items())) or "-"


def run_details(run: dict) -> str:
    fields = [
        ("district", run["districtId"]),
        ("run", run["runId"]),
        ("trigger", run["trigger"]),
        (
            "mode",
            f"{run['mode']}"
            + (f" (asked {run['requestedMode']})" if run.get("requestedMode") not in (None, run["mode"]) else ""),
        ),
        ("status", run["status"]),
        ("queued", run.get("queuedAt")),
        ("started", run.get("startedAt")),
        ("finished", run.get("finishedAt")),
        ("night", run.get("night")),
        ("invocations", str(run.get("invocations", 0))),
        ("replay of", run.get("replayOf")),
        ("replayed by", run.get("replayedBy")),
        ("dead-lettered", run.get("deadLetteredAt")),
        ("failure", run.get("failure")),
    ]
    width = max(len(name) for name, _ in fields)
    lines = [f"{name.ljust(width)}  {value if value not in (None, '') else '-'}" for name, value in fields]
    counts = run.get("counts") or {}
    kinds = ("created", "updated", "unchanged", "deactivated", "skipped")
    lines += [
        "",
        table(
            ("TYPE", *[k.upper() for k in kinds], "SKIPPED BY"),
            [
                (kind, *[str((counts.get(kind) or {}).get(k, 0)) for k in kinds], _skipped_by(counts.get(kind)))
                for kind in counts
            ],
        ),
    ]
    held = run.get("heldDeactivations")
    if held:
        lines += [
            "",
            "Deactivations held back (needs_review): "
            + ", ".join(f"{kind} {number}" for kind, number in held.items())
            + f". Approve: POST /districts/{run['districtId']}/syncs/{run['runId']}/approve",
        ]
    notices = run.get("notices") or []
    lines.append("")
    if notices:
        lines.append(f"Notices (not errors; {len(notices)}):")
        lines.append(
            table(
                ("SEVERITY", "CODE", "MESSAGE"),
                [(n.get("severity", "info"), n["code"], shorten(n["message"], 200)) for n in notices],
            )
        )
    else:
        lines.append("No notices.")
    errors = run.get("errors") or []
    total = int(run.get("errorTotal") or 0)
    lines.append("")
    if errors:
        lines.append(f"Record errors ({total} in all, the first {len(errors)} kept):")
        lines.append(
            table(
                ("TYPE", "SIS SOURCEDID", "CODE", "MESSAGE"),
                [(e["type"], e.get("sisSourcedId"), e["code"], shorten(e["message"], 160)) for e in errors],
            )
        )
    else:
        lines.append("No record errors." if total == 0 else f"{total} record error(s), none kept.")
    return "\n".join(lines)
