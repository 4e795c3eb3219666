"""Academic sessions (school years, terms, semesters, grading periods) as the app reads them.

One item per SIS academicSession in TermsTable (districtId, termId = record_id(district,
"term", sourcedId)), written by the sync (sync/terms.py) like any roster item: contentHash,
status, updatedAt, lastRunId, changeSeq (ByChange). `schoolIds` are the app schools whose
synced classes use the session (directly, through a child session, or through its parent):
OneRoster 1.1 sessions name no school. `endDate` keys the sparse ByEnd index, so the current
term of a school is read among the sessions not yet over, never the district's whole history.
"""

from datetime import date

from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from rostersync.settings import get_settings
from rostersync.store import roster_queries as queries  # its paging loop and cursors (_page, _Query)
from rostersync.store.attributes import string_list, table_meta
from rostersync.store.roster import ACTIVE, INACTIVE, RosterItem, by_change_index

SESSION_TYPES = ("schoolYear", "term", "semester", "gradingPeriod")
# What "the current term" means unless ?type= says otherwise: the sessions classes are
# scheduled in (a school year and a grading period overlap every term).
TERM_TYPES = ("term", "semester")


class TermsByEnd(GlobalSecondaryIndex):
    class Meta:
        index_name = "ByEnd"
        projection = AllProjection()

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    end_date = UnicodeAttribute(range_key=True, attr_name="endDate")


class TermModel(RosterItem):
    Meta = table_meta(get_settings().terms_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    term_id = UnicodeAttribute(range_key=True, attr_name="termId")
    by_end = TermsByEnd()
    by_change = by_change_index()

    title = UnicodeAttribute(null=True)
    type = UnicodeAttribute(null=True)  # schoolYear | term | semester | gradingPeriod (or the SIS's own word)
    start_date = UnicodeAttribute(attr_name="startDate", null=True)  # YYYY-MM-DD
    end_date = UnicodeAttribute(attr_name="endDate", null=True)
    parent_id = UnicodeAttribute(attr_name="parentId", null=True)  # the parent session's termId
    school_year = UnicodeAttribute(attr_name="schoolYear", null=True)
    school_ids = string_list(attr_name="schoolIds", null=True)  # left out when none


def get_term(district_id: str, term_id: str) -> TermModel | None:
    try:
        return TermModel.get(district_id, term_id)
    except TermModel.DoesNotExist:
        return None


def terms_at(
    district_id: str, on: date, school_id: str | None, types: tuple[str, ...] | None, max_items: int = 2000
) -> tuple[list[TermModel], TermModel | None]:
    """(active sessions of `types` running on `on` (startDate <= on <= endDate) for the school,
    the next one to start after `on`). Reads ByEnd from `on` on: only sessions not yet over.

    A session with no schools (no synced class uses it or its relatives) counts for every school."""
    day = on.isoformat()
    running, upcoming = [], None
    for term in TermModel.by_end.query(
        district_id,
        range_key_condition=TermModel.end_date >= day,
        filter_condition=TermModel.status == ACTIVE,
        limit=max_items,
    ):
        if types is not None and term.type not in types:
            continue
        if school_id is not None and term.school_ids and school_id not in term.school_ids:
            continue
        if term.start_date is None or term.start_date <= day:
            running.append(term)
        elif upcoming is None or (term.start_date, term.term_id) < (upcoming.start_date, upcoming.term_id):
            upcoming = term
    # Latest start first (the most specific session), then the earliest end, then the id.
    running.sort(key=lambda t: (t.end_date or "", t.term_id))
    running.sort(key=lambda t: t.start_date or "", reverse=True)  # stable: ties keep the order above
    return running, upcoming


# ---------------------------------------------------------------- lists (paged like every roster list)


def list_terms(
    district_id: str,
    school_id: str | None = None,
    types: tuple[str, ...] | None = None,
    status: str = "active",
    limit: int = queries.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> queries.Page:
    """A district's sessions (or those of one school: with it in schoolIds, or with no school),
    by termId, paged with roster_queries' cursors."""
    fingerprint = f"terms|school={school_id or ''}|type={','.join(types or ())}|status={status}"
    query = queries._Query(
        TermModel, TermModel.query, district_id, {"districtId": district_id, "termId": None}, fingerprint
    )
    return queries._page(
        district_id,
        query,
        _condition(school_id, types, status),
        limit,
        cursor,
        dense=school_id is None and types is None and status != "inactive",
    )


def term_changes(school_id: str | None, types: tuple[str, ...] | None, status: str) -> queries.ChangeQuery:
    return queries.ChangeQuery(
        "terms",
        TermModel,
        "termId",
        _condition(school_id, types, status),
        f"school={school_id or ''}|type={','.join(types or ())}|status={status}",
    )


def _condition(school_id: str | None, types: tuple[str, ...] | None, status: str):
    condition = None if status == "all" else TermModel.status == (ACTIVE if status == "active" else INACTIVE)
    if types is not None:
        condition = _and(condition, TermModel.type.is_in(*types))
    if school_id is not None:
        condition = _and(condition, TermModel.school_ids.contains(school_id) | TermModel.school_ids.does_not_exist())
    return condition


def _and(condition, other):
    return other if condition is None else condition & other
