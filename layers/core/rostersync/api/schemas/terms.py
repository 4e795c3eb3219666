"""Bodies of the academic-session reads (api/terms.py), and stored sessions as the API shows them."""

from __future__ import annotations

from datetime import datetime

from rostersync.api.schemas.base import ResponseModel
from rostersync.store.terms import TermModel


class TermResponse(ResponseModel):
    term_id: str
    sis_sourced_id: str
    title: str | None
    type: str | None
    start_date: str | None
    end_date: str | None
    parent_id: str | None
    school_year: str | None
    school_ids: list[str]
    status: str
    updated_at: datetime | None = None


class TermsResponse(ResponseModel):
    terms: list[TermResponse]
    next_cursor: str | None
    changes_cursor: str | None = None


class CurrentTermResponse(ResponseModel):
    school_id: str
    date: str
    term: TermResponse | None
    terms: list[TermResponse]
    next_term: TermResponse | None


def term_response(item: TermModel) -> TermResponse:
    return TermResponse(
        term_id=item.term_id,
        sis_sourced_id=item.sis_sourced_id,
        title=item.title,
        type=item.type,
        start_date=item.start_date,
        end_date=item.end_date,
        parent_id=item.parent_id,
        school_year=item.school_year,
        school_ids=list(item.school_ids or []),
        status=item.status,
        updated_at=item.updated_at,
    )
