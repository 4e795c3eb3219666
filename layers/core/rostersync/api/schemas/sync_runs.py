"""Bodies of the sync-run routes, and a stored run as the API shows it."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from rostersync.api.schemas.base import RequestModel, ResponseModel, one_of
from rostersync.store import sync_runs as run_store
from rostersync.store.attributes import map_value
from rostersync.times import iso_z_or_none


class StartSyncRequest(RequestModel):
    mode: Literal["full", "delta"] | None = Field(
        default=None, description="full (default): read everything; delta: changes since the last successful sync"
    )


class StartSyncResponse(ResponseModel):
    run_id: str


class CountsResponse(ResponseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    skipped: int = Field(default=0, description="Records the source listed that this run left out")
    skipped_by: dict[str, int] = Field(
        default_factory=dict,
        description="Why the skipped were left out, per reason: filter, term_ended, role, inactive, no_enrollment, "
        "unknown_reference, duplicate, invalid, invalid_reference, class_left_out, user_left_out "
        "(README: what a run's counts say). "
        "Listed by the source = created + updated + unchanged + skipped.",
    )


class RunCountsResponse(ResponseModel):
    schools: CountsResponse
    teachers: CountsResponse
    students: CountsResponse
    classes: CountsResponse
    enrollments: CountsResponse


class RunErrorResponse(ResponseModel):
    type: str
    sis_sourced_id: str | None
    code: str
    message: str


Trigger = Literal["nightly", "manual", "replay", "csv_arrival"]
Mode = Literal["full", "delta", "preview"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "needs_review", "rejected"]
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)
MODES: tuple[Mode, ...] = get_args(Mode)
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)


class NoticeResponse(ResponseModel):
    code: str = Field(
        description="no_current_term, school_year_ended, terms_unavailable, rekeyed, match_conflict, ... "
        "(docs/design.md, Notices)"
    )
    severity: Literal["info", "warning"] = Field(description="warning: shown prominently (the console's overview)")
    message: str
    counts: dict[str, int] = Field(default_factory=dict, description="The numbers the message speaks of")
    type: str | None = Field(default=None, description="The record type it is about, if one")
    sis_sourced_id: str | None = Field(default=None, description="The one record it is about, if one")


def notice_responses(stored: list[dict] | None) -> list[NoticeResponse]:
    return [
        NoticeResponse(
            code=str(n.get("code") or "notice"),
            severity="warning" if n.get("severity") == "warning" else "info",
            message=str(n.get("message") or ""),
            counts={str(k): int(v) for k, v in (n.get("counts") or {}).items()},
            type=n.get("type"),
            sis_sourced_id=n.get("sisSourcedId"),
        )
        for n in stored or []
    ]


class RunResponse(ResponseModel):
    run_id: str
    trigger: Trigger
    mode: Mode = Field(description="preview: a read-only run of a proposed configuration (POST sync-config/preview)")
    status: RunStatus
    queued_at: str
    started_at: str | None
    finished_at: str | None
    counts: RunCountsResponse
    errors: list[RunErrorResponse] = Field(description=f"The first {run_store.MAX_STORED_ERRORS} record errors")
    error_total: int = Field(description="Every record error of the run, also those not listed")
    notices: list[NoticeResponse] = Field(
        default_factory=list,
        description=f"What to know that is not an error (the first {run_store.MAX_STORED_NOTICES}); "
        "never counted in errorTotal",
    )
    failure: str | None = Field(default=None, description="Why a failed run failed")
    held_deactivations: dict[str, int] | None = Field(
        default=None, description="needs_review: the deactivations held back per type, applied on approval"
    )
    replay_of: str | None = Field(default=None, description="replay runs: the failed run they replay")
    review: dict | None = Field(
        default=None,
        description="A held run's decision: {decision: approved | approved_in_part | rejected, by, role, at, records}",
    )


class RunsResponse(ResponseModel):
    syncs: list[RunResponse]
    next_cursor: str | None


def run_response(run: run_store.SyncRunModel) -> RunResponse:
    counts = run_store.normalised_counts(map_value(run.counts))
    held = run.held_deactivations.as_dict() if run.held_deactivations is not None else None
    return RunResponse(
        run_id=run.run_id,
        trigger=one_of(run.trigger, TRIGGERS),
        mode=one_of(run.mode, MODES),
        status=one_of(run.status, RUN_STATUSES),
        queued_at=iso_z_or_none(run.queued_at),
        started_at=iso_z_or_none(run.started_at),
        finished_at=iso_z_or_none(run.finished_at),
        counts=RunCountsResponse(**{t: CountsResponse(**c) for t, c in counts.items()}),
        errors=[
            RunErrorResponse(type=e.type, sis_sourced_id=e.sis_sourced_id, code=e.code, message=e.message)
            for e in run.errors or []
        ],
        error_total=int(run.error_total or 0),
        notices=notice_responses(run.notices),
        failure=run.failure,
        held_deactivations={k: int(v) for k, v in held.items()} if held else None,
        replay_of=run.replay_of,
        review=run.review,
    )
