"""Change reads of joined lists: a class's teachers or students, a user's classes.

A joined list is a join over enrollments, so its changes are its enrollments' changes: each
enrollment of the class (or of the user) written since the position, in change order (the
ByChange index of EnrollmentsTable, with roster_queries.change_page's guarantee), answered as
the record on the other side in its current state, next to the enrollment that joins them
(its status says whether the person is still in the class). A change to a person's or a
class's own fields shows in the top-level lists' change reads (/users, /classes).
"""

from dataclasses import dataclass

from rostersync.store import roster_queries as queries
from rostersync.store.batch import get_models
from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel


@dataclass(frozen=True)
class Joined:
    enrollment: EnrollmentModel
    record: UserModel | ClassModel


def member_changes(
    district_id: str, class_id: str, role: str, status: str, since: str | None, limit: int, cursor: str | None, now=None
) -> queries.Page:
    """Changes of a class's memberships of `role`: Joined(enrollment, user) items."""
    page = queries.change_page(
        district_id, queries.enrollment_changes(class_id, None, role, status), since, limit, cursor, now=now
    )
    users = _by_id(UserModel, district_id, [e.user_id for e in page.items], "user_id")
    return queries.Page(
        [Joined(e, users[e.user_id]) for e in page.items if e.user_id in users], page.next_cursor, page.changes_cursor
    )


def class_changes_of_user(
    district_id: str,
    user_id: str,
    role: str | None,
    status: str,
    since: str | None,
    limit: int,
    cursor: str | None,
    now=None,
) -> queries.Page:
    """Changes of a user's enrollments (as `role`, or any): Joined(enrollment, class) items."""
    page = queries.change_page(
        district_id, queries.enrollment_changes(None, user_id, role, status), since, limit, cursor, now=now
    )
    classes = _by_id(ClassModel, district_id, [e.class_id for e in page.items], "class_id")
    return queries.Page(
        [Joined(e, classes[e.class_id]) for e in page.items if e.class_id in classes],
        page.next_cursor,
        page.changes_cursor,
    )


def _by_id(model, district_id: str, ids: list[str], id_name: str) -> dict:
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    keys = [{model.district_id.attr_name: district_id, getattr(model, id_name).attr_name: i} for i in unique]
    return {getattr(item, id_name): item for item in get_models(model, keys)}
