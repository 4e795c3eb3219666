"""Bodies of setup step 3: the SIS's schools and their matches to app schools."""

from __future__ import annotations

from pydantic import Field

from rostersync.api.schemas.base import Id, RequestModel, ResponseModel

# ---------------------------------------------------------------- step 3: school matching


class SisSchoolResponse(ResponseModel):
    sis_sourced_id: str
    name: str
    identifier: str | None
    matched_school_id: str | None = Field(description="The app school this SIS school is matched to")
    suggested_school_id: str | None = Field(description="An unmatched app school that looks like this one")


class SisSchoolsResponse(ResponseModel):
    schools: list[SisSchoolResponse]


class SchoolMatchRequest(RequestModel):
    sis_sourced_id: Id
    school_id: Id


class SchoolMatchesRequest(RequestModel):
    matches: list[SchoolMatchRequest] = Field(
        max_length=5000, description="The whole set of matches: it replaces the previous one"
    )


class SchoolMatchResponse(ResponseModel):
    sis_sourced_id: str
    school_id: str


class SchoolMatchesResponse(ResponseModel):
    matches: list[SchoolMatchResponse]
