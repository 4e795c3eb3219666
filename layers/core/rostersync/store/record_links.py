"""RecordLinksTable: what ties SIS records to app-made records (issue 13), one small item each.

Keys (districtId, linkKey); linkKey is one of
- `sis#<kind>#<sourcedId>` -> {itemId, origin, reason (matched | resolved), replaces?}: the SIS
  record of that sourcedId is stored under `itemId` (an app record's id), not under
  record_id(district, kind, sourcedId). `replaces` names the item a sync had created for it
  separately before an admin linked it (the sync deactivates that one);
- `app#<kind>#<itemId>` -> {sisSourcedId}: the reverse (an app record links one SIS record);
- `key#<kind>#<field>#<value>` -> itemIds (a string set): app records by a normalised match key
  (user: identifier, email, username; class: code, and title for classes that name a teacher). Written with
  ADD/DELETE, so concurrent registrations never lose an id;
- `conflict#<kind>#<sourcedId>`: an open matching conflict (both sides, in words) until an
  admin resolves it;
- `decision#<kind>#<sourcedId>` -> {action: separate}: the admin kept the SIS record apart.
The engine reads it in batches (BatchGet, 100 keys a request) and only for records it is
about to create; nothing here grows with the district in one item.
"""

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from rostersync.settings import get_settings
from rostersync.store.batch import BatchStore
from rostersync.store.codec import from_attribute, to_item

SIS, APP, KEY, CONFLICT, DECISION = "sis", "app", "key", "conflict", "decision"
KINDS = ("user", "class")
USER_KEY_FIELDS = ("identifier", "email", "username")  # in the order matching tries them
CLASS_KEY_FIELDS = ("code", "title")
MAX_KEY_VALUE = 200  # longer values are hashed: a sort key holds at most 1 KB


def table() -> str:
    return get_settings().record_links_table


def normalise(value: str | None) -> str | None:
    """Match keys compare without case and surrounding or repeated whitespace."""
    if value is None:
        return None
    text = " ".join(str(value).split()).casefold()
    if not text:
        return None
    if len(text) > MAX_KEY_VALUE:
        return "h:" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return text


def sis_key(kind: str, sourced_id: str) -> str:
    return f"{SIS}#{kind}#{sourced_id}"


def app_key(kind: str, item_id: str) -> str:
    return f"{APP}#{kind}#{item_id}"


def match_key(kind: str, field: str, value: str) -> str:
    return f"{KEY}#{kind}#{field}#{value}"


def conflict_key(kind: str, sourced_id: str) -> str:
    return f"{CONFLICT}#{kind}#{sourced_id}"


def decision_key(kind: str, sourced_id: str) -> str:
    return f"{DECISION}#{kind}#{sourced_id}"


def user_match_keys(values: dict) -> dict[str, str]:
    """field -> normalised value for an app user's (or an SIS user's) identifying fields."""
    keys = {}
    for field in USER_KEY_FIELDS:
        value = normalise(values.get(field))
        if value is not None:
            keys[field] = value
    return keys


def class_match_keys(values: dict) -> dict[str, str]:
    """An app class's keys: its code; its title too when it names its teacher (a title alone is
    too common to match on: title matching also needs the same teacher, sync/class_titles.py)."""
    keys = {}
    code = normalise(values.get("classCode"))
    if code is not None:
        keys["code"] = code
    title = normalise(values.get("title"))
    if title is not None and values.get("teacherId"):
        keys["title"] = title
    return keys


def decode(item: dict) -> dict:
    """A stored item as plain values (string sets as sorted lists)."""
    out = {}
    for name, attribute in item.items():
        if "SS" in attribute:
            out[name] = sorted(attribute["SS"])
        else:
            out[name] = from_attribute(attribute)
    return out


