"""Change keys: the one order in which a client follows a district's roster changes.

Every write of a roster item (school, user, class, enrollment) sets
  updatedAt = the time the write was sent (pynamodb's UTCDateTimeAttribute text), and
  changeSeq = updatedAt + "#" + the item's id,
and each roster table has the index ByChange (districtId, changeSeq) (template.yaml). The
sync's writes are stamped by store/batch.py at every send attempt (RosterScan installs
`RosterStamper`); the API's few school writes (store/schools.py) set both themselves.

The guarantee (docs/design.md, "Changes since"): changeSeq is unique (the id breaks ties of
equal times) and strictly orders an item's writes, and a write stamped at T is visible in
the index by T + CHANGE_LAG, because the worker invocation that stamped it ends by then (the
function's timeout is 900 s; the API's 29 s) and DynamoDB applies a request it received in
well under the margin left. A change read only ever reads up to `now - CHANGE_LAG`
(`change_horizon`), and its cursor never passes that horizon: everything before the cursor
was already visible when the cursor was made, so a client resuming from its last cursor,
after a crash or a night later, misses no change and is answered no change twice (an item
changed again reappears once, at its new place, in its latest state).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rostersync.settings import change_lag_seconds
from rostersync.store.codec import format_datetime

CHANGE_SEQ = "changeSeq"
SEPARATOR = "#"
# The worker's function timeout (900 s) plus a margin for a request in flight when it ends.
DEFAULT_CHANGE_LAG_S = 1200


def change_lag() -> timedelta:
    return timedelta(seconds=change_lag_seconds(DEFAULT_CHANGE_LAG_S))


def change_seq(written_at: str, item_id: str) -> str:
    return f"{written_at}{SEPARATOR}{item_id}"


def item_id_of(seq: str) -> str:
    return seq.partition(SEPARATOR)[2]


def time_text(moment: datetime) -> str:
    """A moment as stored text (comparable with changeSeq's time part)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment)


def change_horizon(now: datetime | None = None) -> str:
    """How far a change read may go now: every write stamped before it is visible."""
    return time_text((now or datetime.now(UTC)) - change_lag())


class RosterStamper:
    """BatchStore.before_write for the roster tables: {table name: its item id attribute}."""

    def __init__(self, id_attribute_of: dict[str, str]):
        self.id_attribute_of = id_attribute_of

    def __call__(self, table: str, item: dict, sent_at: str) -> None:
        id_attribute = self.id_attribute_of.get(table)
        if id_attribute is None:
            return  # checkpoints and other tables follow no change order
        item["updatedAt"] = {"S": sent_at}
        item[CHANGE_SEQ] = {"S": change_seq(sent_at, item[id_attribute]["S"])}
