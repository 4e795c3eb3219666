"""The roster tables as the sync engine reads them: by SIS id, by district, by index.

The engine works with plain dicts through the batch store (store/batch.py) for speed; this
module is where it learns the tables' names, keys and indexes, so nothing in sync/ builds a
DynamoDB key or query of its own.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rostersync.ids import record_id
from rostersync.settings import get_settings
from rostersync.store.batch import BatchStore
from rostersync.store.change_keys import RosterStamper
from rostersync.store.codec import from_item
from rostersync.store.roster import ACTIVE, EnrollmentModel, index_key


@dataclass(frozen=True)
class RosterTable:
    name: str
    key: str  # the sort key: schoolId, classId, userId or enrollmentId
    kind: str  # record_id's kind: school, class, user, enrollment


class RosterScan:
    def __init__(self, batch: BatchStore, district_id: str):
        st = get_settings()
        self.batch = batch
        self.client = batch.client
        self.district_id = district_id
        # (kind, sourcedId) -> the stored item's id; the engine puts its links here (sync/account_matching.py)
        self.id_of = lambda kind, sourced_id: record_id(district_id, kind, sourced_id)
        self.schools = RosterTable(st.schools_table, "schoolId", "school")
        self.classes = RosterTable(st.classes_table, "classId", "class")
        self.users = RosterTable(st.users_table, "userId", "user")
        self.enrollments = RosterTable(st.enrollments_table, "enrollmentId", "enrollment")
        self.terms = RosterTable(st.terms_table, "termId", "term")  # academic sessions (sync/terms.py)
        # Every roster item this store writes gets its change key when sent (store/change_keys.py).
        batch.before_write = RosterStamper({table.name: table.key for table in self.tables})

    @property
    def tables(self) -> tuple[RosterTable, ...]:
        return self.schools, self.classes, self.users, self.enrollments, self.terms

    def has_items(self, table: RosterTable) -> bool:
        response = self.client.query(
            TableName=table.name,
            KeyConditionExpression="districtId = :d",
            ExpressionAttributeValues={":d": {"S": self.district_id}},
            Limit=1,
            ProjectionExpression="districtId",
        )
        return bool(response["Items"])

    def active_items(self, table: RosterTable) -> Iterator[list[dict]]:
        """Every active item of the district in `table`, page by page (filtered here: moto's
        FilterExpression is slow, and DynamoDB reads the same items either way)."""
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=table.name,
            KeyConditionExpression="districtId = :d",
            ExpressionAttributeValues={":d": {"S": self.district_id}},
        ):
            yield [item for item in map(from_item, page["Items"]) if item.get("status") == ACTIVE]

    def by_keys(self, table: RosterTable, item_ids: Iterable[str], projection: list[str] | None = None) -> list[dict]:
        keys = [{"districtId": self.district_id, table.key: item_id} for item_id in item_ids]
        return self.batch.get_many(table.name, keys, projection=projection) if keys else []

    def by_sourced_ids(
        self, table: RosterTable, sourced_ids: Iterable[str], projection: list[str] | None = None
    ) -> dict[str, dict]:
        """sourcedId -> stored item, for the ids the store holds."""
        by_key = {self.id_of(table.kind, sid): sid for sid in sourced_ids}
        if projection is not None:
            projection = sorted({*projection, table.key})
        return {by_key[item[table.key]]: item for item in self.by_keys(table, by_key, projection)}

    def enrollments_of_class(self, class_id: str) -> Iterator[list[dict]]:
        by_class = EnrollmentModel.by_class
        return self._index(self.enrollments, by_class, EnrollmentModel.district_class.attr_name, class_id)

    def enrollments_of_user(self, user_id: str) -> Iterator[list[dict]]:
        by_user = EnrollmentModel.by_user
        return self._index(self.enrollments, by_user, EnrollmentModel.district_user.attr_name, user_id)

    def _index(self, table: RosterTable, index, key_name: str, value: str) -> Iterator[list[dict]]:
        """Items of `table` by one of its model's indexes (`index`, keyed by `key_name`)."""
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=table.name,
            IndexName=index.Meta.index_name,
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": key_name},
            ExpressionAttributeValues={":v": {"S": index_key(self.district_id, value)}},
        ):
            yield [from_item(item) for item in page["Items"]]