def now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class RecordLinks:
    """One district's links, read in batches through a BatchStore's client (or any client)."""

    def __init__(self, client, district_id: str, batch=None):
        self.client = client
        self.district_id = district_id
        self.batch = batch  # a BatchStore: BatchGet with retries, puts in flight with the sync's
        self.table = table()

    # ---------------------------------------------------------------- reads
    def get_many(self, link_keys: Iterable[str]) -> dict[str, dict]:
        """linkKey -> item for the keys that exist."""
        keys = [{"districtId": self.district_id, "linkKey": k} for k in dict.fromkeys(link_keys)]
        if not keys:
            return {}
        batch = self.batch if self.batch is not None else BatchStore(self.client, max_in_flight=4)
        found = batch.get_many(self.table, keys)
        return {item["linkKey"]: item for item in found}

    def get(self, link_key: str) -> dict | None:
        item = self.client.get_item(
            TableName=self.table,
            ConsistentRead=True,
            Key={"districtId": {"S": self.district_id}, "linkKey": {"S": link_key}},
        ).get("Item")
        return decode(item) if item else None

    def query_prefix(
        self, prefix: str, projection: list[str] | None = None, limit: int | None = None, start_key: str | None = None
    ) -> Iterator[list[dict]]:
        """Items whose linkKey starts with `prefix`, page by page."""
        spec = {
            "TableName": self.table,
            "KeyConditionExpression": "districtId = :d AND begins_with(linkKey, :p)",
            "ExpressionAttributeValues": {":d": {"S": self.district_id}, ":p": {"S": prefix}},
            "ConsistentRead": True,
        }
        if projection:
            spec["ProjectionExpression"] = ", ".join(f"#p{i}" for i in range(len(projection)))
            spec["ExpressionAttributeNames"] = {f"#p{i}": name for i, name in enumerate(projection)}
        if limit:
            spec["Limit"] = limit
        if start_key:
            spec["ExclusiveStartKey"] = {"districtId": {"S": self.district_id}, "linkKey": {"S": start_key}}
        while True:
            response = self.client.query(**spec)
            yield [decode(i) for i in response.get("Items", [])]
            last = response.get("LastEvaluatedKey")
            if not last or limit:
                return
            spec["ExclusiveStartKey"] = last

    def any_with_prefix(self, prefix: str) -> bool:
        return any(page for page in self.query_prefix(prefix, projection=["linkKey"], limit=1))

    # ---------------------------------------------------------------- writes
    def put(self, values: dict) -> None:
        item = {"districtId": self.district_id, **values}
        if self.batch is not None:
            self.batch.put(self.table, item)
        else:
            self.client.put_item(TableName=self.table, Item=to_item(item))

    def delete(self, link_key: str) -> None:
        self.client.delete_item(
            TableName=self.table, Key={"districtId": {"S": self.district_id}, "linkKey": {"S": link_key}}
        )

    def add_to_key(self, link_key: str, item_id: str) -> None:
        self._set_op("ADD", link_key, item_id)

    def remove_from_key(self, link_key: str, item_id: str) -> None:
        self._set_op("DELETE", link_key, item_id)

    def _set_op(self, op: str, link_key: str, item_id: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"districtId": {"S": self.district_id}, "linkKey": {"S": link_key}},
            UpdateExpression=f"{op} itemIds :i",
            ExpressionAttributeValues={":i": {"SS": [item_id]}},
        )

    def link(
        self,
        kind: str,
        sourced_id: str,
        item_id: str,
        *,
        reason: str,
        origin: str = "app",
        replaces: str | None = None,
        run_id: str | None = None,
        criterion: str | None = None,
    ) -> None:
        """The SIS record `sourced_id` is stored as `item_id` from now on (both directions)."""
        self.put({"linkKey": app_key(kind, item_id), "sisSourcedId": sourced_id, "at": now_text()})
        self.put(
            {
                "linkKey": sis_key(kind, sourced_id),
                "itemId": item_id,
                "origin": origin,
                "reason": reason,
                "replaces": replaces,
                "runId": run_id,
                "criterion": criterion,
                "at": now_text(),
            }
        )
